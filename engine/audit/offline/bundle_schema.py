"""The shape of an audit bundle, as a JSON Schema the verifier checks before anything else.

A bundle comes from outside (a file, an upload): before the checks index into it, its structure
must be what they read — or the auditor gets a ``KeyError`` instead of an answer. This schema
covers every field a check reads, in both forms (a full bundle's values and salts, a public
bundle's digests), and refuses a malformed bundle with ``InvalidInput`` naming each field at fault.
Whether the values are *true* is the checks' business, not the schema's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from engine.audit.sealing import chain
from engine.kernel.errors import InvalidInput

BUNDLE_FORMAT = "yishi-audit-bundle/1"

MAX_ERRORS = 20
"""A badly broken bundle fails on every event: the first few fields at fault say enough."""
MAX_MESSAGE = 200
"""jsonschema quotes the value at fault, which may be a whole history."""

_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_OPTIONAL_HASH = {"anyOf": [_HASH, {"type": "null"}]}
_SEQ = {"type": "integer", "minimum": 1}
_MOMENT = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2}|Z)$"}
"""An ISO 8601 moment with its offset, as ``chain.timestamp`` writes it (replay reads it back)."""
_PEM = {"type": "string", "pattern": "^-----BEGIN PUBLIC KEY-----"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with these fields (others allowed: a newer exporter may add some)."""
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


_BINDING = _object({"kind": {"type": "string"}, "id": {"type": "string"}, "fingerprint": _OPTIONAL_HASH})

_EVENT_CORE = {
    "seq": _SEQ, "type": {"type": "string"}, "at": _MOMENT, "disposition": {"enum": ["success", "failure"]},
    "state_digest": {"type": "string"}, "records": {"type": "array", "items": _BINDING}, "prev_hash": _HASH, "hash": _HASH,
}
_DETAILS = {
    False: {"actor_id": {"type": ["integer", "null"]}, "input": {"type": "object"}, "error": {"type": ["object", "null"]},
            "services": {"type": ["array", "null"]}},
    True: {"actor_digest": _OPTIONAL_HASH, "details_digest": _HASH},
}
"""What an event discloses of its actor and details: a full bundle the values, a public one their digests."""
_SALT = {False: {"salt": _HASH}, True: {}}


def _instance(public: bool) -> dict[str, Any]:
    event = _object({**_EVENT_CORE, **_DETAILS[public]})
    return _object({
        "id": {"type": "string"}, "definition_id": {"type": "integer"}, "timezone": {"type": "string"},
        "state_digest": {"type": "string"}, "last_seq": {"type": "integer", "minimum": 0}, "head_hash": _HASH,
        "events": {"type": "array", "items": event}, **_SALT[public],
    })


_DEFINITION = _object(
    {"id": {"type": "integer"}, "key": {"type": "string"}, "version": {"type": "integer"},
     "sha256": _HASH, "source": {"type": "string"}},
    {"spec": {"type": "string"}, "owner": {"anyOf": [{"const": "platform"}, {"type": "integer"}]},
     "deployed_by": {"type": ["integer", "null"]}, "deployed_at": _MOMENT},
)
"""``owner`` (the community's id, or "platform"), ``deployed_by`` and ``deployed_at``: bundles made before
definitions had owners lack them."""

_RECORD = _object(
    {"kind": {"type": "string"}, "id": {"type": "string"}, "public": {"type": "object"}},
    {"personal": {"type": "object"}, "personal_digests": {"type": "object", "additionalProperties": _HASH}},
)

_VOTE_RECORD = {
    "if": _object({"kind": {"const": "vote"}}),
    "then": _object({"public": _object({
        "id": {"type": "string"}, "instance_id": {"type": "string"}, "status": {"type": "string"}, "method": {"type": "string"}, "rule": {"type": "object"},
        "options": {"type": "array", "items": _object({"id": {"type": "string"}})}, "eligible_heads": {"type": "integer"},
        "basis": {"type": "string"}, "weighted": {"type": "boolean"}, "eligible_weight": {"type": ["string", "null"]},
        "board_root": _OPTIONAL_HASH, "result": {"type": ["object", "null"]}})}),
}
"""A vote's record is read by the recount as well: its root and result must be where it looks."""

_BOARD = _object({"vote_id": {"type": "string"}, "ballots": {"type": "array", "items": _object({"fingerprint": {"type": "string"}})}})

_ENCRYPTED_BOARD = _object({"vote_id": {"type": "string"}, "board": _object({
    "election": {"type": ["object", "null"]},
    "ballots": {"type": "array", "items": _object({"tracker": {"type": "string"}, "replaced": {"type": "boolean"}})}})})
"""An encrypted vote's board as ``GET /api/votes/{id}/encrypted-board`` publishes it: what the bundle's checks read
of it before ``encrypted_board.verify``, which reports what else it cannot read, naming the vote."""

_PARTICIPATION = _object({"voter_key": {"type": "string"}, "member_id": {"type": "integer"}, "channel": {"type": "string"},
                          "teller_id": {"type": ["integer", "null"]}, "cast_at": _MOMENT, "changes": {"type": "integer"}})
