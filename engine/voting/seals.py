"""What the server keeps of a voter's requests, keyed so that the database alone gives nothing away.

A participation (who voted) keeps three things about the requests behind it: a lookup digest of
the client's idempotency key (so a retried request is recognised), a digest of the request (so
the same key sent with another ballot is refused, not answered with the first ballot's receipt)
and the receipt sealed under a pad (so a retry gets its receipt back); and a *receipt tag*, so
that only the voter's own latest receipt can change their ballot.

Each is an HMAC under a key derived from the client's idempotency key (or the receipt) **and** a
server secret that never enters the database (``BallotSeal.secret``, derived from the audit key
file). Unkeyed hashes of a choice are a dictionary away from the choice: three hashes decode a
yes/no/abstain vote. Keyed by the client's key alone, a guessable key would still open them; keyed
by the server secret alone, whoever holds the key file and the database could test every
(key, choice). With both, a reader of the database learns nothing, and one who also holds the
key file needs the client's key for each ballot.

The receipt tag is a function of the receipt only (random, 192 bits, held by the voter); the
board's fingerprint is another one-way function of it, so neither leads to the other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class BallotSeal:
    """The server's ballot secret and the digests made with it."""

    secret: bytes

    def request_key(self, vote_id: str, idempotency_key: str) -> RequestKey:
        """The key of one client's request in one vote: its idempotency key and the server secret together."""
        return RequestKey(vote_id, hmac.new(self.secret, _canonical(["yishi-idempotency", vote_id, idempotency_key]),
                                            hashlib.sha256).digest())

    def receipt_tag(self, vote_id: str, receipt: str) -> str:
        """What the participation keeps of its latest receipt: only that receipt changes the ballot."""
        return hmac.new(self.secret, _canonical(["yishi-receipt-tag", vote_id, receipt]), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RequestKey:
    vote_id: str
    key: bytes

    def lookup(self) -> str:
        """Finds the participation an idempotency key was used for (unique within a vote)."""
        return hmac.new(self.key, b"lookup", hashlib.sha256).hexdigest()

    def request(self, choice: Any, previous_receipt: str | None) -> str:
        """Tells a retry of the same request from the same key sent with another ballot."""
        return hmac.new(self.key, b"request|" + _canonical([choice, previous_receipt]), hashlib.sha256).hexdigest()

    def pad(self) -> bytes:
        """Seals the receipt for a retry: only the client's key (with the server secret) rebuilds it."""
        return hmac.new(self.key, b"seal", hashlib.sha256).digest()
