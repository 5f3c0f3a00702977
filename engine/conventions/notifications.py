"""The conventions' notification sources: a drafting round opened its amendment period (residents), and the
committee's decisions on the caller's own amendments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.conventions.models import Amendment, Convention, DraftingRound
from engine.identity.actors import Actor
from engine.kernel.notifications import Notification, notification_source


@notification_source("convention_rounds")
def amendment_periods_opened(session: Session, actor: Actor, limit: int) -> list[Notification]:
    if not actor.has("resident"):
        return []
    rows = session.execute(
        select(Convention.id, Convention.title, DraftingRound.number, DraftingRound.instance_id, DraftingRound.opened_at)
        .join(DraftingRound, DraftingRound.convention_id == Convention.id)
        .where(Convention.community_id == actor.community_id)
        .order_by(DraftingRound.opened_at.desc(), DraftingRound.id).limit(limit)
    ).all()
    return [Notification("amendment_period_opened", title, f"Drafting round {number} is open for amendments.", at, instance_id,
                         {"convention_id": convention_id, "round": number})
            for convention_id, title, number, instance_id, at in rows]


@notification_source("convention_decisions")
def amendments_decided(session: Session, actor: Actor, limit: int) -> list[Notification]:
    rows = session.execute(
        select(Amendment.id, Amendment.convention_id, Amendment.instance_id, Amendment.outcome, Amendment.decided_at, Convention.title)
        .join(Convention, Convention.id == Amendment.convention_id)
        .where(Amendment.community_id == actor.community_id, Convention.community_id == actor.community_id,
               Amendment.author_id == actor.member_id, Amendment.decided_at.is_not(None))
        .order_by(Amendment.decided_at.desc(), Amendment.id).limit(limit)
    ).all()
    return [Notification("amendment_decided", title, f"Your amendment was decided: {(outcome or '').replace('_', ' ')}.", at,
                         instance_id, {"amendment_id": amendment_id, "convention_id": convention_id, "outcome": outcome})
            for amendment_id, convention_id, instance_id, outcome, at, title in rows]
