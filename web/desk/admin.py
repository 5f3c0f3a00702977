"""The community admin's pages on the desk: process definitions (deploy by upload, adopt a platform version) and
incidents (instances in status ``error``, retried).

The same engine as the JSON API: the list is ``GET /api/definitions`` (``queries.definitions``) with the version each
key runs (``GET /api/definitions/<key>``, ``definitions.resolve``); an upload is ``POST /api/definitions``
(``DeployDefinition``: its ``DefinitionError`` names file, element and line); adopting is
``POST /api/definitions/<key>/adopt`` (``AdoptDefinition``); incidents are ``GET /api/instances?status=error``
(``queries.instances``) with each instance's ``error`` and ERROR task; a retry is ``POST /api/instances/<id>/retry``
(``RetryInstance``, with corrected data as the API takes it: a JSON object merged into the failed task's data).
"""

from __future__ import annotations

import json
import re
from functools import wraps
from typing import Any, Callable

from flask import abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from engine.bpmn.limits import MAX_DEFINITION_BYTES
from engine.kernel import queries
from engine.kernel.commands import AdoptDefinition, DeployDefinition, RetryInstance
from engine.kernel.definitions import resolve
from engine.kernel.errors import Conflict, DefinitionError, InvalidInput, NotFound, PermissionDenied, YishiError
from engine.kernel.instances import get_instance
from web.desk.routes import blp, check_csrf, instance_title, shown_name
from web.i18n import translated
from web.views import close_reader, engine, me, member_required, page, reader

ADMIN_ROLE = "admin"
MAX_PAGES = 5
_INSTANCE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,200}")
MAX_RETRY_DATA = 100_000


def admin_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @member_required
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if ADMIN_ROLE not in me().roles:
            abort(403)
        return view(*args, **kwargs)
    return guarded


# --- definitions --------------------------------------------------------------------------------

def visible_definitions() -> list[Any]:
    found: list[Any] = []
    for number in range(1, MAX_PAGES + 1):
        got = queries.definitions(reader(), me(), number, queries.MAX_PAGE_SIZE)
        found += got.items
        if number * got.page_size >= got.total:
            break
    return found


