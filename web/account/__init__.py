"""Signing in with a one-time code, signing out, and choosing the pages' language."""
