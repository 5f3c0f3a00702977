"""HTTP resources of conventions."""
