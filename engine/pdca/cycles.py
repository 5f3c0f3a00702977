"""Series, cycles and their standard: the service operations of the PDCA process (``pdca.*``) and the committee's commands on a series."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn.decisions import evaluate
from engine.identity.actors import Actor
from engine.kernel.definitions import resolve
from engine.kernel.errors import Conflict, InvalidInput, ScriptError
from engine.kernel.instances import lock, record
from engine.kernel.models import Definition
from engine.kernel.operations import ServiceContext, operation
from engine.kernel.unit_of_work import UnitOfWork
from engine.pdca import indicators
from engine.pdca.models import IndicatorResult, Measurement, ServiceCycle, ServiceRating, ServiceRecord, ServiceSeries
from engine.pdca.queries import by_id, get_series, instance_of, series_of
from engine.pdca.validation import DECISION, MAX_TEXT, NO_DATA, STATUSES, _number, text_field, validate_plan

READ_ALL_ROLES = frozenset({"committee", "provider", "auditor", "street_office"})
"""Who reads every row of a series; residents read their own ratings and requests."""


def tighten_standard(uow: UnitOfWork, actor: Actor, series_id: int, targets: dict[str, Any]) -> ServiceSeries:
    """Set tighter targets for the cycles to come; the running cycle keeps the standard it started with.

    Only tightening is allowed (higher for ``at_least``, lower for ``at_most``): a standard that
    slips quietly from cycle to cycle would defeat the point of judging quality over time.
    """
    series = get_series(uow.session, actor, series_id)
    actor.require("committee")
    lock(uow.session, instance_of(uow.session, series), series)
    _require_active(series)
    by_key = {item["key"]: item for item in series.standard}
    errors: list[dict[str, str]] = []
    changes: dict[str, dict[str, float]] = {}
    for key, value in targets.items():
        target = _number(value, f"targets.{key}", errors)
        if key not in by_key:
            errors.append({"field": f"targets.{key}", "message": "not an indicator of this series"})
        elif target is not None and not _at_least_as_strict(by_key[key]["direction"], target, by_key[key]["target"]):
            errors.append({"field": f"targets.{key}", "message": f"looser than the current target {by_key[key]['target']:g}"})
        elif target is not None:
            changes[key] = {"from": by_key[key]["target"], "to": target}
    if errors or not targets:
        raise InvalidInput("the targets are not valid", errors=errors or [{"field": "targets", "message": "at least one"}])
    series.standard = [{**item, "target": changes[item["key"]]["to"]} if item["key"] in changes else item
                       for item in series.standard]
    record(uow, instance_of(uow.session, series), "standard_tightened", {"series_id": series.id, "targets": changes}, actor)
    return series


def end_series(uow: UnitOfWork, actor: Actor, series_id: int, reason: str) -> ServiceSeries:
    """End the series after its running cycle: the cycle still goes through check and act."""
    series = get_series(uow.session, actor, series_id)
    actor.require("committee")
    lock(uow.session, instance_of(uow.session, series), series)
    _require_active(series)
    if series.end_requested_at is not None:
        raise Conflict("the end of this series has already been requested")
    errors: list[dict[str, str]] = []
    series.end_reason = text_field(reason, "reason", errors, limit=MAX_TEXT)
    if errors:
        raise InvalidInput("a reason is needed", errors=errors)
    series.end_requested_by, series.end_requested_at = actor.member_id, uow.now
    record(uow, instance_of(uow.session, series), "series_end_requested", {"series_id": series.id, "reason": series.end_reason}, actor)
    return series


# ---- the service operations of the pdca process -------------------------------------------------

@operation("pdca.open_series")
def open_series(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Turn the committee's plan into a series and start its first cycle."""
    if series_of(context.session, context.instance.id) is not None:
        raise Conflict("this instance already runs a series")
    plan = validate_plan(context.session, context.instance.community_id, params.get("plan"))
    series = ServiceSeries(
        instance_id=context.instance.id, community_id=context.instance.community_id, service=plan["service"],
        description=plan["description"], provider_id=plan["provider_id"], cycle_days=plan["cycle_days"],
        rating_days=plan["rating_days"], answer_hours=plan["answer_hours"], standard=plan["indicators"],
        status="active", created_by=context.actor.member_id if context.actor else None, created_at=context.now,
    )
    decision = _newest_decision(context)
    context.session.add(series)
    context.session.flush()
    return _start_cycle(context, series, decision)


