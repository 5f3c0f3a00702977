"""The tally: count a vote, apply its rule, and publish the result with its reasons.

Publishing and recounting are one function (``recount`` is ``tally``), so anyone holding the
bulletin board's ballots, the configuration and the electorate gets the published result back,
equal key for key. The result is plain JSON (fractions as ``{"fraction": "2/3", "decimal":
"0.666667"}``):

- ``method``, ``options``, ``seed``, ``rule`` (normalised), ``electorate``;
- ``counts``: ``cast``, ``abstentions``, ``voting`` (cast minus abstentions), each as heads and
  weight, and for yes/no, plurality and approval ``options``: heads and weight per option;
- ``rounds`` (instant runoff) or ``pairwise``, ``strongest_paths``, ``tiers`` and ``ranking`` (Schulze);
- ``quorum`` and ``threshold``: each check made, part and whole on each basis, and whether it was met;
- ``ties``: every tie, how it was settled and in words; ``tie_broken_by_lot``: whether a lot
  decided who won;
- ``winner`` (elections, when passed), ``outcome`` and ``explanation``, a few sentences.

``tally_sums`` gives the same result from sums instead of ballots — the cast, the abstentions and each option's
heads and weight, which is all the single-choice and approval methods' rules read — for a count whose ballots are
never seen one by one (an encrypted vote's decrypted tally, docs/ballot-encryption.md §8).

Outcomes: ``invalid`` when the quorum is not met (the count is still shown, but decides nothing);
``passed``; ``rejected`` (the threshold was not reached, or no ballot chose anything); ``tie``
when yes and no are level under a majority threshold, or when options are level at the top and
the rule's ``ties`` is ``unresolved``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine.voting.counting.amounts import Amount, Basis, number_text
from engine.voting.counting.ballots import ABSTAIN, Ballots, check_choices, rank_positions, read_ballots
from engine.voting.counting.configuration import Vote, read_vote
from engine.voting.counting.electorate import Electorate, read_electorate
from engine.voting.counting.methods import (
    Runoff, count_options, instant_runoff, leaders, names_text, schulze, settle_first_place,
)
from engine.voting.counting.refusal import refuse
from engine.voting.counting.rules import (
    Check, Rule, measure, quorum_sentence, read_rule, threshold_base, threshold_sentence,
)


@dataclass(frozen=True)
class Turnout:
    cast: Amount
    abstentions: Amount

    @property
    def voting(self) -> Amount:
        return self.cast - self.abstentions


@dataclass(frozen=True)
class Count:
    """What a method found, before the rule decides: counts, ties, who leads and who wins if the count can tell."""

    summary: str
    options: dict[str, Amount] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    ties: list[dict[str, Any]] = field(default_factory=list)
    leaders: list[str] = field(default_factory=list)
    winner: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: str
    winner: str | None
    threshold: list[dict[str, Any]] | None
    reasons: list[str]
    verdict: str
    ties: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Sums:
    """A count already summed: the ballots cast, the abstentions among them, and each option's heads and weight
    (for approval, the ballots approving it). Weights are exact; in an unweighted electorate a weight equals its heads."""

    cast: Amount
    abstentions: Amount
    options: dict[str, Amount]


SUMMED = ("yes_no_abstain", "plurality", "approval")
"""The methods whose rules read only a count's sums: ranked methods need each ballot's order."""


def tally(ballots: Any, config: Any, electorate: Any) -> dict[str, Any]:
    """The published result of a vote; given the same inputs it is the same dict, so it doubles as the recount."""
    vote = read_vote(config)
    voters = read_electorate(electorate)
    rule = read_rule(vote.rule, vote.method, voters.weighted)
    cast = read_ballots(ballots, voters.weighted)
    turnout = Turnout(cast.cast(), _abstentions(cast))
    _within_electorate(turnout.cast, voters)
    count = COUNTERS[vote.method](vote, rule, cast, voters, turnout)
    return _published(vote, rule, voters, turnout, count)


def tally_sums(sums: Sums, config: Any, electorate: Any) -> dict[str, Any]:
    """The result ``tally`` gives for any ballots with these sums — equal key for key, since the rules of these
    methods (quorum, thresholds, dual majorities, leaders, lots) read nothing else. Sums that no ballots could have
    (an option counted more often than ballots were cast, in a single-choice vote parts that do not add up to the
    cast) are refused rather than counted."""
    vote = read_vote(config)
    if vote.method not in SUMMED:
        refuse("config.method", f"a count from sums is for {', '.join(SUMMED)} votes: ranked ballots are read one by one")
    voters = read_electorate(electorate)
    rule = read_rule(vote.rule, vote.method, voters.weighted)
    options = _checked_sums(sums, vote, voters)
    turnout = Turnout(sums.cast, sums.abstentions)
    _within_electorate(turnout.cast, voters)
    return _published(vote, rule, voters, turnout, _choice_count(vote, rule, options, voters, turnout))


def _checked_sums(sums: Sums, vote: Vote, voters: Electorate) -> dict[str, Amount]:
    """The options' sums in the vote's order, once every sum is one that some ballots could have."""
    if set(sums.options) != set(vote.options):
        refuse("sums.options", f"one sum for each of {', '.join(vote.options)}")
    options = {o: sums.options[o] for o in vote.options}
    voting = sums.cast - sums.abstentions
    amounts = [sums.cast, sums.abstentions, voting, *options.values()]
    if any(a.heads < 0 or a.weight < 0 or (a.heads == 0) != (a.weight == 0) for a in amounts):
        refuse("sums", "heads and weights are not negative, and zero together")
    if not voters.weighted and any(a.weight != a.heads for a in amounts):
        refuse("sums", "in an unweighted electorate each weight equals its heads")
    if vote.method == "approval":
        if any(a.heads > voting.heads or a.weight > voting.weight for a in options.values()):
            refuse("sums.options", "an option approved more often than ballots approved anything")
    elif sum(options.values(), Amount(0, Fraction(0))) != voting:
        refuse("sums.options", "the options' sums do not add up to the ballots cast less the abstentions")
    return options


def _published(vote: Vote, rule: Rule, voters: Electorate, turnout: Turnout, count: Count) -> dict[str, Any]:
    quorum = _quorum_checks(rule, turnout, voters)
    quorate = rule.quorum is None or all(c.met for c in quorum)
    decide = _decide_yes_no if vote.method == "yes_no_abstain" else _decide_election
    decision = decide(vote, rule, voters, count, turnout, quorate)
    ties = count.ties + decision.ties
    return {
        "method": vote.method,
        "options": vote.options,
        "seed": vote.seed,
        "rule": rule.render(),
        "electorate": voters.render(),
        "counts": _counts(turnout, count),
        **count.details,
        "quorum": None if rule.quorum is None else {"met": quorate, "checks": [c.render() for c in quorum]},
        "threshold": decision.threshold,
        "ties": ties,
        "tie_broken_by_lot": decision.outcome == "passed" and _lot_decided(ties),
        "winner": decision.winner,
        "outcome": decision.outcome,
        "explanation": [quorum_sentence(rule.quorum, quorum, voters), count.summary, *decision.reasons,
                        *(tie["explanation"] for tie in ties), decision.verdict],
    }


# Recounting a bulletin board is tallying it again: one function, so the two cannot drift apart.
recount = tally


def _count_choices(vote: Vote, rule: Rule, cast: Ballots, voters: Electorate, turnout: Turnout) -> Count:
    """Yes/no, plurality and approval: heads and weight per option, and the leaders by the rule's measure."""
    check_choices(cast.choices, vote.method, vote.options)
    return _choice_count(vote, rule, count_options(cast, vote.options, several=vote.method == "approval"), voters,
                         turnout)


