"""Tables of service-quality cycles: series, cycles, records, measurements, ratings, requests, indicator results, corrective actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.audit.sealing.records import audited
from engine.kernel.models import Base, Definition


def _in_cycles_of(model: Any, community_id: int) -> Any:
    """The rows of a community's cycles (for a table that keeps only the cycle)."""
    return model.__table__.c.cycle_id.in_(select(ServiceCycle.id).where(ServiceCycle.community_id == community_id))


@audited("pdca_series")
class ServiceSeries(Base):
    """A community service managed in plan-do-check-act cycles by one pdca process instance.

    ``standard`` is the standard the next cycle starts with (the committee may tighten it between
    cycles); each cycle keeps its own frozen copy.
    """

    __tablename__ = "pdca_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    service: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    cycle_days: Mapped[int]
    rating_days: Mapped[int]
    answer_hours: Mapped[int]
    standard: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    end_requested_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    end_requested_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None]


@audited("pdca_cycle")
class ServiceCycle(Base):
    """One plan-do-check-act cycle of a series: its frozen standard, its phase and its dates.

    ``decision_id`` pins the version of the classifying DMN table that was newest when the cycle
    started, so deploying a new version changes the classification of later cycles only.
    """

    __tablename__ = "pdca_cycles"
    __table_args__ = (UniqueConstraint("series_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("pdca_series.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    number: Mapped[int]
    standard: Mapped[list[Any]]
    decision_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    status: Mapped[str] = mapped_column(String(10))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    period_closed_at: Mapped[datetime | None]
    rating_deadline: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    series: Mapped[ServiceSeries] = relationship()
    decision: Mapped[Definition] = relationship()


@audited("service_record", private=("subject", "description"))
class ServiceRecord(Base):
    """One delivery of the service in a cycle: when, to whom (the subject) and who recorded it.

    ``resident_id`` names the resident served, when there is one: only residents named by a record
    of the cycle may rate the cycle's service.
    """

    __tablename__ = "pdca_service_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    served_at: Mapped[datetime]
    subject: Mapped[str] = mapped_column(String(200))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime]


@audited("measurement", private=("subject", "note"))
class Measurement(Base):
    """A measured value of a metric in a cycle (a repair's response time in hours, …)."""

    __tablename__ = "pdca_measurements"
    __table_args__ = (Index("ix_pdca_measurements_cycle_metric", "cycle_id", "metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float]
    measured_at: Mapped[datetime]
    subject: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime]


@audited("rating", private=("comment",))
class ServiceRating(Base):
    """A served resident's rating of a cycle's service, 1 to 5, once per resident and cycle."""

    __tablename__ = "pdca_ratings"
    __table_args__ = (UniqueConstraint("cycle_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime]


@audited("service_request", private=("text", "answer"))
class ServiceRequest(Base):
    """A resident's service request or complaint during a cycle, and its answer."""

    __tablename__ = "pdca_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    filed_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    answered_at: Mapped[datetime | None]


@audited("indicator_result", community_scope=_in_cycles_of)
class IndicatorResult(Base):
    """An indicator's value computed at a cycle's check, its target then, and the DMN's classification.

    ``value`` is None when there was nothing to compute it from ("no data", which is not zero).
    """

    __tablename__ = "pdca_indicator_results"
    __table_args__ = (UniqueConstraint("cycle_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None]
    samples: Mapped[int]
    target: Mapped[float]
    direction: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    escalated: Mapped[bool]
    decision_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    computed_at: Mapped[datetime]


@audited("corrective_action")
class CorrectiveAction(Base):
    """A corrective action for a missed indicator: assigned, reported done, then verified (and closed).

    An action is closed only by the committee's verification of its effect, which records whether
    it was effective.
    """

    __tablename__ = "pdca_corrective_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    indicator: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(10))
    assigned_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    assigned_at: Mapped[datetime]
    report: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reported_at: Mapped[datetime | None]
    effective: Mapped[bool | None]
    verification: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    verified_at: Mapped[datetime | None]
