"""Finding a PDCA series, cycle or member within the caller's community, and the checks of who may act on a series and in which phase."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.kernel.preconditions import COLLECTS_PROPERTY as COLLECTS
from engine.identity.actors import Actor
from engine.identity.models import Member
from engine.kernel.errors import Conflict, PermissionDenied
from engine.kernel.instances import lock
from engine.kernel.models import HumanTask, Instance
from engine.pdca.models import ServiceCycle, ServiceSeries

MAX_ID = 2**31 - 1
"""Row ids are 32-bit integers on PostgreSQL: a larger id (in a URL, say) is not found, not a database error."""
T = TypeVar("T")


# ---- finding things, and who may touch them ---------------------------------------------------------

def by_id(session: Session, model: type[T], row_id: Any) -> T | None:
    """The row with that id, or None for any id that cannot be one (not an int, out of range)."""
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id <= MAX_ID:
        return None
    return session.get(model, row_id)


def get_series(session: Session, actor: Actor, series_id: int) -> ServiceSeries:
    return actor.own(by_id(session, ServiceSeries, series_id), "series")


def get_cycle(session: Session, actor: Actor, cycle_id: int) -> ServiceCycle:
    return actor.own(by_id(session, ServiceCycle, cycle_id), "cycle")


def series_query(actor: Actor) -> Select[tuple[ServiceSeries]]:
    """The caller's community's series, oldest first; every member may follow the quality of its services."""
    return select(ServiceSeries).where(ServiceSeries.community_id == actor.community_id).order_by(ServiceSeries.id)


def cycles_query(session: Session, actor: Actor, series_id: int) -> Select[tuple[ServiceCycle]]:
    series = get_series(session, actor, series_id)
    return select(ServiceCycle).where(ServiceCycle.series_id == series.id).order_by(ServiceCycle.number)


def series_of(session: Session, instance_id: str) -> ServiceSeries | None:
    return session.scalar(select(ServiceSeries).where(ServiceSeries.instance_id == instance_id))


def current_cycle(session: Session, series: ServiceSeries) -> ServiceCycle | None:
    return session.scalar(
        select(ServiceCycle).where(ServiceCycle.series_id == series.id).order_by(ServiceCycle.number.desc()).limit(1)
    )


def require_phase(session: Session, cycle: ServiceCycle, phase: str, collects: str, message: str) -> Instance:
    """The cycle's instance, if the cycle is in ``phase`` and an open task ``collects`` what is sent.

    The process decides when (its open tasks), the cycle row which cycle: records for a cycle that
    has moved on are refused even while the next cycle's service period is open.
    """
    instance = instance_of(session, cycle.series)
    lock(session, instance, cycle)
    open_properties = session.scalars(
        select(HumanTask.properties).where(HumanTask.instance_id == instance.id, HumanTask.state == "READY")
    )
    if cycle.status != phase or instance.status != "running" or not any(p.get(COLLECTS) == collects for p in open_properties):
        raise Conflict(message, cycle_status=cycle.status)
    return instance


def require_provider_or_committee(actor: Actor, series: ServiceSeries, what: str) -> None:
    """The series' responsible provider, or the committee (entering paper logs, say)."""
    if actor.member_id != series.provider_id and not actor.has("committee"):
        raise PermissionDenied(f"only the series' provider or the committee may {what}", required=["provider", "committee"])


def member_of(session: Session, community_id: int, member_id: Any, role: str | None = None) -> Member | None:
    """The member, if it is one of the community's (and holds ``role``); None otherwise."""
    member = by_id(session, Member, member_id)
    if member is None or member.community_id != community_id or (role is not None and role not in member.roles):
        return None
    return member


def instance_of(session: Session, series: ServiceSeries) -> Instance:
    """The pdca process instance that runs the series (its history records every change)."""
    instance = session.get(Instance, series.instance_id)
    assert instance is not None
    return instance
