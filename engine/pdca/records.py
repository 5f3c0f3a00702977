"""What a service cycle is judged on: service records, measurements, ratings, and requests with their answers.

Each is a row of its own, tied to its cycle, with who recorded it and when, and each change is
one event in the series instance's history. The process decides when rows are accepted: records,
measurements and requests while the cycle's service period is open (its task ``collects``
``service``), ratings while the rating window is open (``collects`` ``ratings``).

Records and measurements also arrive in bulk, as JSON rows or as a CSV file (a header line naming
the columns, then one row per line). An upload is all or nothing: every row is checked, and if any
fails nothing is recorded and the error lists each failing field with its row — the position in
the JSON list (1 for the first), or the line of the CSV file (the header is line 1, so the first
row is line 2, as a spreadsheet numbers it).

Only residents who received the service rate it: a service record of the cycle must name them as
the resident served (``resident_id``). A resident rates a cycle once.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Callable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.identity.actors import Actor, zone
from engine.kernel.instances import lock, record
from engine.pdca.models import Measurement, ServiceCycle, ServiceRating, ServiceRecord, ServiceRequest
from engine.identity.models import Member
from engine.pdca.validation import MAX_TEXT, text_field
from engine.pdca.cycles import READ_ALL_ROLES
from engine.pdca.queries import by_id, get_cycle, instance_of, require_phase, require_provider_or_committee
from engine.kernel.unit_of_work import UnitOfWork

RECORD_FIELDS = ("served_at", "subject", "resident_id", "description")
MEASUREMENT_FIELDS = ("metric", "value", "measured_at", "subject", "note")
REQUEST_KINDS = ("request", "complaint")
MAX_ROWS = 5000
MAX_CSV_CHARACTERS = 2_000_000
MAX_ERRORS = 100
SERVICE_PERIOD_ONLY = "accepted only while the cycle's service period is open"

Errors = list[dict[str, Any]]


@dataclass(frozen=True)
class Upload:
    """Rows to record, each with the number an error about it gives (see the module's docstring)."""

    rows: list[tuple[int, dict[str, Any]]]
    format: str


def upload_of(rows: list[dict[str, Any]] | None, csv_text: str | None, fields: tuple[str, ...]) -> Upload:
    """The rows of a JSON list or of a CSV text (exactly one of them), numbered for error messages."""
    if (rows is None) == (csv_text is None):
        raise InvalidInput("send either rows or a CSV file", errors=[{"field": "rows", "message": "rows or CSV"}])
    if csv_text is None:
        assert rows is not None
        numbered = list(enumerate(rows, start=1))
        kind = "json"
    else:
        numbered = _csv_rows(csv_text, fields)
        kind = "csv"
    if not 1 <= len(numbered) <= MAX_ROWS:
        raise InvalidInput(f"an upload holds 1 to {MAX_ROWS} rows", errors=[{"field": "rows", "message": f"{len(numbered)} rows"}])
    return Upload(numbered, kind)


def _csv_rows(text: str, fields: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    if len(text) > MAX_CSV_CHARACTERS:
        raise InvalidInput(f"a CSV upload holds at most {MAX_CSV_CHARACTERS} characters", errors=[{"field": "csv", "message": "too large"}])
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        unknown = [name for name in header if name not in fields]
        if unknown or len(set(header)) != len(header):
            raise InvalidInput(f"the CSV header must name some of the columns {', '.join(fields)}, each once",
                               errors=[{"row": 1, "field": name, "message": "unknown column"} for name in unknown]
                               or [{"row": 1, "field": "", "message": "a column named twice"}])
        numbered = []
        for row in reader:
            if None in row:
                raise InvalidInput("a CSV row has more cells than the header has columns",
                                   errors=[{"row": reader.line_num, "field": "", "message": "too many cells"}])
            numbered.append((reader.line_num, {k: (v if v != "" else None) for k, v in row.items()}))
    except csv.Error as exc:
        raise InvalidInput(f"not a valid CSV file: {exc}", errors=[{"row": reader.line_num, "field": "", "message": str(exc)}]) from exc
    return numbered


# ---- records and measurements ------------------------------------------------------------------------

def add_records(uow: UnitOfWork, actor: Actor, cycle_id: int, rows: list[dict[str, Any]] | None,
                csv_text: str | None) -> list[ServiceRecord]:
    cycle = get_cycle(uow.session, actor, cycle_id)
    require_provider_or_committee(actor, cycle.series, "record the service")
    instance = require_phase(uow.session, cycle, "doing", "service", f"service records are {SERVICE_PERIOD_ONLY}")
    upload = upload_of(rows, csv_text, RECORD_FIELDS)
    residents = _residents(uow.session, cycle.community_id)
    check = _RowCheck(zone(instance.timezone), cycle, uow.now)
    records = check.all(upload, lambda row, fail: ServiceRecord(
        cycle_id=cycle.id, community_id=cycle.community_id, served_at=check.moment(row, "served_at", fail),
        subject=check.text(row, "subject", fail, limit=200), resident_id=check.resident(row, residents, fail),
        description=check.text(row, "description", fail, limit=MAX_TEXT, required=False) or None,
        recorded_by=actor.member_id, recorded_at=uow.now,
    ), RECORD_FIELDS)
    _store(uow, instance, "service_records_added", cycle, records, upload, actor)
    return records


def add_measurements(uow: UnitOfWork, actor: Actor, cycle_id: int, rows: list[dict[str, Any]] | None,
                     csv_text: str | None) -> list[Measurement]:
    cycle = get_cycle(uow.session, actor, cycle_id)
    require_provider_or_committee(actor, cycle.series, "record measurements")
    instance = require_phase(uow.session, cycle, "doing", "service", f"measurements are {SERVICE_PERIOD_ONLY}")
    upload = upload_of(rows, csv_text, MEASUREMENT_FIELDS)
    metrics = sorted({item["metric"] for item in cycle.standard if item.get("metric")})
    check = _RowCheck(zone(instance.timezone), cycle, uow.now)
    measurements = check.all(upload, lambda row, fail: Measurement(
        cycle_id=cycle.id, community_id=cycle.community_id, metric=check.metric(row, metrics, fail),
        value=check.number(row, "value", fail), measured_at=check.moment(row, "measured_at", fail),
        subject=check.text(row, "subject", fail, limit=200, required=False) or None,
        note=check.text(row, "note", fail, limit=MAX_TEXT, required=False) or None,
        recorded_by=actor.member_id, recorded_at=uow.now,
    ), MEASUREMENT_FIELDS)
    _store(uow, instance, "measurements_added", cycle, measurements, upload, actor)
    return measurements


def _store(uow: UnitOfWork, instance: Any, event_type: str, cycle: ServiceCycle, rows: list[Any], upload: Upload,
           actor: Actor) -> None:
    """Write the rows; the event says how many, which ids and in what format — the rows hold the rest."""
    uow.session.add_all(rows)
    uow.session.flush()
    record(uow, instance, event_type, {"cycle_id": cycle.id, "count": len(rows), "first_id": rows[0].id,
                                       "last_id": rows[-1].id, "format": upload.format}, actor)


class _RowCheck:
    """Checks one upload's fields, collecting every failure with its row instead of stopping at the first."""

    def __init__(self, local_tz: tzinfo, cycle: ServiceCycle, now: datetime) -> None:
        self.local_tz, self.cycle, self.now = local_tz, cycle, now
        self.errors: Errors = []

    def all(self, upload: Upload, build: Callable[[dict[str, Any], Callable[[str, str], None]], Any],
            fields: tuple[str, ...]) -> list[Any]:
        built = []
        for number, row in upload.rows:
            def fail(field: str, message: str, number: int = number) -> None:
                self.errors.append({"row": number, "field": field, "message": message})

            if not isinstance(row, dict):
                fail("", "a row is an object of fields")
                continue
            for unknown in sorted(set(row) - set(fields)):
                fail(unknown, "unknown field")
            built.append(build(row, fail))
        if self.errors:
            bad = len({e["row"] for e in self.errors})
            raise InvalidInput(f"{bad} of {len(upload.rows)} rows are not valid; nothing was recorded",
                               errors=self.errors[:MAX_ERRORS])
        return built

    def moment(self, row: dict[str, Any], field: str, fail: Callable[[str, str], None]) -> datetime:
        value = row.get(field)
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            fail(field, "an ISO 8601 date and time, e.g. 2026-03-05T14:30")
            return self.now
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.local_tz)
        if not self.cycle.starts_at <= moment <= self.now:
            fail(field, "must lie within the cycle, and not in the future")
        return moment

    def text(self, row: dict[str, Any], field: str, fail: Callable[[str, str], None], *, limit: int,
             required: bool = True) -> str:
        value = row.get(field)
        if value is None and not required:
            return ""
        text = value.strip() if isinstance(value, str) else ""
        if not text and required or len(text) > limit or (value is not None and not isinstance(value, str)):
            fail(field, f"{'1' if required else '0'} to {limit} characters")
        return text

    def number(self, row: dict[str, Any], field: str, fail: Callable[[str, str], None]) -> float:
        value = row.get(field)
        try:
            number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            fail(field, "a number")
            return 0.0
        return number

    def metric(self, row: dict[str, Any], metrics: list[str], fail: Callable[[str, str], None]) -> str:
        value = row.get("metric")
        if value not in metrics:
            fail("metric", f"not measured by this cycle's standard (it measures: {', '.join(metrics) or 'nothing'})")
        return str(value)

    def resident(self, row: dict[str, Any], residents: set[int], fail: Callable[[str, str], None]) -> int | None:
        value = row.get("resident_id")
        if value is None:
            return None
        # Decimal digits, and few: "²" passes isdigit() but not int(), and 5,000 digits exceed what int() converts.
        member_id = int(value) if isinstance(value, str) and value.isdecimal() and len(value) <= 18 else value
        if not isinstance(member_id, int) or isinstance(member_id, bool) or member_id not in residents:
            fail("resident_id", "not a resident of this community")
            return None
        return member_id


def _residents(session: Session, community_id: int) -> set[int]:
    rows = session.execute(select(Member.id, Member.roles).where(Member.community_id == community_id))
    return {member_id for member_id, roles in rows if "resident" in roles}


# ---- ratings ----------------------------------------------------------------------------------------

def rate(uow: UnitOfWork, actor: Actor, cycle_id: int, score: Any, comment: str | None) -> ServiceRating:
    """A served resident rates the cycle's service during the rating window, once."""
    cycle = get_cycle(uow.session, actor, cycle_id)
    actor.require("resident")
    instance = require_phase(uow.session, cycle, "rating", "ratings", "ratings are accepted only while the rating window is open")
    served = uow.session.scalar(select(ServiceRecord.id).where(
        ServiceRecord.cycle_id == cycle.id, ServiceRecord.resident_id == actor.member_id).limit(1))
    if served is None:
        raise PermissionDenied("only residents who received the service in this cycle may rate it")
    if uow.session.scalar(select(ServiceRating.id).where(
            ServiceRating.cycle_id == cycle.id, ServiceRating.resident_id == actor.member_id)) is not None:
        raise Conflict("you have already rated this cycle's service")
    errors: Errors = []
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        errors.append({"field": "score", "message": "a whole number from 1 to 5"})
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_TEXT):
        errors.append({"field": "comment", "message": f"at most {MAX_TEXT} characters"})
    if errors:
        raise InvalidInput("the rating is not valid", errors=errors)
    rating = ServiceRating(cycle_id=cycle.id, community_id=cycle.community_id, resident_id=actor.member_id,
                           score=score, comment=(comment or "").strip() or None, rated_at=uow.now)
    uow.session.add(rating)
    uow.session.flush()
    record(uow, instance, "service_rated", {"cycle_id": cycle.id, "rating_id": rating.id}, actor)
    return rating


