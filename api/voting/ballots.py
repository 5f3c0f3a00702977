"""One ballot from the API, whichever path serves it: Flask's route and the fast path cast through ``cast``."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.voting import checked_ballots
from engine.voting.casting import Receipt
from engine.voting.ceremony import Cast
from engine.voting.commands import CastBallot, CastEncryptedBallot


def cast(engine: Engine, token: str, vote_id: str, args: dict[str, Any]) -> Receipt:
    """Cast (or change) the token holder's ballot: written together with the ballots this process is casting at the
    same moment (``Engine.execute_together``); a ballot the batch leaves aside is cast alone, its token checked in
    its own transaction. ``args``: the body and the ``Idempotency-Key`` header, as the schemas loaded them."""
    return engine.execute_together(token, CastBallot(vote_id, args["choice"], args["idempotency_key"], args["receipt"]))


def cast_encrypted(engine: Engine, token: str, vote_id: str, args: dict[str, Any]) -> Cast:
    """Cast (or change) the token holder's encrypted ballot. Its proofs are checked first, outside any transaction
    (``checked_ballots.check_ahead``: a refusal is left to the cast, which says it in its usual order), so that the
    ballots of concurrent voters are checked side by side and the transaction does not hold the writer for them."""
    checked_ballots.check_ahead(engine.read, vote_id, args["ballot"])
    return engine.execute_together(token, CastEncryptedBallot(vote_id, args["ballot"]))
