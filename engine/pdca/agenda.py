"""The PDCA agenda source: cycles in their rating window whose service records name the caller, not yet rated by them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.kernel.agenda import AgendaItem, agenda_source, collecting
from engine.pdca.models import ServiceCycle, ServiceRating, ServiceRecord, ServiceSeries


@agenda_source("pdca")
def rating_windows(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    if not actor.has("resident"):
        return []
    served = exists().where(ServiceRecord.cycle_id == ServiceCycle.id, ServiceRecord.resident_id == actor.member_id)
    rated = exists().where(ServiceRating.cycle_id == ServiceCycle.id, ServiceRating.resident_id == actor.member_id)
    rows = session.execute(
        select(ServiceCycle.id, ServiceCycle.number, ServiceCycle.rating_deadline, ServiceSeries.service, ServiceSeries.instance_id)
        .join(ServiceSeries, ServiceSeries.id == ServiceCycle.series_id)
        .where(ServiceCycle.community_id == actor.community_id, ServiceCycle.status == "rating", served, ~rated,
               collecting(ServiceSeries.instance_id, "ratings"))
    ).all()
    return [AgendaItem("rate_service", service, deadline, instance_id, {"cycle_id": cycle_id, "cycle": number})
            for cycle_id, number, deadline, service, instance_id in rows]
