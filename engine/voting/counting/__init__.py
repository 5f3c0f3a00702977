"""Counting votes: methods, rules, lots, the tally and the bulletin board. Pure: no database, importable offline
(the offline verifier recounts with it).
"""
