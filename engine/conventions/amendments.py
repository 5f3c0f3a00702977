"""The domain commands of a drafting round: proposing, supporting, withdrawing and deciding amendments, commenting on articles."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.conventions.commands import CommentOnArticle, DecideAmendment, ProposeAmendment
from engine.conventions.models import (
    Amendment, AmendmentSupport, ArticleComment, Convention, ConventionVersion, DraftingRound,
)
from engine.conventions.queries import (
    ACCEPTED, KINDS, OUTCOMES, _convention, _find_version, _text, _utc, _version, get_amendment, get_convention,
)
from engine.conventions.texts import Article
from engine.identity.actors import Actor
from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied, StaleVersion
from engine.kernel.instances import lock, record
from engine.kernel.models import Instance
from engine.kernel.preconditions import COLLECTS_PROPERTY as COLLECTS
from engine.kernel.preconditions import precondition
from engine.kernel.unit_of_work import UnitOfWork

# ---- amendments, support, comments and decisions: domain commands ----------------------------

def propose(uow: UnitOfWork, actor: Actor, cmd: ProposeAmendment) -> Amendment:
    """Propose a change to one article of the round's text, as read in the version the author names."""
    convention = get_convention(uow.session, actor, cmd.convention_id)
    actor.require("resident")
    drafting = _amending_round(uow, convention)
    read = _named_version(uow.session, convention, cmd.version)
    base = _version(uow.session, convention, drafting.base_number)
    if cmd.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", errors=[{"field": "kind", "message": "unknown kind"}])
    original = _target_text(cmd, read, base)
    amendment = Amendment(
        convention_id=convention.id, round_id=drafting.id, instance_id=drafting.instance_id, community_id=convention.community_id,
        author_id=actor.member_id, kind=cmd.kind, article_id=cmd.article_id, after_id=cmd.after,
        text=_proposed_text(cmd, original), original_text=original, rationale=_text(cmd.rationale, "rationale"),
        version_number=read.number, status="proposed", created_at=uow.now, updated_at=uow.now,
    )
    uow.session.add(amendment)
    uow.session.flush()
    record(uow, drafting.instance, "amendment_proposed", {
        "amendment_id": amendment.id, "round": drafting.number, "kind": amendment.kind, "article_id": amendment.article_id,
        "after": amendment.after_id, "version": read.number, "text": amendment.text, "rationale": amendment.rationale,
    }, actor)
    return amendment


def support(uow: UnitOfWork, actor: Actor, amendment_id: int) -> Amendment:
    amendment = get_amendment(uow.session, actor, amendment_id)
    actor.require("resident")
    _require_open_for(uow, amendment)
    if amendment.author_id == actor.member_id:
        raise Conflict("an author supports their amendment by proposing it; support other residents' amendments")
    if uow.session.get(AmendmentSupport, (amendment.id, actor.member_id)) is not None:
        raise Conflict("you already support this amendment")
    uow.session.add(AmendmentSupport(amendment_id=amendment.id, member_id=actor.member_id, created_at=uow.now))
    uow.session.flush()
    record(uow, amendment.round.instance, "amendment_supported", {"amendment_id": amendment.id}, actor)
    return amendment


def withdraw(uow: UnitOfWork, actor: Actor, amendment_id: int) -> Amendment:
    amendment = get_amendment(uow.session, actor, amendment_id)
    if amendment.author_id != actor.member_id:
        raise PermissionDenied("only its author can withdraw an amendment")
    _require_open_for(uow, amendment)
    amendment.status, amendment.updated_at = "withdrawn", uow.now
    record(uow, amendment.round.instance, "amendment_withdrawn", {"amendment_id": amendment.id}, actor)
    return amendment


