"""The consultation's agenda source: an opinion period open in the caller's community (residents only).

Giving an opinion does not take the item away: an opinion may be edited until the period closes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor, zone
from engine.kernel.agenda import AgendaItem, agenda_source
from engine.kernel.models import HumanTask, Instance, Timer
from engine.kernel.preconditions import COLLECTS_PROPERTY as COLLECTS


@agenda_source("consultation")
def opinion_periods(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    if not actor.has("resident"):
        return []
    due = select(func.min(Timer.due_at)).where(Timer.instance_id == Instance.id).correlate(Instance).scalar_subquery()
    rows = session.execute(
        select(Instance.id, Instance.timezone, Instance.data["title"].as_string(), Instance.data["opinion_deadline"].as_string(), due)
        .join(HumanTask, HumanTask.instance_id == Instance.id)
        .where(Instance.community_id == actor.community_id, Instance.status == "running", HumanTask.state == "READY",
               HumanTask.properties[COLLECTS].as_string() == "opinions")
        .distinct()
    ).all()
    return [AgendaItem("give_opinion", title or "Consultation", timer_due or _deadline(written, timezone), instance_id, {})
            for instance_id, timezone, title, written, timer_due in rows]


def _deadline(written: str | None, timezone: str) -> datetime | None:
    """The opinion deadline as the topic gives it (local time of the instance's zone), when no timer is pending."""
    try:
        moment = datetime.fromisoformat(written) if written else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment
