"""The audit trail: a hash-chained history, records bound to it, signed checkpoints, replay,
time travel, bundles an auditor verifies offline."""
