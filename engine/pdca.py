"""Service-quality cycles (服务质量 PDCA): series, cycles, their standard, and the process's service operations.

A community service (cleaning, elderly care visits, repairs, …) runs as a series of
plan-do-check-act cycles, driven by one instance of ``processes/pdca.bpmn``. The process decides
*when* (the service period ends at a timer, the rating window too, the act phase waits for its
tasks); this module decides *how*, through the operations its service tasks call:

* ``pdca.open_series`` — the committee's plan becomes a series, and its first cycle starts;
* ``pdca.plan_cycle`` — every later cycle starts with the series' standard carried over (the
  committee may have tightened it) and pins the newest version of the classifying DMN table;
* ``pdca.close_period`` — the service period ends and the rating window opens;
* ``pdca.check`` — indicators are computed from the cycle's rows (``engine.indicators``),
  classified by the pinned DMN table, stored, and those missed twice in a row are escalated;
* ``pdca.close_cycle`` — the cycle closes, and the series continues unless the committee ended it.

Records, measurements, ratings and requests are in ``engine.service_records``; corrective actions
in ``engine.corrective_actions``; the series report and its charts in ``engine.quality_report``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine import indicators
from engine.audit import checkpoints
from engine.bpmn.decisions import evaluate
from engine.consultation import COLLECTS
from engine.definitions import resolve
from engine.errors import Conflict, InvalidInput, PermissionDenied, ScriptError
from engine.identity import Actor
from engine.instances import lock, record
from engine.models import (
    Definition, HumanTask, IndicatorResult, Instance, Measurement, Member, ServiceCycle, ServiceRating,
    ServiceRecord, ServiceSeries,
)
from engine.services import ServiceContext, operation
from engine.unit_of_work import UnitOfWork

DECISION = "indicator_status"
"""The DMN decision (``processes/quality.dmn``) that classifies an indicator as met, near or missed."""
STATUSES = ("met", "near", "missed")
NO_DATA = "no_data"
SOURCES = {"ratings": "the residents' ratings (1–5)", "measurements": "a metric's measurements",
           "records": "the service records"}
READ_ALL_ROLES = frozenset({"committee", "provider", "auditor", "street_office"})
"""Who reads every row of a series; residents read their own ratings and requests."""
MAX_INDICATORS = 20
MAX_SUBJECTS = 1000
MAX_TEXT = 2000
MAX_ID = 2**31 - 1
"""Row ids are 32-bit integers on PostgreSQL: a larger id (in a URL, say) is not found, not a database error."""
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
T = TypeVar("T")


# ---- the plan and its standard -------------------------------------------------------------------

def validate_plan(session: Session, community_id: int, plan: Any) -> dict[str, Any]:
    """The committee's plan, checked and normalized; every failing field is listed (``plan.indicators.0.target``,
    as the form's own errors name them)."""
    errors: list[dict[str, str]] = []
    if not isinstance(plan, dict):
        raise InvalidInput("the plan is missing", errors=[{"field": "plan", "message": "required"}])
    checked = {
        "service": text_field(plan.get("service"), "plan.service", errors, limit=200),
        "description": text_field(plan.get("description", ""), "plan.description", errors, limit=5000, required=False),
        "provider_id": _provider(session, community_id, plan.get("provider_id"), errors),
        "cycle_days": _integer(plan.get("cycle_days"), "plan.cycle_days", 1, 366, errors),
        "rating_days": _integer(plan.get("rating_days", 7), "plan.rating_days", 1, 60, errors),
        "answer_hours": _integer(plan.get("answer_hours", 48), "plan.answer_hours", 1, 720, errors),
        "indicators": validate_standard(plan.get("indicators"), "plan.indicators", errors),
    }
    errors += [{"field": f"plan.{k}", "message": "unknown field"} for k in sorted(set(plan) - set(checked))]
    if errors:
        raise InvalidInput("the plan is not valid", errors=errors)
    return checked


