"""Properties every tally must have, whatever the profile: checked on profiles hypothesis makes up."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kernel.errors import InvalidInput
from engine.voting.counting.ballots import choice_problem
from engine.voting.counting.tally import recount, tally

SEED = "property-seed"
WEIGHTS = st.sampled_from(["1", "2.5", "86.35", "100", 3, "0.1"])
settings.register_profile("tally", deadline=None, max_examples=80)
settings.load_profile("tally")


@st.composite
def options(draw: st.DrawFn, least: int = 2, most: int = 5) -> list[str]:
    return [f"o{i}" for i in range(draw(st.integers(least, most)))]


def rankings(choices: list[str]) -> st.SearchStrategy[list[str]]:
    return st.permutations(choices).flatmap(lambda order: st.integers(0, len(order)).map(lambda n: list(order[:n])))


@st.composite
def ranked_profiles(draw: st.DrawFn, least: int = 2, most: int = 5) -> tuple[list[str], list[dict[str, Any]]]:
    choices = draw(options(least, most))
    return choices, [{"choice": ranking} for ranking in draw(st.lists(rankings(choices), max_size=40))]


@st.composite
def weighted_profiles(draw: st.DrawFn) -> tuple[str, list[str] | None, list[dict[str, Any]]]:
    method = draw(st.sampled_from(["yes_no_abstain", "plurality", "approval"]))
    choices = draw(options())
    if method == "approval":
        choice = st.lists(st.sampled_from(choices), unique=True)
    else:
        choice = st.sampled_from(["yes", "no", "abstain"] if method == "yes_no_abstain" else [*choices, "abstain"])
    cast = draw(st.lists(st.fixed_dictionaries({"choice": choice, "weight": WEIGHTS}), max_size=40))
    return method, None if method == "yes_no_abstain" else choices, cast


def vote(method: str, choices: list[str] | None, **rule: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"method": method, "seed": SEED, "rule": rule}
    if choices is not None:
        config["options"] = choices
    return config


def heads(number: int) -> dict[str, int]:
    return {"heads": max(number, 1)}


def weight(amount: dict[str, Any]) -> Fraction:
    return Fraction(amount["weight"]["fraction"])


WEIGHTED = {"heads": 100, "weight": "10000"}


@given(weighted_profiles())
def test_counts_add_up_by_heads_and_by_weight(profile: tuple[str, list[str] | None, list[dict[str, Any]]]) -> None:
    method, choices, cast = profile
    counts = tally(cast, vote(method, choices), WEIGHTED)["counts"]
    assert counts["cast"]["heads"] == len(cast)
    assert weight(counts["cast"]) == sum((Fraction(str(b["weight"])) for b in cast), Fraction(0))
    assert counts["voting"]["heads"] + counts["abstentions"]["heads"] == counts["cast"]["heads"]
    assert weight(counts["voting"]) + weight(counts["abstentions"]) == weight(counts["cast"])
    per_option = counts["options"].values()
    if method == "approval":
        assert sum(c["heads"] for c in per_option) == sum(len(b["choice"]) for b in cast)
        assert all(c["heads"] <= counts["voting"]["heads"] for c in per_option)
    else:
        assert sum(c["heads"] for c in per_option) == counts["voting"]["heads"]
        assert sum((weight(c) for c in per_option), Fraction(0)) == weight(counts["voting"])


@given(ranked_profiles())
def test_runoff_rounds_account_for_every_ballot(profile: tuple[list[str], list[dict[str, Any]]]) -> None:
    choices, cast = profile
    result = tally(cast, vote("irv", choices), heads(len(cast)))
    voting = result["counts"]["voting"]["heads"]
    assert voting + result["counts"]["abstentions"]["heads"] == len(cast)
    for r in result["rounds"]:
        assert sum(r["counts"].values()) == r["continuing"]
        assert r["continuing"] + r["exhausted"] == voting
    if voting:
        assert result["rounds"][0]["exhausted"] == 0
    else:
        assert result["rounds"] == []


@given(ranked_profiles(), st.sampled_from(["irv", "schulze"]))
def test_a_ranked_winner_is_an_option(profile: tuple[list[str], list[dict[str, Any]]], method: str) -> None:
    choices, cast = profile
    result = tally(cast, vote(method, choices), heads(len(cast)))
    if result["counts"]["voting"]["heads"]:
        assert result["winner"] in choices
        assert result["outcome"] == "passed"
    else:
        assert (result["winner"], result["outcome"]) == (None, "rejected")


def preferences(cast: list[dict[str, Any]], choices: list[str]) -> dict[str, dict[str, int]]:
    """d[x][y] counted the slow, obvious way: ballots ranking x, and y lower or not at all."""
    def prefers(ranking: list[str], x: str, y: str) -> bool:
        return x in ranking and (y not in ranking or ranking.index(x) < ranking.index(y))
    return {x: {y: sum(prefers(b["choice"], x, y) for b in cast) for y in choices if y != x} for x in choices}


@given(ranked_profiles())
def test_schulze_pairwise_matrix_and_condorcet_winner(profile: tuple[list[str], list[dict[str, Any]]]) -> None:
    choices, cast = profile
    result = tally(cast, vote("schulze", choices), heads(len(cast)))
    d = preferences(cast, choices)
    assert result["pairwise"] == d
    condorcet = [x for x in choices if all(d[x][y] > d[y][x] for y in choices if y != x)]
    if condorcet:
        assert result["winner"] == condorcet[0]
        assert result["tiers"][0] == condorcet
        assert result["tie_broken_by_lot"] is False


@given(st.data(), ranked_profiles(), st.sampled_from(["irv", "schulze"]))
def test_ballot_order_does_not_matter(data: st.DataObject, profile: tuple[list[str], list[dict[str, Any]]],
                                      method: str) -> None:
    choices, cast = profile
    shuffled = data.draw(st.permutations(cast))
    config, electorate = vote(method, choices), heads(len(cast))
    assert tally(shuffled, config, electorate) == tally(cast, config, electorate)


@given(st.data(), weighted_profiles())
def test_weighted_ballot_order_does_not_matter(data: st.DataObject,
                                               profile: tuple[str, list[str] | None, list[dict[str, Any]]]) -> None:
    method, choices, cast = profile
    shuffled = data.draw(st.permutations(cast))
    assert tally(shuffled, vote(method, choices), WEIGHTED) == tally(cast, vote(method, choices), WEIGHTED)


@given(ranked_profiles(), st.sampled_from(["irv", "schulze"]), st.sampled_from(["lot", "unresolved"]))
def test_the_published_result_recounts_identically(profile: tuple[list[str], list[dict[str, Any]]], method: str,
                                                    ties: str) -> None:
    choices, cast = profile
    config = vote(method, choices, ties=ties, quorum={"share": "1/3"})
    published = json.loads(json.dumps(tally(cast, config, heads(len(cast) + 1))))
    assert recount(json.loads(json.dumps(cast)), config, heads(len(cast) + 1)) == published


@given(ranked_profiles(least=2, most=2))
def test_runoff_between_two_is_the_plurality_majority(profile: tuple[list[str], list[dict[str, Any]]]) -> None:
    choices, cast = profile
    firsts = [{"choice": b["choice"][0] if b["choice"] else "abstain"} for b in cast]
    runoff = tally(cast, vote("irv", choices), heads(len(cast)))
    plurality = tally(firsts, vote("plurality", choices), heads(len(cast)))
    assert runoff["winner"] == plurality["winner"]
    assert runoff["tie_broken_by_lot"] == plurality["tie_broken_by_lot"]


JUNK = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["o0", "o1", "o9", "abstain", ""]),
                 st.lists(st.sampled_from(["o0", "o1", "o2", "o9", 7]), max_size=4), st.tuples(st.just("o0")))


@given(st.lists(st.one_of(rankings(["o0", "o1", "o2"]), JUNK), max_size=12),
       st.sampled_from(["irv", "schulze", "approval"]))
def test_the_bulk_check_refuses_exactly_what_single_checks_refuse(choices: list[Any], method: str) -> None:
    options = ["o0", "o1", "o2"]
    problems = [(i, p) for i, c in enumerate(choices) if (p := choice_problem(method, c, options))]
    cast = [{"choice": c} for c in choices]
    if not problems:
        tally(cast, vote(method, options), heads(len(cast)))
        return
    with pytest.raises(InvalidInput) as caught:
        tally(cast, vote(method, options), heads(len(cast)))
    index, problem = problems[0]
    assert caught.value.details["errors"] == [{"field": f"ballots[{index}].choice", "message": problem}]
