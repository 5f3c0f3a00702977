"""Reading conventions: versions and their diffs, drafting rounds, amendments, comments and the convention's history; the limits on texts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.conventions.models import Amendment, ArticleComment, Convention, ConventionVersion, DraftingRound
from engine.conventions.texts import compare, text_changes
from engine.identity.actors import Actor
from engine.kernel.errors import InvalidInput, NotFound
from engine.kernel.models import Event, Instance

KINDS = ("replace", "insert", "delete")
OUTCOMES = ("accepted", "accepted_with_changes", "rejected")
ACCEPTED = ("accepted", "accepted_with_changes")
MAX_ARTICLES = 300
MAX_TEXT_LENGTH = 5000
DOMAIN_EVENTS = ("amendment_proposed", "amendment_supported", "amendment_withdrawn", "comment_added", "amendment_decided")
HISTORY_OPERATIONS = {
    "convention.open_round": "round_opened",
    "convention.close_amendments": "amendment_period_closed",
    "convention.consolidate": "version_consolidated",
    "convention.end_notice": "public_notice_ended",
    "convention.record_vote": "vote_recorded",
    "convention.adopt": "convention_adopted",
    "convention.close_round": "round_closed",
}
"""The operations that change a convention, and the name of each in the convention's history."""


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _text(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > MAX_TEXT_LENGTH:
        raise InvalidInput(f"{field} must be 1 to {MAX_TEXT_LENGTH} characters",
                           errors=[{"field": field, "message": f"1 to {MAX_TEXT_LENGTH} characters"}])
    return value


# ---- reading ---------------------------------------------------------------------------------

def get_convention(session: Session, actor: Actor, convention_id: int) -> Convention:
    return actor.own(session.get(Convention, convention_id), "convention")


def conventions_of(actor: Actor) -> Select[tuple[Convention]]:
    return select(Convention).where(Convention.community_id == actor.community_id).order_by(Convention.id)


def versions_of(session: Session, actor: Actor, convention_id: int) -> Select[tuple[ConventionVersion]]:
    convention = get_convention(session, actor, convention_id)
    return select(ConventionVersion).where(ConventionVersion.convention_id == convention.id).order_by(ConventionVersion.number)


def get_version(session: Session, actor: Actor, convention_id: int, number: int) -> ConventionVersion:
    found = _find_version(session, get_convention(session, actor, convention_id), number)
    if found is None:
        raise NotFound(f"the convention has no version {number}")
    return found


def diff(session: Session, actor: Actor, convention_id: int, old: int, new: int) -> dict[str, Any]:
    """What changed from one version to another (either order), article by article."""
    before, after = get_version(session, actor, convention_id, old), get_version(session, actor, convention_id, new)
    return {"convention_id": convention_id,
            "old": {"number": before.number, "fingerprint": before.fingerprint},
            "new": {"number": after.number, "fingerprint": after.fingerprint},
            **compare(before.title, before.articles, after.title, after.articles)}


def rounds_of(session: Session, actor: Actor, convention_id: int) -> list[DraftingRound]:
    convention = get_convention(session, actor, convention_id)
    return list(session.scalars(select(DraftingRound).where(DraftingRound.convention_id == convention.id).order_by(DraftingRound.number)))


def get_round(session: Session, actor: Actor, convention_id: int, number: int) -> DraftingRound:
    convention = get_convention(session, actor, convention_id)
    found = session.scalar(select(DraftingRound).where(DraftingRound.convention_id == convention.id, DraftingRound.number == number))
    if found is None:
        raise NotFound(f"the convention has no round {number}")
    return found


def amendment_counts(amendments: list[Amendment]) -> dict[str, int]:
    """How many of a round's amendments await a decision, were withdrawn, or got each outcome."""
    counts = Counter(a.outcome or a.status for a in amendments)
    return {"undecided": counts["proposed"], "withdrawn": counts["withdrawn"], **{o: counts[o] for o in OUTCOMES}}


def amendments_of(session: Session, actor: Actor, convention_id: int, round_number: int | None) -> Select[tuple[Amendment]]:
    """Every amendment of the convention (or of one round), oldest first: nothing is decided in the dark."""
    convention = get_convention(session, actor, convention_id)
    query = select(Amendment).where(Amendment.convention_id == convention.id).order_by(Amendment.id)
    if round_number is not None:
        query = query.join(DraftingRound).where(DraftingRound.number == round_number)
    return query


def get_amendment(session: Session, actor: Actor, amendment_id: int) -> Amendment:
    return actor.own(session.get(Amendment, amendment_id), "amendment")


def proposed_changes(amendment: Amendment) -> list[dict[str, str]]:
    """What the amendment would do to its article, as text ops (insertions and deletions shown whole)."""
    return _changes(amendment.original_text, amendment.text)


def decided_changes(amendment: Amendment) -> list[dict[str, str]] | None:
    """What the committee's decision does to the article, when it differs from the proposal."""
    if amendment.outcome != "accepted_with_changes":
        return None
    return _changes(amendment.original_text, amendment.decision_text)


def _changes(old: str | None, new: str | None) -> list[dict[str, str]]:
    if old is None:
        return [{"op": "insert", "text": new or ""}]
    if new is None:
        return [{"op": "delete", "text": old}]
    return text_changes(old, new)


def comments_of(session: Session, actor: Actor, convention_id: int, round_number: int | None,
                article_id: str | None) -> Select[tuple[ArticleComment]]:
    convention = get_convention(session, actor, convention_id)
    query = select(ArticleComment).where(ArticleComment.convention_id == convention.id).order_by(ArticleComment.id)
    if round_number is not None:
        query = query.join(DraftingRound, DraftingRound.id == ArticleComment.round_id).where(DraftingRound.number == round_number)
    if article_id is not None:
        query = query.where(ArticleComment.article_id == article_id)
    return query


def get_comment(session: Session, actor: Actor, comment_id: int) -> ArticleComment:
    note = session.get(ArticleComment, comment_id)
    if note is None or _convention(session, note.convention_id).community_id != actor.community_id:
        raise NotFound("comment not found")
    return note


def history(session: Session, actor: Actor, convention_id: int) -> list[dict[str, Any]]:
    """The convention's whole history, in order, read from the events of the processes that drafted it.

    Domain events (amendments, support, comments, decisions) appear with their recorded input;
    the process's steps (rounds, versions with their fingerprints, the vote's result, adoption)
    with the recorded result of the operation that took them.
    """
    convention = get_convention(session, actor, convention_id)
    drafting_instances = select(DraftingRound.instance_id).where(DraftingRound.convention_id == convention.id)
    events = session.scalars(
        select(Event).join(Instance, Instance.id == Event.instance_id).where(Event.instance_id.in_(drafting_instances))
        .order_by(Instance.started_at, Instance.id, Event.seq))
    entries: list[dict[str, Any]] = []
    for event in events:
        if event.type in DOMAIN_EVENTS:
            entries.append(_history_entry(event, event.type, event.input))
        for call in event.services or []:
            if call["operation"] in HISTORY_OPERATIONS:
                entries.append(_history_entry(event, HISTORY_OPERATIONS[call["operation"]], call["result"]))
    return entries


def _history_entry(event: Event, kind: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"instance_id": event.instance_id, "seq": event.seq, "at": event.at, "actor_id": event.actor_id,
            "type": kind, "details": details}


def _find_version(session: Session, convention: Convention, number: int) -> ConventionVersion | None:
    return session.scalar(select(ConventionVersion).where(
        ConventionVersion.convention_id == convention.id, ConventionVersion.number == number))


def _version(session: Session, convention: Convention, number: int | None) -> ConventionVersion:
    found = _find_version(session, convention, number) if number is not None else None
    if found is None:
        raise NotFound(f"the convention has no version {number}")
    return found


def _convention(session: Session, convention_id: int) -> Convention:
    """A convention known to exist (a round's or an amendment's): its rows are never deleted."""
    convention = session.get(Convention, convention_id)
    assert convention is not None
    return convention


def _amendments_of(session: Session, drafting: DraftingRound) -> list[Amendment]:
    return list(session.scalars(select(Amendment).where(Amendment.round_id == drafting.id).order_by(Amendment.id)))