def validate_standard(raw: Any, path: str, errors: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The indicators of a standard, each with its kind, source, unit, target and direction."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_INDICATORS:
        errors.append({"field": path, "message": f"1 to {MAX_INDICATORS} indicators"})
        return []
    checked = [_indicator(item, f"{path}.{i}", errors) for i, item in enumerate(raw)]
    keys = [item.get("key") for item in checked]
    errors += [{"field": f"{path}.{i}.key", "message": "used twice"}
               for i, key in enumerate(keys) if key is not None and key in keys[:i]]
    return checked


def _indicator(raw: Any, path: str, errors: list[dict[str, str]]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append({"field": path, "message": "an object"})
        return {}
    kind = _choice(raw.get("kind"), f"{path}.kind", indicators.KINDS, errors)
    default_source = "records" if kind == "count_per_subject" else None
    source = _choice(raw.get("source", default_source), f"{path}.source", tuple(SOURCES), errors)
    item: dict[str, Any] = {
        "key": _key(raw.get("key"), f"{path}.key", errors),
        "name": text_field(raw.get("name"), f"{path}.name", errors, limit=200),
        "kind": kind,
        "source": source,
        "unit": text_field(raw.get("unit"), f"{path}.unit", errors, limit=20),
        "target": _number(raw.get("target"), f"{path}.target", errors),
        "direction": _choice(raw.get("direction"), f"{path}.direction", indicators.DIRECTIONS, errors),
        "near_margin": _number(raw.get("near_margin", 0), f"{path}.near_margin", errors, minimum=0),
    }
    if kind and source and (kind == "count_per_subject") != (source == "records"):
        errors.append({"field": f"{path}.source", "message": "count_per_subject counts records; the other kinds use ratings or measurements"})
    if source == "measurements":
        item["metric"] = _key(raw.get("metric"), f"{path}.metric", errors)
    if kind == "share":
        item["threshold"] = _number(raw.get("threshold"), f"{path}.threshold", errors)
        item["threshold_direction"] = _choice(raw.get("threshold_direction"), f"{path}.threshold_direction",
                                              indicators.DIRECTIONS, errors)
    if kind == "percentile":
        item["percentile"] = _number(raw.get("percentile"), f"{path}.percentile", errors, minimum=0.0001, maximum=100)
    if kind == "count_per_subject" and raw.get("subjects") is not None:
        item["subjects"] = _subjects(raw.get("subjects"), f"{path}.subjects", errors)
    errors += [{"field": f"{path}.{k}", "message": "unknown or not used by this kind"}
               for k in sorted(set(raw) - set(item))]
    return item


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
        checkpoints.publish(context.session, f"PDCA cycle {cycle.id} checked")
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


def _require_active(series: ServiceSeries) -> None:
    if series.status != "active":
        raise Conflict("the series has ended")


def _at_least_as_strict(direction: str, new: float, old: float) -> bool:
    return new >= old if direction == "at_least" else new <= old


# ---- field checks ---------------------------------------------------------------------------------

def text_field(value: Any, field: str, errors: list[dict[str, str]], *, limit: int = MAX_TEXT, required: bool = True) -> str:
    """The text, stripped; a failure is added to ``errors`` (all fields are checked before refusing)."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or (required and not text) or len(text) > limit:
        errors.append({"field": field, "message": f"{'1' if required else '0'} to {limit} characters"})
        return ""
    return text


def _integer(value: Any, field: str, low: int, high: int, errors: list[dict[str, str]]) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors.append({"field": field, "message": f"a whole number from {low} to {high}"})
        return low
    return value


def _number(value: Any, field: str, errors: list[dict[str, str]], *, minimum: float | None = None,
            maximum: float | None = None) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        errors.append({"field": field, "message": "a number"})
        return None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        errors.append({"field": field, "message": f"from {minimum:g} to {maximum:g}" if maximum is not None else f"at least {minimum:g}"})
        return None
    return float(value)


def _choice(value: Any, field: str, choices: tuple[str, ...], errors: list[dict[str, str]]) -> str | None:
    if value not in choices:
        errors.append({"field": field, "message": f"one of {', '.join(choices)}"})
        return None
    return str(value)


def _key(value: Any, field: str, errors: list[dict[str, str]]) -> str | None:
    if not isinstance(value, str) or not _KEY.match(value):
        errors.append({"field": field, "message": "lowercase letters, digits and _, starting with a letter (at most 64)"})
        return None
    return value


def _subjects(value: Any, field: str, errors: list[dict[str, str]]) -> list[str]:
    if (not isinstance(value, list) or not 1 <= len(value) <= MAX_SUBJECTS or len(set(map(str, value))) != len(value)
            or not all(isinstance(s, str) and 0 < len(s.strip()) <= 200 for s in value)):
        errors.append({"field": field, "message": f"1 to {MAX_SUBJECTS} distinct names of at most 200 characters"})
        return []
    return [s.strip() for s in value]


def _provider(session: Session, community_id: int, member_id: Any, errors: list[dict[str, str]]) -> int:
    member = member_of(session, community_id, member_id, "provider")
    if member is None:
        errors.append({"field": "plan.provider_id", "message": "not a member of this community with the provider role"})
        return 0
    return member.id


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()
