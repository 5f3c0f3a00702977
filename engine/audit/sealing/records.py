"""Domain records bound to the history by their fingerprints.

The history says "opinion 12 was answered"; the opinion's row says what the answer is. To catch
an edit of the row (or its deletion), the event that wrote a record carries the record's
fingerprint: a hash of every column, with the personal ones — any reference to a member, and the
free text only its author and the staff may read — committed to by salted digests, as in the
event chain. The latest binding of a record
must match the row as it is.

Ballots are deliberately not bound one by one: an event says who voted, and binding the ballot
to it would say what they voted. A vote's ballots are bound at its close, all at once, by the
bulletin board's Merkle root in the vote record (and the published result must recount from them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import inspect

from engine.audit.sealing.chain import salted, timestamp
from engine.bpmn.workflows import canonical_json

RECORD_FORMAT = "yishi-record/1"

Model = TypeVar("Model", bound=type)
CommunityScope = Callable[[Any, int], Any]
"""``scope(model, community_id)``: the SQL condition selecting a community's rows of a table that has no ``community_id``."""

KINDS: dict[str, type] = {}
"""The records an auditor can check against the history, by the name bundles give them (``@audited``)."""
KIND_OF: dict[type, str] = {}
PRIVATE_TEXT: dict[str, frozenset[str]] = {}
"""Free text the product shows only to its author and the staff (an opinion, a complaint, a note
on a household's service): personal like a member reference, so a public bundle withholds it."""
COMMUNITY_SCOPE: dict[str, CommunityScope] = {}


def audited(kind: str, *, private: Iterable[str] = (), community_scope: CommunityScope | None = None) -> Callable[[Model], Model]:
    """Declare a domain's model as an audited record, where the model is defined: the name bundles give it, its
    ``private`` free-text columns (every column that references a member is personal anyway), and — for a table
    without ``community_id`` — how to find a community's rows. Every other column is fingerprinted in the open."""
    def register(model: Model) -> Model:
        if kind in KINDS and KINDS[kind] is not model:
            raise ValueError(f"record kind {kind!r} is already {KINDS[kind].__name__}")
        KINDS[kind], KIND_OF[model] = model, kind
        if private:
            PRIVATE_TEXT[kind] = frozenset(private)
        if community_scope is not None:
            COMMUNITY_SCOPE[kind] = community_scope
        return model
    return register


@dataclass(frozen=True)
class RecordDump:
    """A record as a bundle carries it: its public columns and its personal ones, apart."""

    kind: str
    id: str
    public: dict[str, Any]
    personal: dict[str, Any]


def is_audited(row: object) -> bool:
    return type(row) in KIND_OF


def dump(row: Any) -> RecordDump:
    kind = KIND_OF[type(row)]
    public: dict[str, Any] = {}
    personal: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = _jsonable(getattr(row, column.key), column)
        if value is None and column.info.get("audit_omit_when_null"):
            continue  # a column added after records were first bound: old bindings never held it
        private = _names_a_person(column) or column.key in PRIVATE_TEXT.get(kind, ())
        (personal if private else public)[column.key] = value
    return RecordDump(kind, record_id(row), public, personal)


def record_id(row: Any) -> str:
    return "/".join(str(part) for part in inspect(row).identity or ())


def personal_digests(salt: str, kind: str, id: str, personal: dict[str, Any]) -> dict[str, str]:
    return {field: salted(salt, f"{kind}|{id}|{field}", value) for field, value in personal.items()}


def fingerprint(kind: str, id: str, public: dict[str, Any], digests: dict[str, str]) -> str:
    """The hash a binding carries; computable from a public bundle (digests) or a full one (values and salt)."""
    document = {"format": RECORD_FORMAT, "kind": kind, "id": id, "public": public, "personal": digests}
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def binding(salt: str, record: RecordDump) -> dict[str, Any]:
    digests = personal_digests(salt, record.kind, record.id, record.personal)
    return {"kind": record.kind, "id": record.id, "fingerprint": fingerprint(record.kind, record.id, record.public, digests)}


def deletion(row: Any) -> dict[str, Any]:
    """A record the command deleted: later, its row must be absent."""
    return {"kind": KIND_OF[type(row)], "id": record_id(row), "fingerprint": None}


def _names_a_person(column: Any) -> bool:
    return any(fk.column.table.name == "members" for fk in column.foreign_keys)


def _jsonable(value: Any, column: Any) -> Any:
    """The column's value as it reads back from either backend (a float column gives 5.0 for 5)."""
    if value is None:
        return None
    python_type = _python_type(column)
    if python_type is float:
        return float(value)
    if hasattr(value, "isoformat"):
        return timestamp(value)
    return value


def _python_type(column: Any) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None
