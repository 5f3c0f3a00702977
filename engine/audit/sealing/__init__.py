"""Sealing what the engine writes: the hash chain, record fingerprints, the ledger sealed at commit, Merkle trees and
signed checkpoints.
"""