_BALLOT_BOX = _object(
    {"vote_id": {"type": "string"}, "instance_id": {"type": "string"}, "turnout": {"type": "integer"}, "changes": {"type": "integer"},
     "ballots": {"type": "integer"}, "replaced": {"type": "array", "items": _HASH}},
    {"participations": {"type": "array", "items": _PARTICIPATION},
     "electorate": {"type": "array", "items": _object({"voter_key": {"type": "string"}, "label": {"type": "string"},
                                                       "weight": {"type": "string"}})}},
)

_HEAD_PROOF = _object({
    "head": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}, _SEQ, _HASH],
             "minItems": 4, "maxItems": 4},
    "index": {"type": "integer", "minimum": 0},
    "path": {"type": "array", "items": _HASH},
})

_SIGNED = {"id": {"type": "integer"}, "at": _MOMENT, "reason": {"type": "string"}, "root": _HASH, "previous": _HASH,
           "key_id": {"type": "string"}, "signature": {"type": "string"}, "heads": {"type": "array", "items": _HEAD_PROOF}}

_COMMUNITY_PROOF = _object({
    "id": {"type": "integer", "minimum": 0}, "size": {"type": "integer", "minimum": 0}, "root": _HASH, "nonce": _HASH,
    "path": {"type": "array", "items": _HASH},
})
"""Format 2: the community's subtree (its root and size), its leaf's nonce, and the path to the signed root."""

_CHECKPOINT = {
    "if": _object({"format": {"const": "yishi-checkpoint/2"}}),
    "then": _object({**_SIGNED, "format": {"const": "yishi-checkpoint/2"},
                     "community": {"anyOf": [_COMMUNITY_PROOF, {"type": "null"}]}}),
    "else": _object({**_SIGNED, "size": {"type": "integer", "minimum": 0}}, {"format": {"const": "yishi-checkpoint/1"}}),
}
"""Format 1 signs the size of one tree over every community's heads; format 2, a root over the
communities' subtrees, and shows the caller's own. A checkpoint without a format is of format 1."""


def _bundle(public: bool) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Yishi audit bundle ({'public' if public else 'full'})",
        **_object(
            {"format": {"type": "string"}, "definitions": {"type": "array", "items": _DEFINITION},
             "instances": {"type": "array", "items": _instance(public)},
             "records": {"type": "array", "items": {"allOf": [_RECORD, _VOTE_RECORD]}}},
            {"public": {"type": "boolean"}, "boards": {"type": "array", "items": _BOARD},
             "encrypted_boards": {"type": "array", "items": _ENCRYPTED_BOARD},
             "ballot_boxes": {"type": "array", "items": _BALLOT_BOX},
             "checkpoints": {"type": "array", "items": _CHECKPOINT},
             "public_keys": {"type": "object", "additionalProperties": _PEM}},
        ),
    }


SCHEMAS = {public: _bundle(public) for public in (False, True)}
"""The full and the public form, by the bundle's ``public`` flag (one schema each: validating a
hundred thousand events against an either-or would cost more than checking their hashes)."""
_VALIDATORS = {public: Draft202012Validator(schema) for public, schema in SCHEMAS.items()}


def check(bundle: Any) -> None:
    """Refuse a bundle the checks could not read, naming each field at fault (``instances.0.events.3.hash``)."""
    public = isinstance(bundle, dict) and bundle.get("public") is True
    errors = sorted(_VALIDATORS[public].iter_errors(bundle), key=lambda e: list(map(str, e.absolute_path)))
    unique = {(f["field"], f["message"]): f for e in errors for f in _fields(e)}  # each missing field is one error per sibling
    fields = (list(unique.values()) or _unreadable_specs(bundle))[:MAX_ERRORS]
    if not fields:
        return
    raise InvalidInput(f"not a well-formed audit bundle: {fields[0]['field']}: {fields[0]['message']}", errors=fields)


def _fields(error: ValidationError) -> list[dict[str, str]]:
    """The fields one schema error is about: a missing field is named itself, not by its parent."""
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [{"field": ".".join([*path, name]), "message": "required"} for name in missing]
    return [{"field": ".".join(path) or "(bundle)", "message": _short(error.message)}]


def _unreadable_specs(bundle: dict[str, Any]) -> list[dict[str, str]]:
    """A definition's parsed spec travels as a JSON string, which replay parses: beyond what a schema says."""
    out = []
    for i, definition in enumerate(bundle["definitions"]):
        try:
            json.loads(definition.get("spec", "{}"))
        except ValueError as exc:
            out.append({"field": f"definitions.{i}.spec", "message": f"not a JSON document: {exc}"})
    return out


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 1] + "…"


def latest_bindings(histories: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], tuple[str, int, dict[str, Any]]]:
    """(kind, id) → the instance, event seq and binding of the last event that wrote the record.

    A record is written by one instance's events, except a convention, which each drafting round
    (an instance of its own) writes in turn: the latest is the one with the latest time, and
    within one instance the highest sequence number.
    """
    written = [(instance_id, event) for instance_id, events in histories.items() for event in events if event["records"]]
    written.sort(key=lambda pair: (_moment(pair[1]["at"]), pair[1]["seq"]))
    return {(b["kind"], b["id"]): (instance_id, event["seq"], b) for instance_id, event in written for b in event["records"]}


def _moment(at: datetime | str) -> str:
    """An event's time as bundles render it (and compare it: the rendering sorts like the time)."""
    return at if isinstance(at, str) else chain.timestamp(at)
