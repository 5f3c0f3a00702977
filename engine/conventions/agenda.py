"""The conventions' agenda source: drafting rounds in their amendment period, for residents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.conventions.models import Convention, DraftingRound
from engine.identity.actors import Actor
from engine.kernel.agenda import AgendaItem, agenda_source, collecting


@agenda_source("conventions")
def amendment_periods(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    if not actor.has("resident"):
        return []
    rows = session.execute(
        select(Convention.id, Convention.title, DraftingRound.number, DraftingRound.instance_id, DraftingRound.amendment_deadline)
        .join(DraftingRound, DraftingRound.convention_id == Convention.id)
        .where(Convention.community_id == actor.community_id, DraftingRound.status == "amending",
               DraftingRound.amendment_deadline > now, collecting(DraftingRound.instance_id, "amendments"))
    ).all()
    return [AgendaItem("propose_amendment", title, deadline, instance_id, {"convention_id": convention_id, "round": number})
            for convention_id, title, number, instance_id, deadline in rows]
