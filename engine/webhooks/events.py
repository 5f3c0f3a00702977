"""Which event types a webhook may hear, and what a delivery says of an event (never a ballot's content).

``EVENT_TYPES`` are the types the engine records in instances' histories (``tests/test_webhooks_events.py`` scans
the engine's source so that a new one is not forgotten). There is no ``vote_closed`` event: a vote opens and closes
in a workflow step's service task (``vote.open``, ``vote.close``), so the step's event (``timers_fired`` at the
deadline, ``message_delivered`` when everyone voted, ``task_completed`` for an early close) names the operations it
ran in ``operations``.

The summary is an allow-list, not a redaction: of an event's input only identifiers and a few enumerated values are
sent — never free text (opinions, reasons, reports), task data, variables, service results, or who acted. For the
ballot kinds it is the vote's id alone: no choice (even of a public vote), no receipt, no voter.
"""

from __future__ import annotations

from typing import Any

WORKFLOW_TYPES = ("instance_started", "task_completed", "timers_fired", "message_delivered", "instance_retried",
                  "timers_failed")
BALLOT_TYPES = ("ballot_cast", "ballot_changed", "paper_ballot_entered", "paper_ballot_corrected", "credential_registered",
                "ballot_audited")
"""Told with the vote's id alone (a voter's credential too: who registers one is who is about to vote; an audited
ballot neither: not its tracker)."""
CEREMONY_TYPES = ("trustee_dealt", "trustee_shares_sent", "trustee_complained", "trustee_key_published", "election_key_made",
                  "trustee_decrypted", "vote_decrypted", "complaint_answered", "trustee_disqualified", "ceremony_restarted",
                  "ceremony_failed")
"""An encrypted vote's key ceremony and decryption (``engine/voting/ceremony.py``): public steps, told by their ids."""
DOMAIN_TYPES = (
    "opinion_submitted", "opinion_edited", "opinion_withdrawn", "opinion_answered",
    "amendment_proposed", "amendment_supported", "amendment_withdrawn", "amendment_decided", "comment_added",
    "measurements_added", "service_records_added", "service_rated", "service_request_filed", "service_request_answered",
    "corrective_action_assigned", "corrective_action_reported", "corrective_action_verified",
    "standard_tightened", "series_end_requested",
)
EVENT_TYPES: frozenset[str] = frozenset(WORKFLOW_TYPES + BALLOT_TYPES + CEREMONY_TYPES + DOMAIN_TYPES)

SAFE_VALUES = frozenset({
    "round", "kind", "version", "outcome", "verdict", "count", "format", "failures", "revision", "message", "effective",
    "indicator", "due_date", "definition",
})
"""Input keys whose values are enumerations, numbers or names of things, never someone's words."""
PRIVATE_IDS = frozenset({"voter_id"})


def summary(event_type: str, input: dict[str, Any], services: list[Any] | None, error: Any) -> dict[str, Any]:
    """What a delivery says of an event's input: identifiers and enumerated values only; for ballots, the vote."""
    if event_type in BALLOT_TYPES:
        return {"vote_id": input.get("vote_id")}
    shown: dict[str, Any] = {}
    for key, value in input.items():
        if not isinstance(value, (str, int, float, bool)) or value is None:
            continue
        if isinstance(value, str) and len(value) > 200:
            continue
        if key in SAFE_VALUES or (key.endswith("_id") and key not in PRIVATE_IDS):
            shown[key] = value
    if event_type in WORKFLOW_TYPES:
        shown["operations"] = [call.get("operation") for call in services or () if isinstance(call, dict)]
        shown["failed"] = error is not None
    return shown
