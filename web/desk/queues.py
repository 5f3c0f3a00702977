"""The committee's queues: what waits for the member's roles across instances, each with its count and a link to the
page where it is acted on.

Every count is read the way the JSON API reads it: the ready tasks of the member's lanes are ``GET /api/tasks``
(``queries.my_tasks``; the task's ``collects`` property says what it waits for); a consultation's opinions are
``GET /api/instances/<id>/opinions`` (``opinions.visible_opinions``); a convention's amendments are
``GET /api/conventions/<id>/amendments`` (``amendments_of``, with ``proposed_changes`` for the diff); a cycle's
indicators and corrective actions are ``GET /api/pdca/cycles/<id>/indicators`` and ``…/corrective-actions``; the
requests to answer are the agenda source ``pdca_requests`` (``GET /api/me/agenda``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from flask import abort, current_app, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from engine.consultation.opinions import visible_opinions
from engine.conventions.queries import amendments_of, proposed_changes
from engine.kernel.agenda import SOURCES
from engine.kernel.errors import YishiError
from engine.kernel.instances import get_instance
from engine.kernel.models import HumanTask, Instance
from engine.kernel.preconditions import COLLECTS_PROPERTY
from engine.pdca import actions as pdca_actions
from engine.pdca import queries as pdca_queries
from engine.pdca.report import cycle_indicators
from web.desk.routes import DESK_ROLES, blp, desk_required, instance_title, my_tasks, shown_name
from web.views import me, now, page, reader

SUMMARY_CHARS = 80
"""A diff summary shows at most this many characters of each change."""


def link(endpoint: str, fallback: str | None = None, **values: Any) -> str | None:
    """The URL of ``endpoint`` when that page exists in this app, else ``fallback``."""
    if endpoint in current_app.view_functions:
        try:
            return url_for(endpoint, **values)
        except BuildError:
            pass
    return fallback


def _collects(task: HumanTask) -> str | None:
    value = (task.properties or {}).get(COLLECTS_PROPERTY)
    return value if isinstance(value, str) else None


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def diff_summary(amendment: Any) -> list[dict[str, str]]:
    """The amendment's proposed change in a line or two: what it deletes and what it inserts, shortened."""
    return [{"op": change["op"], "text": _short(change.get("text"))}
            for change in proposed_changes(amendment) if change.get("op") in ("insert", "delete")][:4]


def opinions_to_answer(task: HumanTask, instance: Instance, fallback: str) -> dict[str, Any] | None:
    rows = reader().scalars(visible_opinions(reader(), me(), instance.id)).all()
    waiting = [o for o in rows if o.status == "submitted" and o.answer_verdict is None]
    return {"title": instance_title(instance.data) or shown_name(instance.definition.name), "count": len(waiting),
            "url": link("site.consultation.show", fallback, instance_id=instance.id), "task_url": fallback,
            "items": [{"text": _short(o.text)} for o in waiting[:5]]}


def amendments_to_decide(task: HumanTask, instance: Instance, fallback: str) -> dict[str, Any] | None:
    convention_id = (instance.data or {}).get("convention_id")
    if not isinstance(convention_id, int):
        return None
    found = reader().scalars(amendments_of(reader(), me(), convention_id, None)).all()
    waiting = [a for a in found if a.instance_id == instance.id and a.status == "proposed"]
    return {"title": instance_title(instance.data) or shown_name(instance.definition.name), "count": len(waiting),
            "url": link("site.conventions.show", fallback, convention_id=convention_id), "task_url": fallback,
            "items": [{"article": a.article_id, "kind": a.kind, "changes": diff_summary(a)} for a in waiting[:10]]}


def _cycle(instance: Instance) -> Any:
    series = pdca_queries.series_of(reader(), instance.id)
    return pdca_queries.current_cycle(reader(), series) if series is not None else None


def actions_to_assign(task: HumanTask, instance: Instance, fallback: str) -> dict[str, Any] | None:
    cycle = _cycle(instance)
    if cycle is None:
        return None
    assigned = {a.indicator for a in reader().scalars(pdca_actions.of_cycle(reader(), me(), cycle.id))}
    missed = [row for row in cycle_indicators(reader(), cycle) if row["status"] == "missed" and row["key"] not in assigned]
    return {"title": instance_title(instance.data) or shown_name(instance.definition.name), "count": len(missed),
            "url": link("site.pdca.cycle", fallback, cycle_id=cycle.id, _anchor="actions"), "task_url": fallback,
            "items": [{"text": row["name"]} for row in missed]}