def _choice_count(vote: Vote, rule: Rule, counts: dict[str, Amount], voters: Electorate, turnout: Turnout) -> Count:
    """What the rule needs of a yes/no, plurality or approval count, from its per-option sums alone."""
    listed = "; ".join(f"{option} {_votes(amount, voters)}" for option, amount in counts.items())
    summary = (f"{'Approvals' if vote.method == 'approval' else 'Count'}: {listed}; "
               f"abstained {_votes(turnout.abstentions, voters)}.")
    if vote.method == "yes_no_abstain":
        return Count(summary, counts)
    top = leaders(counts, rule.rank_by)
    if not top:
        return Count(summary, counts)
    level = f"had {_measure_text(counts[top[0]], rule.rank_by, voters)} each"
    winner, tie = settle_first_place(top, vote.seed, rule.ties, level)
    return Count(summary, counts, ties=[tie] if tie else [], leaders=top, winner=winner)


def _count_runoff(vote: Vote, rule: Rule, cast: Ballots, voters: Electorate, turnout: Turnout) -> Count:
    runoff = instant_runoff(rank_positions(cast.choices, vote.options), vote.options, vote.seed, rule.ties)
    return Count(_runoff_summary(runoff), details={"rounds": runoff.rounds}, ties=runoff.ties,
                 leaders=runoff.standing, winner=runoff.winner)


