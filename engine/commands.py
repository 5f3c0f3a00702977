"""Commands: every change the engine accepts, as plain immutable data.

Each is handled by one function in ``engine.handlers`` inside one unit of work and recorded as
one event in the instance's history (deployment and identity changes have no instance and are
recorded in their own rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeployDefinition:
    """With an actor (a community's admin): a version of the community's own. Without (the CLI, the
    platform operator who holds the database): a version of the platform's."""

    filename: str
    source: bytes


@dataclass(frozen=True)
class AdoptDefinition:
    """A community's admin makes the platform's ``version`` of ``key`` what the community runs."""

    key: str
    version: int


@dataclass(frozen=True)
class StartInstance:
    definition_key: str
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompleteTask:
    task_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliverMessage:
    instance_id: str
    message: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FireDueTimers:
    """Fire the timers of one instance that are due at the unit of work's time."""

    instance_id: str


@dataclass(frozen=True)
class RecordTimerIncident:
    """Stop firing an instance's timers, which failed to fire ``failures`` times in a row (the worker's, ``engine.timer_failures``)."""

    instance_id: str
    failures: int
    cause: str


@dataclass(frozen=True)
class RetryInstance:
    instance_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitOpinion:
    instance_id: str
    text: str


@dataclass(frozen=True)
class EditOpinion:
    opinion_id: int
    text: str


@dataclass(frozen=True)
class WithdrawOpinion:
    opinion_id: int


@dataclass(frozen=True)
class AnswerOpinion:
    opinion_id: int
    verdict: str
    reason: str


@dataclass(frozen=True)
class CreateCommunity:
    slug: str
    name: str
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class AddMember:
    name: str
    roles: list[str]
    household: str | None = None
    area: str | None = None


@dataclass(frozen=True)
class CastBallot:
    vote_id: str
    choice: Any
    idempotency_key: str | None = None
    previous_receipt: str | None = None


@dataclass(frozen=True)
class EnterPaperBallot:
    vote_id: str
    member_id: int
    choice: Any


@dataclass(frozen=True)
class CorrectPaperBallot:
    vote_id: str
    member_id: int
    receipt: str
    choice: Any


@dataclass(frozen=True)
class IssueToken:
    member_id: int
    label: str = ""


@dataclass(frozen=True)
class ProposeAmendment:
    """A change to one article of a convention, made against the version the resident read."""

    convention_id: int
    version: int
    kind: str
    rationale: str
    article_id: str | None = None
    after: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class SupportAmendment:
    amendment_id: int


@dataclass(frozen=True)
class WithdrawAmendment:
    amendment_id: int


@dataclass(frozen=True)
class DecideAmendment:
    amendment_id: int
    outcome: str
    reason: str
    text: str | None = None


@dataclass(frozen=True)
class CommentOnArticle:
    convention_id: int
    version: int
    article_id: str
    text: str


@dataclass(frozen=True)
class TightenStandard:
    """New, stricter targets (indicator key → target) for a service series' cycles to come."""

    series_id: int
    targets: dict[str, Any]


@dataclass(frozen=True)
class EndSeries:
    series_id: int
    reason: str


@dataclass(frozen=True)
class AddServiceRecords:
    """Service records of a cycle, all or none: JSON rows, or the text of a CSV file."""

    cycle_id: int
    rows: list[dict[str, Any]] | None = None
    csv: str | None = None


@dataclass(frozen=True)
class AddMeasurements:
    """Measurements of a cycle, all or none: JSON rows, or the text of a CSV file."""

    cycle_id: int
    rows: list[dict[str, Any]] | None = None
    csv: str | None = None


@dataclass(frozen=True)
class RateService:
    cycle_id: int
    score: int
    comment: str | None = None


@dataclass(frozen=True)
class FileServiceRequest:
    cycle_id: int
    kind: str
    text: str


@dataclass(frozen=True)
class AnswerServiceRequest:
    request_id: int
    answer: str


@dataclass(frozen=True)
class AssignCorrectiveAction:
    cycle_id: int
    indicator: str
    description: str
    owner_id: int
    due_date: str


@dataclass(frozen=True)
class ReportCorrectiveAction:
    action_id: int
    report: str


@dataclass(frozen=True)
class VerifyCorrectiveAction:
    action_id: int
    effective: bool
    note: str
