"""Service-quality cycles: series and standards, cycles, records and measurements (JSON or CSV), ratings,
requests and answers, computed indicators, corrective actions, and the series report with its CSV and charts.

A series is created by starting the process ``pdca`` and completing its task ``define_standard``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from api.auth import actor
from api.limits import NUL_MESSAGE
from api.views import Blueprint, engine, reader
from api.pdca.schemas import (
    ActionFilterSchema, ActionReportSchema, ActionVerificationSchema, CorrectiveActionSchema, EndSeriesSchema, IndicatorValueSchema, MeasurementRowsSchema, MeasurementSchema, NewCorrectiveActionSchema, NewRatingSchema, NewServiceRequestSchema, RatingSchema, RecordRowsSchema, RequestAnswerSchema, SeriesReportSchema, ServiceCycleSchema, ServiceRecordSchema, ServiceRequestSchema, ServiceSeriesSchema, TightenStandardSchema, UploadResultSchema,
)
from api.schemas import PageQuery, page_of
from engine.pdca.commands import (
    AddMeasurements, AddServiceRecords, AnswerServiceRequest, AssignCorrectiveAction, EndSeries, FileServiceRequest, RateService, ReportCorrectiveAction, TightenStandard, VerifyCorrectiveAction,
)
from engine.pdca import actions
from engine.pdca import report as quality_report
from engine.pdca import records
from engine.pdca import queries as pdca_queries
from engine.kernel.errors import InvalidInput
from engine.kernel.queries import paginate

blp = Blueprint("pdca", __name__, url_prefix="/api/pdca", description="Service-quality plan-do-check-act cycles")

CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


# ---- series and their standard ---------------------------------------------------------------------

@blp.route("/series")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ServiceSeriesSchema, "ServiceSeriesPage"))
def list_series(args: dict[str, Any]) -> Any:
    return paginate(reader(), pdca_queries.series_query(actor()), args["page"], args["page_size"])


@blp.route("/series/<int:series_id>")
@blp.response(200, ServiceSeriesSchema)
def get_series(series_id: int) -> Any:
    return pdca_queries.get_series(reader(), actor(), series_id)


@blp.route("/series/<int:series_id>/standard", methods=["PUT"])
@blp.arguments(TightenStandardSchema)
@blp.response(200, ServiceSeriesSchema)
def tighten_standard(args: dict[str, Any], series_id: int) -> Any:
    """Tighten targets for the cycles to come (committee); the running cycle keeps its standard."""
    engine().execute(TightenStandard(series_id, args["targets"]), actor())
    return pdca_queries.get_series(reader(), actor(), series_id)


@blp.route("/series/<int:series_id>/end", methods=["POST"])
@blp.arguments(EndSeriesSchema)
@blp.response(200, ServiceSeriesSchema)
def end_series(args: dict[str, Any], series_id: int) -> Any:
    """End the series after its running cycle (committee)."""
    engine().execute(EndSeries(series_id, args["reason"]), actor())
    return pdca_queries.get_series(reader(), actor(), series_id)


@blp.route("/series/<int:series_id>/cycles")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ServiceCycleSchema, "ServiceCyclePage"))
def list_cycles(args: dict[str, Any], series_id: int) -> Any:
    session = reader()
    return paginate(session, pdca_queries.cycles_query(session, actor(), series_id), args["page"], args["page_size"])


@blp.route("/series/<int:series_id>/corrective-actions")
@blp.arguments(ActionFilterSchema, location="query")
@blp.response(200, page_of(CorrectiveActionSchema, "SeriesCorrectiveActionPage"))
def series_actions(args: dict[str, Any], series_id: int) -> Any:
    session = reader()
    query = actions.of_series(session, actor(), series_id, args["open"])
    return paginate(session, query, args["page"], args["page_size"])


# ---- the series report ---------------------------------------------------------------------------------

@blp.route("/series/<int:series_id>/report")
@blp.response(200, SeriesReportSchema)
def report(series_id: int) -> Any:
    """Per indicator: value, target and classification of every cycle, and the trend; open actions; requests in time."""
    session = reader()
    return quality_report.series_report(session, pdca_queries.get_series(session, actor(), series_id), engine().clock.now())


@blp.route("/series/<int:series_id>/report.csv")
@blp.response(200, content_type="text/csv")
def report_csv(series_id: int) -> Response:
    """The report as CSV: one line per cycle and indicator."""
    session = reader()
    text = quality_report.report_csv(session, pdca_queries.get_series(session, actor(), series_id))
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="series-{series_id}.csv"'})


@blp.route("/series/<int:series_id>/indicators/<key>/chart.png")
@blp.response(200, content_type="image/png")
def chart(series_id: int, key: str) -> Response:
    """An indicator's value per cycle against its target, as a PNG chart."""
    session = reader()
    return Response(quality_report.chart_png(session, pdca_queries.get_series(session, actor(), series_id), key), mimetype="image/png")