def comment(uow: UnitOfWork, actor: Actor, cmd: CommentOnArticle) -> ArticleComment:
    convention = get_convention(uow.session, actor, cmd.convention_id)
    actor.require("resident")
    drafting = _amending_round(uow, convention)
    read = _named_version(uow.session, convention, cmd.version)
    _article(read, cmd.article_id, "article_id")
    note = ArticleComment(
        convention_id=convention.id, round_id=drafting.id, instance_id=drafting.instance_id, author_id=actor.member_id,
        article_id=cmd.article_id, version_number=read.number, text=_text(cmd.text, "text"), created_at=uow.now,
    )
    uow.session.add(note)
    uow.session.flush()
    record(uow, drafting.instance, "comment_added", {
        "comment_id": note.id, "round": drafting.number, "article_id": note.article_id, "version": read.number, "text": note.text,
    }, actor)
    return note


def decide(uow: UnitOfWork, actor: Actor, cmd: DecideAmendment) -> Amendment:
    """The committee's answer to an amendment; deciding again (while reviewing) revises it."""
    amendment = get_amendment(uow.session, actor, cmd.amendment_id)
    actor.require("committee")
    drafting = amendment.round
    lock(uow.session, drafting.instance, drafting, amendment)
    if drafting.status != "reviewing" or not _collecting(drafting.instance, "amendment_decisions"):
        raise Conflict("amendments are decided while the committee reviews them, after the amendment period")
    if amendment.status == "withdrawn":
        raise Conflict("a withdrawn amendment needs no decision")
    if cmd.outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", errors=[{"field": "outcome", "message": "unknown outcome"}])
    wording = _committee_wording(cmd)
    if cmd.outcome in ACCEPTED and amendment.kind != "insert":
        _refuse_overlap(uow.session, amendment)
    amendment.outcome, amendment.decision_reason, amendment.decision_text = cmd.outcome, _text(cmd.reason, "reason"), wording
    amendment.decided_by, amendment.decided_at, amendment.updated_at = actor.member_id, uow.now, uow.now
    record(uow, drafting.instance, "amendment_decided", {
        "amendment_id": amendment.id, "outcome": amendment.outcome, "reason": amendment.decision_reason, "text": wording,
    }, actor)
    return amendment


@precondition("all_amendments_decided")
def undecided_amendments(session: Session, instance: Instance) -> str | None:
    count = session.scalar(select(func.count()).select_from(Amendment).where(
        Amendment.instance_id == instance.id, Amendment.status == "proposed", Amendment.outcome.is_(None)))
    if count == 1:
        raise Conflict(f"{count} amendment is still undecided; decide every amendment first", precondition="all_amendments_decided")
    if count:
        raise Conflict(f"{count} amendments are still undecided; decide every amendment first", precondition="all_amendments_decided")
    return None


def _amending_round(uow: UnitOfWork, convention: Convention) -> DraftingRound:
    """The convention's round in its amendment period, refused once the period is over — even in the minutes
    between the deadline and the worker firing its timer."""
    drafting = uow.session.scalar(select(DraftingRound).where(
        DraftingRound.convention_id == convention.id, DraftingRound.status == "amending"))
    if drafting is not None:
        lock(uow.session, drafting.instance, drafting)
    if drafting is None or drafting.status != "amending" or not _collecting(drafting.instance, "amendments"):
        raise Conflict("the convention has no amendment period open")
    if uow.now >= drafting.amendment_deadline:
        raise Conflict(f"the amendment period closed at {_utc(drafting.amendment_deadline)}",
                       deadline=_utc(drafting.amendment_deadline))
    return drafting


def _require_open_for(uow: UnitOfWork, amendment: Amendment) -> None:
    """The amendment's round still in its amendment period (its instance and the amendment locked, then read)."""
    round_id = _amending_round(uow, _convention(uow.session, amendment.convention_id)).id
    lock(uow.session, amendment)
    if amendment.status == "withdrawn":
        raise Conflict("the amendment was withdrawn")
    if round_id != amendment.round_id:
        raise Conflict("the amendment period of this amendment's round is over")


