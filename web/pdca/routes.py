"""Service quality (PDCA): a member's service requests and complaints with their answers, rating a service while its
window is open, and each series' report with its charts and trend table.

- ``/services``: the community's series (each with its current cycle and phase) and the member's own requests;
- ``/services/series/<id>``: the series report — per indicator a chart (the PNG the API draws, served here by the same
  engine function), its alt text saying the trend, and the same numbers in a table — and the corrective actions;
- ``/services/cycles/<id>``: a cycle — its indicators, the rating form while the member may rate it (the engine's
  agenda says when: the window is open, a record of the cycle names them, they have not rated), filing a request or
  complaint, and the requests the member may read, each with its answer (the provider or committee answers inline);
  in its act phase the corrective actions, each with its status, who and when, and the form of the step whose task is
  open (the instance's open task ``collects`` it, as ``GET /api/instances/<id>`` says): the committee assigns one per
  missed indicator (``POST /api/pdca/cycles/<id>/corrective-actions``), the action's owner or the series' provider
  reports it done (``POST …/corrective-actions/<id>/report``), the committee verifies its effect (``…/verify``).

Every read is the API's query (``engine.pdca.queries``, ``records``, ``report``, ``actions``, ``agenda``) and every
change the API's command; the engine's refusals are shown on the form that caused them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError

from engine.identity import members as identity_members
from engine.kernel import queries as kernel_queries
from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied, YishiError
from engine.kernel.instances import get_instance
from engine.kernel.preconditions import COLLECTS_PROPERTY
from engine.kernel.queries import MAX_PAGE_SIZE, paginate
from engine.pdca import actions as pdca_actions
from engine.pdca import queries as pdca_queries
from engine.pdca import records
from engine.pdca import report as quality_report
from engine.pdca.agenda import rating_windows
from engine.pdca.cycles import READ_ALL_ROLES
from engine.pdca.commands import (
    AnswerServiceRequest, AssignCorrectiveAction, FileServiceRequest, RateService, ReportCorrectiveAction, VerifyCorrectiveAction,
)
from engine.pdca.models import ServiceCycle, ServiceRating
from web.forms import show_errors
from web.i18n import day as day_filter
from web.i18n import translated
from web.links import links_to, menu_entry
from web.pdca.forms import SCORES, AnswerForm, AssignForm, RatingForm, ReportForm, RequestForm, VerifyForm
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
    _l("this needs the role committee"),
    _l("not a member of this community"),
    _l("corrective actions are assigned only while the task assign_actions is open"),
    _l("actions are reported done only while the task carry_out_actions is open"),
    _l("actions are verified only while the task verify_actions is open"),
    _l("only the action's owner or the series' provider may report it done"),
    _l("the action is done, not waiting to be carried out"),
    _l("the action is closed, not waiting to be carried out"),
    _l("only an action reported done can be verified"),
    _l("the action is already verified and closed"),
)
"""The engine's refusals these pages show (``web.i18n.translated`` finds them in this catalogue)."""
MAX_PAGE = 100_000
LIST_SIZE = 20
ACT_STEPS = {"corrective_actions": "assign", "action_reports": "report", "action_verifications": "verify"}
"""What the open task of the act phase collects (its ``collects`` property) → the step the page offers."""
STEP_WORDS = {"assign": _l("Now the committee assigns a corrective action to each missed indicator."),
              "report": _l("Now the actions are carried out: the provider reports each one done."),
              "verify": _l("Now the committee verifies the effect of each action, which closes it.")}
OWNER_ROLES = ("provider", "committee")
"""The members offered as an action's owner: the providers and the committee (the series' provider first)."""
MAX_MEMBER_PAGES = 50
_FROM_TODAY = re.compile(r"from today \((\d{4}-\d{2}-\d{2})\) on")

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


@blp.route("/services/cycles/<int:cycle_id>/corrective-actions", methods=["POST"])
@member_required
def assign(cycle_id: int) -> ResponseReturnValue:
    """Assign a corrective action to a missed indicator (as ``POST /api/pdca/cycles/<id>/corrective-actions``)."""
    form = AssignForm()
    key = str(form.indicator.data or "")[:64]
    _assign_ids(form, key)
    if not _submitted(form):
        return _cycle_page(cycle_id, 422, failed=form, assign_forms={key: form})
    made: list[Any] = []
    command = AssignCorrectiveAction(cycle_id, key, form.description.data or "", form.owner_id.data, form.due_date.data or "")
    status = _execute(form, command, made, shown=_assign_errors)
    if status:
        return _cycle_page(cycle_id, status, failed=form, assign_forms={key: form})
    return redirect(url_for("site.pdca.cycle", cycle_id=cycle_id, _anchor=f"action-{made[0].id}"))


