"""HTTP resources of identity: the caller's community, its members and their tokens."""
