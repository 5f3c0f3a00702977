"""Deploying process definitions and decision tables: parse, check, version and store them.

A definition is one BPMN file (kind ``bpmn``; its key is the id of its main process) or one DMN
file (kind ``dmn``; its key is the id of its decision). Deploying the same bytes as the newest
version changes nothing; different bytes become the next version. Each BPMN version stores its
source, its sha256, and — once, instead of inside every instance — its parsed spec together with
the forms its tasks use, so running instances keep the version they started on. In that spec each
task's ``lane`` is the role its lane declares (``engine.bpmn.lanes``: a lane's name is for people;
a lane without a ``role`` property stands for its name, as older definitions' lanes do). A DMN version
stores its source and a summary of its table; the domain that decides with it pins a version.

Every version has an owner. A community's admin deploys into the community's own namespace; the
bundled files, and whatever a platform operator deploys with the CLI (``yishi deploy``), are the
platform's (``community_id`` None). No other community ever sees, runs or changes them.

Which version a community runs for a key is its current *adoption* (``DefinitionAdoption``): the
platform's version current when the community first ran the key (pinned then), or a later platform
version its admin adopted, or its own newest version (deploying one adopts it). A new platform
version therefore changes nothing a community runs until its admin adopts it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.kernel import forms
from engine.kernel import preconditions
from engine.kernel import operations
from engine.bpmn.decisions import parse_decision
from engine.bpmn.lanes import lanes
from engine.bpmn.parsing import (
    BPMN_NS, ParsedProcess, called_elements, continue_as_new_elements, parse_process, too_deep,
)
from engine.bpmn.sandbox import check_definition_scripts
from engine.bpmn.workflows import canonical_json, serialize_spec
from engine.kernel.errors import DefinitionError, NotFound
from engine.kernel.models import Definition, DefinitionAdoption
from engine.identity.members import ROLES
from engine.identity.models import Member
from engine.kernel.stepping import CONTINUE_AS_NEW_KEY

MAX_FILENAME = 255
KINDS = {".bpmn": "bpmn", ".dmn": "dmn"}
"""The kind of a definition, by the suffix of its file name."""


@dataclass(frozen=True)
class Deployment:
    definition: Definition
    created: bool


def deploy(
    session: Session, filename: str, source: bytes, *, forms_dir: Path, now: datetime, deployed_by: int | None,
    community_id: int | None = None,
) -> Deployment:
    """Deploy one BPMN or DMN file into a community's namespace (``community_id``) or the platform's
    (None); a no-op when it equals that owner's newest version of its key. A community's new version
    is what the community runs from now on; the processes a BPMN file calls are the ones the owner
    runs (``resolve``), frozen into the version's spec."""
    filename = _clean_filename(filename)
    if KINDS[Path(filename).suffix] == "dmn":
        decision = parse_decision(filename, source)
        return _store(session, "dmn", decision.key, decision.name, filename, source, decision.summary, now, deployed_by,
                      community_id)
    tree, needed = called_elements(filename, source)
    _require_known_roles(filename, tree)
    _require_deployed(session, filename, tree, needed, community_id)
    parsed = parse_process(filename, tree, _library(session, needed, community_id))
    document = _spec_document(parsed, filename, forms_dir)
    document[CONTINUE_AS_NEW_KEY] = continue_as_new_elements(filename, tree, parsed)
    return _store(session, "bpmn", parsed.key, parsed.name, filename, source, document, now, deployed_by, community_id)


def _store(
    session: Session, kind: str, key: str, name: str, filename: str, source: bytes, spec: dict[str, Any],
    now: datetime, deployed_by: int | None, community_id: int | None,
) -> Deployment:
    """Write the owner's next version of ``key``, unless its newest version has the same bytes."""
    taken = session.scalar(select(Definition.kind).where(
        Definition.key == key, Definition.kind != kind, visible_to(community_id)).limit(1))
    if taken is not None:
        raise DefinitionError(f"the key {key!r} is already taken by a {taken.upper()} definition", file=filename)
    sha256 = hashlib.sha256(source).hexdigest()
    latest = latest_version(session, key, kind, community_id)
    if latest is not None and latest.sha256 == sha256:
        return Deployment(latest, created=False)
    definition = Definition(
        community_id=community_id,
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
        deployer=session.get(Member, deployed_by) if deployed_by is not None else None,
    )
    session.add(definition)
    session.flush()
    if community_id is not None:
        _record_adoption(session, community_id, definition, now, deployed_by)
    return Deployment(definition, created=True)


def deploy_directory(session: Session, processes_dir: Path, *, now: datetime) -> list[Deployment]:
    """Deploy every bundled DMN file, then every BPMN file, called processes before their callers: the platform's."""
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


def latest_version(session: Session, key: str, kind: str = "bpmn", community_id: int | None = None) -> Definition | None:
    """The newest version of ``key`` that its owner deployed: a community's (``community_id``) or the platform's (None)."""
    return session.scalar(
        select(Definition).where(Definition.key == key, Definition.kind == kind, owned_by(community_id))
        .order_by(Definition.version.desc()).limit(1)
    )


def get_version(session: Session, key: str, version: int, community_id: int | None) -> Definition:
    """One version of ``key`` as its owner numbered it: a community's own (``community_id``) or the platform's (None)."""
    found = session.scalar(select(Definition).where(Definition.key == key, Definition.version == version, owned_by(community_id)))
    if found is None:
        raise NotFound(f"definition {key} has no version {version}" + (" of the platform's" if community_id is None else ""))
    return found


