"""HTTP resources of the caller themselves: their agenda (what needs them now) and their notifications."""