def _count_schulze(vote: Vote, rule: Rule, cast: Ballots, voters: Electorate, turnout: Turnout) -> Count:
    order = schulze(rank_positions(cast.choices, vote.options), vote.options, vote.seed)
    details = {"pairwise": order.pairwise, "strongest_paths": order.strongest_paths, "tiers": order.tiers,
               "ranking": order.ranking}
    if not turnout.voting.heads:
        return Count("Schulze: no ballot ranked any option.", details=details)
    winner, tie = settle_first_place(order.tiers[0], vote.seed, rule.ties, "are unbeaten in the Schulze order")
    summary = f"Schulze order (strongest paths, winning votes): {' > '.join(' = '.join(t) for t in order.tiers)}."
    return Count(summary, details=details, ties=([tie] if tie else []) + order.ties, leaders=order.tiers[0],
                 winner=winner)


COUNTERS: dict[str, Callable[[Vote, Rule, Ballots, Electorate, Turnout], Count]] = {
    "yes_no_abstain": _count_choices,
    "plurality": _count_choices,
    "approval": _count_choices,
    "irv": _count_runoff,
    "schulze": _count_schulze,
}
INVALID = "Outcome: invalid — the quorum was not met, so the vote decides nothing."


def _decide_yes_no(vote: Vote, rule: Rule, voters: Electorate, count: Count, turnout: Turnout,
                   quorate: bool) -> Decision:
    threshold = rule.threshold
    assert threshold is not None  # read_rule gives every yes/no vote one
    yes, no = count.options["yes"], count.options["no"]
    base = threshold_base(threshold, turnout.cast, turnout.voting, voters.eligible)
    checks = measure(yes, base, threshold.share, threshold.strict, threshold.basis)
    published = [_evaluation("yes", checks)]
    reasons = [threshold_sentence(threshold, "yes", checks, vote.method, voters)]
    if not quorate:
        return Decision("invalid", None, published, reasons, INVALID)
    if all(c.met for c in checks):
        return Decision("passed", None, published, reasons, "Outcome: passed.")
    if _level(rule, checks, yes, no):
        level = " and ".join(_measure_text(yes, c.basis, voters) for c in checks if not c.met)
        tie = {"kind": "yes_no", "tied": ["yes", "no"], "resolved_by": "unresolved",
               "explanation": f"Tie: yes and no had {level} each; a yes/no vote is never decided by lot."}
        return Decision("tie", None, published, reasons, "Outcome: tie — yes and no were level.", [tie])
    failed = [c for c in checks if not c.met]
    if len(checks) > 1:  # a dual majority: say which of the two was not reached
        which = " and ".join(f"by {voters.heads_label}" if c.basis == "heads" else f"by {voters.weight_unit}" for c in failed)
        return Decision("rejected", None, published, reasons, f"Outcome: rejected — the majority {which} was not reached.")
    return Decision("rejected", None, published, reasons, "Outcome: rejected.")


def _decide_election(vote: Vote, rule: Rule, voters: Electorate, count: Count, turnout: Turnout,
                     quorate: bool) -> Decision:
    contenders = [count.winner] if count.winner else count.leaders
    evaluations = _threshold_checks(rule, count, contenders, turnout, voters)
    published = None if rule.threshold is None else [_evaluation(o, checks) for o, checks in evaluations.items()]
    reasons = [] if rule.threshold is None else [
        threshold_sentence(rule.threshold, option, checks, vote.method, voters)
        for option, checks in evaluations.items()
    ]
    reached = [o for o in contenders if rule.threshold is None or all(c.met for c in evaluations[o])]
    if not quorate:
        return Decision("invalid", None, published, reasons, INVALID)
    if not count.leaders:
        return Decision("rejected", None, published, reasons, "Outcome: rejected — no ballot chose an option.")
    if not reached:
        return Decision("rejected", None, published, reasons, "Outcome: rejected — no option reached the threshold.")
    if count.winner is None:
        return Decision("tie", None, published, reasons,
                        f"Outcome: tie — {names_text(contenders)} are level and the rule draws no lots.")
    return Decision("passed", count.winner, published, reasons, f"Outcome: passed — {count.winner} wins.")