def actions_to_verify(task: HumanTask, instance: Instance, fallback: str) -> dict[str, Any] | None:
    cycle = _cycle(instance)
    if cycle is None:
        return None
    done = [a for a in reader().scalars(pdca_actions.of_cycle(reader(), me(), cycle.id)) if a.status == "done"]
    return {"title": instance_title(instance.data) or shown_name(instance.definition.name), "count": len(done),
            "url": link("site.pdca.cycle", fallback, cycle_id=cycle.id, _anchor="actions"), "task_url": fallback,
            "items": [{"text": _short(a.description)} for a in done]}


QUEUES: "OrderedDict[str, tuple[Any, Any, Any]]" = OrderedDict([
    # what a ready task collects → (heading, what one row counts, how to count it)
    ("opinion_answers", (_l("Opinions to answer"), _l("unanswered opinions"), opinions_to_answer)),
    ("amendment_decisions", (_l("Amendments to decide"), _l("amendments awaiting a decision"), amendments_to_decide)),
    ("corrective_actions", (_l("Corrective actions to assign"), _l("missed indicators without an action"), actions_to_assign)),
    ("action_verifications", (_l("Corrective actions to verify"), _l("actions reported done"), actions_to_verify)),
])
STREET_OFFICE_ELEMENT = "street_office_review"
QUEUE_ROLES = ("committee", "provider", "street_office")


def requests_to_answer() -> list[dict[str, Any]]:
    """The requests and complaints still unanswered (the agenda source ``pdca_requests``), one row per cycle."""
    source = SOURCES.get("pdca_requests")
    if source is None:
        return []
    rows: "OrderedDict[int, dict[str, Any]]" = OrderedDict()
    for item in source(reader(), me(), now()):
        cycle_id = item.refs["cycle_id"]
        row = rows.setdefault(cycle_id, {"title": item.title, "cycle": item.refs.get("cycle"), "count": 0, "deadline": item.deadline,
                                         "url": link("site.pdca.cycle", None, cycle_id=cycle_id), "items": []})
        row["count"] += 1
        if item.deadline and (row["deadline"] is None or item.deadline < row["deadline"]):
            row["deadline"] = item.deadline
    return list(rows.values())


def gather() -> list[dict[str, Any]]:
    """Every queue of the member's roles, with its rows (only rows with something waiting) and its total."""
    rows: dict[str, list[dict[str, Any]]] = {key: [] for key in QUEUES}
    reviews: list[dict[str, Any]] = []
    instances: dict[str, Instance] = {}
    for task in my_tasks():
        instance = instances.get(task.instance_id) or get_instance(reader(), me(), task.instance_id)
        instances[task.instance_id] = instance
        fallback = url_for("site.desk.task", task_id=task.id)
        collects = _collects(task)
        if collects in QUEUES:
            try:
                row = QUEUES[collects][2](task, instance, fallback)
            except YishiError:  # a record the member may not read: not their queue
                row = None
            if row is not None and row["count"]:
                rows[collects].append(row)
        elif task.element_id == STREET_OFFICE_ELEMENT and task.lane == "street_office":
            reviews.append({"title": instance_title(instance.data) or shown_name(instance.definition.name), "count": 1,
                            "url": fallback, "name": shown_name(task.name), "items": []})
    queues = [{"key": key, "heading": heading, "unit": unit, "rows": rows[key]} for key, (heading, unit, _) in QUEUES.items()]
    queues.insert(2, {"key": "requests", "heading": _l("Service requests to answer"), "unit": _l("unanswered requests"),
                      "rows": requests_to_answer()})
    queues.append({"key": "street_office", "heading": _l("Escalation reviews for the street office"),
                   "unit": _l("reviews"), "rows": reviews})
    shown = []
    for queue in queues:
        if queue["key"] == "street_office" and not me().has("street_office"):
            continue
        if queue["key"] != "street_office" and not (me().has("committee") or (queue["key"] == "requests" and me().has("provider"))):
            continue
        queue["total"] = sum(row["count"] for row in queue["rows"])
        shown.append(queue)
    return shown


@blp.route("/desk/queues")
@desk_required
def queues() -> ResponseReturnValue:
    if not set(me().roles) & set(QUEUE_ROLES):
        abort(403)
    return page("desk/queues.html", queues=gather())


__all__ = ["DESK_ROLES", "gather", "queues"]