# ---- requests and answers -----------------------------------------------------------------------------

def file_request(uow: UnitOfWork, actor: Actor, cycle_id: int, kind: str, text: str) -> ServiceRequest:
    """A resident asks for service, or complains, during the service period."""
    cycle = get_cycle(uow.session, actor, cycle_id)
    actor.require("resident")
    instance = require_phase(uow.session, cycle, "doing", "service", f"requests are {SERVICE_PERIOD_ONLY}")
    errors: Errors = []
    if kind not in REQUEST_KINDS:
        errors.append({"field": "kind", "message": f"one of {', '.join(REQUEST_KINDS)}"})
    body = text_field(text, "text", errors)
    if errors:
        raise InvalidInput("the request is not valid", errors=errors)
    request = ServiceRequest(cycle_id=cycle.id, community_id=cycle.community_id, kind=kind, text=body,
                             filed_by=actor.member_id, filed_at=uow.now)
    uow.session.add(request)
    uow.session.flush()
    record(uow, instance, "service_request_filed", {"cycle_id": cycle.id, "request_id": request.id, "kind": kind}, actor)
    return request


def answer_request(uow: UnitOfWork, actor: Actor, request_id: int, answer: str) -> ServiceRequest:
    """The provider or the committee answers a request, once; whether in time is judged in the report."""
    request = get_request(uow.session, actor, request_id)
    cycle = uow.session.get(ServiceCycle, request.cycle_id)
    assert cycle is not None
    require_provider_or_committee(actor, cycle.series, "answer requests")
    instance = instance_of(uow.session, cycle.series)
    lock(uow.session, instance, request)
    if request.answered_at is not None:
        raise Conflict("this request has already been answered")
    errors: Errors = []
    request.answer = text_field(answer, "answer", errors)
    if errors:
        raise InvalidInput("the answer is not valid", errors=errors)
    request.answered_by, request.answered_at = actor.member_id, uow.now
    record(uow, instance, "service_request_answered", {"request_id": request.id}, actor)
    return request