@blp.route("/services/corrective-actions/<int:action_id>/report", methods=["POST"])
@member_required
def report_action(action_id: int) -> ResponseReturnValue:
    """Report an action done (as ``POST /api/pdca/corrective-actions/<id>/report``)."""
    action = pdca_actions.get_action(reader(), me(), action_id)
    form = _report_form(action.id)
    if not _submitted(form):
        return _cycle_page(action.cycle_id, 422, failed=form, report_forms={action.id: form})
    status = _execute(form, ReportCorrectiveAction(action.id, form.report.data or ""))
    if status:
        return _cycle_page(action.cycle_id, status, failed=form, report_forms={action.id: form})
    return redirect(url_for("site.pdca.cycle", cycle_id=action.cycle_id, _anchor=f"action-{action.id}"))


@blp.route("/services/corrective-actions/<int:action_id>/verify", methods=["POST"])
@member_required
def verify_action(action_id: int) -> ResponseReturnValue:
    """Verify an action's effect, which closes it (as ``POST /api/pdca/corrective-actions/<id>/verify``)."""
    action = pdca_actions.get_action(reader(), me(), action_id)
    form = _verify_form(action.id)
    if not _submitted(form):
        return _cycle_page(action.cycle_id, 422, failed=form, verify_forms={action.id: form})
    status = _execute(form, VerifyCorrectiveAction(action.id, form.effective.data, form.note.data or ""))
    if status:
        return _cycle_page(action.cycle_id, status, failed=form, verify_forms={action.id: form})
    return redirect(url_for("site.pdca.cycle", cycle_id=action.cycle_id, _anchor=f"action-{action.id}"))


# ---- helpers -------------------------------------------------------------------------------------

def _cycle_page(cycle_id: int, status: int = 200, *, failed: FlaskForm | None = None, rating_form: RatingForm | None = None,
                request_form: RequestForm | None = None, answer_forms: dict[int, AnswerForm] | None = None,
                assign_forms: dict[str, AssignForm] | None = None, report_forms: dict[int, ReportForm] | None = None,
                verify_forms: dict[int, VerifyForm] | None = None) -> ResponseReturnValue:
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
    indicators = quality_report.cycle_indicators(session, found)
    acting = _acting(found, indicators, assign_forms or {}, report_forms or {}, verify_forms or {})
    return page("pdca/cycle.html", status, cycle=found, series=found.series,
                indicators=indicators, rating_due=rating_due, my_rating=my_rating,
                rating_form=rating_form or RatingForm(formdata=None), request_form=request_form or RequestForm(formdata=None),
                may_file=actor.has("resident") and found.status == "doing", requests=requests, answer_forms=forms,
                failed=failed, reads_all=bool(actor.roles & READ_ALL_ROLES), **acting, **_words())


def _acting(found: ServiceCycle, indicators: list[dict[str, Any]], assign_forms: dict[str, AssignForm],
            report_forms: dict[int, ReportForm], verify_forms: dict[int, VerifyForm]) -> dict[str, Any]:
    """The corrective actions of the cycle and the forms of the open step, for the members the engine lets act: the
    committee assigns (one form per missed indicator) and verifies (each action reported done), the action's owner or
    the series' provider reports (each action assigned)."""
    session, actor = reader(), me()
    actions = list(session.scalars(pdca_actions.of_cycle(session, actor, found.id).limit(MAX_PAGE_SIZE * 10)))
    step = _open_step(found)
    missed = [row for row in indicators if row["status"] == "missed"]
    covered = {action.indicator for action in actions}
    assigning: dict[str, AssignForm] = {}
    owners: list[tuple[int, str]] = []
    if step == "assign" and actor.has("committee"):
        owners = _owners(found)
        for row in missed:
            form = assign_forms.get(row["key"]) or _assign_form(row["key"], found)
            form.owner_id.choices = [("", _("Choose a member")), *owners]
            assigning[row["key"]] = form
    reporting = {a.id: report_forms.get(a.id) or _report_form(a.id, formdata=None) for a in actions
                 if step == "report" and a.status == "assigned" and actor.member_id in (a.owner_id, found.series.provider_id)}
    verifying = {a.id: verify_forms.get(a.id) or _verify_form(a.id, formdata=None) for a in actions
                 if step == "verify" and a.status == "done" and actor.has("committee")}
    ids = {i for a in actions for i in (a.owner_id, a.assigned_by, a.reported_by, a.verified_by) if i is not None}
    return {"actions": actions, "act_step": step, "missed": missed, "covered": covered, "assign_forms": assigning,
            "report_forms": reporting, "verify_forms": verifying, "names": {**dict(owners), **_names(ids)},
            "indicator_names": {row["key"]: row["name"] for row in indicators}, "step_words": STEP_WORDS,
            "desk_task": _desk_task(found) if step else None,
            "example_date": (now().astimezone(get_timezone()).date() + timedelta(days=14)).isoformat()}


