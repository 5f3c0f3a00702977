"""The recorded histories (tests/histories/*.json) still replay with the engine as it is now.

Like Temporal's replayer: each file is a full audit bundle of a history recorded earlier, and
``verify`` re-applies every workflow event to the stored definition with the current code and
compares every digest. A change to the engine or to SpiffWorkflow that would change a stored
outcome fails here. Time travel on the same bundles must show the open tasks the history had.
These tests read files only: no database, so they run once, not per backend.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from engine.audit.sealing import chain
from engine.audit.time_travel import Snapshot, state_as_of
from engine.audit.offline.verify import verify

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = Path(__file__).resolve().parent / "histories"
RECORDED = sorted(HISTORIES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((HISTORIES / f"{name}.json").read_text(encoding="utf-8"))


def instance_of(bundle: dict[str, Any]) -> dict[str, Any]:
    (instance,) = bundle["instances"]
    return instance


def as_of(bundle: dict[str, Any], seq: int) -> Snapshot:
    """Time travel offline, on the bundle's own definition and events (as ``verify`` replays them)."""
    instance, (definition,) = instance_of(bundle), bundle["definitions"]
    events = [SimpleNamespace(**{**e, "at": datetime.fromisoformat(e["at"])}) for e in instance["events"]]
    return state_as_of(spec_document=json.loads(definition["spec"]), source=definition["source"],
                       instance_id=instance["id"], timezone=instance["timezone"], events=events, seq=seq)


def seq_of(bundle: dict[str, Any], event_type: str, nth: int = 0) -> int:
    """The seq of the ``nth`` event of a type (negative counts from the end)."""
    return [e["seq"] for e in instance_of(bundle)["events"] if e["type"] == event_type][nth]


def elements(snapshot: Snapshot) -> list[str]:
    return [t.element_id for t in snapshot.open_tasks]


# --- every digest still replays ------------------------------------------------------------------


def test_every_bundled_process_has_recorded_histories() -> None:
    """A process shipped without a recorded history would be a process whose upgrades nothing checks."""
    bundled = {path.stem for path in (ROOT / "processes").glob("*.bpmn")}
    recorded = {d["key"] for path in RECORDED for d in json.loads(path.read_text(encoding="utf-8"))["definitions"]}
    assert bundled <= recorded, f"no recorded history of {sorted(bundled - recorded)}: run python -m tests.histories.record"


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.stem)
def test_a_recorded_history_still_verifies_and_replays_to_every_digest(path: Path) -> None:
    verdict = verify(json.loads(path.read_text(encoding="utf-8")))
    assert verdict.ok, [asdict(problem) for problem in verdict.problems]
    assert verdict.counts["replayed events"] == verdict.counts["events"] > 0


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.stem)
def test_time_travel_to_the_last_event_is_the_stored_instance(path: Path) -> None:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    instance = instance_of(bundle)
    end = as_of(bundle, instance["last_seq"])
    assert (end.status, end.digest) == (instance["status"], instance["state_digest"])
    assert end.history_matches


def test_a_bundle_whose_keys_were_sorted_still_replays() -> None:
    """Flask's jsonify (sort_keys by default), ``jq -S`` or a JSONB column reorder keys: the hashes still hold, so
    replay must too (the engine applies inputs and service results with their keys sorted)."""
    assert verify(json.loads(json.dumps(load("consultation"), sort_keys=True))).ok


# --- time travel at chosen points ----------------------------------------------------------------


OPEN_TASKS = {
    ("consultation", "opinion_withdrawn", 0): ["opinion_period"],
    ("consultation", "timers_fired", 0): ["record_deliberation"],  # the opinion deadline interrupted the period
    ("consultation", "opinion_answered", -1): ["answer_opinions"],
    ("vote", "ballot_changed", -1): ["voting"],
    ("vote", "timers_fired", 0): [],
    ("vote_schulze", "ballot_cast", -2): ["voting"],
    ("vote_schulze", "message_delivered", 0): [],  # all_voted closed it
    ("convention", "comment_added", 0): ["amendment_period"],
    ("convention", "amendment_decided", -1): ["review_amendments"],
    ("convention", "timers_fired", 0): ["configure_vote"],  # the public notice ended
    ("convention", "ballot_cast", -1): ["voting"],  # inside the vote the convention calls
    ("pdca", "corrective_action_verified", -1): ["verify_actions"],
    ("pdca", "timers_fired", 0): ["rating_window"],  # cycle 2's service period ended by its timer
    ("pdca", "timers_fired", 1): ["service_period"],  # its rating window too: cycle 3 began
    ("retried", "instance_retried", 0): ["count"],  # a bare retry fails again
    ("retried", "instance_retried", 1): ["after"],
}
"""(history, event type, which one) → the tasks open right after that event."""


