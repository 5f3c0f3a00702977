"""The kernel's command handlers: deploying and adopting definitions, starting and driving instances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.identity.actors import Actor
from engine.kernel import definitions, demo, instances, notifications
from engine.kernel.bus import handles
from engine.kernel.commands import (
    AdoptDefinition, AdvanceDemoClock, CompleteTask, DeliverMessage, DeployDefinition, FireDueTimers, MarkNotificationsRead,
    RecordTimerIncident, RetryInstance, StartInstance,
)
from engine.kernel.errors import Conflict
from engine.kernel.models import DefinitionAdoption, Instance
from engine.kernel.unit_of_work import UnitOfWork


@handles(DeployDefinition, needs_actor=False)
def deploy_definition(uow: UnitOfWork, actor: Actor | None, cmd: DeployDefinition) -> definitions.Deployment:
    """A community admin's deployment is the community's; only a caller without an actor — the CLI,
    run by whoever holds the database — deploys the platform's (every API request has an actor)."""
    if actor is not None:
        actor.require("admin")
    return definitions.deploy(
        uow.session, cmd.filename, cmd.source, forms_dir=uow.context.config.forms_dir, now=uow.now,
        deployed_by=actor.member_id if actor else None, community_id=actor.community_id if actor else None,
    )


@handles(AdoptDefinition)
def adopt_definition(uow: UnitOfWork, actor: Actor, cmd: AdoptDefinition) -> DefinitionAdoption:
    actor.require("admin")
    return definitions.adopt(uow.session, actor.community_id, cmd.key, cmd.version, now=uow.now, adopted_by=actor.member_id)


@handles(StartInstance, steps_workflow=True)
def start_instance(uow: UnitOfWork, actor: Actor, cmd: StartInstance) -> Instance:
    return instances.start(uow, actor, cmd.definition_key, cmd.variables)


@handles(CompleteTask, steps_workflow=True)
def complete_task(uow: UnitOfWork, actor: Actor, cmd: CompleteTask) -> Instance:
    return instances.complete(uow, actor, cmd.task_id, cmd.data)


@handles(DeliverMessage, steps_workflow=True)
def deliver_message(uow: UnitOfWork, actor: Actor, cmd: DeliverMessage) -> Instance:
    return instances.deliver_message(uow, actor, cmd.instance_id, cmd.message, cmd.payload)


@handles(FireDueTimers, needs_actor=False, steps_workflow=True)
def fire_due_timers(uow: UnitOfWork, actor: Any, cmd: FireDueTimers) -> Instance | None:
    return instances.fire_due_timers(uow, cmd.instance_id)


@handles(RecordTimerIncident, needs_actor=False)
def record_timer_incident(uow: UnitOfWork, actor: Any, cmd: RecordTimerIncident) -> Instance | None:
    return instances.timers_incident(uow, cmd.instance_id, cmd.failures, cmd.cause)


@handles(RetryInstance, steps_workflow=True)
def retry_instance(uow: UnitOfWork, actor: Actor, cmd: RetryInstance) -> Instance:
    return instances.retry(uow, actor, cmd.instance_id, cmd.data)


@handles(AdvanceDemoClock)
def advance_demo_clock(uow: UnitOfWork, actor: Actor, cmd: AdvanceDemoClock) -> demo.Advanced:
    if not uow.context.config.demo:
        raise Conflict("the demo clock can be advanced only in demo mode (yishi serve --demo, yishi demo)")
    actor.require("admin")
    demo.check(cmd.seconds)
    return demo.advance(uow.session, cmd.seconds, uow.now, actor.member_id, actor.community_id)


@handles(MarkNotificationsRead)
def mark_notifications_read(uow: UnitOfWork, actor: Actor, cmd: MarkNotificationsRead) -> datetime:
    """The caller's read marker, moved forward; returns where it stands."""
    return notifications.mark_read(uow.session, actor, uow.now, cmd.until)
