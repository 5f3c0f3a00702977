"""HTTP resources of the audit trail: bundles, verification, checkpoints, time travel."""
