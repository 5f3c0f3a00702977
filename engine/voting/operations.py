"""The service operations of the vote process: ``vote.open`` freezes the electorate and opens the ballot box, ``vote.close``
seals it and publishes the tally.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.identity.actors import zone
from engine.identity.models import Member
from engine.kernel.errors import InvalidInput
from engine.kernel.operations import ServiceContext, operation
from engine.voting.counting import board
from engine.voting.counting.electorate import roll_digest
from engine.voting.counting.tally import tally
from engine.voting import ceremony
from engine.voting.models import ElectorateEntry, Vote
from engine.voting.counting.board import electorate_summary, tally_config
from engine.voting.queries import _board_entries, _countable, summary

BASES = {"residents": "residents", "households": "households", "owners": "owners"}


# ---- opening and closing: the service operations of the vote process -------------------------

@operation("vote.open")
def open_vote(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Freeze the electorate from the register and open the ballot box."""
    config = _read_config(params.get("config"), context)
    encryption = ceremony.read_encryption(config, context.session, context.instance.community_id)
    entries = _register(context.session, context.instance.community_id, config["electorate"])
    if not entries:
        raise InvalidInput(f"nobody in the register can vote as {config['electorate']}",
                           errors=[{"field": "vote.electorate", "message": "empty electorate"}])
    if encryption is not None:
        ceremony.check_weights(entries)
    vote = Vote(
        id=str(uuid.uuid4()), instance_id=context.instance.id, community_id=context.instance.community_id,
        title=config["title"], question=config["question"], method=config["method"], options=config["options"],
        rule=config["rule"], secret=config["secret"], basis=config["electorate"], weighted=config["electorate"] == "owners",
        close_when_all_voted=config.get("close_when_all_voted", False), deadline=config["deadline"], status="open",
        eligible_heads=len(entries), eligible_weight=str(sum(Decimal(e["weight"]) for e in entries)),
        electorate_digest=roll_digest(entries), opened_at=context.now,
    )
    try:
        tally([], tally_config(vote), electorate_summary(vote))  # refuses a bad rule now, not at the close
    except InvalidInput as exc:
        raise _in_form_terms(exc) from exc
    if encryption is not None:  # ballots open once the trustees have made the election key
        vote.secrecy, vote.status = ceremony.ENCRYPTED, "keying"
    context.session.add(vote)
    context.session.flush()
    if encryption is not None:
        ceremony.start(context.session, vote, *encryption)
    context.session.execute(insert(ElectorateEntry), [{"vote_id": vote.id, **entry} for entry in entries])
    return {"vote_id": vote.id, "deadline": vote.deadline.astimezone(timezone.utc).isoformat(), "eligible": vote.eligible_heads}


@operation("vote.close")
def close_vote(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Seal the ballot box, tally it, and publish the result and the bulletin board's root."""
    vote = context.session.get(Vote, params.get("vote_id"))
    if vote is None or vote.instance_id != context.instance.id:
        raise InvalidInput("the vote to close is not this instance's")
    if vote.secrecy == ceremony.ENCRYPTED:
        if vote.status in ("keying", "open") and ceremony.close(context.session, vote, context.now):
            context.publish(f"vote {vote.id} closed")
            return {**summary(vote), "decrypting": True}
        return summary(vote)
    if vote.status == "open":
        entries = _board_entries(context.session, vote)
        vote.result = tally([_countable(e) for e in entries], tally_config(vote), electorate_summary(vote))
        vote.board_root = board.merkle_root(entries)
        vote.status, vote.closed_at = "closed", context.now
        context.publish(f"vote {vote.id} closed")
    return summary(vote)


@operation("vote.publish")
def publish_vote(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """The result of an encrypted vote, once k trustees decrypted its tally (the process waited for it)."""
    vote = context.session.get(Vote, params.get("vote_id"))
    if vote is None or vote.instance_id != context.instance.id:
        raise InvalidInput("the vote to publish is not this instance's")
    if vote.status != "closed":
        raise InvalidInput("the trustees have not decrypted the tally yet")
    return summary(vote)


def _read_config(config: Any, context: ServiceContext) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidInput("the vote's configuration is missing", errors=[{"field": "vote", "message": "required"}])
    missing = [k for k in ("title", "question", "method", "rule", "secret", "electorate", "deadline") if k not in config]
    if missing:
        raise InvalidInput(f"the vote's configuration lacks {', '.join(missing)}",
                           errors=[{"field": f"vote.{k}", "message": "required"} for k in missing])
    if config["electorate"] not in BASES:
        raise InvalidInput("electorate must be residents, households or owners",
                           errors=[{"field": "vote.electorate", "message": "unknown electorate"}])
    deadline = _deadline(config["deadline"], context)
    return {**config, "options": config.get("options") or [], "deadline": deadline}


def _in_form_terms(exc: InvalidInput) -> InvalidInput:
    """The tally names fields of its own input ("rule.threshold", "config.options"); the committee filled the form's ``vote``."""
    errors = [{**error, "field": "vote." + str(error.get("field", "")).removeprefix("config.")}
              for error in exc.details.get("errors", [])]
    return InvalidInput(exc.message, errors=errors)


def _deadline(value: Any, context: ServiceContext) -> datetime:
    try:
        deadline = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("the deadline is not an ISO 8601 date and time",
                           errors=[{"field": "vote.deadline", "message": "not a date and time"}]) from exc
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=zone(context.instance.timezone))
    if deadline <= context.now:
        raise InvalidInput("the deadline must lie in the future", errors=[{"field": "vote.deadline", "message": "in the past"}])
    return deadline


def _register(session: Session, community_id: int, basis: str) -> list[dict[str, str]]:
    """The electorate as the register stands now: members, households or owners, with weights."""
    rows = session.execute(
        select(Member.id, Member.name, Member.roles, Member.household, Member.area).where(Member.community_id == community_id)
    ).all()
    if basis == "residents":
        return [{"voter_key": f"m:{r.id}", "label": r.name, "weight": "1"} for r in rows if "resident" in r.roles]
    if basis == "households":
        households = sorted({r.household for r in rows if "resident" in r.roles and r.household})
        return [{"voter_key": f"h:{h}", "label": h, "weight": "1"} for h in households]
    owners = [r for r in rows if "owner" in r.roles]
    unmeasured = [r.name for r in owners if not _area(r.area)]
    if unmeasured:
        raise InvalidInput(f"owners without a floor area in the register: {', '.join(unmeasured[:5])}",
                           errors=[{"field": "vote.electorate", "message": "every owner needs an area"}])
    return [{"voter_key": f"m:{r.id}", "label": r.name, "weight": r.area} for r in owners]


def _area(value: str | None) -> bool:
    try:
        return value is not None and Decimal(value) > 0
    except InvalidOperation:
        return False
