"""The event types a webhook may hear are those the engine records: the engine's source is scanned for every place
an event is recorded, so a new event type is not forgotten (nor a removed one kept); and a summary sends no words."""

from __future__ import annotations

import re
from pathlib import Path

from engine.kernel.stepping import WORKFLOW_ACTIONS
from engine.webhooks.events import BALLOT_TYPES, EVENT_TYPES, summary

ENGINE = Path(__file__).resolve().parent.parent / "engine"
RECORDED = re.compile(
    r"\b(?:record|_record|_store|advance|_chain)\(uow,(?:[^\"()\n]|\([^()\n]*\))*?\"([a-z_]+)\"(?=,)"
    r"|events\.append\(\(\"([a-z_]+)\"")


def recorded_types() -> set[str]:
    found: set[str] = set()
    for path in ENGINE.rglob("*.py"):
        if "webhooks" in path.parts:
            continue
        for match in RECORDED.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) or match.group(2))
    return found


def test_every_event_type_the_engine_records_may_be_heard_and_no_other() -> None:
    found = recorded_types() | set(WORKFLOW_ACTIONS)
    assert len(found) > 25
    assert found == EVENT_TYPES


def test_a_summary_keeps_identifiers_and_enumerations_and_drops_words_and_ballots() -> None:
    assert summary("opinion_answered", {"opinion_id": 3, "verdict": "adopted", "reason": "秘密的理由"}, None, None) == {
        "opinion_id": 3, "verdict": "adopted"}
    assert summary("task_completed", {"task_id": "t1", "data": {"name": "x"}}, [{"operation": "vote.close",
                   "result": {"tally": 3}}], None) == {"task_id": "t1", "operations": ["vote.close"], "failed": False}
    for kind in BALLOT_TYPES:
        assert summary(kind, {"vote_id": "v", "choice": "yes", "voter_id": 7, "channel": "paper"}, None, None) == {
            "vote_id": "v"}
    assert summary("corrective_action_assigned", {"action_id": 1, "owner_id": 4, "description": "fix the lift",
                                                  "due_date": "2026-04-01"}, None, None) == {
        "action_id": 1, "owner_id": 4, "due_date": "2026-04-01"}
