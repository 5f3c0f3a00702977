"""PDCA's commands: the standard and end of a series, records, measurements, ratings, requests and corrective actions (handled in ``handlers``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
