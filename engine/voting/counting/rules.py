"""Decision rules: the quorum a vote needs, the threshold that carries it, and how ties are settled.

A rule is data chosen per vote — a preset name, or an object::

    {"preset": "civil_code_278",            # optional; the other keys override the preset's
     "quorum": {"share": "2/3", "strict": false, "basis": "both", "abstentions_count": true},
     "threshold": {"kind": "simple_majority", "basis": "both", "abstentions_in_base": true},
     "ties": "lot",                          # elections only: "lot" or "unresolved"
     "rank_by": "heads"}                     # plurality and approval: "heads" or "weight"

``basis`` is ``heads``, ``weight`` or ``both`` (a dual majority: both must pass). Threshold kinds:
``simple_majority`` (> 1/2 of the base), ``majority_of_eligible`` (> 1/2 of the whole electorate),
``two_thirds`` (>= 2/3), ``three_quarters`` (>= 3/4) and ``custom`` (``"fraction": "p/q"`` with
``"strict": true`` for > or ``false`` for >=). The base is the ballots cast, abstentions included
only if ``abstentions_in_base`` (default false). A quorum is a share of the eligible who must
take part; abstainers take part unless ``abstentions_count`` is false. In plurality and approval
votes a threshold, if the rule has one, is what the leading option must reach.

A yes/no vote always has a threshold (simple majority by default) and its ties are never drawn by
lot. Ranked methods have no threshold: instant runoff carries its own majority and Schulze its
own comparison; they may still have a quorum. Unknown keys are refused, since a misspelt rule
would otherwise decide a vote by the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from engine.voting.counting.amounts import Amount, Basis, number_text, parse_share, percent_text, render
from engine.voting.counting.ballots import RANKED
from engine.voting.counting.electorate import Electorate
from engine.voting.counting.refusal import refuse

BASES: dict[str, tuple[Basis, ...]] = {"heads": ("heads",), "weight": ("weight",), "both": ("heads", "weight")}
TIES = ("lot", "unresolved")
RANK_BY = ("heads", "weight")
KINDS: dict[str, tuple[Fraction, bool, bool]] = {  # share, strict, of the eligible rather than the ballots cast
    "simple_majority": (Fraction(1, 2), True, False),
    "majority_of_eligible": (Fraction(1, 2), True, True),
    "two_thirds": (Fraction(2, 3), False, False),
    "three_quarters": (Fraction(3, 4), False, False),
}
CIVIL_CODE_278_QUORUM = {"share": "2/3", "strict": False, "basis": "both", "abstentions_count": True}
PRESETS: dict[str, dict[str, Any]] = {
    # Civil Code art. 278: owners holding at least 2/3 of the area and at least 2/3 of the owners
    # take part; more than half of the participating area and owners agree (ordinary matters) ...
    "civil_code_278": {
        "quorum": CIVIL_CODE_278_QUORUM,
        "threshold": {"kind": "simple_majority", "basis": "both", "abstentions_in_base": True},
    },
    # ... or at least 3/4 of each (raising maintenance funds, rebuilding, changing common parts' use).
    "civil_code_278_major": {
        "quorum": CIVIL_CODE_278_QUORUM,
        "threshold": {"kind": "three_quarters", "basis": "both", "abstentions_in_base": True},
    },
}
RULE_KEYS = {"preset", "quorum", "threshold", "ties", "rank_by"}
QUORUM_KEYS = {"share", "strict", "basis", "abstentions_count"}
THRESHOLD_KEYS = {"kind", "fraction", "strict", "basis", "abstentions_in_base"}
DEFAULT_THRESHOLD = {"kind": "simple_majority"}


@dataclass(frozen=True)
class Quorum:
    share: Fraction
    strict: bool
    basis: str
    abstentions_count: bool

    def render(self) -> dict[str, Any]:
        return {"share": str(self.share), "strict": self.strict, "basis": self.basis,
                "abstentions_count": self.abstentions_count}


@dataclass(frozen=True)
class Threshold:
    kind: str
    share: Fraction
    strict: bool
    of_eligible: bool
    basis: str
    abstentions_in_base: bool

    def render(self) -> dict[str, Any]:
        return {"kind": self.kind, "share": str(self.share), "strict": self.strict, "of_eligible": self.of_eligible,
                "basis": self.basis, "abstentions_in_base": self.abstentions_in_base}


@dataclass(frozen=True)
class Rule:
    preset: str | None
    quorum: Quorum | None
    threshold: Threshold | None
    ties: str
    rank_by: Basis

    def render(self) -> dict[str, Any]:
        return {"preset": self.preset, "quorum": self.quorum and self.quorum.render(),
                "threshold": self.threshold and self.threshold.render(), "ties": self.ties, "rank_by": self.rank_by}


@dataclass(frozen=True)
class Check:
    """One comparison of a part with its whole on one basis, kept whole so it can be published and re-checked."""

    basis: Basis
    part: Fraction
    whole: Fraction
    met: bool

    def render(self) -> dict[str, Any]:
        return {"basis": self.basis, "part": render(self.part), "whole": render(self.whole),
                "share": render(self.part / self.whole) if self.whole else None, "met": self.met}


def read_rule(data: Any, method: str, weighted: bool) -> Rule:
    """The rule of one vote, from a preset name or an object, checked against the method and electorate."""
    if isinstance(data, str):
        data = {"preset": data}
    if not isinstance(data, dict):
        refuse("rule", "a preset name or an object")
    _no_unknown_keys(data, RULE_KEYS, "rule")
    preset = data.get("preset")
    if preset is not None and preset not in PRESETS:
        refuse("rule.preset", f"one of {', '.join(PRESETS)}")
    merged = {**PRESETS.get(preset, {}), **data}
    return Rule(preset, _quorum(merged.get("quorum"), weighted), _threshold(merged, method, weighted),
                _ties(merged, method), _rank_by(merged, method, weighted))


def measure(part: Amount, whole: Amount, share: Fraction, strict: bool, basis: str) -> list[Check]:
    """Compare part and whole on each basis the rule names; exact, so the boundary itself is decided right."""
    return [Check(b, part.of(b), whole.of(b), _reaches(part.of(b), whole.of(b), share, strict)) for b in BASES[basis]]


def threshold_base(threshold: Threshold, cast: Amount, voting: Amount, eligible: Amount) -> Amount:
    if threshold.of_eligible:
        return eligible
    return cast if threshold.abstentions_in_base else voting


def required_text(share: Fraction, strict: bool, checks: list[Check]) -> str:
    return f"{'more than' if strict else 'at least'} {share}{' of each' if len(checks) > 1 else ''}"


def checks_text(checks: list[Check], heads_noun: str, electorate: Electorate) -> str:
    """"212 of 300 eligible owners (70.7%) and 18,432.5 of 25,000 m² (73.7%)"."""
    nouns = {"heads": heads_noun, "weight": electorate.weight_unit}
    return " and ".join(
        f"{number_text(c.part)} of {number_text(c.whole)} {nouns[c.basis]} ({percent_text(c.part, c.whole)})"
        for c in checks
    )


def quorum_sentence(quorum: Quorum | None, checks: list[Check], electorate: Electorate) -> str:
    heads_noun = f"eligible {electorate.heads_label}"
    if quorum is None:
        return f"Quorum: none required; {checks_text(checks, heads_noun, electorate)} took part."
    how = "took part" if quorum.abstentions_count else "took part without abstaining"
    verdict = "met" if all(c.met for c in checks) else "not met"
    return (f"Quorum: {checks_text(checks, heads_noun, electorate)} {how}; "
            f"{required_text(quorum.share, quorum.strict, checks)} was required — {verdict}.")


def threshold_sentence(threshold: Threshold, subject: str, checks: list[Check], method: str,
                       electorate: Electorate) -> str:
    verdict = "met" if all(c.met for c in checks) else "not met"
    return (f"Threshold: {subject} had {checks_text(checks, _base_noun(threshold, method, electorate), electorate)}; "
            f"{required_text(threshold.share, threshold.strict, checks)} was required — {verdict}.")


def _base_noun(threshold: Threshold, method: str, electorate: Electorate) -> str:
    if threshold.of_eligible:
        return f"eligible {electorate.heads_label}"
    if threshold.abstentions_in_base:
        return "ballots cast including abstentions"
    return "yes/no votes" if method == "yes_no_abstain" else "ballots cast excluding abstentions"


def _reaches(part: Fraction, whole: Fraction, share: Fraction, strict: bool) -> bool:
    if not whole:
        return False
    return part / whole > share if strict else part / whole >= share


def _quorum(data: Any, weighted: bool) -> Quorum | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        refuse("rule.quorum", "an object with a share")
    _no_unknown_keys(data, QUORUM_KEYS, "rule.quorum")
    if "share" not in data:
        refuse("rule.quorum.share", "required, e.g. \"2/3\"")
    return Quorum(_share(data["share"], "rule.quorum.share"), _flag(data, "strict", False, "rule.quorum"),
                  _basis(data, weighted, "rule.quorum"), _flag(data, "abstentions_count", True, "rule.quorum"))


def _threshold(rule: dict[str, Any], method: str, weighted: bool) -> Threshold | None:
    data = rule.get("threshold", DEFAULT_THRESHOLD if method == "yes_no_abstain" else None)
    if data is None:
        if method == "yes_no_abstain":
            refuse("rule.threshold", "a yes/no vote needs a threshold")
        return None
    if method in RANKED:
        refuse("rule.threshold", f"{method} has no threshold: it decides by its own count (a quorum may still apply)")
    if not isinstance(data, dict):
        refuse("rule.threshold", "an object with a kind")
    _no_unknown_keys(data, THRESHOLD_KEYS, "rule.threshold")
    share, strict, of_eligible = _kind(data)
    return Threshold(data["kind"], share, strict, of_eligible, _basis(data, weighted, "rule.threshold"),
                     _flag(data, "abstentions_in_base", False, "rule.threshold"))


def _kind(data: dict[str, Any]) -> tuple[Fraction, bool, bool]:
    kind = data.get("kind")
    if kind in KINDS:
        if "fraction" in data or "strict" in data:
            refuse("rule.threshold", f"{kind} fixes its own fraction; use kind \"custom\" to choose one")
        return KINDS[kind]
    if kind != "custom":
        refuse("rule.threshold.kind", f"one of {', '.join([*KINDS, 'custom'])}")
    if "strict" not in data:
        refuse("rule.threshold.strict", "required for a custom threshold: true for more than, false for at least")
    share = _share(data.get("fraction"), "rule.threshold.fraction")
    return share, _flag(data, "strict", False, "rule.threshold"), False


def _ties(rule: dict[str, Any], method: str) -> str:
    ties = rule.get("ties", "unresolved" if method == "yes_no_abstain" else "lot")
    if ties not in TIES:
        refuse("rule.ties", f"one of {', '.join(TIES)}")
    if method == "yes_no_abstain" and ties == "lot":
        refuse("rule.ties", "a yes/no vote is never decided by lot")
    return ties


def _rank_by(rule: dict[str, Any], method: str, weighted: bool) -> Basis:
    rank_by = rule.get("rank_by", "heads")
    if rank_by not in RANK_BY:
        refuse("rule.rank_by", f"one of {', '.join(RANK_BY)}")
    if rank_by == "weight" and (method not in ("plurality", "approval") or not weighted):
        refuse("rule.rank_by", "ranking by weight needs plurality or approval and a weighted electorate")
    return rank_by


def _basis(data: dict[str, Any], weighted: bool, field: str) -> str:
    basis = data.get("basis", "heads")
    if basis not in BASES:
        refuse(f"{field}.basis", f"one of {', '.join(BASES)}")
    if basis != "heads" and not weighted:
        refuse(f"{field}.basis", f"{basis} needs a weighted electorate")
    return basis


def _share(value: Any, field: str) -> Fraction:
    try:
        return parse_share(value)
    except ValueError as exc:
        refuse(field, str(exc))


def _flag(data: dict[str, Any], key: str, default: bool, field: str) -> bool:
    value = data.get(key, default)
    if type(value) is not bool:
        refuse(f"{field}.{key}", "true or false")
    return value


def _no_unknown_keys(data: dict[str, Any], known: set[str], field: str) -> None:
    if unknown := sorted(map(str, set(data) - known)):
        refuse(field, f"unknown keys: {', '.join(unknown)}")
