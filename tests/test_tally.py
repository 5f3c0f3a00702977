"""The tally on hand-made profiles whose results are worked out in the comments."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from engine.kernel.errors import InvalidInput
from engine.voting.counting.ballots import validate_choice
from engine.voting.counting.lots import lot_order, ticket
from engine.voting.counting.tally import recount, tally

SEED = "vote-2026-07"
ABC = ["a", "b", "c"]


def ballots(*groups: tuple[int, Any]) -> list[dict[str, Any]]:
    """(3, ["a", "b"]) means three ballots with that choice."""
    return [{"choice": choice} for number, choice in groups for _ in range(number)]


def weighted(*groups: tuple[int, Any, str]) -> list[dict[str, Any]]:
    return [{"choice": choice, "weight": weight} for number, choice, weight in groups for _ in range(number)]


def config(method: str, options: list[str] | None = None, rule: Any = None) -> dict[str, Any]:
    vote: dict[str, Any] = {"method": method, "seed": SEED}
    if options is not None:
        vote["options"] = options
    if rule is not None:
        vote["rule"] = rule
    return vote


def yes_no(yes: int, no: int, abstain: int = 0, rule: Any = None, eligible: int = 100) -> dict[str, Any]:
    return tally(ballots((yes, "yes"), (no, "no"), (abstain, "abstain")), config("yes_no_abstain", rule=rule),
                 {"heads": eligible})


def threshold(kind: str, **more: Any) -> dict[str, Any]:
    return {"threshold": {"kind": kind, **more}}


# --- yes / no / abstain -------------------------------------------------------------------------

def test_yes_no_counts_and_default_simple_majority() -> None:
    result = yes_no(6, 3, 2)
    assert result["counts"]["options"]["yes"]["heads"] == 6
    assert result["counts"]["abstentions"]["heads"] == 2
    assert result["counts"]["voting"]["heads"] == 9
    assert result["outcome"] == "passed"
    assert result["winner"] is None
    assert result["explanation"][-1] == "Outcome: passed."
    # 6 of 9 yes/no votes: abstentions are out of the base unless the rule says otherwise.
    assert result["threshold"][0]["checks"][0]["share"] == {"fraction": "2/3", "decimal": "0.666667"}


def test_exactly_half_fails_a_simple_majority_and_is_a_tie() -> None:
    result = yes_no(4, 4, 3)
    assert result["outcome"] == "tie"
    assert result["ties"][0]["kind"] == "yes_no"
    assert result["ties"][0]["resolved_by"] == "unresolved"
    assert result["tie_broken_by_lot"] is False


def test_abstentions_in_the_base() -> None:
    # 3 yes, 2 no, 1 abstain: 3/5 of yes/no votes passes; 3/6 of ballots cast is exactly 1/2 and fails.
    assert yes_no(3, 2, 1)["outcome"] == "passed"
    counted = yes_no(3, 2, 1, rule=threshold("simple_majority", abstentions_in_base=True))
    assert counted["outcome"] == "rejected"
    assert "3 of 6 ballots cast including abstentions (50%)" in counted["explanation"][2]


def test_all_abstain_is_rejected_not_tied() -> None:
    assert yes_no(0, 0, 5)["outcome"] == "rejected"


@pytest.mark.parametrize(("kind", "yes", "no", "outcome"), [
    ("two_thirds", 2, 1, "passed"),  # exactly 2/3 passes "at least 2/3"
    ("two_thirds", 3, 2, "rejected"),  # 3/5 < 2/3; a supermajority fails, never ties
    ("two_thirds", 2, 2, "rejected"),
    ("three_quarters", 3, 1, "passed"),  # exactly 3/4
    ("three_quarters", 5, 2, "rejected"),  # 5/7 < 3/4
])
def test_supermajorities_at_their_boundary(kind: str, yes: int, no: int, outcome: str) -> None:
    assert yes_no(yes, no, rule=threshold(kind))["outcome"] == outcome


def test_majority_of_the_eligible() -> None:
    rule = threshold("majority_of_eligible")
    assert yes_no(5, 0, eligible=10, rule=rule)["outcome"] == "rejected"  # exactly half of the 10 eligible
    assert yes_no(6, 3, eligible=10, rule=rule)["outcome"] == "passed"
    level = yes_no(4, 4, eligible=10, rule=rule)
    assert level["outcome"] == "rejected"  # short of the eligible, whatever the no side did
    assert "4 of 10 eligible voters (40%)" in level["explanation"][2]


@pytest.mark.parametrize(("strict", "outcome"), [(True, "rejected"), (False, "passed")])
def test_custom_fraction_strict_or_not(strict: bool, outcome: str) -> None:
    rule = threshold("custom", fraction="3/5", strict=strict)
    result = yes_no(3, 2, rule=rule)  # exactly 3/5
    assert result["outcome"] == outcome
    assert result["rule"]["threshold"]["share"] == "3/5"


# --- quorum -------------------------------------------------------------------------------------

def test_quorum_at_its_boundary_and_failing() -> None:
    rule = {"quorum": {"share": "1/2"}}
    assert yes_no(3, 2, eligible=10, rule=rule)["outcome"] == "passed"  # 5 of 10: at least 1/2
    failed = yes_no(3, 1, eligible=10, rule=rule)
    assert failed["outcome"] == "invalid"
    assert failed["quorum"]["met"] is False
    assert failed["threshold"][0]["met"] is True  # the count is shown, but decides nothing
    assert failed["explanation"][0] == ("Quorum: 4 of 10 eligible voters (40%) took part; "
                                        "at least 1/2 was required — not met.")
    assert failed["explanation"][-1] == "Outcome: invalid — the quorum was not met, so the vote decides nothing."


def test_strict_quorum() -> None:
    assert yes_no(3, 2, eligible=10, rule={"quorum": {"share": "1/2", "strict": True}})["outcome"] == "invalid"


def test_abstentions_toward_the_quorum_or_not() -> None:
    counted = {"quorum": {"share": "1/2"}}
    uncounted = {"quorum": {"share": "1/2", "abstentions_count": False}}
    assert yes_no(3, 1, 1, eligible=10, rule=counted)["outcome"] == "passed"  # 5 took part
    result = yes_no(3, 1, 1, eligible=10, rule=uncounted)  # only 4 voted yes or no
    assert result["outcome"] == "invalid"
    assert "took part without abstaining" in result["explanation"][0]


def test_no_quorum_still_reports_turnout() -> None:
    sentence = "Quorum: none required; 4 of 10 eligible voters (40%) took part."
    assert yes_no(3, 1, eligible=10)["explanation"][0] == sentence


# --- Civil Code art. 278 --------------------------------------------------------------------------

# Ten owners, 1,000 m²: five flats of 50 m² and five of 150 m².
OWNERS = {"heads": 10, "weight": "1000", "heads_label": "owners", "weight_unit": "m²"}


def owners_vote(rule: Any, *groups: tuple[int, str, str]) -> dict[str, Any]:
    return tally(weighted(*groups), config("yes_no_abstain", rule=rule), OWNERS)


def test_art_278_passes_by_heads_but_fails_by_area() -> None:
    # 8 owners, 700 m² take part (80%, 70%: at least 2/3 of each). Yes: 5 owners (5/8 > 1/2) with
    # only 250 of 700 m² (35.7%): rejected.
    result = owners_vote("civil_code_278", (5, "yes", "50"), (3, "no", "150"))
    assert result["quorum"]["met"] is True
    assert [c["met"] for c in result["threshold"][0]["checks"]] == [True, False]
    assert result["outcome"] == "rejected"
    assert result["explanation"][0] == ("Quorum: 8 of 10 eligible owners (80%) and 700 of 1,000 m² (70%) took part; "
                                        "at least 2/3 of each was required — met.")
    assert result["explanation"][2] == ("Threshold: yes had 5 of 8 ballots cast including abstentions (62.5%) and "
                                        "250 of 700 m² (35.7%); more than 1/2 of each was required — not met.")


def test_art_278_passes_by_area_but_fails_by_heads() -> None:
    # Yes: 3 owners with 450 of 700 m² (64.3%), but 3 of 8 owners is less than half.
    result = owners_vote("civil_code_278", (3, "yes", "150"), (5, "no", "50"))
    assert [c["met"] for c in result["threshold"][0]["checks"]] == [False, True]
    assert result["outcome"] == "rejected"


def test_a_dual_majority_that_fails_on_area_alone_is_rejected_not_a_tie() -> None:
    # Heads 5 to 3 for yes; the area level, 450 to 450 m²: a majority of owners, none of area.
    yes_and_no_only = {"preset": "civil_code_278",
                       "threshold": {"kind": "simple_majority", "basis": "both", "abstentions_in_base": False}}
    result = owners_vote(yes_and_no_only, (5, "yes", "90"), (3, "no", "150"))
    assert [c["met"] for c in result["threshold"][0]["checks"]] == [True, False]
    assert (result["outcome"], result["ties"]) == ("rejected", [])
    assert result["explanation"][-1] == "Outcome: rejected — the majority by m² was not reached."
    level = owners_vote(yes_and_no_only, (4, "yes", "100"), (4, "no", "100"))  # level on both counts: a tie
    assert level["outcome"] == "tie"


def test_art_278_abstentions_participate_and_weigh_against() -> None:
    # 8 owners, 800 m² take part: yes 4 large flats (600 m²), no 1 small, 3 small flats abstain.
    # Abstainers participate, so yes has 4 of 8 owners — exactly half, not more than half: rejected.
    # Counting only yes and no, the same ballots would pass (4 of 5 owners, 600 of 650 m²).
    groups = [(4, "yes", "150"), (1, "no", "50"), (3, "abstain", "50")]
    result = owners_vote("civil_code_278", *groups)
    assert [c["met"] for c in result["threshold"][0]["checks"]] == [False, True]
    assert result["outcome"] == "rejected"
    yes_and_no_only = {"preset": "civil_code_278",
                       "threshold": {"kind": "simple_majority", "basis": "both", "abstentions_in_base": False}}
    assert owners_vote(yes_and_no_only, *groups)["outcome"] == "passed"


def test_art_278_quorum_fails_on_area_alone() -> None:
    # 7 owners (70%) but 550 of 1,000 m² (55%) take part: invalid, though every voter said yes.
    result = owners_vote("civil_code_278", (5, "yes", "50"), (2, "yes", "150"))
    assert [c["met"] for c in result["quorum"]["checks"]] == [True, False]
    assert result["outcome"] == "invalid"


def test_art_278_major_matters_need_three_quarters_of_each() -> None:
    # 8 owners, 700 m² take part. Yes: 6 owners (exactly 3/4) holding 525 m² (exactly 3/4): passed.
    groups = [(2, "yes", "150"), (4, "yes", "56.25"), (1, "no", "150"), (1, "abstain", "25")]
    result = owners_vote("civil_code_278_major", *groups)
    assert [c["share"]["fraction"] for c in result["threshold"][0]["checks"]] == ["3/4", "3/4"]
    assert result["outcome"] == "passed"
    assert owners_vote("civil_code_278", *groups)["outcome"] == "passed"
    # One yes owner of 56.25 m² abstains instead: 5/8 owners and 468.75/700 m² — enough for ordinary
    # matters, not for major ones.
    fewer = [(2, "yes", "150"), (3, "yes", "56.25"), (1, "no", "150"), (1, "abstain", "25"), (1, "abstain", "56.25")]
    assert owners_vote("civil_code_278_major", *fewer)["outcome"] == "rejected"
    assert owners_vote("civil_code_278", *fewer)["outcome"] == "passed"


def test_the_quorum_sentence_reads_as_published() -> None:
    # 212 owners holding 18,432.5 of 25,000 m² take part (211 × 87 + 75.5).
    cast = weighted((211, "yes", "87"), (1, "no", "75.5"))
    electorate = {"heads": 300, "weight": "25000", "heads_label": "owners", "weight_unit": "m²"}
    result = tally(cast, config("yes_no_abstain", rule="civil_code_278"), electorate)
    assert result["explanation"][0] == ("Quorum: 212 of 300 eligible owners (70.7%) and 18,432.5 of 25,000 m² (73.7%) "
                                        "took part; at least 2/3 of each was required — met.")
    assert result["counts"]["cast"]["weight"] == {"fraction": "36865/2", "decimal": "18432.5"}


def test_weights_are_exact() -> None:
    # Three tenths never sum to 0.30000000000000004 here: 0.1 + 0.2 of 0.3 is exactly 1.
    result = tally(weighted((1, "yes", "0.1"), (1, "yes", "0.2"), (1, "no", "0.3")),
                   config("yes_no_abstain", rule=threshold("simple_majority", basis="weight")),
                   {"heads": 3, "weight": "0.6"})
    assert result["threshold"][0]["checks"][0]["share"]["fraction"] == "1/2"
    assert result["outcome"] == "tie"


# --- plurality and approval ----------------------------------------------------------------------

def test_plurality_winner_and_counts() -> None:
    result = tally(ballots((3, "a"), (2, "b"), (1, "c"), (1, "abstain")), config("plurality", ABC), {"heads": 10})
    assert {o: c["heads"] for o, c in result["counts"]["options"].items()} == {"a": 3, "b": 2, "c": 1}
    assert result["winner"] == "a"
    assert result["outcome"] == "passed"
    assert result["explanation"][1] == "Count: a 3 votes; b 2 votes; c 1 vote; abstained 1 vote."


def test_plurality_tie_drawn_by_lot() -> None:
    result = tally(ballots((2, "a"), (2, "b"), (1, "c")), config("plurality", ABC), {"heads": 5})
    expected = lot_order(SEED, ["a", "b"])[0]
    assert result["winner"] == expected
    assert result["tie_broken_by_lot"] is True
    [tie] = result["ties"]
    assert tie["kind"] == "first_place" and tie["resolved_by"] == "lot"
    assert tie["lot"]["tickets"]["a"] == ticket(SEED, "a")
    assert tie["lot"]["order"][0] == expected


def test_plurality_tie_left_standing() -> None:
    result = tally(ballots((2, "a"), (2, "b"), (1, "c")), config("plurality", ABC, {"ties": "unresolved"}),
                   {"heads": 5})
    assert result["outcome"] == "tie"
    assert result["winner"] is None
    assert result["tie_broken_by_lot"] is False
    assert result["explanation"][-1] == "Outcome: tie — a and b are level and the rule draws no lots."


def test_plurality_leader_must_reach_the_threshold() -> None:
    # a has 2 of 4 ballots with a choice: exactly half is not an absolute majority.
    cast = ballots((2, "a"), (1, "b"), (1, "c"), (1, "abstain"))
    result = tally(cast, config("plurality", ABC, threshold("simple_majority")), {"heads": 5})
    assert result["outcome"] == "rejected"
    assert result["threshold"][0]["option"] == "a"
    assert tally(cast, config("plurality", ABC, threshold("custom", fraction="1/2", strict=False)),
                 {"heads": 5})["outcome"] == "passed"


def test_plurality_by_weight() -> None:
    cast = weighted((2, "a", "50"), (1, "b", "120"))
    electorate = {"heads": 3, "weight": "220"}
    assert tally(cast, config("plurality", ["a", "b"]), electorate)["winner"] == "a"
    assert tally(cast, config("plurality", ["a", "b"], {"rank_by": "weight"}), electorate)["winner"] == "b"


def test_approval_counts_each_approved_option() -> None:
    cast = ballots((1, ["a", "b"]), (1, ["b"]), (1, ["c", "b"]), (1, []))
    result = tally(cast, config("approval", ABC, threshold("simple_majority")), {"heads": 4})
    assert {o: c["heads"] for o, c in result["counts"]["options"].items()} == {"a": 1, "b": 3, "c": 1}
    assert result["counts"]["abstentions"]["heads"] == 1
    assert result["winner"] == "b"  # 3 of 3 ballots that approved anything
    assert result["outcome"] == "passed"


def test_nobody_chose_anything() -> None:
    result = tally(ballots((3, [])), config("approval", ABC), {"heads": 4})
    assert result["outcome"] == "rejected"
    assert result["explanation"][-1] == "Outcome: rejected — no ballot chose an option."


# --- instant runoff -------------------------------------------------------------------------------

def test_irv_plurality_leader_loses_after_transfers() -> None:
    # Round 1: a 8, b 7, c 5 of 20 — nobody has more than 10. c is out; its 5 go to b.
    # Round 2: a 8, b 12: b wins although a led the first preferences.
    cast = ballots((8, ["a"]), (7, ["b", "a"]), (5, ["c", "b"]))
    result = tally(cast, config("irv", ABC), {"heads": 20})
    assert [r["counts"] for r in result["rounds"]] == [{"a": 8, "b": 7, "c": 5}, {"a": 8, "b": 12}]
    assert result["rounds"][0]["eliminated"] == ["c"]
    assert result["rounds"][1]["elected"] == "b"
    assert result["winner"] == "b"
    assert result["ties"] == []
    assert result["explanation"][1] == ("Instant runoff: 2 rounds; eliminated in turn: c; "
                                        "b had 12 of 20 continuing ballots in round 2.")


def test_irv_exhausted_ballots_leave_the_majority_base() -> None:
    # c's 5 ballots rank nothing else: round 2 is a 8, b 7 of 15 continuing, and 8 > 7.5.
    result = tally(ballots((8, ["a"]), (7, ["b"]), (5, ["c"])), config("irv", ABC), {"heads": 20})
    assert result["rounds"][1] == {"round": 2, "counts": {"a": 8, "b": 7}, "continuing": 15, "exhausted": 5,
                                   "elected": "a"}


def test_irv_elimination_tie_broken_by_the_previous_round() -> None:
    # Round 1: a 10, b 6, c 5, d 3 (24) → d out: 2 go to a, 1 to c.
    # Round 2: a 12 (not more than 12), b 6, c 6 — b and c tie; in round 1 c had fewer, so c is out.
    # Round 3: a 12, b 6 + 4 + 1 = 11, one [c] ballot exhausted: a has 12 of 23.
    cast = ballots((10, ["a"]), (6, ["b"]), (4, ["c", "b"]), (1, ["c"]), (2, ["d", "a"]), (1, ["d", "c", "b"]))
    result = tally(cast, config("irv", ["a", "b", "c", "d"]), {"heads": 24})
    assert [r["counts"] for r in result["rounds"]] == [
        {"a": 10, "b": 6, "c": 5, "d": 3}, {"a": 12, "b": 6, "c": 6}, {"a": 12, "b": 11}]
    [tie] = result["ties"]
    assert tie["kind"] == "elimination" and tie["round"] == 2 and tie["tied"] == ["b", "c"]
    assert tie["resolved_by"] == "earlier_round" and tie["decided_in_round"] == 1 and tie["eliminated"] == "c"
    assert result["winner"] == "a"
    assert result["tie_broken_by_lot"] is False
    assert tie["explanation"] in result["explanation"]


def test_irv_zero_vote_options_go_together_and_a_full_tie_goes_to_lot() -> None:
    # d and e have no first preferences: out together in round 1, no tie to break.
    # Round 2: a 3, b 2, c 2 of 7; b and c were level in round 1 too, so the lot decides.
    cast = ballots((3, ["a"]), (2, ["b", "c"]), (2, ["c", "b"]))
    result = tally(cast, config("irv", ["a", "b", "c", "d", "e"]), {"heads": 7})
    assert result["rounds"][0]["eliminated"] == ["d", "e"]
    [tie] = result["ties"]
    loser = lot_order(SEED, ["b", "c"])[-1]
    assert tie["resolved_by"] == "lot" and tie["eliminated"] == loser
    assert result["rounds"][1]["eliminated"] == [loser]
    assert result["winner"] == ({"b", "c"} - {loser}).pop()  # 4 of 7 in round 3
    assert result["tie_broken_by_lot"] is True


def test_irv_two_level_options_by_lot_or_left_tied() -> None:
    cast = ballots((3, ["a", "b"]), (3, ["b", "a"]))
    drawn = tally(cast, config("irv", ["a", "b"]), {"heads": 6})
    assert drawn["winner"] == lot_order(SEED, ["a", "b"])[0]
    assert drawn["tie_broken_by_lot"] is True
    standing = tally(cast, config("irv", ["a", "b"], {"ties": "unresolved"}), {"heads": 6})
    assert standing["outcome"] == "tie"
    assert standing["winner"] is None
    assert standing["ties"][0]["resolved_by"] == "unresolved"


def test_irv_counts_heads_even_in_a_weighted_electorate() -> None:
    cast = weighted((2, ["a"], "10"), (1, ["b"], "100"))
    result = tally(cast, config("irv", ["a", "b"]), {"heads": 3, "weight": "120"})
    assert result["winner"] == "a"
    assert result["counts"]["cast"]["weight"]["fraction"] == "120"


# --- Schulze --------------------------------------------------------------------------------------

def test_schulze_wikipedia_example() -> None:
    # The 45-voter example of the Schulze method article (Wikipedia, after Schulze 2011): the
    # winner is E, the order E > A > C > B > D.
    cast = ballots((5, list("ACBED")), (5, list("ADECB")), (8, list("BEDAC")), (3, list("CABED")),
                   (7, list("CAEBD")), (2, list("CBADE")), (7, list("DCEBA")), (8, list("EBADC")))
    result = tally(cast, config("schulze", list("ABCDE")), {"heads": 45})
    assert result["pairwise"]["A"] == {"B": 20, "C": 26, "D": 30, "E": 22}
    assert result["pairwise"]["E"] == {"A": 23, "B": 27, "C": 21, "D": 31}
    assert result["strongest_paths"]["E"] == {"A": 25, "B": 28, "C": 28, "D": 31}
    assert result["strongest_paths"]["A"] == {"B": 28, "C": 28, "D": 30, "E": 24}
    assert result["tiers"] == [["E"], ["A"], ["C"], ["B"], ["D"]]
    assert result["winner"] == "E"


def test_schulze_resolves_a_cycle() -> None:
    # 4 a>b>c, 3 b>c>a, 2 c>a>b: a beats b 6–3, b beats c 7–2, c beats a 5–4 — a cycle.
    # Strongest paths: a→c through b is min(6, 7) = 6 > c→a 5; b→a through c is min(7, 5) = 5 < a→b 6;
    # c→b through a is min(5, 6) = 5 < b→c 7. So a > b > c.
    cast = ballots((4, ["a", "b", "c"]), (3, ["b", "c", "a"]), (2, ["c", "a", "b"]))
    result = tally(cast, config("schulze", ABC), {"heads": 9})
    assert result["pairwise"] == {"a": {"b": 6, "c": 4}, "b": {"a": 3, "c": 7}, "c": {"a": 5, "b": 2}}
    assert result["strongest_paths"] == {"a": {"b": 6, "c": 6}, "b": {"a": 5, "c": 7}, "c": {"a": 5, "b": 5}}
    assert result["ranking"] == ["a", "b", "c"]
    assert result["winner"] == "a"


def test_schulze_partial_rankings_leave_the_unranked_level() -> None:
    # [a] says a above b and c, nothing about b against c.
    cast = ballots((2, ["a"]), (1, ["b", "a"]))
    result = tally(cast, config("schulze", ABC), {"heads": 3})
    assert result["pairwise"]["b"] == {"a": 1, "c": 1}
    assert result["pairwise"]["c"] == {"a": 0, "b": 0}
    assert result["tiers"] == [["a"], ["b"], ["c"]]


def test_schulze_ties_at_the_top_and_below() -> None:
    cast = ballots((1, ["a", "b"]), (1, ["b", "a"]))
    result = tally(cast, config("schulze", ["a", "b", "c", "d"]), {"heads": 2})
    assert result["tiers"] == [["a", "b"], ["c", "d"]]
    first, below = result["ties"]
    assert first["kind"] == "first_place" and first["winner"] == lot_order(SEED, ["a", "b"])[0]
    assert below["kind"] == "ranking" and below["order"] == lot_order(SEED, ["c", "d"])
    assert result["ranking"] == lot_order(SEED, ["a", "b"]) + lot_order(SEED, ["c", "d"])
    assert result["tie_broken_by_lot"] is True
    standing = tally(cast, config("schulze", ["a", "b", "c", "d"], {"ties": "unresolved"}), {"heads": 2})
    assert (standing["outcome"], standing["winner"]) == ("tie", None)


def test_schulze_quorum() -> None:
    cast = ballots((2, ["a"]), (1, []))
    result = tally(cast, config("schulze", ABC, {"quorum": {"share": "1/2", "abstentions_count": False}}),
                   {"heads": 5})
    assert result["outcome"] == "invalid"


# --- the result as published ----------------------------------------------------------------------

def test_result_is_plain_json_and_recounts_identically() -> None:
    cast = weighted((3, ["a", "b"], "86.35"), (2, ["c"], "101"), (1, [], "40"))
    vote = config("irv", ABC, {"quorum": {"share": "1/2", "basis": "both"}})
    electorate = {"heads": 10, "weight": "900"}
    published = json.loads(json.dumps(tally(cast, vote, electorate)))
    assert recount(cast, vote, electorate) == published


# --- refusals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "choice", "message"), [
    ("yes_no_abstain", "maybe", "unknown option 'maybe'"),
    ("yes_no_abstain", ["yes"], "one of 'yes', 'no' or 'abstain'"),
    ("plurality", "d", "unknown option 'd'"),
    ("plurality", 1, "one of 'a', 'b', 'c' or 'abstain'"),
    ("approval", ["a", "a"], "option 'a' appears more than once"),
    ("approval", "a", "a list of approved options: a list of option ids (empty to abstain)"),
    ("irv", ["a", "z"], "unknown option 'z'"),
    ("irv", ["a", 2], "option ids are texts, not 2"),
    ("schulze", ["b", "a", "b"], "option 'b' appears more than once"),
    ("schulze", ("a", "b"), "a ranking: a list of option ids (empty to abstain)"),
])
def test_faulty_choices_are_refused_with_their_reason(method: str, choice: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_choice(method, choice, ABC)
    assert caught.value.details["errors"] == [{"field": "choice", "message": message}]


def test_a_choice_for_an_unknown_method_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_choice("borda", ["a"], ABC)
    assert caught.value.details["errors"][0]["field"] == "method"


def test_a_faulty_ranking_among_many_is_named() -> None:
    cast = ballots((5, ["a", "b"]), (1, ["c", "c"]), (5, ["b"]))
    with pytest.raises(InvalidInput) as caught:
        tally(cast, config("schulze", ABC), {"heads": 11})
    assert caught.value.details["errors"] == [
        {"field": "ballots[5].choice", "message": "option 'c' appears more than once"}]


@pytest.mark.parametrize(("cast", "electorate", "field"), [
    ([{"choice": "yes", "weight": 86.35}], {"heads": 1, "weight": "100"}, "ballots[0].weight"),
    ([{"choice": "yes", "weight": True}], {"heads": 1, "weight": "100"}, "ballots[0].weight"),
    ([{"choice": "yes", "weight": "-1"}], {"heads": 1, "weight": "100"}, "ballots[0].weight"),
    ([{"choice": "yes", "weight": "0"}], {"heads": 1, "weight": "100"}, "ballots[0].weight"),
    ([{"choice": "yes"}], {"heads": 1, "weight": "100"}, "ballots[0].weight"),
    ([{"choice": "yes", "weight": "1"}], {"heads": 1}, "ballots[0].weight"),
    ([{"vote": "yes"}], {"heads": 1}, "ballots[0]"),
    ([{"choice": "yes"}, {"choice": "no"}], {"heads": 1}, "ballots"),
    ([{"choice": "yes", "weight": "101"}], {"heads": 1, "weight": "100"}, "ballots"),
    ([], {"heads": 0}, "electorate.heads"),
    ([], {"heads": 1, "weight": "1e3"}, "electorate.weight"),
])
def test_faulty_ballots_and_electorates(cast: Any, electorate: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        tally(cast, config("yes_no_abstain"), electorate)
    assert caught.value.details["errors"][0]["field"] == field


@pytest.mark.parametrize(("vote", "field"), [
    ({"method": "borda", "options": ABC, "seed": SEED}, "config.method"),
    ({"method": "irv", "options": ABC}, "config.seed"),
    ({"method": "irv", "options": ["a"], "seed": SEED}, "config.options"),
    ({"method": "irv", "options": ["a", "a"], "seed": SEED}, "config.options"),
    ({"method": "plurality", "options": ["a", "abstain"], "seed": SEED}, "config.options"),
    ({"method": "yes_no_abstain", "options": ["yes", "no"], "seed": SEED}, "config.options"),
    (config("irv", ABC, threshold("simple_majority")), "rule.threshold"),
    (config("yes_no_abstain", rule={"threshold": None}), "rule.threshold"),
    (config("yes_no_abstain", rule={"ties": "lot"}), "rule.ties"),
    (config("yes_no_abstain", rule={"quorom": {"share": "1/2"}}), "rule"),
    (config("yes_no_abstain", rule="civil_code_999"), "rule.preset"),
    (config("yes_no_abstain", rule={"quorum": {"share": "2/0"}}), "rule.quorum.share"),
    (config("yes_no_abstain", rule={"quorum": {"share": "3/2"}}), "rule.quorum.share"),
    (config("yes_no_abstain", rule={"quorum": {"share": "1/2", "basis": "weight"}}), "rule.quorum.basis"),
    (config("yes_no_abstain", rule=threshold("two_thirds", strict=True)), "rule.threshold"),
    (config("yes_no_abstain", rule=threshold("custom", fraction="2/3")), "rule.threshold.strict"),
    (config("yes_no_abstain", rule=threshold("unanimity")), "rule.threshold.kind"),
    (config("plurality", ABC, {"rank_by": "weight"}), "rule.rank_by"),
])
def test_faulty_configurations(vote: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        tally([], vote, {"heads": 1})
    assert caught.value.details["errors"][0]["field"] == field


# --- scale ----------------------------------------------------------------------------------------

def test_a_hundred_thousand_rankings_of_ten_options() -> None:
    rng = np.random.default_rng(278)
    options = [f"option-{i}" for i in range(10)]
    orders = np.argsort(rng.random((100_000, 10)), axis=1)
    lengths = rng.integers(0, 11, 100_000)
    cast = [{"choice": [options[j] for j in order[:length]]} for order, length in zip(orders.tolist(), lengths)]
    for method in ("irv", "schulze"):
        result = tally(cast, config(method, options), {"heads": 100_000})
        assert result["winner"] in options
        assert result["counts"]["abstentions"]["heads"] == int((lengths == 0).sum())
