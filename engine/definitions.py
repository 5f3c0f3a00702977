"""Deploying process definitions and decision tables: parse, check, version and store them.

A definition is one BPMN file (kind ``bpmn``; its key is the id of its main process) or one DMN
file (kind ``dmn``; its key is the id of its decision). Deploying the same bytes as the newest
version changes nothing; different bytes become the next version. Each BPMN version stores its
source, its sha256, and — once, instead of inside every instance — its parsed spec together with
the forms its tasks use, so running instances keep the version they started on. A DMN version
stores its source and a summary of its table; the domain that decides with it pins a version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import forms, preconditions, services
from engine.bpmn.decisions import parse_decision
from engine.bpmn.parsing import (
    BPMN_NS,
    ParsedProcess,
    called_elements,
    continue_as_new_elements,
    parse_process,
    too_deep,
)
from engine.bpmn.sandbox import check_definition_scripts
from engine.bpmn.workflows import canonical_json, serialize_spec
from engine.errors import DefinitionError, NotFound
from engine.models import Definition
from engine.stepping import CONTINUE_AS_NEW_KEY

MAX_FILENAME = 255
KINDS = {".bpmn": "bpmn", ".dmn": "dmn"}
"""The kind of a definition, by the suffix of its file name."""


@dataclass(frozen=True)
class Deployment:
    definition: Definition
    created: bool


def deploy(
    session: Session, filename: str, source: bytes, *, forms_dir: Path, now: datetime, deployed_by: int | None
) -> Deployment:
    """Deploy one BPMN or DMN file; a no-op when it equals the newest version of its key."""
    filename = _clean_filename(filename)
    if KINDS[Path(filename).suffix] == "dmn":
        decision = parse_decision(filename, source)
        return _store(session, "dmn", decision.key, decision.name, filename, source, decision.summary, now, deployed_by)
    tree, needed = called_elements(filename, source)
    _require_deployed(session, filename, tree, needed)
    parsed = parse_process(filename, tree, _library(session, needed))
    document = _spec_document(parsed, filename, forms_dir)
    document[CONTINUE_AS_NEW_KEY] = continue_as_new_elements(filename, tree, parsed)
    return _store(session, "bpmn", parsed.key, parsed.name, filename, source, document, now, deployed_by)


def _store(
    session: Session, kind: str, key: str, name: str, filename: str, source: bytes, spec: dict[str, Any],
    now: datetime, deployed_by: int | None,
) -> Deployment:
    """Write the next version of ``key``, unless the newest version has the same bytes."""
    taken = session.scalar(select(Definition.kind).where(Definition.key == key, Definition.kind != kind).limit(1))
    if taken is not None:
        raise DefinitionError(f"the key {key!r} is already taken by a {taken.upper()} definition", file=filename)
    sha256 = hashlib.sha256(source).hexdigest()
    latest = latest_version(session, key, kind)
    if latest is not None and latest.sha256 == sha256:
        return Deployment(latest, created=False)
    definition = Definition(
        key=key,
        version=(latest.version + 1) if latest else 1,
        kind=kind,
        name=name,
        filename=filename,
        sha256=sha256,
        source=source.decode("utf-8"),
        spec=canonical_json(spec),
        deployed_at=now,
        deployed_by=deployed_by,
    )
    session.add(definition)
    session.flush()
    return Deployment(definition, created=True)


def deploy_directory(session: Session, processes_dir: Path, *, now: datetime) -> list[Deployment]:
    """Deploy every bundled DMN file, then every BPMN file, called processes before their callers."""
    deployments = [
        deploy(session, path.name, path.read_bytes(), forms_dir=processes_dir / "forms", now=now, deployed_by=None)
        for path in sorted(processes_dir.glob("*.dmn"))
    ]
    pending = {path.name: path.read_bytes() for path in sorted(processes_dir.glob("*.bpmn"))}
    while pending:
        progressed = False
        for name, source in list(pending.items()):
            _, needed = called_elements(name, source)
            if all(latest_version(session, key) is not None for key in needed):
                deployments.append(deploy(session, name, source, forms_dir=processes_dir / "forms", now=now, deployed_by=None))
                del pending[name]
                progressed = True
        if not progressed:
            raise DefinitionError(f"unresolvable call activities among {', '.join(sorted(pending))}")
    return deployments


def latest_version(session: Session, key: str, kind: str = "bpmn") -> Definition | None:
    return session.scalar(
        select(Definition).where(Definition.key == key, Definition.kind == kind).order_by(Definition.version.desc()).limit(1)
    )


def get_latest(session: Session, key: str, kind: str = "bpmn") -> Definition:
    definition = latest_version(session, key, kind)
    if definition is None:
        what = "process" if kind == "bpmn" else "decision table"
        raise NotFound(f"no {what} with key {key!r} is deployed")
    return definition


def list_latest(session: Session) -> list[Definition]:
    newest = select(Definition.key, func.max(Definition.version).label("version")).group_by(Definition.key).subquery()
    return list(
        session.scalars(
            select(Definition)
            .join(newest, (Definition.key == newest.c.key) & (Definition.version == newest.c.version))
            .order_by(Definition.key)
        )
    )


def spec_document(definition: Definition) -> dict[str, Any]:
    return json.loads(definition.spec)


def _require_deployed(session: Session, filename: str, tree: Any, keys: set[str]) -> None:
    """Refuse a file whose call activities name processes that are not deployed, naming the first such activity."""
    missing = sorted(key for key in keys if latest_version(session, key) is None)
    if missing:
        ids = tree.xpath("//bpmn:callActivity[@calledElement=$key]/@id", namespaces={"bpmn": BPMN_NS}, key=missing[0])
        raise DefinitionError(
            f"call activities need processes that are not deployed: {', '.join(missing)}",
            file=filename, element_id=ids[0] if ids else None,
        )


def _library(session: Session, keys: set[str]) -> dict[str, bytes]:
    """Sources of the newest versions of the processes a file calls (and of what those call)."""
    library: dict[str, bytes] = {}
    todo = set(keys)
    while todo:
        key = todo.pop()
        called = get_latest(session, key)
        if called.filename in library:
            continue
        library[called.filename] = called.source.encode("utf-8")
        todo |= called_elements(called.filename, library[called.filename])[1] - {key}
    return library


def _spec_document(parsed: ParsedProcess, filename: str, forms_dir: Path) -> dict[str, Any]:
    form_schemas: dict[str, Any] = {}
    for task_spec in parsed.task_specs():
        properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
        form = properties.get(forms.FORM_PROPERTY)
        if form and form not in form_schemas:
            form_schemas[form] = forms.load_form(forms_dir, form, file=filename, element_id=task_spec.bpmn_id)
        condition = properties.get(preconditions.PRECONDITION_PROPERTY)
        if condition and not preconditions.known(condition):
            raise DefinitionError(f"unknown precondition {condition!r}", file=filename, element_id=task_spec.bpmn_id)
        operation = getattr(task_spec, "operation_name", None)
        if operation is not None and not services.known(operation):
            raise DefinitionError(f"unknown service operation {operation!r}", file=filename, element_id=task_spec.bpmn_id)
    check_definition_scripts(parsed.task_specs(), filename)
    try:
        document = serialize_spec(parsed.spec, parsed.subprocess_specs)
    except RecursionError as exc:
        raise too_deep(filename) from exc
    document["forms"] = form_schemas
    return document


def _clean_filename(filename: str) -> str:
    name = Path(filename or "").name
    if not name or len(name) > MAX_FILENAME or Path(name).suffix not in KINDS:
        raise DefinitionError("a definition file name must end in .bpmn or .dmn", file=filename or None)
    return name
