"""HTTP resources of consultation: opinions and answers."""
