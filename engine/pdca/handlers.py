"""PDCA's command handlers: the series' standard and end, the cycle's rows, corrective actions."""

from __future__ import annotations

from engine.identity.actors import Actor
from engine.kernel.bus import handles
from engine.kernel.unit_of_work import UnitOfWork
from engine.pdca import actions, cycles, records
from engine.pdca.commands import (
    AddMeasurements, AddServiceRecords, AnswerServiceRequest, AssignCorrectiveAction, EndSeries, FileServiceRequest,
    RateService, ReportCorrectiveAction, TightenStandard, VerifyCorrectiveAction,
)
from engine.pdca.models import CorrectiveAction, ServiceRating, ServiceRequest, ServiceSeries


@handles(TightenStandard)
def tighten_standard(uow: UnitOfWork, actor: Actor, cmd: TightenStandard) -> ServiceSeries:
    return cycles.tighten_standard(uow, actor, cmd.series_id, cmd.targets)


@handles(EndSeries)
def end_series(uow: UnitOfWork, actor: Actor, cmd: EndSeries) -> ServiceSeries:
    return cycles.end_series(uow, actor, cmd.series_id, cmd.reason)


@handles(AddServiceRecords)
def add_service_records(uow: UnitOfWork, actor: Actor, cmd: AddServiceRecords) -> object:
    return records.add_records(uow, actor, cmd.cycle_id, cmd.rows, cmd.csv)


@handles(AddMeasurements)
def add_measurements(uow: UnitOfWork, actor: Actor, cmd: AddMeasurements) -> object:
    return records.add_measurements(uow, actor, cmd.cycle_id, cmd.rows, cmd.csv)


@handles(RateService)
def rate_service(uow: UnitOfWork, actor: Actor, cmd: RateService) -> ServiceRating:
    return records.rate(uow, actor, cmd.cycle_id, cmd.score, cmd.comment)


@handles(FileServiceRequest)
def file_service_request(uow: UnitOfWork, actor: Actor, cmd: FileServiceRequest) -> ServiceRequest:
    return records.file_request(uow, actor, cmd.cycle_id, cmd.kind, cmd.text)


@handles(AnswerServiceRequest)
def answer_service_request(uow: UnitOfWork, actor: Actor, cmd: AnswerServiceRequest) -> ServiceRequest:
    return records.answer_request(uow, actor, cmd.request_id, cmd.answer)


@handles(AssignCorrectiveAction)
def assign_corrective_action(uow: UnitOfWork, actor: Actor, cmd: AssignCorrectiveAction) -> CorrectiveAction:
    return actions.assign(uow, actor, cmd.cycle_id, cmd.indicator, cmd.description, cmd.owner_id, cmd.due_date)


@handles(ReportCorrectiveAction)
def report_corrective_action(uow: UnitOfWork, actor: Actor, cmd: ReportCorrectiveAction) -> CorrectiveAction:
    return actions.report_done(uow, actor, cmd.action_id, cmd.report)


@handles(VerifyCorrectiveAction)
def verify_corrective_action(uow: UnitOfWork, actor: Actor, cmd: VerifyCorrectiveAction) -> CorrectiveAction:
    return actions.verify(uow, actor, cmd.action_id, cmd.effective, cmd.note)
