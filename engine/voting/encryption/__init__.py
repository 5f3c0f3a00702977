"""Encrypted ballots (yishi-e2e/1, docs/ballot-encryption.md): ristretto255 exponential ElGamal, zero-knowledge
proofs, a k-of-n trustees' key and the homomorphic tally. Pure: no database, no Flask — the offline verifier
imports it like ``engine.voting.counting``. All curve arithmetic is libsodium's, through ``rbcl``.
"""
