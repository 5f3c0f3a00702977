"""The service operations of the convention process (``convention.*``): preparing a draft, opening and closing rounds, consolidating
decided amendments into the next version, the notice, the adoption vote and adoption.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.conventions.models import Amendment, Convention, ConventionVersion, DraftingRound
from engine.conventions.queries import ACCEPTED, MAX_ARTICLES, _amendments_of, _convention, _text, _utc, _version
from engine.conventions.texts import Article, fingerprint
from engine.identity.actors import zone
from engine.kernel.errors import Conflict, InvalidInput
from engine.kernel.models import Instance
from engine.kernel.operations import ServiceContext, operation
from engine.voting.models import Vote

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
    context.publish(f"convention {convention.id} adopted")
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


def _member(context: ServiceContext) -> int | None:
    return context.actor.member_id if context.actor else None
