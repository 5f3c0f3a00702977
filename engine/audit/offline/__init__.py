"""Checking an audit bundle offline: its schema and the verifier. Imports only pure code: no database, no domain's write path."""
