"""HTTP resources of service-quality cycles (PDCA)."""
