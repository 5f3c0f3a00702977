"""Corrective actions (整改措施): the act phase of a service cycle.

For each missed indicator the committee assigns an action, with an owner and a due date; the
owner (or the series' provider) reports it done; the committee verifies its effect, which closes
it. There is no other way to close an action: its verification — effective or not, with the
committee's note — is what closes it, and only an action reported done can be verified.

The process walks the three steps as three tasks, each collecting its part and each requiring a
precondition registered here before it can be completed: every missed indicator has an action,
every action is reported done, every action is verified. Each check raises its refusal with a literal
message (one per plural form), so that ``scripts/translations`` extracts it into the API's catalogue.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied
from engine.identity.actors import Actor, zone
from engine.kernel.instances import lock, record
from engine.pdca.models import CorrectiveAction, IndicatorResult, ServiceCycle
from engine.kernel.models import Instance
from engine.pdca.queries import by_id, get_cycle, get_series, member_of, require_phase, series_of
from engine.pdca.validation import text_field
from engine.kernel.preconditions import precondition
from engine.kernel.unit_of_work import UnitOfWork

def assign(uow: UnitOfWork, actor: Actor, cycle_id: int, indicator: str, description: str, owner_id: Any,
           due_date: str) -> CorrectiveAction:
    """The committee assigns an action to a missed indicator of the cycle."""
    cycle = get_cycle(uow.session, actor, cycle_id)
    actor.require("committee")
    instance = require_phase(uow.session, cycle, "acting", "corrective_actions",
                             "corrective actions are assigned only while the task assign_actions is open")
    errors: list[dict[str, str]] = []
    missed = set(uow.session.scalars(select(IndicatorResult.key).where(
        IndicatorResult.cycle_id == cycle.id, IndicatorResult.status == "missed")))
    if indicator not in missed:
        errors.append({"field": "indicator", "message": f"not a missed indicator of this cycle (missed: {', '.join(sorted(missed)) or 'none'})"})
    if member_of(uow.session, cycle.community_id, owner_id) is None:
        errors.append({"field": "owner_id", "message": "not a member of this community"})
    due = _due_date(due_date, _today(uow.now, instance), errors)
    text = text_field(description, "description", errors)
    if errors:
        raise InvalidInput("the corrective action is not valid", errors=errors)
    action = CorrectiveAction(
        cycle_id=cycle.id, community_id=cycle.community_id, indicator=indicator, description=text, owner_id=owner_id,
        due_date=due, status="assigned", assigned_by=actor.member_id, assigned_at=uow.now,
    )
    uow.session.add(action)
    uow.session.flush()
    record(uow, instance, "corrective_action_assigned", {
        "cycle_id": cycle.id, "action_id": action.id, "indicator": indicator, "description": text,
        "owner_id": owner_id, "due_date": due.isoformat()}, actor)
    return action


def report_done(uow: UnitOfWork, actor: Actor, action_id: int, report: str) -> CorrectiveAction:
    """The action's owner, or the series' provider, reports it carried out."""
    action, cycle = _action_and_cycle(uow.session, actor, action_id)
    if actor.member_id not in (action.owner_id, cycle.series.provider_id):
        raise PermissionDenied("only the action's owner or the series' provider may report it done")
    instance = require_phase(uow.session, cycle, "acting", "action_reports",
                             "actions are reported done only while the task carry_out_actions is open")
    lock(uow.session, action)
    if action.status != "assigned":
        raise Conflict(f"the action is {action.status}, not waiting to be carried out")
    errors: list[dict[str, str]] = []
    action.report = text_field(report, "report", errors)
    if errors:
        raise InvalidInput("the report is not valid", errors=errors)
    action.status, action.reported_by, action.reported_at = "done", actor.member_id, uow.now
    record(uow, instance, "corrective_action_reported", {"action_id": action.id, "report": action.report}, actor)
    return action


def verify(uow: UnitOfWork, actor: Actor, action_id: int, effective: Any, note: str) -> CorrectiveAction:
    """The committee verifies the effect of an action reported done, which closes it."""
    action, cycle = _action_and_cycle(uow.session, actor, action_id)
    actor.require("committee")
    instance = require_phase(uow.session, cycle, "acting", "action_verifications",
                             "actions are verified only while the task verify_actions is open")
    lock(uow.session, action)
    if action.status != "done":
        raise Conflict("only an action reported done can be verified" if action.status == "assigned"
                       else "the action is already verified and closed", action_status=action.status)
    errors: list[dict[str, str]] = []
    if not isinstance(effective, bool):
        errors.append({"field": "effective", "message": "true or false"})
    action.verification = text_field(note, "note", errors)
    if errors:
        raise InvalidInput("the verification is not valid", errors=errors)
    action.status, action.effective = "closed", effective
    action.verified_by, action.verified_at = actor.member_id, uow.now
    record(uow, instance, "corrective_action_verified",
           {"action_id": action.id, "effective": effective, "note": action.verification}, actor)
    return action


# ---- what the act phase's tasks require ----------------------------------------------------------

@precondition("every_missed_indicator_has_action")
def missed_without_action(session: Session, instance: Instance) -> str | None:
    cycle = _acting_cycle(session, instance)
    if cycle is None:
        return None
    missed = set(session.scalars(select(IndicatorResult.key).where(
        IndicatorResult.cycle_id == cycle.id, IndicatorResult.status == "missed")))
    covered = set(session.scalars(select(CorrectiveAction.indicator).where(CorrectiveAction.cycle_id == cycle.id)))
    uncovered = sorted(missed - covered)
    if uncovered:
        raise Conflict(f"assign a corrective action to each missed indicator first (none yet: {', '.join(uncovered)})",
                       precondition="every_missed_indicator_has_action")
    return None


@precondition("all_actions_reported")
def actions_not_reported(session: Session, instance: Instance) -> str | None:
    count = _count_in(session, instance, "assigned")
    if count == 1:
        raise Conflict(f"{count} corrective action is not reported done yet", precondition="all_actions_reported")
    if count:
        raise Conflict(f"{count} corrective actions are not reported done yet", precondition="all_actions_reported")
    return None


@precondition("all_actions_verified")
def actions_not_verified(session: Session, instance: Instance) -> str | None:
    count = _count_in(session, instance, "done")
    if count == 1:
        raise Conflict(f"{count} corrective action is reported done but not verified: verify the effect of each first",
                       precondition="all_actions_verified")
    if count:
        raise Conflict(f"{count} corrective actions are reported done but not verified: verify the effect of each first",
                       precondition="all_actions_verified")
    return None


def _count_in(session: Session, instance: Instance, status: str) -> int:
    """How many actions of the instance's acting cycle are in ``status`` (0 when no cycle is acting)."""
    cycle = _acting_cycle(session, instance)
    if cycle is None:
        return 0
    return session.scalar(select(func.count()).select_from(CorrectiveAction).where(
        CorrectiveAction.cycle_id == cycle.id, CorrectiveAction.status == status)) or 0