@operation("pdca.plan_cycle")
def plan_cycle(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Start the next cycle with the standard carried over, or say that no series exists yet."""
    series = series_of(context.session, context.instance.id)
    if series is None:
        return {"planned": False}
    return _start_cycle(context, series, _newest_decision(context))


@operation("pdca.close_period")
def close_period(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """End the service period (at its timer or early) and open the rating window."""
    cycle = _cycle_of(context, params.get("cycle_id"))
    if cycle.status == "doing":
        cycle.status, cycle.period_closed_at = "rating", context.now
        cycle.rating_deadline = context.now + timedelta(days=cycle.series.rating_days)
    assert cycle.rating_deadline is not None
    return {"cycle_id": cycle.id, "deadline": _iso(cycle.rating_deadline)}


@operation("pdca.check")
def check(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Compute and classify every indicator of the cycle; escalate those missed twice in a row.

    Everything is computed before anything is written, so a failing decision table (which puts
    the instance in error, for an admin to retry) leaves no half-written results behind.
    """
    cycle = _cycle_of(context, params.get("cycle_id"))
    if cycle.status == "rating":
        results = [_result(context, cycle, item) for item in cycle.standard]
        context.session.add_all(results)
        cycle.status, cycle.checked_at = "acting", context.now
        context.session.flush()
        context.publish(f"PDCA cycle {cycle.id} checked")
    return check_summary(context.session, cycle)


@operation("pdca.close_cycle")
def close_cycle(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    """Close the cycle; the series goes on unless the committee asked for its end."""
    cycle = _cycle_of(context, params.get("cycle_id"))
    series = cycle.series
    if cycle.status != "closed":
        cycle.status, cycle.closed_at = "closed", context.now
    if series.end_requested_at is not None and series.status == "active":
        series.status, series.ended_at = "ended", context.now
    return {"cycle_id": cycle.id, "continue": series.status == "active"}


def check_summary(session: Session, cycle: ServiceCycle) -> dict[str, Any]:
    """What the process gets back from the check: small, enough to branch on."""
    rows = session.scalars(select(IndicatorResult).where(IndicatorResult.cycle_id == cycle.id).order_by(IndicatorResult.id))
    results = [{"key": r.key, "value": r.value, "status": r.status, "escalated": r.escalated} for r in rows]
    return {
        "cycle_id": cycle.id, "number": cycle.number, "results": results,
        "missed": [r["key"] for r in results if r["status"] == "missed"],
        "escalate": [r["key"] for r in results if r["escalated"]],
    }


def _start_cycle(context: ServiceContext, series: ServiceSeries, decision: Definition) -> dict[str, Any]:
    last = context.session.scalar(select(func.max(ServiceCycle.number)).where(ServiceCycle.series_id == series.id)) or 0
    cycle = ServiceCycle(
        series=series, community_id=series.community_id, number=last + 1, standard=series.standard,
        decision_id=decision.id, status="doing", starts_at=context.now,
        ends_at=context.now + timedelta(days=series.cycle_days),
    )
    context.session.add(cycle)
    context.session.flush()
    return {
        "planned": True, "series_id": series.id, "cycle_id": cycle.id, "number": cycle.number,
        "starts_at": _iso(cycle.starts_at), "ends_at": _iso(cycle.ends_at),
        "decision_version": decision.version, "standard": cycle.standard,
    }


def _newest_decision(context: ServiceContext) -> Definition:
    """The decision table the instance's community runs (its own, or the platform's it adopted)."""
    decision = resolve(context.session, context.instance.community_id, DECISION, "dmn", pin_at=context.now)
    if decision is None:
        raise InvalidInput(f"no decision table {DECISION!r} is deployed to classify the indicators")
    return decision


def _result(context: ServiceContext, cycle: ServiceCycle, item: dict[str, Any]) -> IndicatorResult:
    computed = compute(context.session, cycle, item)
    status = NO_DATA if computed.value is None else classify(cycle.decision, item, computed.value)
    return IndicatorResult(
        cycle_id=cycle.id, key=item["key"], value=computed.value, samples=computed.samples, target=item["target"],
        direction=item["direction"], status=status,
        escalated=status == "missed" and _missed_before(context.session, cycle, item["key"]),
        decision_id=cycle.decision_id, computed_at=context.now,
    )


def compute(session: Session, cycle: ServiceCycle, item: dict[str, Any]) -> indicators.Computed:
    """An indicator's value from the cycle's rows (also used to preview a cycle not yet checked)."""
    if item["source"] == "records":
        subjects = list(session.scalars(select(ServiceRecord.subject).where(ServiceRecord.cycle_id == cycle.id)))
        return indicators.compute(item, [], subjects)
    if item["source"] == "ratings":
        query = select(ServiceRating.score).where(ServiceRating.cycle_id == cycle.id)
    else:
        query = select(Measurement.value).where(Measurement.cycle_id == cycle.id, Measurement.metric == item["metric"])
    return indicators.compute(item, [float(v) for v in session.scalars(query)], [])


def classify(decision: Definition, item: dict[str, Any], value: float) -> str:
    """Met, near or missed, as the pinned version of the DMN table decides."""
    inputs = {"value": value, "target": item["target"], "direction": item["direction"], "near_margin": item["near_margin"]}
    status = evaluate(decision.filename, decision.source, inputs).get("status")
    if status not in STATUSES:
        raise ScriptError(f"decision table {decision.key} v{decision.version} gave {status!r}, not one of {', '.join(STATUSES)}")
    return str(status)


def _missed_before(session: Session, cycle: ServiceCycle, key: str) -> bool:
    previous = session.scalar(
        select(IndicatorResult.status).join(ServiceCycle, ServiceCycle.id == IndicatorResult.cycle_id)
        .where(ServiceCycle.series_id == cycle.series_id, ServiceCycle.number == cycle.number - 1, IndicatorResult.key == key)
    )
    return previous == "missed"


def _cycle_of(context: ServiceContext, cycle_id: Any) -> ServiceCycle:
    cycle = by_id(context.session, ServiceCycle, cycle_id)
    if cycle is None or cycle.series.instance_id != context.instance.id:
        raise InvalidInput("the cycle is not this instance's")
    return cycle


def _require_active(series: ServiceSeries) -> None:
    if series.status != "active":
        raise Conflict("the series has ended")


def _at_least_as_strict(direction: str, new: float, old: float) -> bool:
    return new >= old if direction == "at_least" else new <= old


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()