# ---- reading ------------------------------------------------------------------------------------------

def get_request(session: Session, actor: Actor, request_id: int) -> ServiceRequest:
    """A request its author may read, or anyone of the series' staff (committee, provider, auditors, street office)."""
    request = actor.own(by_id(session, ServiceRequest, request_id), "request")
    if request.filed_by != actor.member_id and not actor.roles & READ_ALL_ROLES:
        raise NotFound("request not found")
    return request


def records_query(session: Session, actor: Actor, cycle_id: int) -> Select[tuple[ServiceRecord]]:
    """A cycle's records; a resident sees those that name them."""
    cycle = get_cycle(session, actor, cycle_id)
    query = select(ServiceRecord).where(ServiceRecord.cycle_id == cycle.id).order_by(ServiceRecord.id)
    return query if actor.roles & READ_ALL_ROLES else query.where(ServiceRecord.resident_id == actor.member_id)


def measurements_query(session: Session, actor: Actor, cycle_id: int) -> Select[tuple[Measurement]]:
    cycle = get_cycle(session, actor, cycle_id)
    if not actor.roles & READ_ALL_ROLES:
        raise PermissionDenied("measurements are read by the committee, the provider, auditors and the street office",
                               required=sorted(READ_ALL_ROLES))
    return select(Measurement).where(Measurement.cycle_id == cycle.id).order_by(Measurement.id)


