"""The committee's desk: the tasks of the member's roles, each completed through a form rendered from its JSON Schema;
starting a process; in demo mode, the admin's demo clock.

Every page reads and writes what the JSON API does: the task list is ``GET /api/tasks`` (``queries.my_tasks``), each
row's process, title and timers are ``GET /api/instances/<id>``, a task's form is ``GET /api/tasks/<id>``'s
``form_schema``, completing it is ``POST /api/tasks/<id>/complete`` (``CompleteTask``), starting is
``POST /api/instances`` (``StartInstance``) over ``GET /api/definitions``, and the demo clock is ``/api/demo/clock``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, abort, current_app, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.routing import BuildError
from wtforms import ValidationError

from engine.kernel import demo, queries
from engine.kernel.commands import CompleteTask, StartInstance
from engine.kernel.definitions import spec_document
from engine.kernel.errors import Conflict, InvalidInput
from engine.kernel.instances import get_instance, get_task
from engine.kernel.models import HumanTask, Instance
from web.desk import schema_form
from web.i18n import current_locale, translated
from web.links import links_to, menu_entry
from web.views import close_reader, engine, me, member_required, page, reader

blp = Blueprint("desk", __name__, template_folder="templates")

LANE_ROLES = ("committee", "provider", "street_office")
"""The roles the lanes of the bundled processes (``processes/*.bpmn``) declare (their ``role`` property, see
``engine.bpmn.lanes``; a lane's name is for people): the roles that have tasks to do."""
DESK_ROLES = (*LANE_ROLES, "admin")
menu_entry("site.desk.index", _l("Desk"), 5, roles=DESK_ROLES)

MAX_TASK_PAGES = 10
"""The desk lists at most this many pages of ``my_tasks`` (100 each)."""
_TASK_ID = re.compile(r"[0-9A-Za-z-]{1,64}")

NAMES = {
    # the bundled processes' and tasks' names, in the catalogue so that the desk shows them in Chinese too
    "Community consultation": _l("Community consultation"),
    "Draft the topic": _l("Draft the topic"),
    "Opinion period — close early": _l("Opinion period — close early"),
    "Record the deliberation meeting": _l("Record the deliberation meeting"),
    "Answer every opinion": _l("Answer every opinion"),
    "Publish the outcome": _l("Publish the outcome"),
    "Draft the round's text": _l("Draft the round's text"),
    "Amendment period — close early": _l("Amendment period — close early"),
    "Decide every amendment": _l("Decide every amendment"),
    "Publish the adopted convention": _l("Publish the adopted convention"),
    "Another round, or abandon?": _l("Another round, or abandon?"),
    "Define the service and its standard": _l("Define the service and its standard"),
    "Service period — close early": _l("Service period — close early"),
    "Rating window — close early": _l("Rating window — close early"),
    "Assign a corrective action to each missed indicator": _l("Assign a corrective action to each missed indicator"),
    "Carry out the corrective actions": _l("Carry out the corrective actions"),
    "Verify the effect of each corrective action": _l("Verify the effect of each corrective action"),
    "Review the indicators missed twice in a row": _l("Review the indicators missed twice in a row"),
    "Configure the vote": _l("Configure the vote"),
    "Voting open — close early": _l("Voting open — close early"),
    # the timers' and events' names, as the demo clock lists what is waiting
    "Amendment deadline reached": _l("Amendment deadline reached"),
    "Cycle's time is up": _l("Cycle's time is up"),
    "Deadline reached": _l("Deadline reached"),
    "Everyone has voted": _l("Everyone has voted"),
    "Opinion deadline reached": _l("Opinion deadline reached"),
    "Public notice period over": _l("Public notice period over"),
    "Rating deadline reached": _l("Rating deadline reached"),
    "Escalated": _l("Escalated"),
    "Check begins": _l("Check begins"),
}

DATA_LABELS = {
    # what the service tasks write into an instance's data (their resultVariable and its fields), so the task page's
    # summary of the data so far reads in the page's language; form fields take their titles from the forms
    "adoption": _l("Adoption"), "ballot_box": _l("Ballot box"), "check": _l("Check"), "closed_period": _l("Closed period"),
    "consolidated": _l("Consolidated text"), "convention": _l("Convention"), "current_round": _l("Current round"),
    "cycle": _l("Cycle"), "notice_ended": _l("Notice period ended"), "outcome": _l("Outcome"), "rating": _l("Rating"),
    "round_closed": _l("Round closed"), "vote_record": _l("Vote record"), "vote_result": _l("Vote result"),
    "amendment_deadline": _l("Amendment deadline"), "applied": _l("Amendments applied"), "board_root": _l("Board root"),
    "continue": _l("Continue"), "convention_id": _l("Convention number"), "cycle_id": _l("Cycle number"),
    "deadline": _l("Deadline"), "decision_version": _l("Version decided on"), "direction": _l("Direction"),
    "effective_date": _l("Effective date"), "eligible": _l("Eligible voters"), "ends_at": _l("Ends at"),
    "escalate": _l("Escalate"), "escalated": _l("Escalated"), "explanation": _l("Explanation"),
    "fingerprint": _l("Fingerprint"), "key": _l("Key"), "kind": _l("Kind"), "metric": _l("Metric"),
    "missed": _l("Missed"), "name": _l("Name"), "near_margin": _l("Near margin"), "notice_ends": _l("Notice ends"),
    "number": _l("Number"), "percentile": _l("Percentile"), "planned": _l("Planned"), "proposed": _l("Proposed"),
    "results": _l("Results"), "round": _l("Round"), "round_id": _l("Round number"), "series_id": _l("Series number"),
    "source": _l("Source"), "standard": _l("Standard"), "starts_at": _l("Starts at"), "status": _l("Status"),
    "target": _l("Target"), "threshold": _l("Threshold"), "threshold_direction": _l("Threshold direction"),
    "unit": _l("Unit"), "value": _l("Value"), "version": _l("Version"), "version_created": _l("Version created"),
    "vote_id": _l("Vote number"), "winner": _l("Winner"), "withdrawn": _l("Withdrawn"),
    # and what the bundled processes' scripts set
    "phase": _l("Phase"), "topic_published": _l("Topic published"),
}


@links_to({"complete_task": _l("Task for your role")})
def task_link(item: Any) -> str:
    """A ready task on a member's home links to its page on the desk."""
    return url_for("site.desk.task", task_id=item.refs["task_id"])


def shown_name(name: str | None) -> str:
    """A process's or task's name in the page's language: the catalogue's, else the bilingual name's part."""
    if not name:
        return ""
    if name in NAMES:
        return str(NAMES[name])
    return schema_form.bilingual(name, current_locale())


def desk_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Signed-in members with a role that has tasks (or admins); others get 403."""
    @member_required
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not set(me().roles) & set(DESK_ROLES):
            abort(403)
        return view(*args, **kwargs)
    return guarded


def check_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc


# --- the task list ------------------------------------------------------------------------------

def instance_title(data: dict[str, Any] | None) -> str:
    """What an instance is about, from its data: a consultation's title, a vote's, a convention draft's, a service."""
    data = data or {}
    for path in (("title",), ("vote", "title"), ("draft", "title"), ("plan", "service"), ("convention_title",)):
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def due_of(instance: Instance) -> datetime | None:
    return min((timer.due_at for timer in instance.timers), default=None)


def my_tasks() -> list[HumanTask]:
    found: list[HumanTask] = []
    for number in range(1, MAX_TASK_PAGES + 1):
        got = queries.my_tasks(reader(), me(), number, queries.MAX_PAGE_SIZE)
        found += got.items
        if number * got.page_size >= got.total:
            break
    return found


@blp.route("/desk")
@desk_required
def index() -> ResponseReturnValue:
    session_ = reader()
    instances: dict[str, Instance] = {}
    rows = []
    for task in my_tasks():
        instance = instances.get(task.instance_id) or get_instance(session_, me(), task.instance_id)
        instances[task.instance_id] = instance
        rows.append({"task": task, "name": shown_name(task.name), "key": instance.definition.key,
                     "process": shown_name(instance.definition.name), "title": instance_title(instance.data),
                     "due": due_of(instance), "started": instance.started_at})
    processes = sorted({(row["key"], row["process"]) for row in rows})
    chosen = request.args.get("process", "")
    if chosen:
        rows = [row for row in rows if row["key"] == chosen]
    sort = request.args.get("sort", "")
    rows.sort(key=lambda row: row["started"], reverse=True)
    if sort == "due":
        rows.sort(key=lambda row: (row["due"] is None, row["due"] or datetime.max))
    return page("desk/index.html", rows=rows, processes=processes, chosen=chosen, sort=sort,
                done=request.args.get("done") == "1", can_start="committee" in me().roles, current_roles=sorted(me().roles),
                demo_mode=engine().config.demo)


# --- starting a process -------------------------------------------------------------------------

def startable() -> list[Any]:
    """The processes the community runs, one per key (its own version first, then the platform's newest)."""
    seen: dict[str, Any] = {}
    for number in range(1, 6):
        got = queries.definitions(reader(), me(), number, queries.MAX_PAGE_SIZE)
        for definition in got.items:
            if definition.kind == "bpmn" and definition.key not in seen:
                seen[definition.key] = definition
        if number * got.page_size >= got.total:
            break
    return list(seen.values())


@blp.route("/desk/start", methods=["GET", "POST"])
@desk_required
def start() -> ResponseReturnValue:
    definitions = startable()
    error = ""
    chosen = ""
    if request.method == "POST":
        check_csrf()
        chosen = request.form.get("definition_key", "")
        if chosen not in {d.key for d in definitions}:
            error = _("Choose the process to start.")
        else:
            instance = engine().execute(StartInstance(chosen, {}), me())
            close_reader()  # a fresh snapshot, which sees the new instance's tasks
            first = queries.my_tasks(reader(), me(), 1, 1, instance.id).items
            if first:
                return redirect(url_for("site.desk.task", task_id=first[0].id))
            return redirect(url_for("site.desk.index", started=1))
    return page("desk/start.html", 422 if error else 200, definitions=definitions, error=error, chosen=chosen,
                name=shown_name)


# --- one task -----------------------------------------------------------------------------------

def form_labels(instance: Instance) -> dict[str, str]:
    """Each data key's title, from the definition's forms at any depth (``vote`` → "Vote", ``deadline`` →
    "Deadline"), else from what the service tasks write (``DATA_LABELS``)."""
    labels: dict[str, str] = {key: str(label) for key, label in DATA_LABELS.items()}
    titled: set[str] = set()

    def walk(schema: Any) -> None:
        for key, sub in ((schema or {}).get("properties") or {}).items():
            if isinstance(sub, dict):
                if sub.get("title") and key not in titled:
                    labels[key] = schema_form.bilingual(sub["title"], current_locale())
                    titled.add(key)
                walk(sub)
                walk(sub.get("items") if isinstance(sub.get("items"), dict) else None)

    for schema in (spec_document(instance.definition).get("forms") or {}).values():
        walk(schema)
    return labels


RESIDENT_PAGES = (
    ("site.consultation.show", lambda i: {"instance_id": i.id}, "consultation"),
    ("site.consultation.view", lambda i: {"instance_id": i.id}, "consultation"),
    ("site.voting.vote", lambda i: {"vote_id": (i.data.get("ballot_box") or {}).get("vote_id")}, None),
    ("site.voting.show", lambda i: {"vote_id": (i.data.get("ballot_box") or {}).get("vote_id")}, None),
    ("site.voting.view", lambda i: {"vote_id": (i.data.get("ballot_box") or {}).get("vote_id")}, None),
    ("site.conventions.show", lambda i: {"convention_id": i.data.get("convention_id")}, None),
    ("site.conventions.view", lambda i: {"convention_id": i.data.get("convention_id")}, None),
)


def resident_pages(instance: Instance) -> list[tuple[str, str]]:
    """Links to the residents' pages of this instance (its consultation, vote, convention), where those pages exist."""
    links: list[tuple[str, str]] = []
    labels = {"consultation": _("The consultation as residents see it"), "voting": _("The vote as residents see it"),
              "conventions": _("The convention as residents see it")}
    done: set[str] = set()
    for endpoint, arguments, key in RESIDENT_PAGES:
        area = endpoint.split(".")[1]
        if area in done or endpoint not in current_app.view_functions:
            continue
        if key is not None and instance.definition.key != key:
            continue
        values = arguments(instance)
        if any(value is None for value in values.values()):
            continue
        try:
            links.append((labels[area], url_for(endpoint, **values)))
            done.add(area)
        except BuildError:
            continue
    return links


def authored(schema: dict[str, Any] | None, form: str | None) -> tuple[dict[str, Any] | None, bool]:
    """The form as its author wrote it, with its properties in their order: the frozen schema keeps its keys sorted,
    so when the file under the forms folder still says the same, its order is used (else the renderer's own: the
    required properties first)."""
    if schema is None or not form:
        return schema, False
    root = engine().config.forms_dir.resolve()
    path = (root / form).resolve()
    try:
        if root in path.parents and path.is_file():
            original = json.loads(path.read_text(encoding="utf-8"))
            if original == schema:
                return original, True
    except (OSError, ValueError):
        pass
    return schema, False


def nul_errors(form: Any) -> list[dict[str, str]]:
    return [{"field": name, "message": "NUL"} for name, value in form.items(multi=True) if "\x00" in value]


@blp.route("/desk/tasks/<task_id>", methods=["GET", "POST"])
@desk_required
def task(task_id: str) -> ResponseReturnValue:
    if not _TASK_ID.fullmatch(task_id):
        abort(404)
    session_ = reader()
    found = get_task(session_, me(), task_id)
    instance = get_instance(session_, me(), found.instance_id)
    schema, in_order = authored(spec_document(instance.definition)["forms"].get(found.form) if found.form else None, found.form)
    values: dict[str, str] = {}
    add: str | None = None
    errors: list[dict[str, Any]] = []
    refusal = ""
    status = 200
    if request.method == "POST":
        check_csrf()
        form = request.form
        if schema is not None and form.get(schema_form.ADD):
            values, add = {k: v for k, v in form.items() if not k.startswith("__") and k != "csrf_token"}, form[schema_form.ADD]
        else:
            data = schema_form.read_form(schema, form) if schema is not None else {}
            values = schema_form.form_values(schema, data) if schema is not None else {}
            bad = nul_errors(form)
            try:
                if bad:
                    raise InvalidInput("the form has characters that are not allowed", errors=bad)
                engine().execute(CompleteTask(found.id, data), me())
            except InvalidInput as exc:
                errors, refusal, status = list(exc.details.get("errors") or []), exc.message, 422
                if not errors:
                    errors = [{"field": "", "message": exc.message}]
            except Conflict as exc:
                refusal, status = waiting_for(exc, instance), 409
            else:
                instance_id = instance.id
                close_reader()
                following = queries.my_tasks(reader(), me(), 1, 1, instance_id).items
                if following:
                    return redirect(url_for("site.desk.task", task_id=following[0].id, done=1))
                return redirect(url_for("site.desk.index", done=1))
    fields: list[schema_form.Field] = []
    loose: list[str] = []
    if schema is not None:
        builder = schema_form.Builder(schema, values, current_locale(), add, instance.timezone, keep_order=in_order)
        fields = builder.form()
        loose = schema_form.place_errors(fields, errors, _error_message)
        form_title = builder.text(schema.get("title"))
        form_hint = builder.text(schema.get("description"))
    else:
        form_title = form_hint = ""
        loose = [translated(e["message"]) for e in errors]
    if refusal and status == 409:
        loose.append(refusal)
    may_complete = found.state == "READY" and (not found.lane or me().has(found.lane))
    return page("desk/task.html", status, task=found, instance=instance, fields=fields, loose=loose,
                summary=[(f.id, f.errors[0]) for top in fields for f in top.walk() if f.errors],
                form_title=form_title, form_hint=form_hint, may_complete=may_complete,
                process=shown_name(instance.definition.name), name=shown_name(found.name),
                title=instance_title(instance.data), labels=form_labels(instance), links=resident_pages(instance),
                instructions=schema_form.bilingual(found.instructions, current_locale()),
                done=request.args.get("done") == "1", due=due_of(instance))


WAITING = {
    # the bundled tasks' preconditions (engine/*: ``@precondition``), said in the page's language: the engine's own
    # sentence is English and carries a count or the indicators' keys, which these take from it
    "all_opinions_answered": (lambda n: ngettext("%(num)d opinion is still unanswered: answer every opinion first.",
                                                 "%(num)d opinions are still unanswered: answer every opinion first.", n),
                              _l("Some opinions are still unanswered: answer every opinion first.")),
    "all_amendments_decided": (lambda n: ngettext("%(num)d amendment is still undecided: decide every amendment first.",
                                                  "%(num)d amendments are still undecided: decide every amendment first.", n),
                               _l("Some amendments are still undecided: decide every amendment first.")),
    "all_actions_reported": (lambda n: ngettext("%(num)d corrective action is not reported done yet.",
                                                "%(num)d corrective actions are not reported done yet.", n),
                             _l("Some corrective actions are not reported done yet.")),
    "all_actions_verified": (lambda n: ngettext("%(num)d corrective action is reported done but not verified yet: verify "
                                                "the effect of each first.",
                                                "%(num)d corrective actions are reported done but not verified yet: verify "
                                                "the effect of each first.", n),
                             _l("Some corrective actions are not verified yet: verify the effect of each first.")),
}
_COUNT = re.compile(r"(\d{1,9}) ")
_UNCOVERED = re.compile(r".*\(none yet: (?P<keys>[^()]*)\)$")


def waiting_for(exc: Conflict, instance: Instance) -> str:
    """Why the task cannot be completed yet, in the page's language: the precondition's sentence where the desk knows
    it, else the engine's message as the catalogues translate it."""
    name = exc.details.get("precondition")
    if name == "every_missed_indicator_has_action":
        uncovered = _UNCOVERED.fullmatch(exc.message)
        if uncovered:
            indicators = {i.get("key"): i.get("name") for i in ((instance.data or {}).get("plan") or {}).get("indicators") or []
                          if isinstance(i, dict)}
            keys = [key.strip() for key in uncovered.group("keys").split(",") if key.strip()]
            named = ("、" if current_locale().startswith("zh") else ", ").join(str(indicators.get(key) or key) for key in keys)
            return _("Assign a corrective action to each missed indicator first. Still without one: %(indicators)s.",
                     indicators=named)
        return _("Assign a corrective action to each missed indicator first.")
    if name in WAITING:
        counted, general = WAITING[name]
        count = _COUNT.match(exc.message)
        return counted(int(count.group(1))) if count else str(general)
    return translated(exc.message)


def _error_message(target: schema_form.Field | None, message: str) -> str:
    if message == "NUL":
        return _("This has a character that is not allowed (NUL).")
    return schema_form.friendly(target, message)


# --- the demo clock -----------------------------------------------------------------------------

def upcoming_timers() -> list[dict[str, Any]]:
    """The pending timers of the community's running instances, soonest first (as ``GET /api/instances/<id>``)."""
    found = []
    for number in range(1, 6):
        got = queries.instances(reader(), me(), number, queries.MAX_PAGE_SIZE, status="running")
        for instance in got.items:
            for timer in instance.timers:
                found.append({"due": timer.due_at, "name": shown_name(timer.name or timer.element_id),
                              "process": shown_name(instance.definition.name), "title": instance_title(instance.data)})
        if number * got.page_size >= got.total:
            break
    return sorted(found, key=lambda t: t["due"])


def _bounded_int(text: str, most: int) -> int | None:
    text = (text or "").strip()
    if text == "":
        return 0
    if not re.fullmatch(r"\d{1,4}", text) or int(text) > most:
        return None
    return int(text)


@blp.route("/desk/demo-clock", methods=["GET", "POST"])
@member_required
def demo_clock() -> ResponseReturnValue:
    if not engine().config.demo:
        abort(404)
    if "admin" not in me().roles:
        abort(403)
    errors: dict[str, str] = {}
    typed = {"days": request.form.get("days", ""), "hours": request.form.get("hours", "")}
    if request.method == "POST":
        check_csrf()
        days, hours = _bounded_int(typed["days"], 400), _bounded_int(typed["hours"], 23)
        if days is None:
            errors["days"] = _("Enter a whole number of days from 0 to 400.")
        if hours is None:
            errors["hours"] = _("Enter a whole number of hours from 0 to 23.")
        if not errors and not (days or hours):
            errors["days"] = _("Enter how far to move the clock forward.")
        if not errors:
            seconds = (days or 0) * 86400 + (hours or 0) * 3600
            try:
                demo.check(seconds)
            except InvalidInput:
                errors["days"] = _("The demo clock moves at most 400 days at a time.")
        if not errors:
            before = engine().clock.now()
            due = [t for t in upcoming_timers() if (t["due"] - before).total_seconds() <= seconds]
            advanced = engine().advance_demo_clock(seconds, actor=me())
            session["desk_demo_advance"] = {
                "fired": advanced.fired, "from": advanced.from_at.isoformat(), "to": advanced.to_at.isoformat(),
                "timers": [{"name": t["name"], "process": t["process"], "title": t["title"], "due": t["due"].isoformat()}
                           for t in due[:50]]}
            return redirect(url_for("site.desk.demo_clock"))
    last = session.pop("desk_demo_advance", None) if request.method == "GET" else None
    if last:
        last = {**last, "from": datetime.fromisoformat(last["from"]), "to": datetime.fromisoformat(last["to"]),
                "timers": [{**t, "due": datetime.fromisoformat(t["due"])} for t in last["timers"]]}
    status = demo.status(engine())
    return page("desk/demo_clock.html", 422 if errors else 200, clock=status, errors=errors, typed=typed, last=last,
                timers=upcoming_timers()[:20], offset_days=status["offset_seconds"] // 86400,
                offset_hours=status["offset_seconds"] % 86400 // 3600,
                offset_minutes=status["offset_seconds"] % 3600 // 60)


# The desk's other pages register on ``blp`` too: the queues, the tellers' paper ballots, definitions and incidents.
from web.desk import admin, queues, tellers  # noqa: E402,F401  (imported for their routes)
