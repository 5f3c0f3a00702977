"""Counting methods: per-option counts, instant runoff and Schulze, with every tie and how it was settled.

Single-choice and approval ballots are counted by heads and by weight. Ranked ballots count by
heads only and arrive as a positions matrix (one row per ballot, one column per option, see
``ballots.rank_positions``), so each step is a few whole-array operations rather than a Python
loop over ballots: 100,000 rankings of 10 options count in tens of milliseconds.

How ties are settled (each published tie record says which applied, and in words):

- First place (plurality, approval, Schulze): the rule's ``ties`` decides — ``lot`` draws the
  winner by ``lots``, ``unresolved`` leaves the tie standing for the rule to report.
- Instant-runoff elimination: options with no votes at all go out together (it moves no ballot,
  so no tie needs breaking). Otherwise, of the options tied for fewest votes, the one with fewer
  votes in the previous round goes out, then the round before, back to the first (the backwards
  tie-break); options still level are settled by lot, the least favoured going out — unless the
  rule's ``ties`` is ``unresolved``, when the count stops there and the result is a tie.
- Schulze below first place: options level in the Schulze order are listed in lot order; this
  only orders the published ranking and never decides anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from engine.voting.counting.amounts import Amount, Basis
from engine.voting.counting.ballots import Ballots
from engine.voting.counting.lots import RULE as LOT_RULE
from engine.voting.counting.lots import drawing, lot_order


@dataclass(frozen=True)
class Runoff:
    """An instant-runoff count: its rounds, its ties, and who won — or who still stood when a tie stopped it."""

    rounds: list[dict[str, Any]]
    ties: list[dict[str, Any]]
    winner: str | None
    standing: list[str]


@dataclass(frozen=True)
class SchulzeOrder:
    """A Schulze count: the pairwise and strongest-path matrices and the order they give."""

    pairwise: dict[str, dict[str, int]]
    strongest_paths: dict[str, dict[str, int]]
    tiers: list[list[str]]
    ranking: list[str]
    ties: list[dict[str, Any]]


def count_options(ballots: Ballots, options: Sequence[str], several: bool) -> dict[str, Amount]:
    """Heads and weight per option; a ballot counts once for its one choice, or once for each option it approves."""
    groups = Counter(zip(map(tuple, ballots.choices) if several else ballots.choices, ballots.weights))
    heads = dict.fromkeys(options, 0)
    weight = dict.fromkeys(options, Fraction(0))
    for (choice, raw_weight), number in groups.items():
        for option in choice if several else (choice,):
            if option in heads:
                heads[option] += number
                weight[option] += ballots.values[raw_weight] * number
    return {option: Amount(heads[option], weight[option]) for option in options}


def leaders(counts: dict[str, Amount], rank_by: Basis) -> list[str]:
    """The options level at the top, or none if no option got a vote."""
    best = max(amount.of(rank_by) for amount in counts.values())
    return [option for option, amount in counts.items() if amount.of(rank_by) == best] if best else []


def settle_first_place(tied: list[str], seed: str, ties: str,
                       how_level: str) -> tuple[str | None, dict[str, Any] | None]:
    """The winner among options level at the top, by lot if the rule allows, and the tie record if there was a tie."""
    if len(tied) == 1:
        return tied[0], None
    names = names_text(tied)
    if ties == "unresolved":
        return None, {"kind": "first_place", "tied": tied, "resolved_by": "unresolved", "winner": None,
                      "explanation": f"Tie for first place: {names} {how_level}; "
                                     "the rule does not draw lots, so it stands."}
    lot = drawing(seed, tied)
    winner = lot["order"][0]
    return winner, {"kind": "first_place", "tied": tied, "resolved_by": "lot", "winner": winner, "lot": lot,
                    "explanation": f"Tie for first place: {names} {how_level}; the lot ({LOT_RULE}) chose {winner}."}


def instant_runoff(positions: np.ndarray, options: Sequence[str], seed: str, ties: str) -> Runoff:
    """Count rounds of first preferences among the options left, eliminating the weakest until one has a majority."""
    ranked = positions[(positions < len(options)).any(axis=1)]
    if not len(ranked):
        return Runoff([], [], None, [])
    remaining = np.ones(len(options), dtype=bool)
    history: list[np.ndarray] = []
    rounds: list[dict[str, Any]] = []
    tie_records: list[dict[str, Any]] = []
    while True:
        counts = _first_preferences(ranked, remaining)
        history.append(counts)
        rounds.append(_round_record(len(history), counts, remaining, options, len(ranked)))
        leader = int(np.argmax(np.where(remaining, counts, -1)))
        if 2 * counts[leader] > counts.sum() or remaining.sum() == 1:
            rounds[-1]["elected"] = options[leader]
            return Runoff(rounds, tie_records, options[leader], [options[leader]])
        out, tie = _to_eliminate(history, remaining, options, seed, ties)
        if tie is not None:
            tie_records.append(tie)
        if not out:
            return Runoff(rounds, tie_records, None, [options[i] for i in np.flatnonzero(remaining)])
        rounds[-1]["eliminated"] = [options[i] for i in out]
        remaining[out] = False


def schulze(positions: np.ndarray, options: Sequence[str], seed: str) -> SchulzeOrder:
    """Schulze's method with winning votes: d[i][j] ballots prefer i to j; p[i][j] is the widest path from i to j."""
    d = _pairwise(positions)
    p = _strongest_paths(d)
    tiers = _tiers(p, options)
    ranking = [option for tier in tiers for option in lot_order(seed, tier)]
    lower_ties = [_ranking_tie(tier, seed) for tier in tiers[1:] if len(tier) > 1]
    return SchulzeOrder(_by_name(d, options), _by_name(p, options), tiers, ranking, lower_ties)


