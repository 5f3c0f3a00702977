"""Deploying process definitions: parse, check, version and store them.

A definition is one BPMN file. Its key is the id of its main process. Deploying the same bytes
as the newest version changes nothing; different bytes become the next version. Each version
stores its source, its sha256, and — once, instead of inside every instance — its parsed spec
together with the forms its tasks use, so running instances keep the version they started on.
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
from engine.bpmn.parsing import BPMN_NS, ParsedProcess, called_elements, parse_process
from engine.bpmn.sandbox import check_definition_scripts
from engine.bpmn.workflows import canonical_json, serialize_spec
from engine.errors import DefinitionError, NotFound
from engine.models import Definition

MAX_FILENAME = 255


@dataclass(frozen=True)
class Deployment:
    definition: Definition
    created: bool


def deploy(
    session: Session, filename: str, source: bytes, *, forms_dir: Path, now: datetime, deployed_by: int | None
) -> Deployment:
    """Deploy one BPMN file; a no-op when it equals the newest version of its key."""
    filename = _clean_filename(filename)
    tree, needed = called_elements(filename, source)
    _require_deployed(session, filename, tree, needed)
    parsed = parse_process(filename, tree, _library(session, needed))
    sha256 = hashlib.sha256(source).hexdigest()
    latest = latest_version(session, parsed.key)
    if latest is not None and latest.sha256 == sha256:
        return Deployment(latest, created=False)
    document = _spec_document(parsed, filename, forms_dir)
    definition = Definition(
        key=parsed.key,
        version=(latest.version + 1) if latest else 1,
        name=parsed.name,
        filename=filename,
        sha256=sha256,
        source=source.decode("utf-8"),
        spec=canonical_json(document),
        deployed_at=now,
        deployed_by=deployed_by,
    )
    session.add(definition)
    session.flush()
    return Deployment(definition, created=True)


def deploy_directory(session: Session, processes_dir: Path, *, now: datetime) -> list[Deployment]:
    """Deploy every bundled BPMN file, called processes before their callers."""
    pending = {path.name: path.read_bytes() for path in sorted(processes_dir.glob("*.bpmn"))}
    deployments: list[Deployment] = []
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


def latest_version(session: Session, key: str) -> Definition | None:
    return session.scalar(select(Definition).where(Definition.key == key).order_by(Definition.version.desc()).limit(1))


def get_latest(session: Session, key: str) -> Definition:
    definition = latest_version(session, key)
    if definition is None:
        raise NotFound(f"no definition with key {key!r} is deployed")
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
    document = serialize_spec(parsed.spec, parsed.subprocess_specs)
    document["forms"] = form_schemas
    return document


def _clean_filename(filename: str) -> str:
    name = Path(filename or "").name
    if not name or len(name) > MAX_FILENAME or not name.endswith(".bpmn"):
        raise DefinitionError("a definition file name must end in .bpmn", file=filename or None)
    return name
