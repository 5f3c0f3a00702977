"""A dishonest booth: it encrypts whatever it likes and proves what it can (docs/ballot-encryption.md §6), for tests
that show such ballots refused — in Python, in the browser, through the API.

Plain functions, no fixtures and no tests (test modules import it from here, never from one another).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.voting.encryption.ballots import (
    ZERO_ONE, Ballot, Election, _combined, _context, _overall_context, _signed_digest, coefficients,
)
from engine.voting.encryption.elgamal import encrypt
from engine.voting.encryption.group import Scalar, base_mul, random_scalar
from engine.voting.encryption.proofs import disjunctive_prove, schnorr_prove


def cheat(election: Election, credential_secret: Scalar, values: list[int], claims: list[int], claimed_sum: int,
          rng: Callable[[], Scalar] = random_scalar) -> Ballot:
    """Encrypt ``values`` but run the provers as if the slots held ``claims`` and the overall proof's weighted sum
    were ``claimed_sum`` (the only proofs one can make); signed with the credential, so only the proofs can refuse it."""
    credential = base_mul(credential_secret)
    pairs = [encrypt(election.key, m, rng) for m in values]
    cts = [c for c, _ in pairs]
    context = _context(election, credential)
    proofs = [disjunctive_prove("zero-one", context, election.key, c, ZERO_ONE, claim, r, rng)
              for (c, r), claim in zip(pairs, claims)]
    r_sum = Scalar(sum(r.value * w for (_, r), w in zip(pairs, coefficients(election))))
    overall = disjunctive_prove("range", _overall_context(election, credential, cts), election.key,
                                _combined(election, cts), range(election.min, election.max + 1), claimed_sum, r_sum, rng)
    unsigned = Ballot(election.vote, election.fingerprint, credential, cts, proofs, overall, None)
    signature = schnorr_prove("signature", (election.fingerprint, _signed_digest(unsigned)), credential_secret, rng)
    return Ballot(**{**unsigned.__dict__, "signature": signature})