def _open_step(found: ServiceCycle) -> str | None:
    """The act phase's step whose task is open (``GET /api/instances/<id>``: its open tasks), None outside it."""
    if found.status != "acting":
        return None
    instance = get_instance(reader(), me(), found.series.instance_id)
    for task in instance.tasks:
        collects = (task.properties or {}).get(COLLECTS_PROPERTY)
        if task.state == "READY" and collects in ACT_STEPS:
            return ACT_STEPS[collects]
    return None


def _desk_task(found: ServiceCycle) -> str | None:
    """The desk's page of the step's task, when the member may complete it (``GET /api/tasks?instance_id=``)."""
    if "site.desk.task" not in current_app.view_functions:
        return None
    tasks = kernel_queries.my_tasks(reader(), me(), 1, MAX_PAGE_SIZE, found.series.instance_id).items
    task = next((t for t in tasks if (t.properties or {}).get(COLLECTS_PROPERTY) in ACT_STEPS), None)
    return url_for("site.desk.task", task_id=task.id) if task is not None else None


def _owners(found: ServiceCycle) -> list[tuple[int, str]]:
    """The members who may be given an action (``GET /api/communities/<id>/members``): providers and committee, the
    series' provider first."""
    chosen: list[tuple[int, str]] = []
    for number in range(1, MAX_MEMBER_PAGES + 1):
        got = kernel_queries.members(reader(), me(), number, MAX_PAGE_SIZE)
        chosen += [(m.id, m.name) for m in got.items if set(m.roles or ()) & set(OWNER_ROLES)]
        if number * got.page_size >= got.total:
            break
    return sorted(chosen, key=lambda option: option[0] != found.series.provider_id)


def _names(ids: set[int]) -> dict[int, str]:
    """Members' names by id (``GET /api/communities/<id>/members/<id>``)."""
    names: dict[int, str] = {}
    for member_id in ids:
        try:
            names[member_id] = identity_members.get_member(reader(), me(), member_id).name
        except NotFound:
            continue
    return names


def due(day: date) -> datetime:
    """A due date as noon of that day in the page's (the community's) time zone, for the ``day`` filter."""
    zone, noon = get_timezone(), datetime.combine(day, time(12))
    return zone.localize(noon) if hasattr(zone, "localize") else noon.replace(tzinfo=zone)


def _assign_ids(form: AssignForm, key: str) -> None:
    """One assign form per missed indicator on the page: each field gets an id of its own."""
    for name in ("description", "owner_id", "due_date"):
        getattr(form, name).id = f"assign-{key}-{name.replace('_', '-')}"


def _assign_form(key: str, found: ServiceCycle) -> AssignForm:
    form = AssignForm(formdata=None, indicator=key, owner_id=found.series.provider_id)
    _assign_ids(form, key)
    return form


def _report_form(action_id: int, **options: Any) -> ReportForm:
    form = ReportForm(**options)
    form.report.id = f"action-{action_id}-report"
    return form


def _verify_form(action_id: int, **options: Any) -> VerifyForm:
    form = VerifyForm(**options)
    form.effective.id = f"action-{action_id}-effective"
    form.note.id = f"action-{action_id}-note"
    return form


def _assign_errors(form: FlaskForm, refusal: YishiError) -> None:
    """The engine's refusal of an assignment on the form's fields, in the page's words: an indicator that was not
    missed, and a due date before today (with today's date, which the engine names)."""
    placed = False
    for error in refusal.details.get("errors", []):
        name, message = str(error.get("field")), str(error.get("message"))
        if name == "indicator":
            form.form_errors.append(_("This indicator was not missed in this cycle: it takes no corrective action."))
        elif name == "due_date":
            today = _FROM_TODAY.search(message)
            form.due_date.errors = [*form.due_date.errors, _(
                "Enter a due date from today (%(today)s) on, as YYYY-MM-DD", today=day_of(today.group(1)))
                if today else _("Enter a due date from today on, as YYYY-MM-DD")]
        elif name in ("description", "owner_id"):
            field = getattr(form, name)
            field.errors = [*field.errors, translated(message)]
        else:
            form.form_errors.append(translated(message))
        placed = True
    if not placed:
        form.form_errors.append(translated(refusal.message))


def day_of(iso: str) -> str:
    """A date the engine wrote (YYYY-MM-DD) as the ``day`` filter words it."""
    return day_filter(due(date.fromisoformat(iso)))


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


def _execute(form: FlaskForm, command: Any, result: list[Any] | None = None, shown: Any = show_errors) -> int:
    """Send the command; 0 when done, else the status of the page that shows its refusal on ``form``."""
    try:
        done = engine().execute(command, me())
    except InvalidInput as refusal:
        shown(form, refusal)
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
            "score_words": SCORE_WORDS, "number": number, "due": due}
