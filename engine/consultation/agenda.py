"""The consultation's agenda source: an opinion period open in the caller's community (residents only).

Giving an opinion does not take the item away: an opinion may be edited until the period closes, so the
item stays while the period is open, and says how many opinions the caller has standing
(``refs["my_opinions"]``, withdrawn ones not counted).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.consultation.models import Opinion
from engine.identity.actors import Actor, zone
from engine.kernel.errors import InvalidInput
from engine.kernel.agenda import AgendaItem, agenda_source, collecting, earliest_timer
from engine.kernel.models import Instance


@agenda_source("consultation")
def opinion_periods(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    if not actor.has("resident"):
        return []
    mine = (select(func.count()).select_from(Opinion)
            .where(Opinion.instance_id == Instance.id, Opinion.author_id == actor.member_id, Opinion.status != "withdrawn")
            .correlate(Instance).scalar_subquery())
    rows = session.execute(
        select(Instance.id, Instance.timezone, Instance.data["title"].as_string(), Instance.data["opinion_deadline"].as_string(),
               earliest_timer(Instance.id), mine)
        .where(Instance.community_id == actor.community_id, collecting(Instance.id, "opinions"))
    ).all()
    return [AgendaItem("give_opinion", title or "Consultation", timer_due or _deadline(written, timezone), instance_id,
                       {"my_opinions": opinions})
            for instance_id, timezone, title, written, timer_due, opinions in rows]


def _deadline(written: str | None, timezone: str) -> datetime | None:
    """The opinion deadline as the topic gives it (local time of the instance's zone), when no timer is pending."""
    try:
        moment = datetime.fromisoformat(written) if written else None
    except (TypeError, ValueError):
        return None
    if moment is not None and moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=zone(timezone))
        except InvalidInput:  # an unknown zone: no deadline rather than a failed agenda
            return None
    return moment
