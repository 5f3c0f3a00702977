"""The hash chain: each event commits to its own content and to the event before it.

An event's hash covers, in the spirit of NIST SP 1500-101 (election event logging): which
instance and sequence number, the time, the type, the disposition (success or failure), the
actor, the details (input, error, service results), the workflow state digest after it, the
fingerprints of the records it wrote, and the previous event's hash. Change, delete or reorder
any event and every hash after it stops matching.

Personal data is committed to, not hashed in the clear: the actor and the details enter the
hash as HMACs under the instance's secret salt. A public bundle carries those digests instead of
the values and still verifies; a full bundle carries the values and the salt, and the verifier
recomputes the digests. This module is pure (no database): the offline verifier uses it too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime, timezone
from typing import Any

from engine.bpmn.workflows import canonical_json

GENESIS = "0" * 64
"""The previous hash of an instance's first event."""
EVENT_FORMAT = "yishi-event/1"


def new_salt() -> str:
    return secrets.token_hex(32)


def salted(salt: str, label: str, value: Any) -> str:
    """Commit to a value without revealing it: without the salt, even a small value (a member id)
    cannot be found by trying every candidate."""
    message = f"{label}|{canonical_json(value)}".encode()
    return hmac.new(bytes.fromhex(salt), message, hashlib.sha256).hexdigest()


def timestamp(at: datetime | date) -> str:
    """One rendering of a moment (UTC, microseconds) whatever zone or backend it came from."""
    if isinstance(at, datetime):
        return at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    return at.isoformat()


def disposition(error: dict[str, Any] | None) -> str:
    return "failure" if error else "success"


def actor_digest(salt: str, seq: int, actor_id: int | None) -> str | None:
    """None for the engine itself (a timer, a message it sent itself): that is not personal."""
    return None if actor_id is None else salted(salt, f"actor|{seq}", actor_id)


def details_digest(salt: str, seq: int, input: Any, error: Any, services: Any) -> str:
    return salted(salt, f"details|{seq}", {"input": input, "error": error, "services": services})


def event_hash(
    *, instance_id: str, seq: int, type: str, at: str, disposition: str, actor: str | None, details: str,
    state_digest: str, records: list[dict[str, Any]], prev: str,
) -> str:
    """The hash of an event from its disclosed form (digests in place of personal data)."""
    document = {
        "format": EVENT_FORMAT, "instance": instance_id, "seq": seq, "type": type, "at": at,
        "disposition": disposition, "actor": actor, "details": details, "state_digest": state_digest,
        "records": records, "prev": prev,
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def hash_of(salt: str, event: dict[str, Any]) -> str:
    """The hash of an event given in full (actor id, input, error, services, time as a datetime or string)."""
    at = event["at"] if isinstance(event["at"], str) else timestamp(event["at"])
    return event_hash(
        instance_id=event["instance_id"], seq=event["seq"], type=event["type"], at=at,
        disposition=disposition(event["error"]), actor=actor_digest(salt, event["seq"], event["actor_id"]),
        details=details_digest(salt, event["seq"], event["input"], event["error"], event["services"]),
        state_digest=event["state_digest"], records=event["records"], prev=event["prev_hash"],
    )