# ---- cycles and their indicators ---------------------------------------------------------------------

@blp.route("/cycles/<int:cycle_id>")
@blp.response(200, ServiceCycleSchema)
def get_cycle(cycle_id: int) -> Any:
    return pdca_queries.get_cycle(reader(), actor(), cycle_id)


@blp.route("/cycles/<int:cycle_id>/indicators")
@blp.response(200, IndicatorValueSchema(many=True))
def cycle_indicators(cycle_id: int) -> Any:
    """Computed from the cycle's rows (never typed in); classified once the cycle is checked."""
    session = reader()
    return quality_report.cycle_indicators(session, pdca_queries.get_cycle(session, actor(), cycle_id))


# ---- records and measurements ----------------------------------------------------------------------

@blp.route("/cycles/<int:cycle_id>/records")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ServiceRecordSchema, "ServiceRecordPage"))
def list_records(args: dict[str, Any], cycle_id: int) -> Any:
    session = reader()
    return paginate(session, records.records_query(session, actor(), cycle_id), args["page"], args["page_size"])


@blp.route("/cycles/<int:cycle_id>/records", methods=["POST"])
@blp.arguments(RecordRowsSchema)
@blp.response(201, UploadResultSchema)
def add_records(args: dict[str, Any], cycle_id: int) -> Any:
    """Record deliveries of the service (the provider, or the committee): all rows or none."""
    return _uploaded(engine().execute(AddServiceRecords(cycle_id, rows=args["records"]), actor()))


@blp.route("/cycles/<int:cycle_id>/records.csv", methods=["POST"])
@blp.doc(**CSV_BODY)
@blp.response(201, UploadResultSchema)
def add_records_csv(cycle_id: int) -> Any:
    """Record deliveries from a CSV file with the columns served_at, subject, resident_id, description."""
    return _uploaded(engine().execute(AddServiceRecords(cycle_id, csv=_csv_body()), actor()))


@blp.route("/cycles/<int:cycle_id>/measurements")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(MeasurementSchema, "MeasurementPage"))
def list_measurements(args: dict[str, Any], cycle_id: int) -> Any:
    session = reader()
    return paginate(session, records.measurements_query(session, actor(), cycle_id), args["page"], args["page_size"])


@blp.route("/cycles/<int:cycle_id>/measurements", methods=["POST"])
@blp.arguments(MeasurementRowsSchema)
@blp.response(201, UploadResultSchema)
def add_measurements(args: dict[str, Any], cycle_id: int) -> Any:
    return _uploaded(engine().execute(AddMeasurements(cycle_id, rows=args["measurements"]), actor()))


@blp.route("/cycles/<int:cycle_id>/measurements.csv", methods=["POST"])
@blp.doc(**CSV_BODY)
@blp.response(201, UploadResultSchema)
def add_measurements_csv(cycle_id: int) -> Any:
    """Measurements from a CSV file with the columns metric, value, measured_at, subject, note."""
    return _uploaded(engine().execute(AddMeasurements(cycle_id, csv=_csv_body()), actor()))


def _csv_body() -> str:
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("a CSV upload must be UTF-8 text", errors=[{"field": "csv", "message": "not UTF-8"}]) from exc
    if "\x00" in text:
        raise InvalidInput(f"a CSV upload {NUL_MESSAGE}", errors=[{"field": "csv", "message": NUL_MESSAGE}])
    return text


def _uploaded(rows: list[Any]) -> dict[str, Any]:
    return {"count": len(rows), "ids": [row.id for row in rows]}


# ---- ratings and requests ---------------------------------------------------------------------------

@blp.route("/cycles/<int:cycle_id>/ratings")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(RatingSchema, "RatingPage"))
def list_ratings(args: dict[str, Any], cycle_id: int) -> Any:
    session = reader()
    return paginate(session, records.ratings_query(session, actor(), cycle_id), args["page"], args["page_size"])


