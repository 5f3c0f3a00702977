"""The PDCA agenda sources: cycles in their rating window whose service records name the caller, not yet rated by them;
and, for a series' provider and the committee, the requests and complaints still unanswered."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select, true
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.kernel.agenda import AgendaItem, agenda_source, collecting
from engine.pdca.models import ServiceCycle, ServiceRating, ServiceRecord, ServiceRequest, ServiceSeries


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


@agenda_source("pdca_requests")
def unanswered_requests(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    """Who may answer a request (``records.answer_request``): the series' provider, or the committee. The deadline is
    the series' answer time after filing (``answer_hours``), which the report judges answers by."""
    rows = session.execute(
        select(ServiceRequest.id, ServiceRequest.kind, ServiceRequest.filed_at, ServiceCycle.id, ServiceCycle.number,
               ServiceSeries.service, ServiceSeries.instance_id, ServiceSeries.answer_hours)
        .join(ServiceCycle, ServiceCycle.id == ServiceRequest.cycle_id)
        .join(ServiceSeries, ServiceSeries.id == ServiceCycle.series_id)
        .where(ServiceRequest.community_id == actor.community_id, ServiceSeries.community_id == actor.community_id,
               ServiceRequest.answered_at.is_(None),
               true() if actor.has("committee") else ServiceSeries.provider_id == actor.member_id)
    ).all()
    return [AgendaItem("answer_request", service, filed_at + timedelta(hours=hours), instance_id,
                       {"request_id": request_id, "kind": kind, "cycle_id": cycle_id, "cycle": number})
            for request_id, kind, filed_at, cycle_id, number, service, instance_id, hours in rows]