def keys_and_versions() -> list[dict[str, Any]]:
    """Each key the community sees: the version it runs now, its own versions and the platform's."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for definition in visible_definitions():
        row = by_key.setdefault((definition.kind, definition.key), {"key": definition.key, "kind": definition.kind,
                                                                     "name": shown_name(definition.name) or definition.key,
                                                                     "own": [], "platform": []})
        row["own" if definition.community_id is not None else "platform"].append(definition)
    rows = []
    for (kind, key), row in sorted(by_key.items()):
        running = resolve(reader(), me().community_id, key, kind)
        row["running"] = running
        rows.append(row)
    return rows


def _definitions_page(status: int = 200, *, errors: list[dict[str, Any]] | None = None, notice: str = "",
                      adopt_error: str = "") -> ResponseReturnValue:
    return page("desk/definitions.html", status, rows=keys_and_versions(), errors=errors or [], notice=notice,
                adopt_error=adopt_error, most_bytes=MAX_DEFINITION_BYTES, done=request.args.get("done", ""))


def _problem(exc: YishiError, filename: str) -> list[dict[str, Any]]:
    details = exc.details or {}
    found = [{"file": details.get("file") or filename, "element": details.get("element_id"), "line": details.get("line"),
              "message": translated(exc.message)}]
    for error in details.get("errors") or []:
        if isinstance(error, dict):
            found.append({"file": error.get("file") or details.get("file") or filename, "element": error.get("element_id"),
                          "line": error.get("line"), "message": translated(str(error.get("message", "")))})
    return found


@blp.route("/desk/definitions", methods=["GET", "POST"])
@admin_required
def definitions() -> ResponseReturnValue:
    if request.method == "GET":
        return _definitions_page()
    check_csrf()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _definitions_page(422, errors=[{"field": True, "message": _("Choose a BPMN or DMN file to upload.")}])
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]
    if not filename.lower().endswith((".bpmn", ".dmn")) or "\x00" in filename:
        return _definitions_page(422, errors=[{"field": True, "message": _("The file must be a .bpmn or .dmn file.")}])
    source = upload.read(MAX_DEFINITION_BYTES + 1)
    if len(source) > MAX_DEFINITION_BYTES:
        return _definitions_page(422, errors=[{"field": True, "message": _("The file is larger than %(most)s bytes.",
                                                                            most=MAX_DEFINITION_BYTES)}])
    if not source:
        return _definitions_page(422, errors=[{"field": True, "message": _("The file is empty.")}])
    try:
        deployment = engine().execute(DeployDefinition(filename, source), me())
    except DefinitionError as exc:
        return _definitions_page(422, errors=_problem(exc, filename))
    except InvalidInput as exc:
        return _definitions_page(422, errors=_problem(exc, filename))
    except (Conflict, PermissionDenied) as exc:
        return _definitions_page(409, errors=[{"field": True, "message": translated(exc.message)}])
    definition = deployment.definition
    close_reader()
    done = "deployed" if deployment.created else "unchanged"
    return redirect(url_for("site.desk.definitions", done=done, key=definition.key, version=definition.version))


@blp.route("/desk/definitions/<key>/adopt", methods=["POST"])
@admin_required
def adopt(key: str) -> ResponseReturnValue:
    check_csrf()
    if not _KEY.fullmatch(key):
        abort(404)
    text = request.form.get("version", "")
    if not re.fullmatch(r"\d{1,9}", text):
        return _definitions_page(422, adopt_error=_("Choose a platform version to adopt."))
    try:
        engine().execute(AdoptDefinition(key, int(text)), me())
    except NotFound:
        abort(404)
    except (InvalidInput, Conflict) as exc:
        return _definitions_page(409 if isinstance(exc, Conflict) else 422, adopt_error=translated(exc.message))
    close_reader()
    return redirect(url_for("site.desk.definitions", done="adopted", key=key, version=text))


# --- incidents ----------------------------------------------------------------------------------

def failed_instances() -> list[dict[str, Any]]:
    rows = []
    for number in range(1, MAX_PAGES + 1):
        got = queries.instances(reader(), me(), number, queries.MAX_PAGE_SIZE, status="error")
        for instance in got.items:
            rows.append(_incident(instance))
        if number * got.page_size >= got.total:
            break
    return rows


def _incident(instance: Any) -> dict[str, Any]:
    error = instance.error or {}
    failed = [t for t in instance.tasks if t.state == "ERROR"]
    task = next((t for t in failed if t.id == error.get("task_id")), failed[0] if failed else None)
    return {"instance": instance, "process": shown_name(instance.definition.name) or instance.definition.key,
            "title": instance_title(instance.data), "message": str(error.get("message") or ""),
            "element": error.get("element_id") or (task.element_id if task else None),
            "task": shown_name(task.name) if task else None, "at": instance.updated_at}


@blp.route("/desk/incidents")
@admin_required
def incidents() -> ResponseReturnValue:
    return page("desk/incidents.html", rows=failed_instances(), done=request.args.get("done") == "1")


@blp.route("/desk/incidents/<instance_id>", methods=["GET", "POST"])
@admin_required
def incident(instance_id: str) -> ResponseReturnValue:
    if request.method == "POST":
        check_csrf()
    if not _INSTANCE_ID.fullmatch(instance_id):
        abort(404)
    instance = get_instance(reader(), me(), instance_id)
    typed = ""
    error = ""
    refusal = ""
    status = 200
    if request.method == "POST":
        typed = request.form.get("data", "")
        data: Any = {}
        if len(typed) > MAX_RETRY_DATA or "\x00" in typed:
            error = _("The corrected data is too long or has a character that is not allowed.")
        elif typed.strip():
            try:
                data = json.loads(typed)
            except ValueError:
                error = _("Write the corrected data as a JSON object, e.g. {\"count\": 3}.")
            else:
                if not isinstance(data, dict):
                    error = _("Write the corrected data as a JSON object, e.g. {\"count\": 3}.")
        if error:
            status = 422
        else:
            try:
                engine().execute(RetryInstance(instance.id, data), me())
            except InvalidInput as exc:
                error, status = translated(exc.message), 422
            except (Conflict, PermissionDenied) as exc:
                refusal, status = translated(exc.message), 409
            else:
                close_reader()
                after = get_instance(reader(), me(), instance_id)
                if after.status == "error":
                    refusal, status = _("The retry failed again: %(message)s", message=str((after.error or {}).get("message") or "")), 409
                    instance = after
                else:
                    return redirect(url_for("site.desk.incidents", done=1))
    return page("desk/incident.html", status, row=_incident(instance), typed=typed, error=error, refusal=refusal,
                data_json=json.dumps(instance.data or {}, ensure_ascii=False, indent=2, sort_keys=True)[:20_000])


__all__ = ["adopt", "definitions", "incident", "incidents"]
