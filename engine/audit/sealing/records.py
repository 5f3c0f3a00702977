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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect

from engine.kernel import models as kernel_models
from engine.consultation import models as consultation_models
from engine.voting import models as voting_models
from engine.conventions import models as conventions_models
from engine.pdca import models as pdca_models
from engine.audit.sealing.chain import salted, timestamp
from engine.bpmn.workflows import canonical_json

RECORD_FORMAT = "yishi-record/1"

KINDS: dict[str, type[kernel_models.Base]] = {
    "opinion": consultation_models.Opinion,
    "vote": voting_models.Vote,
    "convention": conventions_models.Convention,
    "convention_version": conventions_models.ConventionVersion,
    "drafting_round": conventions_models.DraftingRound,
    "amendment": conventions_models.Amendment,
    "article_comment": conventions_models.ArticleComment,
    "pdca_series": pdca_models.ServiceSeries,
    "pdca_cycle": pdca_models.ServiceCycle,
    "service_record": pdca_models.ServiceRecord,
    "measurement": pdca_models.Measurement,
    "rating": pdca_models.ServiceRating,
    "service_request": pdca_models.ServiceRequest,
    "indicator_result": pdca_models.IndicatorResult,
    "corrective_action": pdca_models.CorrectiveAction,
}
"""The records an auditor can check against the history, by the name bundles give them."""
KIND_OF: dict[type[kernel_models.Base], str] = {model: kind for kind, model in KINDS.items()}

PRIVATE_TEXT: dict[str, frozenset[str]] = {
    "opinion": frozenset({"text", "answer_reason"}),
    "rating": frozenset({"comment"}),
    "service_request": frozenset({"text", "answer"}),
    "service_record": frozenset({"subject", "description"}),
    "measurement": frozenset({"subject", "note"}),
}
"""Free text the product shows only to its author and the staff (an opinion, a complaint, a note
on a household's service): personal like a member reference, so a public bundle withholds it."""


@dataclass(frozen=True)
class RecordDump:
    """A record as a bundle carries it: its public columns and its personal ones, apart."""

    kind: str
    id: str
    public: dict[str, Any]
    personal: dict[str, Any]


def is_audited(row: object) -> bool:
    return type(row) in KIND_OF


def dump(row: kernel_models.Base) -> RecordDump:
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


def record_id(row: kernel_models.Base) -> str:
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


def deletion(row: kernel_models.Base) -> dict[str, Any]:
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
