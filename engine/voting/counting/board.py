"""The bulletin board: every counted ballot (choice, weight, receipt fingerprint — no identity),
a Merkle root over them, and everything needed to recount the published result without us.

A voter checks that their ballot was counted as cast by finding their receipt's fingerprint on
the board; anyone recounts by tallying the board's ballots again (``yishi tally --verify``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.voting.counting.tally import tally

BOARD_FORMAT = "yishi-bulletin-board/1"


def fingerprint(vote_id: str, receipt: str) -> str:
    """What the board shows of a receipt: the receipt itself stays with the voter."""
    return hashlib.sha256(f"yishi-receipt|{vote_id}|{receipt}".encode()).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(b"\x00" + _canonical(entry)).hexdigest()


def leaf_of(canonical_entry: bytes) -> bytes:
    """The leaf of an entry whose canonical JSON the caller already has (an encrypted board's verifier builds it from
    the ballot's, which it needs for the tracker anyway)."""
    return hashlib.sha256(b"\x00" + canonical_entry).digest()


def leaf_digest(entry: dict[str, Any]) -> bytes:
    return leaf_of(_canonical(entry))


def merkle_root(entries: list[dict[str, Any]]) -> str:
    """Root of a binary Merkle tree over the entries in board order (leaves and nodes domain-separated)."""
    return root_of_leaves([leaf_digest(entry) for entry in entries])


def root_of_leaves(leaves: list[bytes]) -> str:
    """The root over the leaves' digests in board order: leaves hashed elsewhere (in a verifier's processes) are
    combined here."""
    level = list(leaves)
    if not level:
        return hashlib.sha256(b"\x02empty").hexdigest()
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2])]
    return level[0].hex()


def board_entries(ballots: list[dict[str, Any]], weighted: bool) -> list[dict[str, Any]]:
    """Board order is fingerprint order: it says nothing about when or by whom a ballot was cast.

    Weights are listed only in weighted votes (owners' areas), where the recount needs them.
    """
    entries = ({"fingerprint": b["fingerprint"], "choice": b["choice"], **({"weight": b["weight"]} if weighted else {})}
               for b in ballots)
    return sorted(entries, key=lambda entry: entry["fingerprint"])


def document(vote: dict[str, Any], electorate: dict[str, Any], entries: list[dict[str, Any]], result: dict[str, Any]) -> dict[str, Any]:
    return {"format": BOARD_FORMAT, "vote": vote, "electorate": electorate, "ballots": entries,
            "root": merkle_root(entries), "result": result}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    problems: list[str]
    root: str
    recount: dict[str, Any] | None


def verify(board: dict[str, Any]) -> Verdict:
    """Recompute the root and recount the ballots; both must equal what the board publishes."""
    problems: list[str] = []
    if board.get("format") != BOARD_FORMAT:
        problems.append(f"not a bulletin board of format {BOARD_FORMAT}")
        return Verdict(False, problems, "", None)
    entries = board.get("ballots", [])
    root = merkle_root(entries)
    if root != board.get("root"):
        problems.append(f"the root over the listed ballots is {root}, the board says {board.get('root')}")
    if [e["fingerprint"] for e in entries] != sorted(e["fingerprint"] for e in entries):
        problems.append("the ballots are not in fingerprint order")
    recount = tally([{k: v for k, v in e.items() if k != "fingerprint"} for e in entries], board["vote"], board["electorate"])
    if recount != board.get("result"):
        differing = sorted(k for k in set(recount) | set(board.get("result") or {}) if recount.get(k) != (board.get("result") or {}).get(k))
        problems.append(f"the recount differs from the published result in: {', '.join(differing)}")
    return Verdict(not problems, problems, root, recount)


def tally_config(vote: Any) -> dict[str, Any]:
    """How a vote (its row, or its record in a bundle) is counted: method, seed, rule, options."""
    config: dict[str, Any] = {"method": vote.method, "seed": vote.id, "rule": vote.rule}
    if vote.method != "yes_no_abstain":
        config["options"] = [option["id"] for option in vote.options]
    return config


def electorate_summary(vote: Any) -> dict[str, Any]:
    """What the count needs of a vote's electorate: its heads (and weight, when weighted)."""
    summary = {"heads": vote.eligible_heads, "heads_label": vote.basis}
    if vote.weighted:
        summary |= {"weight": vote.eligible_weight, "weight_unit": "m²"}
    return summary
