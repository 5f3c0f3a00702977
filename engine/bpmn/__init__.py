"""Everything that touches SpiffWorkflow: safe XML, parsing, the sandbox, determinism, (de)serialization."""
