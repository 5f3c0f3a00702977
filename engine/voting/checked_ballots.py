"""An encrypted ballot's proofs checked before its transaction, so that casting ballots overlap.

Checking a yes/no/abstain ballot's proofs costs about a millisecond and a half of libsodium, against a few
hundred microseconds for the rest of the cast. Inside the cast's transaction it would hold the writer (SQLite's
units of work take turns; PostgreSQL's rows stay locked) for all of it, so ``check_ahead`` checks the ballot first,
on the request's thread with no transaction open (libsodium runs without the GIL), and remembers that this exact
ballot checked against this exact election. The transaction (``ceremony.cast``) then asks ``remembered`` and
checks only what it was not told: a ballot's proofs depend on nothing but the ballot and the election, and an
election never changes once made (its fingerprint names it), so the answer is the same either way.

Nothing here decides anything: ``check_ahead`` never refuses (the cast refuses, in its usual order and with its
usual messages), and a ballot that was not checked ahead, or was forgotten, is checked in the transaction as
before.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.voting.encryption import ballots as eballots
from engine.voting.encryption.hashing import canonical_json
from engine.voting.models import Ceremony

K, V = TypeVar("K"), TypeVar("V")
REMEMBERED = 4096
"""Ballots remembered per process: a ballot is looked up a few milliseconds after its check, under any load."""


@lru_cache(maxsize=64)
def _election(fingerprint: str, descriptor: str) -> eballots.Election:
    return eballots.Election.from_json(json.loads(descriptor))


def election(fingerprint: str, descriptor: dict[str, Any]) -> eballots.Election:
    """The election a ceremony made, decoded (its points validated) once per process rather than per ballot.

    Keyed by the fingerprint *and* the canonical descriptor, so a changed descriptor is decoded anew."""
    return _election(fingerprint, canonical_json(descriptor).decode())


class _Remembered(Generic[K, V]):
    """The last ``size`` values put, by key, for any thread."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)


_CHECKED: _Remembered[tuple[bytes, bytes], eballots.Ballot] = _Remembered(REMEMBERED)
"""(election fingerprint, digest of the ballot's canonical JSON) → the decoded ballot whose proofs checked."""
_VERIFYING = threading.Lock()
"""One ballot checked ahead at a time per process. Each of a check's ~50 libsodium calls releases the GIL and takes it
back; with a dozen threads checking at once every call became a hand-off between them (two context switches): 10 %
more CPU per cast ballot and a third less throughput in a process of 16 threads, measured. Processes (gunicorn's
workers) are what uses the cores; here the other threads wait on this lock once, not on the GIL fifty times."""
_ELECTIONS: _Remembered[str, eballots.Election] = _Remembered(64)
"""Vote id → its election, once made: a made election never changes (its posts are final), so a request need not
read it again. Were it ever stale, ``remembered`` would find nothing under the right fingerprint, and the cast would
check the ballot itself."""


def _key(election_: eballots.Election, raw: Any) -> tuple[bytes, bytes]:
    return election_.fingerprint, hashlib.sha256(canonical_json(raw)).digest()


def remembered(election_: eballots.Election, raw: Any) -> eballots.Ballot | None:
    """The decoded ballot if exactly this JSON value checked against this election ahead of the cast; else None.

    Two JSON values can share a canonical form yet not be the same value to the strict decoder (an integer key
    where a string is due): the remembered ballot counts only if it encodes back to ``raw`` exactly."""
    try:
        ballot = _CHECKED.get(_key(election_, raw))
    except (TypeError, ValueError):  # not even JSON: the cast's own decoding refuses it
        return None
    return ballot if ballot is not None and ballot.to_json() == raw else None


def check(election_: eballots.Election, raw: Any) -> eballots.Ballot:
    """Decode and check a ballot (``EncodingError`` or ``BallotRefused``), remembering one that checks."""
    ballot = eballots.Ballot.from_json(raw)
    eballots.verify_ballot(election_, ballot)
    _CHECKED.put(_key(election_, raw), ballot)
    return ballot


def check_ahead(read: Callable[[], AbstractContextManager[Session]], vote_id: str, raw: Any) -> None:
    """Check a ballot for a vote outside any transaction, so that its cast need not (see the module's docstring).

    ``read`` opens a read-only session (``Engine.read``). Whatever goes wrong is left for the cast to say."""
    try:
        made = _election_of(read, vote_id)
        if made is not None:
            with _VERIFYING:
                check(made, raw)
    except Exception:  # noqa: BLE001 — a refusal, a vote that is not there, anything: the cast answers it
        return


def _election_of(read: Callable[[], AbstractContextManager[Session]], vote_id: str) -> eballots.Election | None:
    made = _ELECTIONS.get(vote_id)
    if made is None:
        with read() as session:
            row = session.execute(select(Ceremony.fingerprint, Ceremony.election)
                                  .where(Ceremony.vote_id == vote_id)).one_or_none()
        if row is None or row.election is None or row.fingerprint is None:
            return None
        made = election(row.fingerprint, row.election)
        _ELECTIONS.put(vote_id, made)
    return made
