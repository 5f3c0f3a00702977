"""The demo clock (demo deployments only)."""