def owned_by(community_id: int | None) -> Any:
    """The versions one owner deployed: a community's (``community_id``), or the platform's (None)."""
    return Definition.community_id.is_(None) if community_id is None else Definition.community_id == community_id


def resolve(session: Session, community_id: int, key: str, kind: str = "bpmn", *, pin_at: datetime | None = None
            ) -> Definition | None:
    """The version of ``key`` the community runs: its current adoption, or else the platform's newest.

    With ``pin_at``, a community that had no adoption yet adopts that platform version then, so
    that a newer platform version does not change what it runs until its admin adopts one; without,
    nothing is written (a step computed ahead, a read)."""
    adopted = current_adoption(session, community_id, key, kind)
    if adopted is not None:
        return adopted.definition
    platform = latest_version(session, key, kind)
    if platform is None or pin_at is None:
        return platform
    values = {"community_id": community_id, "kind": kind, "key": key, "number": 1, "definition_id": platform.id,
              "adopted_at": pin_at, "adopted_by": None}
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Two first starts of a key in one community may race: the second keeps the first's pin.
    session.execute(insert(DefinitionAdoption).values(**values).on_conflict_do_nothing())
    pinned = current_adoption(session, community_id, key, kind)
    assert pinned is not None
    return pinned.definition


def get_resolved(session: Session, community_id: int, key: str, kind: str = "bpmn", *, pin_at: datetime | None = None
                 ) -> Definition:
    definition = resolve(session, community_id, key, kind, pin_at=pin_at)
    if definition is None:
        what = "process" if kind == "bpmn" else "decision table"
        raise NotFound(f"no {what} with key {key!r} is deployed")
    return definition


def current_adoption(session: Session, community_id: int, key: str, kind: str = "bpmn") -> DefinitionAdoption | None:
    return session.scalar(
        select(DefinitionAdoption)
        .where(DefinitionAdoption.community_id == community_id, DefinitionAdoption.key == key, DefinitionAdoption.kind == kind)
        .order_by(DefinitionAdoption.number.desc()).limit(1)
    )


def adopt(session: Session, community_id: int, key: str, version: int, *, now: datetime, adopted_by: int) -> DefinitionAdoption:
    """The community runs the platform's ``version`` of ``key`` from now on (instances already started keep theirs)."""
    platform = session.scalar(select(Definition).where(Definition.key == key, Definition.version == version, owned_by(None)))
    if platform is None:
        raise NotFound(f"the platform has no version {version} of {key!r}")
    return _record_adoption(session, community_id, platform, now, adopted_by)


def _record_adoption(session: Session, community_id: int, definition: Definition, now: datetime,
                     adopted_by: int | None) -> DefinitionAdoption:
    last = session.scalar(select(func.max(DefinitionAdoption.number)).where(
        DefinitionAdoption.community_id == community_id, DefinitionAdoption.key == definition.key,
        DefinitionAdoption.kind == definition.kind)) or 0
    adoption = DefinitionAdoption(community_id=community_id, kind=definition.kind, key=definition.key, number=last + 1,
                                  definition=definition, adopted_at=now, adopted_by=adopted_by)
    session.add(adoption)
    session.flush()
    return adoption


def visible_to(community_id: int | None) -> Any:
    """The versions an owner sees (and whose keys it shares): a community, the platform's and its own; the platform, its own."""
    if community_id is None:
        return owned_by(None)
    return owned_by(None) | owned_by(community_id)


def spec_document(definition: Definition) -> dict[str, Any]:
    return json.loads(definition.spec)


def _find(session: Session, key: str, community_id: int | None) -> Definition | None:
    """A called process as its caller's owner runs it: the platform's newest, or what the community runs."""
    return latest_version(session, key) if community_id is None else resolve(session, community_id, key)


def _require_deployed(session: Session, filename: str, tree: Any, keys: set[str], community_id: int | None) -> None:
    """Refuse a file whose call activities name processes that are not deployed, naming the first such activity."""
    missing = sorted(key for key in keys if _find(session, key, community_id) is None)
    if missing:
        ids = tree.xpath("//bpmn:callActivity[@calledElement=$key]/@id", namespaces={"bpmn": BPMN_NS}, key=missing[0])
        raise DefinitionError(
            f"call activities need processes that are not deployed: {', '.join(missing)}",
            file=filename, element_id=ids[0] if ids else None,
        )


def _require_known_roles(filename: str, tree: Any) -> None:
    """Refuse a lane that declares a role no member can have (a typo would leave its tasks to nobody).

    A lane without a ``role`` property stands for its name, unchecked, as before roles were declared."""
    for lane in lanes(tree.getroot()):
        if lane.declared and lane.role not in ROLES:
            raise DefinitionError(
                f"the lane {lane.name or lane.id!r} declares the role {lane.role!r}, which is not one of {', '.join(ROLES)}",
                file=filename, element_id=lane.id, line=lane.line,
            )


def _library(session: Session, keys: set[str], community_id: int | None) -> dict[str, bytes]:
    """Sources of the versions of the processes a file calls (and of what those call), as its owner runs them."""
    library: dict[str, bytes] = {}
    todo = set(keys)
    while todo:
        key = todo.pop()
        called = _find(session, key, community_id)
        if called is None:
            raise NotFound(f"no process with key {key!r} is deployed")
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
        if operation is not None and not operations.known(operation):
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
