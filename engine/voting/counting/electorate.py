"""The electorate of one vote: how many may vote, the weight they hold, and what to call them.

A weighted electorate (owners and their floor area) is what makes dual majorities possible; an
unweighted one weighs every voter 1, so the same counting code serves both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from engine.voting.counting.amounts import Amount, parse_weight
from engine.voting.counting.refusal import refuse

KEYS = {"heads", "weight", "heads_label", "weight_unit"}


@dataclass(frozen=True)
class Electorate:
    eligible: Amount
    weighted: bool
    heads_label: str
    weight_unit: str

    def render(self) -> dict[str, Any]:
        return {**self.eligible.render(), "weighted": self.weighted,
                "heads_label": self.heads_label, "weight_unit": self.weight_unit}


def read_electorate(data: Any) -> Electorate:
    """Check the electorate summary; without a weight, each voter weighs 1."""
    if not isinstance(data, dict):
        refuse("electorate", "an object with heads and optionally weight")
    if unknown := sorted(set(data) - KEYS):
        refuse("electorate", f"unknown keys: {', '.join(unknown)}")
    heads = data.get("heads")
    if type(heads) is not int or heads < 1:
        refuse("electorate.heads", "a positive integer")
    weighted = "weight" in data
    try:
        weight = parse_weight(data["weight"]) if weighted else Fraction(heads)
    except ValueError as exc:
        refuse("electorate.weight", str(exc))
    return Electorate(Amount(heads, weight), weighted, _label(data, "heads_label", "voters"),
                      _label(data, "weight_unit", "weight"))


def _label(data: dict[str, Any], key: str, default: str) -> str:
    label = data.get(key, default)
    if not isinstance(label, str) or not label.strip():
        refuse(f"electorate.{key}", "a non-empty text")
    return label



ROLL_FORMAT = "yishi-electorate/1"


def roll_digest(entries: list[dict[str, Any]]) -> str:
    """The frozen electorate (each voter key, label and weight), as one hash the vote's record carries.

    The vote's record is bound to the history when the vote opens, so an entry added, dropped or
    reweighted afterwards no longer gives this digest: ``verify`` recomputes it from the rows.
    """
    rows = sorted([e["voter_key"], e["label"], e["weight"]] for e in entries)
    document = json.dumps({"format": ROLL_FORMAT, "entries": rows}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(document.encode()).hexdigest()