def ratings_query(session: Session, actor: Actor, cycle_id: int) -> Select[tuple[ServiceRating]]:
    """A cycle's ratings; a resident sees their own."""
    cycle = get_cycle(session, actor, cycle_id)
    query = select(ServiceRating).where(ServiceRating.cycle_id == cycle.id).order_by(ServiceRating.id)
    return query if actor.roles & READ_ALL_ROLES else query.where(ServiceRating.resident_id == actor.member_id)


def requests_query(session: Session, actor: Actor, cycle_id: int) -> Select[tuple[ServiceRequest]]:
    """A cycle's requests; a resident sees their own."""
    cycle = get_cycle(session, actor, cycle_id)
    query = select(ServiceRequest).where(ServiceRequest.cycle_id == cycle.id).order_by(ServiceRequest.id)
    return query if actor.roles & READ_ALL_ROLES else query.where(ServiceRequest.filed_by == actor.member_id)


def my_requests_query(actor: Actor) -> Select[tuple[ServiceRequest]]:
    """The requests and complaints the caller filed, in every cycle of their community, newest first."""
    return (select(ServiceRequest).where(ServiceRequest.community_id == actor.community_id,
                                         ServiceRequest.filed_by == actor.member_id)
            .order_by(ServiceRequest.filed_at.desc(), ServiceRequest.id.desc()))