def _threshold_checks(rule: Rule, count: Count, contenders: list[str], turnout: Turnout,
                      voters: Electorate) -> dict[str, list[Check]]:
    """The threshold measured for the winner, or for each option level at the top when no winner was drawn."""
    threshold = rule.threshold
    if threshold is None:
        return {}
    base = threshold_base(threshold, turnout.cast, turnout.voting, voters.eligible)
    return {o: measure(count.options[o], base, threshold.share, threshold.strict, threshold.basis) for o in contenders}


def _level(rule: Rule, checks: list[Check], yes: Amount, no: Amount) -> bool:
    """Yes and no exactly level on every count that decides (both, in a dual majority: heads 5 to 3 with the
    area level is a majority of heads and no majority of area, so rejected, not a tie); a missed
    supermajority or share of the eligible is no tie."""
    threshold = rule.threshold
    assert threshold is not None
    return (threshold.share == Fraction(1, 2) and not threshold.of_eligible and yes.heads > 0
            and all(yes.of(c.basis) == no.of(c.basis) for c in checks))


def _quorum_checks(rule: Rule, turnout: Turnout, voters: Electorate) -> list[Check]:
    """The quorum's checks; without a quorum, the same measures of turnout, for the sentence that reports it."""
    if rule.quorum is None:
        return measure(turnout.cast, voters.eligible, Fraction(0), False, "both" if voters.weighted else "heads")
    quorum = rule.quorum
    part = turnout.cast if quorum.abstentions_count else turnout.voting
    return measure(part, voters.eligible, quorum.share, quorum.strict, quorum.basis)


def _abstentions(cast: Ballots) -> Amount:
    pairs = zip(cast.choices, cast.weights)
    return cast.amount(weight for choice, weight in pairs if choice == ABSTAIN or choice == [])


def _within_electorate(cast: Amount, voters: Electorate) -> None:
    if cast.heads > voters.eligible.heads:
        refuse("ballots", f"{cast.heads} ballots but only {voters.eligible.heads} eligible {voters.heads_label}")
    if cast.weight > voters.eligible.weight:
        refuse("ballots", f"the ballots weigh {number_text(cast.weight)} {voters.weight_unit}, "
                          f"more than the electorate's {number_text(voters.eligible.weight)}")


def _counts(turnout: Turnout, count: Count) -> dict[str, Any]:
    counts = {"cast": turnout.cast.render(), "abstentions": turnout.abstentions.render(),
              "voting": turnout.voting.render()}
    return {**counts, "options": {o: a.render() for o, a in count.options.items()}} if count.options else counts


def _evaluation(option: str, checks: list[Check]) -> dict[str, Any]:
    return {"option": option, "met": all(c.met for c in checks), "checks": [c.render() for c in checks]}


def _lot_decided(ties: list[dict[str, Any]]) -> bool:
    """Whether a lot could have changed who won: any drawn tie for first place or for elimination."""
    return any(tie["resolved_by"] == "lot" and tie["kind"] != "ranking" for tie in ties)


def _runoff_summary(runoff: Runoff) -> str:
    if not runoff.rounds:
        return "Instant runoff: no ballot ranked any option."
    last = runoff.rounds[-1]
    eliminated = [option for r in runoff.rounds for option in r.get("eliminated", [])]
    parts = [f"Instant runoff: {len(runoff.rounds)} round{'s' if len(runoff.rounds) > 1 else ''}"]
    if eliminated:
        parts.append(f"eliminated in turn: {', '.join(eliminated)}")
    if runoff.winner:
        parts.append(f"{runoff.winner} had {last['counts'][runoff.winner]} of {last['continuing']} "
                     f"continuing ballots in round {last['round']}")
    else:
        parts.append(f"the count stopped at a tie in round {last['round']}")
    return "; ".join(parts) + "."


def _votes(amount: Amount, voters: Electorate) -> str:
    """"40 votes" or "40 votes (3,120.5 m²)": a count as a sentence reads it."""
    heads = f"{amount.heads} vote{'' if amount.heads == 1 else 's'}"
    return f"{heads} ({number_text(amount.weight)} {voters.weight_unit})" if voters.weighted else heads


def _measure_text(amount: Amount, basis: Basis, voters: Electorate) -> str:
    if basis == "heads":
        return f"{amount.heads} vote{'' if amount.heads == 1 else 's'}"
    return f"{number_text(amount.weight)} {voters.weight_unit}"
