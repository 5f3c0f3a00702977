"""Ballots: what each method accepts as a choice, and the checked ballots a count starts from.

Choices by method:

- ``yes_no_abstain``: ``"yes"``, ``"no"`` or ``"abstain"``;
- ``plurality``: one option id, or ``"abstain"``;
- ``approval``: a list of distinct option ids, any number of them; the empty list abstains;
- ``irv`` and ``schulze``: a ranking, a list of distinct option ids with the most preferred first.
  It may be partial: unranked options rank below every ranked one and level among themselves.
  The empty list abstains.

A ballot is ``{"choice": ..., "weight": ...}``; the weight (an int or a decimal string such as
``"86.35"``) is required in a weighted electorate and refused in an unweighted one, where every
ballot weighs 1. Other keys a bulletin board may keep (a receipt, a time) are ignored.

Rankings are checked in bulk: a hundred thousand ballots checked one by one in Python would cost
more than counting them. Only when the bulk check finds a fault are they checked one by one, to
name the first faulty ballot with the same message a single choice would get.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from typing import Any

import numpy as np

from engine.voting.counting.amounts import Amount, parse_weight
from engine.voting.counting.refusal import refuse

METHODS = ("yes_no_abstain", "plurality", "approval", "irv", "schulze")
RANKED = ("irv", "schulze")
YES_NO = ("yes", "no")
ABSTAIN = "abstain"


@dataclass(frozen=True)
class Ballots:
    """The ballots of one count: their choices and their weights as cast, with each weight read once."""

    choices: list[Any]
    weights: list[int | str]
    values: dict[int | str, Fraction]

    def amount(self, weights: Iterable[int | str]) -> Amount:
        """Heads and weight of some of the ballots, summing each distinct weight once (sums of fractions are slow)."""
        tally = Counter(weights)
        return Amount(sum(tally.values()), sum((self.values[w] * n for w, n in tally.items()), Fraction(0)))

    def cast(self) -> Amount:
        return self.amount(self.weights)


def validate_choice(method: str, choice: Any, options: Sequence[str]) -> None:
    """Refuse a choice the vote cannot count, saying why: the check a ballot gets when it is cast."""
    if method not in METHODS:
        refuse("method", f"one of {', '.join(METHODS)}")
    if problem := choice_problem(method, choice, options):
        refuse("choice", problem)


def choice_problem(method: str, choice: Any, options: Sequence[str]) -> str | None:
    if method == "yes_no_abstain":
        return _single_problem(choice, YES_NO)
    if method == "plurality":
        return _single_problem(choice, options)
    return _list_problem(choice, options, "a ranking" if method in RANKED else "a list of approved options")


def read_ballots(data: Any, weighted: bool) -> Ballots:
    """Check the ballots' shape and weights; their choices are checked by the method that counts them."""
    if type(data) is not list:
        refuse("ballots", "a list of ballots")
    for i, ballot in enumerate(data):
        if not isinstance(ballot, dict) or "choice" not in ballot:
            refuse(f"ballots[{i}]", "a ballot is an object with a choice")
    choices = [ballot["choice"] for ballot in data]
    weights = _weights(data) if weighted else _no_weights(data)
    return Ballots(choices, weights, _weight_values(weights))


def check_choices(choices: list[Any], method: str, options: Sequence[str]) -> None:
    for i, choice in enumerate(choices):
        if problem := choice_problem(method, choice, options):
            refuse(f"ballots[{i}].choice", problem)


def rank_positions(choices: list[Any], options: Sequence[str]) -> np.ndarray:
    """Each ranking as a row of positions, one column per option: 0 for the first choice, len(options) if unranked."""
    positions = _positions_in_bulk(choices, options)
    if positions is None:
        check_choices(choices, "irv", options)
        raise AssertionError("the bulk check refused rankings that pass one by one")
    return positions


def _single_problem(choice: Any, allowed: Sequence[str]) -> str | None:
    if type(choice) is not str:
        return f"one of {', '.join(map(repr, allowed))} or 'abstain'"
    if choice != ABSTAIN and choice not in allowed:
        return f"unknown option {choice!r}"
    return None


def _list_problem(choice: Any, options: Sequence[str], what: str) -> str | None:
    if type(choice) is not list:
        return f"{what}: a list of option ids (empty to abstain)"
    seen: set[str] = set()
    for item in choice:
        if type(item) is not str:
            return f"option ids are texts, not {item!r}"
        if item not in options:
            return f"unknown option {item!r}"
        if item in seen:
            return f"option {item!r} appears more than once"
        seen.add(item)
    return None


def _positions_in_bulk(choices: list[Any], options: Sequence[str]) -> np.ndarray | None:
    """The positions matrix, or None if any ranking is faulty; every pass runs at C speed."""
    if not set(map(type, choices)) <= {list}:
        return None
    flat = list(chain.from_iterable(choices))
    if not set(map(type, flat)) <= {str}:
        return None
    index = {option: i for i, option in enumerate(options)}
    try:
        columns = np.fromiter(map(index.__getitem__, flat), dtype=np.intp, count=len(flat))
    except KeyError:
        return None
    lengths = np.fromiter(map(len, choices), dtype=np.intp, count=len(choices))
    unranked = len(options)
    if len(choices) and lengths.max() > unranked:
        return None
    rows = np.repeat(np.arange(len(choices)), lengths)
    firsts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.full((len(choices), unranked), unranked, dtype=np.min_scalar_type(unranked))
    positions[rows, columns] = np.arange(len(flat)) - firsts
    # A repeated option overwrites its own cell, leaving fewer ranked cells than the ranking is long.
    return positions if np.array_equal((positions < unranked).sum(axis=1), lengths) else None


def _weights(data: list[dict[str, Any]]) -> list[int | str]:
    for i, ballot in enumerate(data):
        if "weight" not in ballot:
            refuse(f"ballots[{i}].weight", "required: the electorate is weighted")
    return [ballot["weight"] for ballot in data]


def _no_weights(data: list[dict[str, Any]]) -> list[int | str]:
    for i, ballot in enumerate(data):
        if "weight" in ballot:
            refuse(f"ballots[{i}].weight", "not allowed: the electorate is unweighted, every ballot weighs 1")
    return [1] * len(data)


def _weight_values(weights: list[int | str]) -> dict[int | str, Fraction]:
    """Each distinct weight read once; the type check first keeps True and 1.0 from passing as the key 1."""
    if not set(map(type, weights)) <= {int, str}:
        i = next(i for i, weight in enumerate(weights) if type(weight) not in (int, str))
        refuse(f"ballots[{i}].weight", "a positive integer or a decimal string such as \"86.35\"")
    values = {}
    for weight in set(weights):
        try:
            values[weight] = parse_weight(weight)
        except ValueError as exc:
            refuse(f"ballots[{weights.index(weight)}].weight", str(exc))
    return values