def _collecting(instance: Instance, what: str) -> bool:
    """Whether the process accepts ``what`` now: one of its open tasks says it ``collects`` it."""
    return instance.status == "running" and any(
        task.state == "READY" and task.properties.get(COLLECTS) == what for task in instance.tasks)


def _named_version(session: Session, convention: Convention, number: int) -> ConventionVersion:
    found = _find_version(session, convention, number)
    if found is None:
        raise InvalidInput(f"the convention has no version {number}", errors=[{"field": "version", "message": "unknown version"}])
    return found


def _target_text(cmd: ProposeAmendment, read: ConventionVersion, base: ConventionVersion) -> str | None:
    """The text the amendment changes, as it stands in the round's text; refused if the author read an older one.

    A replacement or deletion needs the article unchanged since the version the author read; an
    insertion needs the article it follows to still be there.
    """
    if cmd.kind == "insert":
        if cmd.article_id is not None:
            raise InvalidInput("an insertion names the article it follows in after, not article_id",
                               errors=[{"field": "article_id", "message": "not for insertions"}])
        if cmd.after is not None:
            _article(read, cmd.after, "after")
            if _in(base, cmd.after) is None:
                raise _stale(cmd.after, read, base, None)
        return None
    if cmd.article_id is None:
        raise InvalidInput(f"a {cmd.kind} names the article it changes", errors=[{"field": "article_id", "message": "required"}])
    if cmd.after is not None:
        raise InvalidInput("after is only for insertions", errors=[{"field": "after", "message": "only for insertions"}])
    seen = _article(read, cmd.article_id, "article_id")
    current = _in(base, cmd.article_id)
    if current is None or current["text"] != seen["text"]:
        raise _stale(cmd.article_id, read, base, current)
    return current["text"]


def _stale(article_id: str, read: ConventionVersion, base: ConventionVersion, current: Article | None) -> StaleVersion:
    what = "was deleted" if current is None else "has changed"
    return StaleVersion(
        f"article {article_id} {what} since version {read.number}; the round amends version {base.number}: "
        "read the article there and propose again", stale=True, article_id=article_id, version=read.number,
        current_version=base.number, current_text=current["text"] if current else None)


def _proposed_text(cmd: ProposeAmendment, original: str | None) -> str | None:
    if cmd.kind == "delete":
        if cmd.text:
            raise InvalidInput("a deletion takes no text", errors=[{"field": "text", "message": "not for deletions"}])
        return None
    text = _text(cmd.text, "text")
    if text == original:
        raise InvalidInput("the proposed text is the article as it stands", errors=[{"field": "text", "message": "no change"}])
    return text


def _committee_wording(cmd: DecideAmendment) -> str | None:
    if cmd.outcome == "accepted_with_changes":
        return _text(cmd.text, "text")
    if cmd.text:
        raise InvalidInput("only an acceptance with changes takes the committee's wording",
                           errors=[{"field": "text", "message": "only with accepted_with_changes"}])
    return None


def _refuse_overlap(session: Session, amendment: Amendment) -> None:
    """Two accepted changes to one article would overwrite each other; the committee must merge or choose."""
    other = session.scalar(select(Amendment).where(
        Amendment.round_id == amendment.round_id, Amendment.id != amendment.id, Amendment.status == "proposed",
        Amendment.kind != "insert", Amendment.article_id == amendment.article_id, Amendment.outcome.in_(ACCEPTED)).limit(1))
    if other is not None:
        raise Conflict(f"amendment #{other.id}, already accepted, changes article {amendment.article_id} too; reject one "
                       "of them, or accept one with wording that combines both", amendment_id=other.id)


def _in(version: ConventionVersion, article_id: str) -> Article | None:
    return next((a for a in version.articles if a["id"] == article_id), None)


def _article(version: ConventionVersion, article_id: str, field: str) -> Article:
    found = _in(version, article_id)
    if found is None:
        raise InvalidInput(f"version {version.number} has no article {article_id}", errors=[{"field": field, "message": "unknown article"}])
    return found
