"""Counting votes: ballots, methods and decision rules, exact and recomputable by anyone."""