def _acting_cycle(session: Session, instance: Instance) -> ServiceCycle | None:
    series = series_of(session, instance.id)
    if series is None:
        return None
    return session.scalar(select(ServiceCycle).where(ServiceCycle.series_id == series.id, ServiceCycle.status == "acting"))


# ---- reading ----------------------------------------------------------------------------------------

def get_action(session: Session, actor: Actor, action_id: int) -> CorrectiveAction:
    return actor.own(by_id(session, CorrectiveAction, action_id), "corrective action")


def of_cycle(session: Session, actor: Actor, cycle_id: int) -> Select[tuple[CorrectiveAction]]:
    cycle = get_cycle(session, actor, cycle_id)
    return select(CorrectiveAction).where(CorrectiveAction.cycle_id == cycle.id).order_by(CorrectiveAction.id)


def of_series(session: Session, actor: Actor, series_id: int, open_only: bool) -> Select[tuple[CorrectiveAction]]:
    """A series' actions, oldest first; ``open_only``: those not closed by a verification yet."""
    series = get_series(session, actor, series_id)
    query = (select(CorrectiveAction).join(ServiceCycle, ServiceCycle.id == CorrectiveAction.cycle_id)
             .where(ServiceCycle.series_id == series.id).order_by(CorrectiveAction.id))
    return query.where(CorrectiveAction.status != "closed") if open_only else query


def _action_and_cycle(session: Session, actor: Actor, action_id: int) -> tuple[CorrectiveAction, ServiceCycle]:
    action = get_action(session, actor, action_id)
    cycle = session.get(ServiceCycle, action.cycle_id)
    assert cycle is not None
    return action, cycle


def _today(now: datetime, instance: Instance) -> date:
    return now.astimezone(zone(instance.timezone)).date()


def _due_date(value: Any, today: date, errors: list[dict[str, str]]) -> date:
    try:
        due = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        due = None
    if due is None or due < today:
        errors.append({"field": "due_date", "message": f"a date (YYYY-MM-DD) from today ({today.isoformat()}) on"})
        return today
    return due
