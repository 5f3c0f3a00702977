"""Convention drafting (社区公约): versioned texts, amendments and their decisions, comments, adoption.

The convention process (``processes/convention.bpmn``) calls the service operations registered
here, so every step of a round — opening it on a draft, closing the amendment period,
consolidating the decided amendments into the next version, ending the public notice,
recording the adoption vote, adopting or closing the round — changes the convention's rows
inside the command that moves the process, and is recorded (with the fingerprint of any text it
publishes) in that command's event. Amendments, support and comments are domain commands: rows
of their own, accepted only while the round's amendment task ``collects`` amendments and before
its deadline; the committee decides amendments only while a task collects
``amendment_decisions``. Everything is public to the community: residents see every amendment
and every decision, with its reason.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine import commands as c
from engine.audit import checkpoints
from engine.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from engine.identity import Actor, zone
from engine.instances import lock, record
from engine.models import (
    Amendment, AmendmentSupport, ArticleComment, Convention, ConventionVersion, DraftingRound, Event, Instance, Vote,
)
from engine.preconditions import precondition
from engine.services import ServiceContext, operation
from engine.texts import Article, compare, fingerprint, text_changes
from engine.unit_of_work import UnitOfWork

KINDS = ("replace", "insert", "delete")
OUTCOMES = ("accepted", "accepted_with_changes", "rejected")
ACCEPTED = ("accepted", "accepted_with_changes")
MAX_ARTICLES = 300
MAX_TEXT_LENGTH = 5000
COLLECTS = "collects"
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


# ---- the service operations of the convention process ----------------------------------------

@operation("convention.prepare")
def prepare(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Check the convention a new process is to amend, so a bad ``convention_id`` refuses the start itself."""
    if params.get("convention_id") is None:
        return {"convention_id": None}
    convention = _convention_to_amend(context, params["convention_id"])
    text = _current_text(context.session, convention, context.instance)
    return {"convention_id": convention.id, "title": text.title, "version": text.number, "fingerprint": text.fingerprint}


