"""Encrypted ballots (docs/ballot-encryption.md): the group's encodings, hashing, proofs that refuse any altered
field, cheating ballots, the k-of-n trustees, the weighted tally, BSGS, and fixed vectors that pin the encoding.

Pure and fast: no database. Randomness comes from ``Seeded`` here (tests only), so the vectors are reproducible;
``YISHI_WRITE_VECTORS=1`` rewrites ``tests/vectors/ballot-encryption-v1.json`` — which is exactly what a change
breaking old boards must never need.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.voting.encryption import trustees as T
from engine.voting.encryption.ballots import (
    Ballot, BallotRefused, Election, audit, audit_to_json, encrypt_ballot, make_election, tracker, verify_ballot,
    _signed_digest, coefficients,
)
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.encoding import hx
from engine.voting.encryption.group import BASE, IDENTITY, L, EncodingError, Point, Scalar, base_mul, small
from engine.voting.encryption.hashing import KINDS, expand_message_xmd, hash_to_scalar
from engine.voting.encryption.proofs import schnorr_prove
from engine.voting.encryption.tally import (
    DiscreteLogError, decrypt_tally, discrete_log, homomorphic_tally, weight_units,
)
from tests.dishonest_booth import cheat

VECTORS = Path(__file__).parent / "vectors" / "ballot-encryption-v1.json"


class Seeded:
    """Deterministic non-zero scalars from a seed: for tests and vectors ONLY (real ballots use the OS CSPRNG)."""

    def __init__(self, seed: str):
        self.seed, self.n = seed, 0

    def __call__(self) -> Scalar:
        self.n += 1
        digest = hashlib.sha512(f"yishi-test-randomness|{self.seed}|{self.n}".encode()).digest()
        return Scalar(int.from_bytes(digest, "little") % (L - 1) + 1)


def setup_trustees(vote: str, k: int, n: int, seed: str = "dkg") -> tuple[list[T.Dealing], dict[int, Scalar], list[T.KeyShare], Point]:
    rng = Seeded(seed)
    dealt = [T.deal(vote, i, k, n, rng) for i in range(1, n + 1)]
    dealings = [d for _, d, _ in dealt]
    secrets, shares = {}, []
    for j in range(1, n + 1):
        for _, dealing, given_shares in dealt:
            assert T.verify_share(dealing, j, given_shares[j])
        secrets[j], share = T.key_share(vote, j, [s[j] for _, _, s in dealt], rng)
        shares.append(share)
    return dealings, secrets, shares, T.election_key(dealings)


VOTE = "vote-7f3a"
DEALINGS, SECRETS, SHARES, KEY = setup_trustees(VOTE, 2, 3)
PLURALITY = make_election(VOTE, KEY, "plurality", ["park", "gym"], 2, [s.key for s in SHARES])
ALICE, BOB = Scalar(1234567), Scalar(7654321)
SAMPLE, SAMPLE_R = encrypt_ballot(PLURALITY, ALICE, "gym", Seeded("sample"))


# The group and hashing

RFC9496_MULTIPLES = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
]
RFC9496_BAD = [
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  # non-canonical
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # non-canonical
    "0100000000000000000000000000000000000000000000000000000000000000",  # negative
    "0000000000000000000000000000000000000000000000000000000000000080",  # the identity with bit 255 set
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2df6",  # G with bit 255 set
]


def test_libsodium_alone_would_accept_bit_255():
    """Why Point.decode checks bit 255 itself: the libsodium bundled with rbcl ignores it."""
    import rbcl
    assert rbcl.crypto_core_ristretto255_is_valid_point(bytes.fromhex(RFC9496_BAD[-1]))


def test_base_multiples_match_rfc_9496():
    assert [small(m).encode().hex() for m in range(4)] == RFC9496_MULTIPLES
    assert BASE.encode().hex() == RFC9496_MULTIPLES[1]


@pytest.mark.parametrize("encoding", RFC9496_BAD)
def test_invalid_encodings_are_refused(encoding):
    with pytest.raises(EncodingError):
        Point.decode(bytes.fromhex(encoding), allow_identity=True)


def test_identity_only_where_allowed_and_scalars_canonical():
    assert Point.decode(bytes(32), allow_identity=True) == IDENTITY
    with pytest.raises(EncodingError):
        Point.decode(bytes(32))
    with pytest.raises(EncodingError):
        Scalar.decode(L.to_bytes(32, "little"))
    assert Scalar.decode((L - 1).to_bytes(32, "little")).value == L - 1
    assert BASE * Scalar(0) == IDENTITY and small(5) - small(5) == IDENTITY
    assert base_mul(Scalar(L - 1)) + BASE == IDENTITY


def test_expand_message_xmd_matches_rfc_9380():
    tag = b"QUUX-V01-CS02-with-expander-SHA512-256"
    assert expand_message_xmd(b"", tag, 0x20).hex() == "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"
    assert expand_message_xmd(b"abc", tag, 0x20).hex() == "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"


def test_hashes_are_domain_separated_and_unambiguous():
    values = {hash_to_scalar(kind, b"x") for kind in KINDS}
    assert len(values) == len(KINDS)
    assert hash_to_scalar("range", b"ab", b"c") != hash_to_scalar("range", b"a", b"bc")
    with pytest.raises(ValueError):
        hash_to_scalar("nonsense", b"x")


# Ballots: round trips and audit

@pytest.mark.parametrize("method,options,choice", [
    ("yes_no_abstain", [], "yes"), ("yes_no_abstain", [], "abstain"), ("plurality", ["a", "b", "c"], "c"),
    ("plurality", ["a", "b"], "abstain"), ("approval", ["a", "b", "c"], ["a", "c"]), ("approval", ["a", "b"], []),
])
def test_ballot_round_trip_verifies_and_audits(method, options, choice):
    election = make_election(VOTE, KEY, method, options, 2, [s.key for s in SHARES])
    ballot, randomness = encrypt_ballot(election, ALICE, choice)
    parsed = Ballot.from_json(json.loads(json.dumps(ballot.to_json())))
    verify_ballot(election, parsed)
    assert tracker(parsed) == tracker(ballot)
    assert audit(election, parsed, randomness) == choice


def test_audit_with_wrong_randomness_is_refused():
    with pytest.raises(BallotRefused):
        audit(PLURALITY, SAMPLE, [SAMPLE_R[1], SAMPLE_R[0], SAMPLE_R[2]])


def test_invalid_choices_are_refused_before_encrypting():
    approval = make_election(VOTE, KEY, "approval", ["a", "b", "c"], 2, [s.key for s in SHARES], least=1, most=2)
    for election, choice in [(PLURALITY, "library"), (PLURALITY, ["park"]), (approval, ["abstain"]),
                             (approval, ["a", "b", "c"]), (approval, ["a", "a"]), (approval, "a")]:
        with pytest.raises(ValueError):
            encrypt_ballot(election, ALICE, choice)
    with pytest.raises(ValueError):
        make_election(VOTE, KEY, "irv", ["a", "b"], 2, [s.key for s in SHARES])


# Every field of a ballot: altering any one is refused

def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key in sorted(value) for p in leaves(value[key], (*path, key))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in leaves(item, (*path, i))]
    return [path]


def altered(value: Any, path: tuple) -> Any:
    """The same object with one leaf changed to another WELL-FORMED value, so the proofs, not decoding, must refuse it."""
    result = copy.deepcopy(value)
    holder = result
    for key in path[:-1]:
        holder = holder[key]
    old = holder[path[-1]]
    if isinstance(old, int):
        holder[path[-1]] = old + 1
    elif path[-1] in ("c", "s") or path[-2:-1] == ("randomness",):
        holder[path[-1]] = hx(Scalar.decode(bytes.fromhex(old)) + Scalar(1))
    elif path[-1] in ("election",):
        holder[path[-1]] = hashlib.sha256(old.encode()).hexdigest()
    elif path[-1] in ("vote", "format"):
        holder[path[-1]] = old + "x"
    else:
        holder[path[-1]] = hx(Point.decode(bytes.fromhex(old), allow_identity=True) + BASE)
    return result


BALLOT_JSON = SAMPLE.to_json()


@pytest.mark.parametrize("path", leaves(BALLOT_JSON), ids=lambda p: ".".join(map(str, p)))
def test_any_altered_ballot_field_is_refused(path):
    tampered = altered(BALLOT_JSON, path)
    with pytest.raises((BallotRefused, EncodingError)):
        verify_ballot(PLURALITY, Ballot.from_json(tampered))


def test_extra_or_missing_ballot_keys_are_refused():
    with pytest.raises(EncodingError):
        Ballot.from_json({**BALLOT_JSON, "note": "x"})
    with pytest.raises(EncodingError):
        Ballot.from_json({k: v for k, v in BALLOT_JSON.items() if k != "signature"})
    with pytest.raises(EncodingError):
        Ballot.from_json({**BALLOT_JSON, "credential": BALLOT_JSON["credential"].upper()})


# Cheating ballots: a dishonest booth that proves what is not true (tests/dishonest_booth.py)

@pytest.mark.parametrize("values,claims,claimed_sum,refusal", [
    ([2, 0, 0], [1, 0, 0], 1, "'park' is 0 or 1"),         # two votes for one option
    ([1, 1, 0], [1, 1, 0], 1, "marks 1 to 1"),             # two options in a plurality ballot
    ([0, 0, 0], [0, 0, 0], 1, "marks 1 to 1"),             # an empty plurality ballot
    ([2, -1, 0], [1, 0, 0], 1, "'park' is 0 or 1"),        # a 2 paid for by a −1
    ([0, 2, 0], [0, 1, 0], 1, "'gym' is 0 or 1"),          # a value 2
])
def test_cheating_ballots_are_refused(values, claims, claimed_sum, refusal):
    with pytest.raises(BallotRefused, match=refusal):
        verify_ballot(PLURALITY, cheat(PLURALITY, ALICE, values, claims, claimed_sum, Seeded("cheat")))


APPROVAL = make_election(VOTE, KEY, "approval", ["a", "b", "c"], 2, [s.key for s in SHARES], least=1, most=2)
"""Slots a, b, c, abstain; a ballot approves 1 or 2 options, or abstains (its ``abstain`` weighs max = 2)."""


@pytest.mark.parametrize("values,claims,claimed_sum,refusal", [
    ([1, 0, 0, 1], [1, 0, 0, 1], 2, "approves 1 to 2 options or abstains"),  # abstain, and approve an option
    ([1, 1, 1, 0], [1, 1, 1, 0], 2, "approves 1 to 2 options or abstains"),  # more than max
    ([0, 0, 0, 0], [0, 0, 0, 0], 1, "approves 1 to 2 options or abstains"),  # nothing, without abstaining
    ([2, 0, 0, 0], [1, 0, 0, 0], 2, "'a' is 0 or 1"),                         # a 2 in a slot (its sum is in range)
    ([0, 0, 0, 2], [0, 0, 0, 1], 2, "'abstain' is 0 or 1"),                   # a 2 in abstain
    ([1, 1, 1, -1], [1, 1, 1, 0], 1, "'abstain' is 0 or 1"),                  # 3 options paid for by a −1
])
def test_cheating_approval_ballots_are_refused(values, claims, claimed_sum, refusal):
    with pytest.raises(BallotRefused, match=refusal):
        verify_ballot(APPROVAL, cheat(APPROVAL, ALICE, values, claims, claimed_sum, Seeded("approval")))


@pytest.mark.parametrize("least,most", [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)])
def test_an_approval_ballot_proves_exactly_when_it_is_a_valid_choice(least, most):
    """Every 0/1 marking of the 4 slots, proved as best a cheater can (the overall proof claims the true weighted
    sum): it verifies if and only if it abstains with no option, or approves least..most options without abstaining."""
    election = make_election(VOTE, KEY, "approval", ["a", "b", "c"], 2, [s.key for s in SHARES], least, most)
    for values in itertools.product((0, 1), repeat=4):
        *options, abstain = values
        valid = (abstain == 1 and sum(options) == 0) or (abstain == 0 and least <= sum(options) <= most)
        weighted = sum(m * w for m, w in zip(values, coefficients(election)))
        claimed = weighted if least <= weighted <= most else least
        ballot = cheat(election, ALICE, list(values), list(values), claimed, Seeded(f"every-{values}"))
        try:
            verify_ballot(election, ballot)
            verified = True
        except BallotRefused:
            verified = False
        assert verified == valid, (least, most, values)


def test_approval_bounds_are_checked():
    keys = [s.key for s in SHARES]
    for least, most in [(0, 2), (2, 1), (1, 4), (-1, 1)]:
        with pytest.raises(EncodingError):
            make_election(VOTE, KEY, "approval", ["a", "b", "c"], 2, keys, least, most)
    descriptor = APPROVAL.descriptor()
    for bad in [{"slots": ["a", "b", "c"]}, {"slots": ["abstain", "a", "b", "c"]}, {"min": 0}, {"max": 4}]:
        with pytest.raises(EncodingError):
            Election.from_json({**descriptor, **bad})
    with pytest.raises(EncodingError):
        Election.from_json({**PLURALITY.descriptor(), "max": 2})


def test_a_ballot_replayed_in_another_vote_is_refused():
    other = make_election("vote-other", KEY, "plurality", ["park", "gym"], 2, [s.key for s in SHARES])
    with pytest.raises(BallotRefused, match="another vote"):
        verify_ballot(other, SAMPLE)
    # relabelled for the other vote and re-signed: the proofs were bound to the first vote's fingerprint
    moved = Ballot(other.vote, other.fingerprint, SAMPLE.credential, SAMPLE.ciphertexts, SAMPLE.proofs,
                   SAMPLE.overall_proof, None)
    moved = Ballot(**{**moved.__dict__, "signature": schnorr_prove(
        "signature", (other.fingerprint, _signed_digest(moved)), ALICE, Seeded("resign"))})
    with pytest.raises(BallotRefused, match="is 0 or 1"):
        verify_ballot(other, moved)


def test_a_ballot_copied_under_another_voters_credential_is_refused():
    copied = Ballot(PLURALITY.vote, PLURALITY.fingerprint, base_mul(BOB), SAMPLE.ciphertexts, SAMPLE.proofs,
                    SAMPLE.overall_proof, None)
    copied = Ballot(**{**copied.__dict__, "signature": schnorr_prove(
        "signature", (PLURALITY.fingerprint, _signed_digest(copied)), BOB, Seeded("bob"))})
    with pytest.raises(BallotRefused, match="is 0 or 1"):
        verify_ballot(PLURALITY, copied)
    stolen = Ballot(**{**SAMPLE.__dict__, "credential": base_mul(BOB)})  # Alice's signature under Bob's name
    with pytest.raises(BallotRefused):
        verify_ballot(PLURALITY, stolen)


# Trustees: k of n

def test_any_k_of_n_trustees_decrypt_and_k_minus_1_cannot():
    dealings, secrets, shares, key = setup_trustees("vote-t", 3, 5, "five")
    election = make_election("vote-t", key, "yes_no_abstain", [], 3, [s.key for s in shares])
    ballots = [encrypt_ballot(election, Scalar(100 + i), choice, Seeded(f"t{i}"))[0]
               for i, choice in enumerate(["yes", "yes", "no", "abstain", "yes"])]
    sums = homomorphic_tally(election, [(b, 1) for b in ballots])
    partials = {j: T.decrypt_partially(election.fingerprint, j, secrets[j], sums, Seeded(f"p{j}")) for j in secrets}
    for chosen in itertools.combinations(range(1, 6), 3):
        result = decrypt_tally(election, sums, shares, [partials[j] for j in chosen], 5)
        assert result.counts == [3, 1, 1] and result.used == list(chosen) and not result.bad
    for chosen in itertools.combinations(range(1, 6), 2):
        with pytest.raises(ValueError, match="3 are needed"):
            decrypt_tally(election, sums, shares, [partials[j] for j in chosen], 5)
        # and k−1 factors, combined anyway, do not give the plaintext
        wrong = [T.lagrange(chosen, j) for j in chosen]
        factor = partials[chosen[0]].factors[0] * wrong[0] + partials[chosen[1]].factors[0] * wrong[1]
        assert sums[0].beta - factor != small(3)


def test_a_bad_share_is_detected_and_its_dealer_named():
    _, dealing, shares = T.deal("vote-d", 2, 2, 3, Seeded("d"))
    bad = shares[3] + Scalar(1)
    assert not T.verify_share(dealing, 3, bad)
    assert T.resolve_complaint(dealing, 3, bad) == 2
    assert T.resolve_complaint(dealing, 3, None) == 2
    assert T.resolve_complaint(dealing, 3, shares[3]) is None


def test_bad_dealings_and_key_shares_name_their_trustee():
    _, dealing, _ = T.deal(VOTE, 2, 2, 3, Seeded("x"))
    T.verify_dealing(VOTE, dealing, 2)
    with pytest.raises(T.BadTrustee, match="trustee 2: 2 commitments, not 3"):
        T.verify_dealing(VOTE, dealing, 3)
    with pytest.raises(T.BadTrustee) as caught:
        T.verify_dealing("another-vote", dealing, 2)
    assert caught.value.trustee == 2
    for share in SHARES:
        T.verify_key_share(VOTE, DEALINGS, share)
    lying = T.KeyShare(2, SHARES[1].key + BASE, SHARES[1].proof)
    with pytest.raises(T.BadTrustee, match="trustee 2: the verification key"):
        T.verify_key_share(VOTE, DEALINGS, lying)
    wrong_proof = T.KeyShare(3, SHARES[2].key, SHARES[0].proof)
    with pytest.raises(T.BadTrustee, match="trustee 3: the proof"):
        T.verify_key_share(VOTE, DEALINGS, wrong_proof)


def test_a_bad_decryption_factor_names_its_trustee_and_the_others_suffice():
    sums = homomorphic_tally(PLURALITY, [(SAMPLE, 1)])
    good = {j: T.decrypt_partially(PLURALITY.fingerprint, j, SECRETS[j], sums, Seeded(f"g{j}")) for j in SECRETS}
    forged = T.Partial(1, [f + BASE for f in good[1].factors], good[1].proofs)
    result = decrypt_tally(PLURALITY, sums, SHARES, [forged, good[2], good[3]], 1)
    assert result.counts == [0, 1, 0] and result.bad == {1: "the decryption proof of ciphertext 0 fails"}
    assert result.used == [2, 3]
    with pytest.raises(ValueError, match="2 are needed"):
        decrypt_tally(PLURALITY, sums, SHARES, [forged, good[2]], 1)
    # a factor made with another trustee's key is refused too
    impostor = T.Partial(3, good[2].factors, good[2].proofs)
    assert decrypt_tally(PLURALITY, sums, SHARES, [impostor, good[1], good[2]], 1).bad.keys() == {3}


PARTIAL_JSON = T.decrypt_partially(PLURALITY.fingerprint, 2, SECRETS[2],
                                   homomorphic_tally(PLURALITY, [(SAMPLE, 1)]), Seeded("pj")).to_json()


@pytest.mark.parametrize("path", [p for p in leaves(PARTIAL_JSON) if p != ("trustee",)], ids=lambda p: ".".join(map(str, p)))
def test_any_altered_decryption_field_is_refused(path):
    sums = homomorphic_tally(PLURALITY, [(SAMPLE, 1)])
    T.verify_partial(PLURALITY.fingerprint, SHARES[1], sums, T.Partial.from_json(PARTIAL_JSON))
    with pytest.raises((T.BadTrustee, EncodingError)):
        T.verify_partial(PLURALITY.fingerprint, SHARES[1], sums, T.Partial.from_json(altered(PARTIAL_JSON, path)))


@pytest.mark.parametrize("path", leaves(SHARES[0].to_json()), ids=lambda p: ".".join(map(str, p)))
def test_any_altered_key_share_field_is_refused(path):
    with pytest.raises((T.BadTrustee, EncodingError)):
        T.verify_key_share(VOTE, DEALINGS, T.KeyShare.from_json(altered(SHARES[0].to_json(), path)))


@pytest.mark.parametrize("path", leaves(DEALINGS[0].to_json()), ids=lambda p: ".".join(map(str, p)))
def test_any_altered_dealing_field_is_refused(path):
    with pytest.raises((T.BadTrustee, EncodingError)):
        T.verify_dealing(VOTE, T.Dealing.from_json(altered(DEALINGS[0].to_json(), path)), 2)


# The weighted tally and the discrete log

def test_weighted_tally_is_the_weighted_count():
    areas = ["86.35", "120", "45.5", "86.35", "200.01"]
    choices = ["park", "gym", "abstain", "park", "gym"]
    weights = [weight_units(a) for a in areas]
    ballots = [encrypt_ballot(PLURALITY, Scalar(500 + i), c, Seeded(f"w{i}"))[0] for i, c in enumerate(choices)]
    sums = homomorphic_tally(PLURALITY, list(zip(ballots, weights)))
    partials = [T.decrypt_partially(PLURALITY.fingerprint, j, SECRETS[j], sums) for j in (1, 3)]
    counts = decrypt_tally(PLURALITY, sums, SHARES, partials, sum(weights)).counts
    assert counts == [sum(w for w, c in zip(weights, choices) if c == s) for s in PLURALITY.slots]
    assert counts == [17270, 32001, 4550]


def test_weight_units():
    assert [weight_units(a) for a in ("86.35", "86.3", "100", 3)] == [8635, 8630, 10000, 300]
    for bad in ("86.355", "-1", "0", "1e3", 1.5, "0.00", "", 0, True):
        with pytest.raises(ValueError):
            weight_units(bad)


@pytest.mark.parametrize("m,bound", [(0, 0), (0, 10), (10, 10), (7, 50), (999_999, 1_000_000), (123_457, 10**6)])
def test_discrete_log_within_its_bound(m, bound):
    assert discrete_log(small(m), bound) == m


@pytest.mark.parametrize("m,bound", [(11, 10), (1, 0), (10**6 + 1, 10**6), (L - 1, 100)])
def test_discrete_log_outside_its_bound_is_an_error(m, bound):
    with pytest.raises(DiscreteLogError):
        discrete_log(small(m), bound)


# Properties

@settings(max_examples=12, deadline=None)
@given(st.lists(st.sets(st.sampled_from(["a", "b", "c"])), min_size=1, max_size=4),
       st.lists(st.integers(1, 50), min_size=4, max_size=4))
def test_approval_tally_property(choices, weights):
    election = make_election("vote-p", KEY, "approval", ["a", "b", "c"], 2, [s.key for s in SHARES])
    ballots = [encrypt_ballot(election, Scalar(9 + i), sorted(c))[0] for i, c in enumerate(choices)]
    for b in ballots:
        verify_ballot(election, b)
    sums = homomorphic_tally(election, list(zip(ballots, weights)))
    partials = [T.decrypt_partially(election.fingerprint, j, SECRETS[j], sums) for j in (2, 3)]
    counts = decrypt_tally(election, sums, SHARES, partials, sum(weights[:len(choices)])).counts
    assert counts == [sum(w for c, w in zip(choices, weights) if s in c or (s == "abstain" and not c))
                      for s in election.slots]


# Fixed vectors: the encoding of yishi-e2e/1, pinned

def make_vectors() -> dict[str, Any]:
    vote = "vector-vote-1"
    dealings, secrets, shares, key = setup_trustees(vote, 2, 3, "vector-dkg")
    elections = {
        "yes_no_abstain": make_election(vote, key, "yes_no_abstain", [], 2, [s.key for s in shares]),
        "plurality": make_election(vote, key, "plurality", ["park", "gym", "library", "pool", "garden"], 2,
                                   [s.key for s in shares]),
        "approval": make_election(vote, key, "approval", ["park", "gym", "library"], 2, [s.key for s in shares],
                                  least=1, most=2),
    }
    cases = {"yes_no_abstain": ["yes", "no", "yes"], "plurality": ["gym", "abstain", "gym"],
             "approval": [["park", "library"], [], ["gym"]]}
    areas = ["86.35", "120", "45.5"]
    out: dict[str, Any] = {
        "protocol": "yishi-e2e/1",
        "group": {"base_multiples": [small(m).encode().hex() for m in range(4)]},
        "hash_to_scalar": {kind: hx(hash_to_scalar(kind, b"yishi", 7, BASE)) for kind in KINDS},
        "trustees": {"threshold": 2, "dealings": [d.to_json() for d in dealings],
                     "key_shares": [s.to_json() for s in shares], "election_key": hx(key)},
        "elections": {},
    }
    for method, election in elections.items():
        ballots, audits = [], []
        for i, choice in enumerate(cases[method]):
            ballot, randomness = encrypt_ballot(election, Scalar(1000 + i), choice, Seeded(f"vector-{method}-{i}"))
            ballots.append({"ballot": ballot.to_json(), "tracker": tracker(ballot), "choice": choice})
            audits.append(audit_to_json(ballot, randomness))
        weights = [weight_units(a) for a in areas]
        parsed = [Ballot.from_json(b["ballot"]) for b in ballots]
        sums = homomorphic_tally(election, list(zip(parsed, weights)))
        partials = [T.decrypt_partially(election.fingerprint, j, secrets[j], sums, Seeded(f"vector-{method}-p{j}"))
                    for j in (1, 3)]
        counts = decrypt_tally(election, sums, shares, partials, sum(weights)).counts
        out["elections"][method] = {
            "descriptor": election.descriptor(), "fingerprint": election.fingerprint.hex(), "ballots": ballots,
            "audit": audits[0], "areas": areas, "tally": [s.to_json() for s in sums],
            "partials": [p.to_json() for p in partials], "counts": counts,
        }
    return out


def test_fixed_vectors_pin_the_encoding():
    vectors = make_vectors()
    if os.environ.get("YISHI_WRITE_VECTORS"):
        VECTORS.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n")
    assert json.loads(VECTORS.read_text()) == vectors, "the encoding changed: old boards would no longer verify"


def test_stored_vectors_verify_from_their_json_alone():
    """What an offline verifier of an old board does: nothing regenerated, everything checked from the file."""
    stored = json.loads(VECTORS.read_text())
    vote = "vector-vote-1"
    dealings = [T.Dealing.from_json(d) for d in stored["trustees"]["dealings"]]
    shares = [T.KeyShare.from_json(s) for s in stored["trustees"]["key_shares"]]
    for d in dealings:
        T.verify_dealing(vote, d, stored["trustees"]["threshold"])
    for s in shares:
        T.verify_key_share(vote, dealings, s)
    assert hx(T.election_key(dealings)) == stored["trustees"]["election_key"]
    for method, case in stored["elections"].items():
        election = Election.from_json(case["descriptor"])
        assert election.fingerprint.hex() == case["fingerprint"]
        ballots = []
        for entry in case["ballots"]:
            ballot = Ballot.from_json(entry["ballot"])
            verify_ballot(election, ballot)
            assert tracker(entry["ballot"]) == entry["tracker"]
            ballots.append(ballot)
        audited = case["audit"]
        randomness = [Scalar.decode(bytes.fromhex(r)) for r in audited["randomness"]]
        assert audit(election, Ballot.from_json(audited["ballot"]), randomness) == case["ballots"][0]["choice"]
        weights = [weight_units(a) for a in case["areas"]]
        sums = homomorphic_tally(election, list(zip(ballots, weights)))
        assert [s.to_json() for s in sums] == case["tally"]
        partials = [T.Partial.from_json(p) for p in case["partials"]]
        result = decrypt_tally(election, [Ciphertext.from_json(c, True) for c in case["tally"]], shares, partials,
                               sum(weights))
        assert result.counts == case["counts"] and not result.bad
