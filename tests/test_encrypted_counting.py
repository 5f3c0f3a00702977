"""An encrypted vote's result is the plaintext count's (docs/ballot-encryption.md §8, engine/voting/counting/encrypted.py).

Hypothesis makes up votes — yes/no/abstain, plurality and approval (any number of options approved, none to abstain),
by heads or by owners' areas, under random quorums, thresholds, dual majorities, rank-by-weight and tie rules, often
with ties — and ``counting.tally`` on the ballots in clear must equal, key for key, the result an encrypted vote
publishes from its decrypted sums: first with the sums the decryption gives computed in clear (many profiles, fast),
then through real encryption, homomorphic tally and 2-of-3 decryption (fewer profiles: proofs cost milliseconds).
``tally_sums`` refuses sums that no ballots could have.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.kernel.errors import InvalidInput
from engine.voting.counting.amounts import Amount
from engine.voting.counting.encrypted import result_from_counts
from engine.voting.counting.tally import Sums, tally, tally_sums
from engine.voting.encryption import trustees as T
from engine.voting.encryption.ballots import Ballot, encrypt_ballot, make_election, verify_ballot
from engine.voting.encryption.group import Scalar
from engine.voting.encryption.tally import decrypt_tally, homomorphic_tally, weight_units

AREAS = st.one_of(st.sampled_from(["86.35", "120.5", "45", "86.35", "0.01", "200.01"]), st.integers(1, 3),
                  st.integers(1, 40_000).map(lambda units: f"{units // 100}.{units % 100:02d}"))
SHARES = st.sampled_from(["1/2", "2/3", "3/4", "1/3", "1/1", "3/5"])


@st.composite
def rules(draw: st.DrawFn, method: str, weighted: bool) -> dict[str, Any]:
    bases = ["heads", "weight", "both"] if weighted else ["heads"]
    if weighted and draw(st.integers(0, 4)) == 0:
        return {"preset": draw(st.sampled_from(["civil_code_278", "civil_code_278_major"]))}
    rule: dict[str, Any] = {}
    if draw(st.booleans()):
        rule["quorum"] = {"share": draw(SHARES), "strict": draw(st.booleans()), "basis": draw(st.sampled_from(bases)),
                          "abstentions_count": draw(st.booleans())}
    if method == "yes_no_abstain" or draw(st.booleans()):
        kind = draw(st.sampled_from(["simple_majority", "majority_of_eligible", "two_thirds", "three_quarters",
                                     "custom"]))
        threshold: dict[str, Any] = {"kind": kind, "basis": draw(st.sampled_from(bases)),
                                     "abstentions_in_base": draw(st.booleans())}
        if kind == "custom":
            threshold |= {"fraction": draw(SHARES), "strict": draw(st.booleans())}
        rule["threshold"] = threshold
    if method != "yes_no_abstain":
        rule["ties"] = draw(st.sampled_from(["lot", "unresolved"]))
        if weighted:
            rule["rank_by"] = draw(st.sampled_from(["heads", "weight"]))
    return rule


@st.composite
def votes(draw: st.DrawFn, most_ballots: int = 25) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """A configuration, an electorate and the ballots cast, in clear (weights as owners' areas when weighted)."""
    method = draw(st.sampled_from(["yes_no_abstain", "plurality", "approval"]))
    weighted = draw(st.booleans())
    options = [f"o{i}" for i in range(draw(st.integers(2, 4)))]
    if method == "approval":
        choice = st.lists(st.sampled_from(options), unique=True, max_size=len(options))
    else:
        choice = st.sampled_from(["yes", "no", "abstain"] if method == "yes_no_abstain" else [*options, "abstain"])
    ballots = draw(st.lists(st.fixed_dictionaries({"choice": choice, **({"weight": AREAS} if weighted else {})}),
                            max_size=most_ballots))
    config: dict[str, Any] = {"method": method, "seed": draw(st.sampled_from(["vote-1", "种子"])),
                              "rule": draw(rules(method, weighted))}
    if method != "yes_no_abstain":
        config["options"] = options
    electorate: dict[str, Any] = {"heads": len(ballots) + draw(st.integers(0, 6)) or 1}
    if weighted:
        units = sum(weight_units(b["weight"]) for b in ballots) + draw(st.integers(0, 20_000)) or 1
        electorate |= {"weight": f"{units // 100}.{units % 100:02d}", "heads_label": "owners", "weight_unit": "m²"}
    return config, electorate, ballots


def slots_of(config: dict[str, Any]) -> list[str]:
    return [*config.get("options", ["yes", "no"]), "abstain"]


def marks(config: dict[str, Any], choice: Any) -> list[int]:
    """The 0/1 slots an encrypted ballot of this choice holds (docs §3): an empty approval marks ``abstain``."""
    if config["method"] == "approval":
        return [int(s in choice or (s == "abstain" and not choice)) for s in slots_of(config)]
    return [int(s == choice) for s in slots_of(config)]


def decrypted_sums(config: dict[str, Any], ballots: list[dict[str, Any]],
                   weighted: bool) -> tuple[list[int], list[int]]:
    """What the trustees' decryption gives, computed in clear: per slot the heads' sums then, for owners, the
    weights' (0.01 m²); and the tally's bounds (the number of ballots, their Σ weight)."""
    size = len(slots_of(config))
    heads = [sum(marks(config, b["choice"])[t] for b in ballots) for t in range(size)]
    if not weighted:
        return heads, [len(ballots)] * size
    units = [weight_units(b["weight"]) for b in ballots]
    weights = [sum(u * marks(config, b["choice"])[t] for b, u in zip(ballots, units)) for t in range(size)]
    return heads + weights, [len(ballots)] * size + [sum(units)] * size


def published(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("secrecy", "decryption")}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(votes())
def test_the_result_from_decrypted_sums_is_the_plaintext_count(vote: tuple[dict, dict, list]) -> None:
    config, electorate, ballots = vote
    weighted = "weight" in electorate
    counts, bounds = decrypted_sums(config, ballots, weighted)
    expected = tally(ballots, config, electorate)
    got = result_from_counts(config, electorate, slots_of(config), counts, bounds, weighted, [1, 3])
    assert published(got) == expected
    assert got["secrecy"] == "encrypted" and got["decryption"]["counts"] == counts


def test_the_profiles_reach_every_outcome_and_tie() -> None:
    """The property is only as good as its profiles: they must pass, reject, tie, draw lots and fail quorums."""
    seen: set[str] = set()

    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(votes())
    def collect(vote: tuple[dict, dict, list]) -> None:
        result = tally(vote[2], vote[0], vote[1])
        seen.add(f"{vote[0]['method']}:{result['outcome']}")
        seen.update(f"tie:{t['kind']}:{t['resolved_by']}" for t in result["ties"])

    collect()
    wanted = {"approval:passed", "approval:rejected", "approval:invalid", "plurality:passed", "yes_no_abstain:passed",
              "yes_no_abstain:rejected", "tie:first_place:lot", "tie:first_place:unresolved"}
    assert wanted <= seen, wanted - seen
    assert {"approval:tie", "plurality:tie"} & seen, seen


# Through real encryption: ballots encrypted and proved, summed under encryption, decrypted by 2 of 3 trustees

def trustees(vote: str) -> tuple[dict[int, Scalar], list[T.KeyShare], Any]:
    dealt = [T.deal(vote, i, 2, 3) for i in (1, 2, 3)]
    secrets, shares = {}, []
    for j in (1, 2, 3):
        secrets[j], share = T.key_share(vote, j, [s[j] for _, _, s in dealt])
        shares.append(share)
    return secrets, shares, T.election_key([d for _, d, _ in dealt])


SECRETS, KEY_SHARES, KEY = trustees("vote-counted")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(votes(most_ballots=8))
def test_encrypted_ballots_decrypted_by_trustees_give_the_plaintext_count(vote: tuple[dict, dict, list]) -> None:
    config, electorate, ballots = vote
    weighted = "weight" in electorate
    election = make_election("vote-counted", KEY, config["method"], config.get("options", []), 2,
                             [s.key for s in KEY_SHARES])
    encrypted = []
    for i, b in enumerate(ballots):
        ballot = Ballot.from_json(encrypt_ballot(election, Scalar(100 + i), b["choice"])[0].to_json())
        verify_ballot(election, ballot)
        encrypted.append(ballot)
    sums = homomorphic_tally(election, [(b, 1) for b in encrypted])
    bounds = [len(encrypted)] * len(sums)
    if weighted:
        units = [weight_units(b["weight"]) for b in ballots]
        weights = homomorphic_tally(election, list(zip(encrypted, units)))
        sums, bounds = sums + weights, bounds + [sum(units)] * len(weights)
    partials = [T.decrypt_partially(election.fingerprint, j, SECRETS[j], sums) for j in (1, 3)]
    counts = decrypt_tally(election, sums, KEY_SHARES, partials, max(bounds)).counts
    assert (counts, bounds) == decrypted_sums(config, ballots, weighted)
    got = result_from_counts(config, electorate, list(election.slots), counts, bounds, weighted, [1, 3])
    assert published(got) == tally(ballots, config, electorate)


# Sums that no ballots could have are refused

APPROVAL = {"method": "approval", "options": ["a", "b"], "seed": "s", "rule": {}}
PLURALITY = {**APPROVAL, "method": "plurality"}
OWNERS = {"heads": 10, "weight": "1000", "heads_label": "owners", "weight_unit": "m²"}


def heads(n: int) -> Amount:
    return Amount(n, Fraction(n))


@pytest.mark.parametrize("config,electorate,sums,field", [
    (APPROVAL, {"heads": 10}, Sums(heads(3), heads(1), {"a": heads(3), "b": heads(0)}), "sums.options"),
    (APPROVAL, {"heads": 10}, Sums(heads(3), heads(1), {"a": heads(1)}), "sums.options"),
    (PLURALITY, {"heads": 10}, Sums(heads(3), heads(1), {"a": heads(1), "b": heads(0)}), "sums.options"),
    (PLURALITY, {"heads": 10}, Sums(heads(3), heads(4), {"a": heads(0), "b": heads(0)}), "sums"),
    (APPROVAL, {"heads": 10}, Sums(heads(3), Amount(1, Fraction(2)), {"a": heads(1), "b": heads(1)}), "sums"),
    (APPROVAL, OWNERS, Sums(Amount(2, Fraction(0)), heads(0), {"a": heads(0), "b": heads(0)}), "sums"),
    (APPROVAL, {"heads": 2}, Sums(heads(3), heads(0), {"a": heads(3), "b": heads(0)}), "ballots"),
    ({**APPROVAL, "method": "irv"}, {"heads": 10}, Sums(heads(0), heads(0), {}), "config.method"),
])
def test_sums_no_ballots_could_have_are_refused(config, electorate, sums, field) -> None:
    with pytest.raises(InvalidInput) as refused:
        tally_sums(sums, config, electorate)
    assert refused.value.details["errors"][0]["field"] == field