def _first_preferences(ranked: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """Each ballot's favourite among the options left; a ballot ranking none of them is exhausted and not counted."""
    unranked = len(remaining)
    masked = np.where(remaining, ranked, unranked)
    top = masked.argmin(axis=1)
    live = masked[np.arange(len(masked)), top] < unranked
    return np.bincount(top[live], minlength=unranked)


def _round_record(number: int, counts: np.ndarray, remaining: np.ndarray, options: Sequence[str],
                  ranked: int) -> dict[str, Any]:
    continuing = int(counts.sum())
    return {"round": number, "counts": {options[i]: int(counts[i]) for i in np.flatnonzero(remaining)},
            "continuing": continuing, "exhausted": ranked - continuing}


def _to_eliminate(history: list[np.ndarray], remaining: np.ndarray, options: Sequence[str], seed: str,
                  ties: str) -> tuple[list[int], dict[str, Any] | None]:
    """Who goes out after this round, and the tie record if a tie had to be broken (nobody, if it could not be)."""
    counts = history[-1]
    standing = np.flatnonzero(remaining)
    fewest = counts[standing].min()
    tied = standing[counts[standing] == fewest]
    if fewest == 0 or len(tied) == 1:
        return [int(i) for i in tied], None
    tie = _elimination_tie(history, tied, options, seed, ties)
    return ([options.index(tie["eliminated"])] if tie["eliminated"] else []), tie


def _elimination_tie(history: list[np.ndarray], tied: np.ndarray, options: Sequence[str], seed: str,
                     ties: str) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": "elimination", "round": len(history), "tied": [options[i] for i in tied],
                              "votes": int(history[-1][tied[0]])}
    told = (f"Tie for elimination: {names_text(record['tied'])} had the fewest votes in round {len(history)} "
            f"({record['votes']} each)")
    still_tied, decided_in = _backwards(history, tied)
    if len(still_tied) == 1:
        out = options[still_tied[0]]
        return {**record, "resolved_by": "earlier_round", "decided_in_round": decided_in, "eliminated": out,
                "explanation": f"{told}; {out} had fewer in round {decided_in} and was eliminated."}
    drawn = [options[i] for i in still_tied]
    if len(history) > 1:
        told += f"; {'they' if len(drawn) == len(tied) else names_text(drawn)} were level in every earlier round too"
    if ties == "unresolved":
        return {**record, "resolved_by": "unresolved", "eliminated": None,
                "explanation": f"{told}; the rule does not draw lots, so the count stops and the result is a tie."}
    lot = drawing(seed, drawn)
    return {**record, "resolved_by": "lot", "eliminated": lot["order"][-1], "lot": lot,
            "explanation": f"{told}; the lot ({LOT_RULE}) put {lot['order'][-1]} last and it was eliminated."}


def _backwards(history: list[np.ndarray], tied: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Narrow a tie by the votes in earlier rounds, the latest first; the round that settled it, if one did."""
    for earlier in range(len(history) - 2, -1, -1):
        votes = history[earlier][tied]
        tied = tied[votes == votes.min()]
        if len(tied) == 1:
            return tied, earlier + 1
    return tied, None


def _pairwise(positions: np.ndarray) -> list[list[int]]:
    """d[i][j]: ballots ranking i above j (an unranked option is below every ranked one, level with other unranked)."""
    columns = np.ascontiguousarray(positions.T)
    return [np.count_nonzero(column < columns, axis=1).tolist() for column in columns]


def _strongest_paths(d: list[list[int]]) -> list[list[int]]:
    """Widest paths, Floyd–Warshall style: a path is as strong as its weakest defeat, counted in winning votes."""
    size = len(d)
    p = [[d[i][j] if d[i][j] > d[j][i] else 0 for j in range(size)] for i in range(size)]
    for i in range(size):
        for j in range(size):
            if j != i and p[j][i]:
                through = p[j][i]
                row_i, row_j = p[i], p[j]
                for k in range(size):
                    if k != i and k != j and min(through, row_i[k]) > row_j[k]:
                        row_j[k] = min(through, row_i[k])
    return p


def _tiers(p: list[list[int]], options: Sequence[str]) -> list[list[str]]:
    """Layers of the Schulze order: what nothing left beats (never empty, since Schulze's order is transitive)."""
    left = list(range(len(options)))
    tiers = []
    while left:
        top = [i for i in left if not any(p[j][i] > p[i][j] for j in left)]
        tiers.append([options[i] for i in top])
        left = [i for i in left if i not in top]
    return tiers


def _ranking_tie(tier: list[str], seed: str) -> dict[str, Any]:
    lot = drawing(seed, tier)
    return {"kind": "ranking", "tied": tier, "resolved_by": "lot", "order": lot["order"], "lot": lot,
            "explanation": f"Level in the Schulze order: {names_text(tier)}; the lot lists them as "
                           f"{', '.join(lot['order'])} (this decides nothing)."}


def _by_name(matrix: list[list[int]], options: Sequence[str]) -> dict[str, dict[str, int]]:
    return {a: {b: matrix[i][j] for j, b in enumerate(options) if j != i} for i, a in enumerate(options)}


def names_text(options: Sequence[str]) -> str:
    return f"{', '.join(options[:-1])} and {options[-1]}"