@blp.route("/cycles/<int:cycle_id>/ratings", methods=["POST"])
@blp.arguments(NewRatingSchema)
@blp.response(201, RatingSchema)
def rate(args: dict[str, Any], cycle_id: int) -> Any:
    """Rate the cycle's service, 1 to 5 (residents named by a service record of the cycle, once)."""
    return engine().execute(RateService(cycle_id, args["score"], args["comment"]), actor())


@blp.route("/cycles/<int:cycle_id>/requests")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ServiceRequestSchema, "ServiceRequestPage"))
def list_requests(args: dict[str, Any], cycle_id: int) -> Any:
    session = reader()
    return paginate(session, records.requests_query(session, actor(), cycle_id), args["page"], args["page_size"])


@blp.route("/cycles/<int:cycle_id>/requests", methods=["POST"])
@blp.arguments(NewServiceRequestSchema)
@blp.response(201, ServiceRequestSchema)
def file_request(args: dict[str, Any], cycle_id: int) -> Any:
    """File a service request or a complaint (residents, during the service period)."""
    return engine().execute(FileServiceRequest(cycle_id, args["kind"], args["text"]), actor())


@blp.route("/requests")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ServiceRequestSchema, "MyServiceRequestPage"))
def my_requests(args: dict[str, Any]) -> Any:
    """The caller's own requests and complaints in every cycle, newest first, with their answers."""
    return paginate(reader(), records.my_requests_query(actor()), args["page"], args["page_size"])


@blp.route("/requests/<int:request_id>")
@blp.response(200, ServiceRequestSchema)
def get_request(request_id: int) -> Any:
    return records.get_request(reader(), actor(), request_id)


@blp.route("/requests/<int:request_id>/answer", methods=["PUT"])
@blp.arguments(RequestAnswerSchema)
@blp.response(200, ServiceRequestSchema)
def answer_request(args: dict[str, Any], request_id: int) -> Any:
    """Answer a request (the series' provider, or the committee), once."""
    engine().execute(AnswerServiceRequest(request_id, args["answer"]), actor())
    return records.get_request(reader(), actor(), request_id)


# ---- corrective actions ---------------------------------------------------------------------------

@blp.route("/cycles/<int:cycle_id>/corrective-actions")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(CorrectiveActionSchema, "CorrectiveActionPage"))
def list_actions(args: dict[str, Any], cycle_id: int) -> Any:
    session = reader()
    return paginate(session, actions.of_cycle(session, actor(), cycle_id), args["page"], args["page_size"])


@blp.route("/cycles/<int:cycle_id>/corrective-actions", methods=["POST"])
@blp.arguments(NewCorrectiveActionSchema)
@blp.response(201, CorrectiveActionSchema)
def assign_action(args: dict[str, Any], cycle_id: int) -> Any:
    """Assign a corrective action to a missed indicator (committee, while assign_actions is open)."""
    return engine().execute(AssignCorrectiveAction(
        cycle_id, args["indicator"], args["description"], args["owner_id"], args["due_date"]), actor())


@blp.route("/corrective-actions/<int:action_id>")
@blp.response(200, CorrectiveActionSchema)
def get_action(action_id: int) -> Any:
    return actions.get_action(reader(), actor(), action_id)


@blp.route("/corrective-actions/<int:action_id>/report", methods=["POST"])
@blp.arguments(ActionReportSchema)
@blp.response(200, CorrectiveActionSchema)
def report_action(args: dict[str, Any], action_id: int) -> Any:
    """Report the action done (its owner or the series' provider, while carry_out_actions is open)."""
    engine().execute(ReportCorrectiveAction(action_id, args["report"]), actor())
    return actions.get_action(reader(), actor(), action_id)


@blp.route("/corrective-actions/<int:action_id>/verify", methods=["POST"])
@blp.arguments(ActionVerificationSchema)
@blp.response(200, CorrectiveActionSchema)
def verify_action(args: dict[str, Any], action_id: int) -> Any:
    """Verify the effect of an action reported done, which closes it (committee, while verify_actions is open)."""
    engine().execute(VerifyCorrectiveAction(action_id, args["effective"], args["note"]), actor())
    return actions.get_action(reader(), actor(), action_id)