@operation("convention.open_round")
def open_round(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Open a round on the committee's draft: a new version when the draft changes the text, then the amendment period."""
    draft = params.get("draft") or {}
    if params.get("convention_id") is None:
        convention, current = _new_convention(context, draft), None
    else:
        convention = _convention_to_amend(context, params["convention_id"])
        current = _current_text(context.session, convention, context.instance)
    version, created = _draft_version(context, convention, current, draft)
    drafting = DraftingRound(
        convention_id=convention.id, instance_id=context.instance.id, number=_last_round(context.session, convention) + 1,
        status="amending", reason=draft["reason"], base_number=version.number,
        amendment_deadline=_moment(draft["amendment_deadline"], context), notice_days=draft["notice_days"],
        opened_by=_member(context), opened_at=context.now, updated_at=context.now,
    )
    context.session.add(drafting)
    context.session.flush()
    return {"convention_id": convention.id, "round_id": drafting.id, "round": drafting.number, **_published(version, created),
            "amendment_deadline": _utc(drafting.amendment_deadline)}


@operation("convention.close_amendments")
def close_amendments(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    drafting = _round(context, params, "amending")
    _advance(drafting, "reviewing", context.now)
    counts = Counter(a.status for a in _amendments_of(context.session, drafting))
    return {"round_id": drafting.id, "round": drafting.number, "proposed": counts["proposed"], "withdrawn": counts["withdrawn"]}


@operation("convention.consolidate")
def consolidate(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Apply the round's accepted amendments to its text; the result is the next version, put on public notice."""
    drafting = _round(context, params, "reviewing")
    convention = _convention(context.session, drafting.convention_id)
    base = _version(context.session, convention, drafting.base_number)
    amendments = [a for a in _amendments_of(context.session, drafting) if a.status == "proposed"]
    applied = [a for a in amendments if a.outcome in ACCEPTED]
    articles = _apply(convention, base.articles, applied)
    if fingerprint(base.title, articles) == base.fingerprint:
        version, created = base, False
    else:
        reason = _consolidation_reason(drafting, amendments)
        version = _add_version(context, convention, base.title, articles, "consolidated", reason, base.number, [a.id for a in applied])
        created = True
    drafting.result_number = version.number
    drafting.notice_ends = context.now + timedelta(days=drafting.notice_days)
    _advance(drafting, "notice", context.now)
    return {"round_id": drafting.id, "round": drafting.number, **_published(version, created),
            "applied": [a.id for a in applied], "notice_ends": _utc(drafting.notice_ends)}


@operation("convention.end_notice")
def end_notice(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    drafting = _round(context, params, "notice")
    _advance(drafting, "voting", context.now)
    return {"round_id": drafting.id, "round": drafting.number, "version": drafting.result_number}


@operation("convention.record_vote")
def record_vote(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Keep the adoption vote's result with the round; anything but ``passed`` leaves the text unadopted."""
    drafting = _round(context, params, "voting")
    vote = context.session.get(Vote, (params.get("vote_result") or {}).get("vote_id"))
    if vote is None or vote.instance_id != context.instance.id or vote.status != "closed" or vote.result is None:
        raise InvalidInput("the vote result is not one of this process's closed votes")
    drafting.vote_id, drafting.vote_outcome = vote.id, vote.result["outcome"]
    _advance(drafting, "passed" if drafting.vote_outcome == "passed" else "rejected", context.now)
    return {"round_id": drafting.id, "round": drafting.number, "version": drafting.result_number, "vote_id": vote.id,
            "outcome": drafting.vote_outcome, "board_root": vote.board_root}


@operation("convention.adopt")
def adopt(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """The voted text becomes the community's convention in force, from its effective date."""
    drafting = _round(context, params, "passed")
    effective = _effective_date(params.get("effective_date"), context)
    convention = _convention(context.session, drafting.convention_id)
    version = _version(context.session, convention, drafting.result_number or drafting.base_number)
    convention.adopted_number, convention.effective_date, convention.adopted_at = version.number, effective, context.now
    convention.title, convention.status, convention.updated_at = version.title, "adopted", context.now
    _advance(drafting, "adopted", context.now)
    checkpoints.publish(context.session, f"convention {convention.id} adopted")
    return {"convention_id": convention.id, "round": drafting.number, "version": version.number,
            "fingerprint": version.fingerprint, "effective_date": effective.isoformat()}


@operation("convention.close_round")
def close_round(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """After a failed vote the committee drafts another round or abandons the drafting, and says why."""
    drafting = _round(context, params, "rejected")
    next_step, reason = params.get("next_step"), params.get("reason")
    drafting.closing_reason = reason
    if next_step == "abandon":
        _advance(drafting, "abandoned", context.now)
        convention = _convention(context.session, drafting.convention_id)
        if convention.adopted_number is None:
            convention.status, convention.updated_at = "abandoned", context.now
    return {"round_id": drafting.id, "round": drafting.number, "next_step": next_step, "reason": reason}


def _convention_to_amend(context: ServiceContext, convention_id: Any) -> Convention:
    """The convention named by the process, if it is this community's and no other running process drafts it."""
    convention = context.session.get(Convention, convention_id) if _is_id(convention_id) else None
    if convention is None or convention.community_id != context.instance.community_id:
        raise InvalidInput("convention_id names no convention of this community",
                           errors=[{"field": "variables.convention_id", "message": "unknown convention"}])
    busy = context.session.scalar(
        select(DraftingRound.instance_id).join(Instance, Instance.id == DraftingRound.instance_id).where(
            DraftingRound.convention_id == convention.id, DraftingRound.instance_id != context.instance.id,
            Instance.status != "completed").limit(1))
    if busy is not None:
        raise Conflict("another process is drafting this convention; it must end (adopted or abandoned) first", instance_id=busy)
    return convention


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _current_text(session: Session, convention: Convention, instance: Instance) -> ConventionVersion:
    """Where a new round starts: this process's last round's text (after a failed vote), else the adopted text,
    else the latest version."""
    last = session.scalar(select(DraftingRound).where(
        DraftingRound.convention_id == convention.id, DraftingRound.instance_id == instance.id,
    ).order_by(DraftingRound.number.desc()).limit(1))
    if last is not None:
        number = last.result_number or last.base_number
    else:
        number = convention.adopted_number or session.scalar(
            select(func.max(ConventionVersion.number)).where(ConventionVersion.convention_id == convention.id))
    return _version(session, convention, number)


def _new_convention(context: ServiceContext, draft: dict[str, Any]) -> Convention:
    missing = [field for field in ("title", "articles") if not draft.get(field)]
    if missing:
        raise InvalidInput("a new convention's first draft needs a title and articles",
                           errors=[{"field": f"draft.{field}", "message": "required for a new convention"} for field in missing])
    convention = Convention(
        community_id=context.instance.community_id, title=draft["title"].strip(), status="drafting", last_article=0,
        created_by=_member(context), created_at=context.now, updated_at=context.now,
    )
    context.session.add(convention)
    context.session.flush()
    return convention


def _draft_version(context: ServiceContext, convention: Convention, current: ConventionVersion | None,
                   draft: dict[str, Any]) -> tuple[ConventionVersion, bool]:
    """The committee's draft as a version: the current one when the draft leaves the text as it is."""
    if current is None:
        articles = _drafted_articles(convention, None, draft["articles"])
        return _add_version(context, convention, convention.title, articles, "draft", draft["reason"], None, []), True
    title = (draft.get("title") or "").strip() or current.title
    articles = _drafted_articles(convention, current, draft["articles"]) if draft.get("articles") else current.articles
    if fingerprint(title, articles) == current.fingerprint:
        return current, False
    return _add_version(context, convention, title, articles, "draft", draft["reason"], current.number, []), True


def _drafted_articles(convention: Convention, current: ConventionVersion | None, drafted: list[dict[str, Any]]) -> list[Article]:
    """The draft's articles with their ids: kept where the committee names an existing article, new ones numbered on."""
    known = {article["id"] for article in current.articles} if current else set()
    if len(drafted) > MAX_ARTICLES:
        raise InvalidInput(f"a convention has at most {MAX_ARTICLES} articles", errors=[{"field": "draft.articles", "message": "too many"}])
    articles: list[Article] = []
    for index, article in enumerate(drafted):
        article_id = article.get("id")
        if article_id is not None and (article_id not in known or article_id in {a["id"] for a in articles}):
            raise InvalidInput(f"article id {article_id} is not an article of the current text, or appears twice",
                               errors=[{"field": f"draft.articles.{index}.id", "message": "unknown or repeated article id"}])
        articles.append({"id": article_id or _new_article_id(convention), "text": _text(article.get("text"), f"draft.articles.{index}.text")})
    return articles


def _apply(convention: Convention, base: list[Article], amendments: list[Amendment]) -> list[Article]:
    """The base text with the amendments applied: replacements and deletions in place, insertions after
    their article (in the order proposed), each amendment as the committee decided it."""
    replaced: dict[str, str | None] = {}
    inserted: dict[str | None, list[Amendment]] = {}
    for amendment in amendments:
        if amendment.kind == "insert":
            inserted.setdefault(amendment.after_id, []).append(amendment)
        else:
            replaced[amendment.article_id or ""] = _decided_text(amendment)
            amendment.result_article_id = amendment.article_id
    articles = _insertions(convention, inserted.get(None, []))
    for article in base:
        if article["id"] not in replaced:
            articles.append(article)
        elif (text := replaced[article["id"]]) is not None:
            articles.append({"id": article["id"], "text": text})
        articles.extend(_insertions(convention, inserted.get(article["id"], [])))
    return articles


def _insertions(convention: Convention, amendments: list[Amendment]) -> list[Article]:
    articles: list[Article] = []
    for amendment in amendments:
        amendment.result_article_id = _new_article_id(convention)
        articles.append({"id": amendment.result_article_id, "text": _decided_text(amendment) or ""})
    return articles


def _decided_text(amendment: Amendment) -> str | None:
    """The wording that goes into the text: the committee's when it accepted with changes (None deletes)."""
    return amendment.decision_text if amendment.outcome == "accepted_with_changes" else amendment.text


def _consolidation_reason(drafting: DraftingRound, amendments: list[Amendment]) -> str:
    by_outcome: dict[str, list[str]] = {}
    for amendment in amendments:
        by_outcome.setdefault(amendment.outcome or "", []).append(f"#{amendment.id}")
    parts = [f"{label} {', '.join(by_outcome[outcome])}" for outcome, label in (
        ("accepted", "accepted"), ("accepted_with_changes", "accepted with the committee's wording"), ("rejected", "rejected"),
    ) if outcome in by_outcome]
    return f"Round {drafting.number} consolidated: {'; '.join(parts)}."


def _add_version(context: ServiceContext, convention: Convention, title: str, articles: list[Article], kind: str,
                 reason: str, based_on: int | None, amendment_ids: list[int]) -> ConventionVersion:
    number = (context.session.scalar(
        select(func.max(ConventionVersion.number)).where(ConventionVersion.convention_id == convention.id)) or 0) + 1
    version = ConventionVersion(
        convention_id=convention.id, number=number, title=title, articles=articles, fingerprint=fingerprint(title, articles),
        kind=kind, reason=reason, based_on=based_on, amendment_ids=amendment_ids, instance_id=context.instance.id,
        created_by=_member(context), created_at=context.now,
    )
    context.session.add(version)
    context.session.flush()
    return version


def _published(version: ConventionVersion, created: bool) -> dict[str, Any]:
    """What a round's history records of its text: which version, its fingerprint, and whether it is new."""
    return {"version": version.number, "fingerprint": version.fingerprint, "version_created": created}


def _round(context: ServiceContext, params: dict[str, Any], status: str) -> DraftingRound:
    drafting = context.session.get(DraftingRound, params.get("round_id")) if _is_id(params.get("round_id")) else None
    if drafting is None or drafting.instance_id != context.instance.id:
        raise InvalidInput("the round is not this process's")
    if drafting.status != status:
        raise Conflict(f"round {drafting.number} is {drafting.status}, not {status}")
    return drafting


def _advance(drafting: DraftingRound, status: str, now: datetime) -> None:
    drafting.status, drafting.updated_at = status, now


def _new_article_id(convention: Convention) -> str:
    convention.last_article += 1
    return f"a{convention.last_article}"


def _last_round(session: Session, convention: Convention) -> int:
    return session.scalar(select(func.max(DraftingRound.number)).where(DraftingRound.convention_id == convention.id)) or 0


def _moment(value: str, context: ServiceContext) -> datetime:
    """A form's date and time (already checked to lie ahead), read in the community's zone when it has no offset."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone(context.instance.timezone))


def _effective_date(value: Any, context: ServiceContext) -> date:
    today = context.now.astimezone(zone(context.instance.timezone)).date()
    try:
        effective = date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("the effective date is not a date", errors=[{"field": "effective_date", "message": "not a date"}]) from exc
    if effective < today:
        raise InvalidInput(f"the effective date {effective} lies in the past",
                           errors=[{"field": "effective_date", "message": "in the past"}])
    return effective


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _member(context: ServiceContext) -> int | None:
    return context.actor.member_id if context.actor else None


# ---- amendments, support, comments and decisions: domain commands ----------------------------

def propose(uow: UnitOfWork, actor: Actor, cmd: c.ProposeAmendment) -> Amendment:
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


def comment(uow: UnitOfWork, actor: Actor, cmd: c.CommentOnArticle) -> ArticleComment:
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


def decide(uow: UnitOfWork, actor: Actor, cmd: c.DecideAmendment) -> Amendment:
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
    if count:
        return f"{count} amendment{'s are' if count > 1 else ' is'} still undecided; decide every amendment first"
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


def _target_text(cmd: c.ProposeAmendment, read: ConventionVersion, base: ConventionVersion) -> str | None:
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


def _proposed_text(cmd: c.ProposeAmendment, original: str | None) -> str | None:
    if cmd.kind == "delete":
        if cmd.text:
            raise InvalidInput("a deletion takes no text", errors=[{"field": "text", "message": "not for deletions"}])
        return None
    text = _text(cmd.text, "text")
    if text == original:
        raise InvalidInput("the proposed text is the article as it stands", errors=[{"field": "text", "message": "no change"}])
    return text


def _committee_wording(cmd: c.DecideAmendment) -> str | None:
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
