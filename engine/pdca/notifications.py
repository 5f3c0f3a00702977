"""The PDCA notification sources: a rating window opened for a cycle whose records name the caller, and the answers to
the caller's own requests and complaints (the list names the kind, never the request's or the answer's text)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.kernel.notifications import Notification, notification_source
from engine.pdca.models import ServiceCycle, ServiceRecord, ServiceRequest, ServiceSeries


@notification_source("pdca_ratings")
def rating_windows_opened(session: Session, actor: Actor, limit: int) -> list[Notification]:
    if not actor.has("resident"):
        return []
    served = exists().where(ServiceRecord.cycle_id == ServiceCycle.id, ServiceRecord.resident_id == actor.member_id)
    rows = session.execute(
        select(ServiceCycle.id, ServiceCycle.number, ServiceCycle.period_closed_at, ServiceSeries.service, ServiceSeries.instance_id)
        .join(ServiceSeries, ServiceSeries.id == ServiceCycle.series_id)
        .where(ServiceCycle.community_id == actor.community_id, ServiceSeries.community_id == actor.community_id,
               ServiceCycle.period_closed_at.is_not(None), ServiceCycle.rating_deadline.is_not(None), served)
        .order_by(ServiceCycle.period_closed_at.desc(), ServiceCycle.id).limit(limit)
    ).all()
    return [Notification("rating_opened", service, f"Rate the service you received in cycle {number}.", at, instance_id,
                         {"cycle_id": cycle_id, "cycle": number})
            for cycle_id, number, at, service, instance_id in rows]


@notification_source("pdca_answers")
def requests_answered(session: Session, actor: Actor, limit: int) -> list[Notification]:
    rows = session.execute(
        select(ServiceRequest.id, ServiceRequest.kind, ServiceRequest.answered_at, ServiceCycle.id, ServiceSeries.service,
               ServiceSeries.instance_id)
        .join(ServiceCycle, ServiceCycle.id == ServiceRequest.cycle_id)
        .join(ServiceSeries, ServiceSeries.id == ServiceCycle.series_id)
        .where(ServiceRequest.community_id == actor.community_id, ServiceSeries.community_id == actor.community_id,
               ServiceRequest.filed_by == actor.member_id, ServiceRequest.answered_at.is_not(None))
        .order_by(ServiceRequest.answered_at.desc(), ServiceRequest.id).limit(limit)
    ).all()
    return [Notification("request_answered", service, f"Your {kind} was answered.", at, instance_id,
                         {"request_id": request_id, "kind": kind, "cycle_id": cycle_id})
            for request_id, kind, at, cycle_id, service, instance_id in rows]
