"""Service quality (PDCA): a member's service requests and complaints with their answers, rating a service while its
window is open, and each series' report with its charts and trend table.

- ``/services``: the community's series (each with its current cycle and phase) and the member's own requests;
- ``/services/series/<id>``: the series report — per indicator a chart (the PNG the API draws, served here by the same
  engine function), its alt text saying the trend, and the same numbers in a table — and the corrective actions;
- ``/services/cycles/<id>``: a cycle — its indicators, the rating form while the member may rate it (the engine's
  agenda says when: the window is open, a record of the cycle names them, they have not rated), filing a request or
  complaint, and the requests the member may read, each with its answer (the provider or committee answers inline).

Every read is the API's query (``engine.pdca.queries``, ``records``, ``report``, ``actions``, ``agenda``) and every
change the API's command; the engine's refusals are shown on the form that caused them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError

from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied, YishiError
from engine.kernel.queries import MAX_PAGE_SIZE, paginate
from engine.pdca import actions as pdca_actions
from engine.pdca import queries as pdca_queries
from engine.pdca import records
from engine.pdca import report as quality_report
from engine.pdca.agenda import rating_windows
from engine.pdca.cycles import READ_ALL_ROLES
from engine.pdca.commands import AnswerServiceRequest, FileServiceRequest, RateService
from engine.pdca.models import ServiceCycle, ServiceRating
from web.forms import show_errors
from web.i18n import translated
from web.links import links_to, menu_entry
from web.pdca.forms import SCORES, AnswerForm, RatingForm, RequestForm
from web.views import engine, me, member_required, now, page, reader

blp = Blueprint("pdca", __name__, template_folder="templates")

PHASES = {
    "doing": _l("Service period: the service is delivered, requests and complaints are taken"),
    "rating": _l("Rating window: residents who received the service rate it"),
    "acting": _l("Checked: corrective actions"),
    "closed": _l("Closed"),
}
STATUSES = {"met": _l("Met"), "near": _l("Near the target"), "missed": _l("Missed"), "no_data": _l("No data")}
STATUS_WORDS = {"met": _l("met"), "near": _l("near the target"), "missed": _l("missed"), "no_data": _l("no data")}
"""A status within a sentence (the chart's alt text)."""
TRENDS = {"improving": _l("improving"), "stable": _l("stable"), "worsening": _l("worsening"),
          "insufficient_data": _l("not enough cycles with data yet")}
DIRECTIONS = {"at_least": _l("at least"), "at_most": _l("at most")}
ACTION_STATUSES = {"assigned": _l("Assigned"), "done": _l("Reported done, waiting for verification"),
                   "closed": _l("Verified and closed")}
REQUEST_KINDS = {"request": _l("Request"), "complaint": _l("Complaint")}
SERIES_STATUSES = {"active": _l("Running"), "ended": _l("Ended")}
SCORE_WORDS = SCORES
ENGINE_MESSAGES = (
    _l("ratings are accepted only while the rating window is open"),
    _l("only residents who received the service in this cycle may rate it"),
    _l("you have already rated this cycle's service"),
    _l("the rating is not valid"),
    _l("a whole number from 1 to 5"),
    _l("at most 2000 characters"),
    _l("requests are accepted only while the cycle's service period is open"),
    _l("the request is not valid"),
    _l("one of request, complaint"),
    _l("1 to 2000 characters"),
    _l("this request has already been answered"),
    _l("the answer is not valid"),
    _l("only the series' provider or the committee may answer requests"),
    _l("this needs the role resident"),
)
"""The engine's refusals these pages show (``web.i18n.translated`` finds them in this catalogue)."""
MAX_PAGE = 100_000
LIST_SIZE = 20

menu_entry("site.pdca.index", _l("Service quality"), 40)


@links_to({"rate_service": _l("Service quality: rate a service"),
           "rating_opened": _l("Service quality: you may rate a service")})
def cycle_page(item: Any) -> str:
    return url_for("site.pdca.cycle", cycle_id=item.refs["cycle_id"], _anchor="rate")


@links_to({"answer_request": _l("Service request to answer"),
           "request_answered": _l("Service quality: your request was answered")})
def request_on_cycle(item: Any) -> str:
    return url_for("site.pdca.cycle", cycle_id=item.refs["cycle_id"], _anchor=f"request-{item.refs['request_id']}")


# ---- reading --------------------------------------------------------------------------------------

@blp.route("/services")
@member_required
def index() -> ResponseReturnValue:
    session, actor = reader(), me()
    series = list(session.scalars(pdca_queries.series_query(actor).limit(MAX_PAGE_SIZE)))
    current = {s.id: pdca_queries.current_cycle(session, s) for s in series}
    mine = paginate(session, records.my_requests_query(actor), _page_number(), LIST_SIZE)
    cycles = {c.id: c for c in (session.get(ServiceCycle, r.cycle_id) for r in mine.items) if c is not None}
    return page("pdca/index.html", series=series, current=current, mine=mine, cycles=cycles, **_words())


@blp.route("/services/series/<int:series_id>")
@member_required
def series(series_id: int) -> ResponseReturnValue:
    session, actor = reader(), me()
    found = pdca_queries.get_series(session, actor, series_id)
    report = quality_report.series_report(session, found, now())
    actions = list(session.scalars(pdca_actions.of_series(session, actor, found.id, False).limit(MAX_PAGE_SIZE)))
    cycles = list(session.scalars(pdca_queries.cycles_query(session, actor, found.id)))
    charts = [(indicator, _alt_text(indicator)) for indicator in report["indicators"]]
    return page("pdca/series.html", series=found, report=report, charts=charts, actions=actions, cycles=cycles,
                **_words())


@blp.route("/services/series/<int:series_id>/indicators/<key>/chart.png")
@member_required
def chart(series_id: int, key: str) -> ResponseReturnValue:
    """The same PNG as ``/api/pdca/series/<id>/indicators/<key>/chart.png``, drawn by the same engine function."""
    session = reader()
    png = quality_report.chart_png(session, pdca_queries.get_series(session, me(), series_id), key)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@blp.route("/services/cycles/<int:cycle_id>")
@member_required
def cycle(cycle_id: int) -> ResponseReturnValue:
    return _cycle_page(cycle_id)


# ---- acting ---------------------------------------------------------------------------------------

@blp.route("/services/cycles/<int:cycle_id>/rating", methods=["POST"])
@member_required
def rate(cycle_id: int) -> ResponseReturnValue:
    form = RatingForm()
    if not _submitted(form):
        return _cycle_page(cycle_id, 422, failed=form, rating_form=form)
    status = _execute(form, RateService(cycle_id, form.score.data, (form.comment.data or "").strip() or None))
    if status:
        return _cycle_page(cycle_id, status, failed=form, rating_form=form)
    return redirect(url_for("site.pdca.cycle", cycle_id=cycle_id, _anchor="rate"))


@blp.route("/services/cycles/<int:cycle_id>/requests", methods=["POST"])
@member_required
def file_request(cycle_id: int) -> ResponseReturnValue:
    form = RequestForm()
    if not _submitted(form):
        return _cycle_page(cycle_id, 422, failed=form, request_form=form)
    filed: list[Any] = []
    status = _execute(form, FileServiceRequest(cycle_id, form.kind.data or "", form.text.data or ""), filed)
    if status:
        return _cycle_page(cycle_id, status, failed=form, request_form=form)
    return redirect(url_for("site.pdca.cycle", cycle_id=cycle_id, _anchor=f"request-{filed[0].id}"))


@blp.route("/services/requests/<int:request_id>/answer", methods=["POST"])
@member_required
def answer(request_id: int) -> ResponseReturnValue:
    """Answer a request inline on its cycle's page (as ``PUT /api/pdca/requests/<id>/answer``)."""
    asked = records.get_request(reader(), me(), request_id)
    form = _answer_form(asked.id)
    if not _submitted(form):
        return _cycle_page(asked.cycle_id, 422, failed=form, answer_forms={asked.id: form})
    status = _execute(form, AnswerServiceRequest(asked.id, form.answer.data or ""))
    if status:
        return _cycle_page(asked.cycle_id, status, failed=form, answer_forms={asked.id: form})
    return redirect(url_for("site.pdca.cycle", cycle_id=asked.cycle_id, _anchor=f"request-{asked.id}"))


# ---- helpers -------------------------------------------------------------------------------------

def _cycle_page(cycle_id: int, status: int = 200, *, failed: FlaskForm | None = None, rating_form: RatingForm | None = None,
                request_form: RequestForm | None = None, answer_forms: dict[int, AnswerForm] | None = None) -> ResponseReturnValue:
    session, actor = reader(), me()
    found = pdca_queries.get_cycle(session, actor, cycle_id)
    rating_due = next((item for item in rating_windows(session, actor, now()) if item.refs["cycle_id"] == found.id), None)
    my_rating = session.scalars(records.ratings_query(session, actor, found.id)
                                .where(ServiceRating.resident_id == actor.member_id)).first()
    requests = paginate(session, records.requests_query(session, actor, found.id), _page_number(), LIST_SIZE)
    forms = dict(answer_forms or {})
    if _may_answer(found):
        for item in requests.items:
            if item.answered_at is None:
                forms.setdefault(item.id, _answer_form(item.id, formdata=None))
    return page("pdca/cycle.html", status, cycle=found, series=found.series,
                indicators=quality_report.cycle_indicators(session, found), rating_due=rating_due, my_rating=my_rating,
                rating_form=rating_form or RatingForm(formdata=None), request_form=request_form or RequestForm(formdata=None),
                may_file=actor.has("resident") and found.status == "doing", requests=requests, answer_forms=forms,
                failed=failed, reads_all=bool(actor.roles & READ_ALL_ROLES), **_words())


def _answer_form(request_id: int, **options: Any) -> AnswerForm:
    """The answer form of one request; several are on one page, so each field has its own id."""
    form = AnswerForm(**options)
    form.answer.id = f"request-{request_id}-answer"
    return form


def _may_answer(found: ServiceCycle) -> bool:
    """Whether the engine would let the member answer this cycle's requests (its own check, not a copy of it)."""
    try:
        pdca_queries.require_provider_or_committee(me(), found.series, "answer requests")
    except PermissionDenied:
        return False
    return True


def _submitted(form: FlaskForm) -> bool:
    """The form passed its own checks; a form without its CSRF token is refused outright (the site's 400 page)."""
    if form.validate_on_submit():
        return True
    if getattr(form, "csrf_token", None) is not None and form.csrf_token.errors:
        raise CSRFError()
    return False


def _execute(form: FlaskForm, command: Any, result: list[Any] | None = None) -> int:
    """Send the command; 0 when done, else the status of the page that shows its refusal on ``form``."""
    try:
        done = engine().execute(command, me())
    except InvalidInput as refusal:
        show_errors(form, refusal)
        return 422
    except (Conflict, PermissionDenied) as refusal:
        form.form_errors.append(translated(refusal.message))
        return 409 if isinstance(refusal, Conflict) else 403
    except YishiError:
        raise
    if result is not None:
        result.append(done)
    return 0


def _page_number() -> int:
    number = request.args.get("page", 1, type=int)
    return number if 1 <= number <= MAX_PAGE else 1


def number(value: float | None) -> str:
    """A value as the API gives it (rounded to four decimals by the engine), without trailing zeros."""
    if value is None:
        return ""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _alt_text(indicator: dict[str, Any]) -> str:
    """What the chart shows, in words: the indicator against its target, its trend, and its latest checked value."""
    checked = [row for row in indicator["cycles"] if row["status"] is not None]
    target = _("%(direction)s %(target)s %(unit)s", direction=DIRECTIONS.get(indicator["direction"], indicator["direction"]),
               target=number(indicator["target"]), unit=indicator["unit"])
    text = _("Chart of %(name)s per cycle against its target (%(target)s). Trend: %(trend)s.", name=indicator["name"],
             target=target, trend=TRENDS.get(indicator["trend"], indicator["trend"]))
    if not checked:
        return " ".join((text, _("No cycle has been checked yet.")))
    latest = checked[-1]
    if latest["value"] is None:
        return " ".join((text, _("Cycle %(cycle)s, the latest checked, had no data.", cycle=latest["cycle"])))
    return " ".join((text, _("Cycle %(cycle)s, the latest checked: %(value)s %(unit)s, %(status)s. "
                             "Met in %(met)s cycles, missed in %(missed)s.",
                             cycle=latest["cycle"], value=number(latest["value"]), unit=indicator["unit"],
                             status=STATUS_WORDS.get(latest["status"], latest["status"]), met=indicator["met"],
                             missed=indicator["missed"])))


def _words() -> dict[str, Any]:
    return {"phases": PHASES, "statuses": STATUSES, "trends": TRENDS, "directions": DIRECTIONS,
            "action_statuses": ACTION_STATUSES, "request_kinds": REQUEST_KINDS, "series_statuses": SERIES_STATUSES,
            "score_words": SCORE_WORDS, "number": number}