@pytest.mark.parametrize("history, event_type, nth", OPEN_TASKS, ids=str)
def test_time_travel_shows_the_open_tasks_of_a_chosen_moment(history: str, event_type: str, nth: int) -> None:
    bundle = load(history)
    snapshot = as_of(bundle, seq_of(bundle, event_type, nth))
    assert elements(snapshot) == OPEN_TASKS[history, event_type, nth]
    assert snapshot.digest_matches and snapshot.history_matches


def test_the_consultation_before_and_at_its_opinion_deadline() -> None:
    bundle = load("consultation")
    fired = seq_of(bundle, "timers_fired")
    before, at = as_of(bundle, fired - 1), as_of(bundle, fired)
    assert [(t.element_id, t.due_at.isoformat()) for t in before.pending_timers] == [
        ("opinion_deadline_reached", "2026-03-09T10:00:00+00:00")]  # 18:00 in Asia/Shanghai
    assert [(t.element_id, t.lane, t.state) for t in at.open_tasks] == [("record_deliberation", "committee", "READY")]
    assert (at.pending_timers, at.data["phase"]) == ([], "deliberation")
    assert "opinion_period" not in at.completed_elements and at.completed_elements["opinion_deadline_reached"] == 1


def test_the_vote_result_appears_at_its_close_as_its_record_publishes_it() -> None:
    bundle = load("vote")
    (vote,) = [r["public"] for r in bundle["records"] if r["kind"] == "vote"]
    assert "vote_result" not in as_of(bundle, seq_of(bundle, "ballot_cast", -1)).data
    closed = as_of(bundle, seq_of(bundle, "timers_fired"))
    assert closed.data["vote_result"]["outcome"] == vote["result"]["outcome"] == "passed"
    assert closed.data["vote_result"]["board_root"] == vote["board_root"]


def test_quality_cycles_are_counted_across_continue_as_new() -> None:
    """Three cycles, each run cut back to one cycle by continue-as-new; the counts hold all three."""
    bundle = load("pdca")
    cycle_2_closed = as_of(bundle, seq_of(bundle, "timers_fired", 1))
    assert cycle_2_closed.data["cycle"]["number"] == 3
    assert cycle_2_closed.completed_elements["close_cycle"] == 2
    done = as_of(bundle, instance_of(bundle)["last_seq"]).completed_elements
    assert done["next_cycle"] == done["plan_cycle"] == done["close_cycle"] == done["check_indicators"] == 3
    assert done["define_standard"] == done["act_fork"] == done["verify_actions"] == 1  # only cycle 1 missed
    assert done["cycle_ended"] == done["rating_window_ended"] == 1  # cycle 2 closed by its timers
    assert done["series_ended"] == 1


def test_the_failed_instance_as_of_its_failure_and_its_retries() -> None:
    bundle = load("retried")
    failed = as_of(bundle, seq_of(bundle, "task_completed"))
    assert failed.status == "error" and [(t.element_id, t.state) for t in failed.open_tasks] == [("count", "ERROR")]
    assert failed.open_tasks[0].error
    corrected = as_of(bundle, seq_of(bundle, "instance_retried", 1))
    assert (corrected.status, corrected.data["total"]) == ("running", 3)


# --- a history that no longer replays is caught ----------------------------------------------------


def _forge_deadline(event: dict[str, Any]) -> None:
    event["input"]["data"]["opinion_deadline"] = "2026-03-10T18:00"


def _forge_outcome(event: dict[str, Any]) -> None:
    (close,) = event["services"]
    close["result"]["outcome"] = "rejected"


FORGERIES: dict[str, tuple[str, str, Callable[[dict[str, Any]], None]]] = {
    "an input": ("consultation", "task_completed", _forge_deadline),
    "a service result": ("vote", "timers_fired", _forge_outcome),
}


@pytest.mark.parametrize("history, event_type, forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_rewritten_history_with_recomputed_hashes_is_caught_by_replay_alone(
    history: str, event_type: str, forge: Callable[[dict[str, Any]], None]
) -> None:
    """The forger rewrites the event and its chain, and (holding the key, say) the checkpoints vanish:
    every hash holds, and only re-applying the commands shows the recorded digest is not what they give."""
    bundle = copy.deepcopy(load(history))
    instance = instance_of(bundle)
    seq = seq_of(bundle, event_type)
    forge(instance["events"][seq - 1])
    _rechain(instance)
    bundle["checkpoints"] = []
    verdict = verify(bundle)
    assert [(p.check, p.seq) for p in verdict.problems] == [("replay", seq)], verdict.problems
    assert verify(bundle, replay=False).ok  # the chain and the records alone cannot tell


def _rechain(instance: dict[str, Any]) -> None:
    prev = chain.GENESIS
    for event in instance["events"]:
        event["prev_hash"] = prev
        event["hash"] = prev = chain.hash_of(instance["salt"], {**event, "instance_id": instance["id"]})
    instance["head_hash"] = prev
