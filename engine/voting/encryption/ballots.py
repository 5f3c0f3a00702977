"""Encrypted ballots: the election descriptor and its fingerprint, encrypting a choice with its proofs,
checking a ballot, the tracker, and the Benaloh audit (docs/ballot-encryption.md §3, §5, §6).

A ballot binds the vote's fingerprint φ and the voter's credential C into every challenge and is signed with
the credential, so it cannot be replayed in another vote, nor under another voter's credential.

Every method ends its slots with ``abstain`` (yes/no/abstain, plurality and approval alike), so the tally
decrypts the abstentions like any other count: today's rules need them (quorum, thresholds). An approval
ballot's overall proof is over a weighted sum in which ``abstain`` weighs ``max`` (§6), which makes "abstain
and approve nothing" or "approve min..max options" the only ballots that prove.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from engine.voting.encryption import encoding
from engine.voting.encryption.elgamal import Ciphertext, encrypt, open_with_randomness, total
from engine.voting.encryption.group import GROUP, Point, Scalar, base_mul, random_scalar
from engine.voting.encryption.hashing import PROTOCOL, canonical_json, sha256_hex
from engine.voting.encryption.proofs import (
    Response, disjunctive_prove, disjunctive_verify, responses_from_json, responses_to_json, schnorr_prove,
    schnorr_verify,
)

BALLOT_FORMAT = "yishi-ballot/1"
ABSTAIN = "abstain"
YES_NO_ABSTAIN = ("yes", "no", ABSTAIN)
ENCRYPTED_METHODS = ("yes_no_abstain", "plurality", "approval")
ZERO_ONE = (0, 1)


class BallotRefused(ValueError):
    """A ballot that does not check, with the reason (which proof, which slot)."""


@dataclass(frozen=True)
class Election:
    """What every ballot's proofs are bound to; its fingerprint φ is SHA-256 of the canonical descriptor."""

    vote: str
    key: Point
    method: str
    slots: tuple[str, ...]
    min: int
    max: int
    threshold: int
    trustees: tuple[Point, ...]
    disqualified: tuple[int, ...] = ()
    """Trustee numbers disqualified in the key generation (docs §4 step 2); ``trustees`` lists the others' keys,
    in number order. In the descriptor only when someone was: an election without is exactly as before."""
    fingerprint: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", hashlib.sha256(canonical_json(self.descriptor())).digest())

    def descriptor(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "group": GROUP, "vote": self.vote, "public_key": encoding.hx(self.key),
                "method": self.method, "slots": list(self.slots), "min": self.min, "max": self.max,
                "threshold": self.threshold, "trustees": [encoding.hx(t) for t in self.trustees],
                **({"disqualified": list(self.disqualified)} if self.disqualified else {})}

    @property
    def numbers(self) -> tuple[int, ...]:
        """The trustee number of each key in ``trustees``: 1..n without the disqualified ones (numbers never move)."""
        n = len(self.trustees) + len(self.disqualified)
        return tuple(j for j in range(1, n + 1) if j not in self.disqualified)

    @staticmethod
    def from_json(value: Any) -> Election:
        keys = {"protocol", "group", "vote", "public_key", "method", "slots", "min", "max", "threshold", "trustees"}
        value = encoding.fields(value, keys | ({"disqualified"} if isinstance(value, dict) and "disqualified" in value
                                                else set()), "election")
        if value["protocol"] != PROTOCOL or value["group"] != GROUP:
            raise encoding.EncodingError(f"election: protocol {PROTOCOL} on {GROUP} only")
        election = Election(value["vote"], encoding.point(value["public_key"], "public_key"), value["method"],
                            tuple(encoding.items(value["slots"], "slots")), value["min"], value["max"],
                            value["threshold"],
                            tuple(encoding.point(t, "trustee") for t in encoding.items(value["trustees"], "trustees")),
                            tuple(encoding.items(value.get("disqualified", []), "disqualified")))
        if "disqualified" in value and not election.disqualified:
            raise encoding.EncodingError("election: disqualified is present only when someone was")
        check_election(election)
        return election


def slots_for(method: str, options: Sequence[str]) -> tuple[str, ...]:
    """The encrypted positions of a ballot by method (docs §3); ranked methods are not encrypted (docs §10)."""
    if method == "yes_no_abstain":
        return YES_NO_ABSTAIN
    if method == "plurality":
        return (*options, ABSTAIN)
    if method == "approval":
        return (*options, ABSTAIN)
    raise ValueError(f"{method} ballots are not encrypted in {PROTOCOL}: ranked votes stay on the server path")


def make_election(vote: str, key: Point, method: str, options: Sequence[str], threshold: int,
                  trustees: Sequence[Point], least: int | None = None, most: int | None = None,
                  disqualified: Sequence[int] = ()) -> Election:
    """``least``/``most`` bound how many options an approval ballot that does not abstain approves (default 1..all);
    single-choice methods are exactly one."""
    slots = slots_for(method, options)
    if method == "approval":
        bounds = (1 if least is None else least, len(options) if most is None else most)
    elif least is not None or most is not None:
        raise ValueError("only approval ballots take min and max: the others are exactly one")
    else:
        bounds = (1, 1)
    election = Election(vote, key, method, slots, *bounds, threshold, tuple(trustees), tuple(disqualified))
    check_election(election)
    return election


def check_election(e: Election) -> None:
    if type(e.vote) is not str or not e.vote:
        raise encoding.EncodingError("election: a vote id")
    if e.method not in ENCRYPTED_METHODS:
        raise encoding.EncodingError(f"election: method one of {', '.join(ENCRYPTED_METHODS)}")
    if not e.slots or any(type(s) is not str or not s for s in e.slots) or len(set(e.slots)) != len(e.slots):
        raise encoding.EncodingError("election: distinct non-empty slot names")
    if any(type(b) is not int for b in (e.min, e.max, e.threshold)):
        raise encoding.EncodingError("election: min, max and threshold are integers")
    if e.slots[-1] != ABSTAIN:
        raise encoding.EncodingError(f"election: the last slot is {ABSTAIN!r}")
    if e.method == "approval" and not 1 <= e.min <= e.max <= len(e.slots) - 1:
        raise encoding.EncodingError("election: an approval ballot approves 1 ≤ min ≤ max ≤ number of options")
    if e.method != "approval" and (e.min, e.max) != (1, 1):
        raise encoding.EncodingError("election: a single-choice ballot marks exactly one slot (min = max = 1)")
    if not 1 <= e.threshold <= len(e.trustees):
        raise encoding.EncodingError("election: 1 ≤ threshold ≤ number of trustees")
    if (any(type(j) is not int or j < 1 for j in e.disqualified) or list(e.disqualified) != sorted(set(e.disqualified))
            or any(j > len(e.trustees) + len(e.disqualified) for j in e.disqualified)):
        raise encoding.EncodingError("election: disqualified trustees are distinct numbers from 1..n, in order")


@dataclass(frozen=True)
class Ballot:
    vote: str
    election: bytes
    credential: Point
    ciphertexts: list[Ciphertext]
    proofs: list[list[Response]]
    overall_proof: list[Response]
    signature: Response | None

    def unsigned_json(self) -> dict[str, Any]:
        return {"format": BALLOT_FORMAT, "vote": self.vote, "election": self.election.hex(),
                "credential": encoding.hx(self.credential),
                "ciphertexts": [c.to_json() for c in self.ciphertexts],
                "proofs": [responses_to_json(p) for p in self.proofs],
                "overall_proof": responses_to_json(self.overall_proof)}

    def to_json(self) -> dict[str, Any]:
        if self.signature is None:
            raise ValueError("an unsigned ballot is not a ballot")
        return {**self.unsigned_json(), "signature": self.signature.to_json()}

    @staticmethod
    def from_json(value: Any) -> Ballot:
        """Strict: exactly the known keys, every point valid and not the identity, every scalar canonical."""
        keys = {"format", "vote", "election", "credential", "ciphertexts", "proofs", "overall_proof", "signature"}
        value = encoding.fields(value, keys, "ballot")
        if value["format"] != BALLOT_FORMAT:
            raise encoding.EncodingError(f"ballot: format {BALLOT_FORMAT}")
        if type(value["vote"]) is not str:
            raise encoding.EncodingError("ballot: a vote id")
        ciphertexts = [Ciphertext.from_json(c) for c in encoding.items(value["ciphertexts"], "ciphertexts")]
        proofs = [responses_from_json(p, len(ZERO_ONE), "proofs[]")
                  for p in encoding.items(value["proofs"], "proofs", len(ciphertexts))]
        return Ballot(value["vote"], encoding.hex_bytes(value["election"], "election"),
                      encoding.point(value["credential"], "credential"), ciphertexts, proofs,
                      responses_from_json(value["overall_proof"], None, "overall_proof"),
                      Response.from_json(value["signature"]))


def values_for(election: Election, choice: Any) -> list[int]:
    """The 0/1 value of each slot for a choice in the method's usual form (docs/voting.md), or ValueError.

    An approval choice is a list of options, the empty list abstaining (its ``abstain`` slot is then 1)."""
    if election.method == "approval":
        options = election.slots[:-1]
        if type(choice) is not list or any(c not in options for c in choice) or len(set(choice)) != len(choice):
            raise ValueError("an approval choice is a list of distinct options")
        if choice and not election.min <= len(choice) <= election.max:
            raise ValueError(f"approve between {election.min} and {election.max} options, or none to abstain")
        return [int(s in choice) for s in options] + [int(not choice)]
    if choice not in election.slots:
        raise ValueError(f"one of {', '.join(election.slots)}")
    return [int(s == choice) for s in election.slots]


def choice_from(election: Election, values: Sequence[int]) -> Any:
    chosen = [s for s, v in zip(election.slots, values) if v]
    if election.method == "approval":
        return [s for s in chosen if s != ABSTAIN]
    return chosen[0] if len(chosen) == 1 else None


def coefficients(election: Election) -> list[int]:
    """What each slot weighs in the overall proof's sum (docs §6): 1 each, but an approval ballot's ``abstain``
    weighs ``max``. With each slot 0 or 1 and min ≥ 1, that sum lies in [min..max] exactly when the ballot abstains
    and approves nothing (max + 0) or does not abstain and approves min..max options; abstaining and approving k ≥ 1
    options sums to max + k, approving nothing without abstaining to 0: both outside."""
    weights = [1] * len(election.slots)
    if election.method == "approval":
        weights[-1] = election.max
    return weights


def _combined(election: Election, ciphertexts: Sequence[Ciphertext]) -> Ciphertext:
    """The ciphertext of Σ coefficient·m over the slots, which the overall proof is about."""
    return total([c.times(w) for c, w in zip(ciphertexts, coefficients(election))])


def _overall_message(election: Election) -> str:
    if election.method == "approval":
        return f"the proof that the ballot approves {election.min} to {election.max} options or abstains fails"
    return f"the proof that the ballot marks {election.min} to {election.max} slots fails"


def _context(election: Election, credential: Point) -> tuple[bytes, Point]:
    return (election.fingerprint, credential)


def _overall_context(election: Election, credential: Point, ciphertexts: Sequence[Ciphertext]) -> tuple[Any, ...]:
    return (*_context(election, credential), *[p for c in ciphertexts for p in (c.alpha, c.beta)])


def _signed_digest(ballot: Ballot) -> bytes:
    return hashlib.sha256(canonical_json(ballot.unsigned_json())).digest()


def encrypt_ballot(election: Election, credential_secret: Scalar, choice: Any,
                   rng: Callable[[], Scalar] = random_scalar) -> tuple[Ballot, list[Scalar]]:
    """Encrypt a choice with its proofs and sign it; the randomness is returned for a Benaloh audit only.

    Whoever keeps the randomness can open the ballot: the booth forgets it once the ballot is cast."""
    values = values_for(election, choice)
    credential = base_mul(credential_secret)
    pairs = [encrypt(election.key, m, rng) for m in values]
    ciphertexts = [c for c, _ in pairs]
    randomness = [r for _, r in pairs]
    context = _context(election, credential)
    proofs = [disjunctive_prove("zero-one", context, election.key, c, ZERO_ONE, m, r, rng)
              for c, m, r in zip(ciphertexts, values, randomness)]
    weights = coefficients(election)
    r_sum = Scalar(0)
    for r, w in zip(randomness, weights):
        r_sum = r_sum + r * Scalar(w)
    overall = disjunctive_prove("range", _overall_context(election, credential, ciphertexts), election.key,
                                _combined(election, ciphertexts), range(election.min, election.max + 1),
                                sum(m * w for m, w in zip(values, weights)), r_sum, rng)
    unsigned = Ballot(election.vote, election.fingerprint, credential, ciphertexts, proofs, overall, None)
    signature = schnorr_prove("signature", (election.fingerprint, _signed_digest(unsigned)), credential_secret, rng)
    return replace(unsigned, signature=signature), randomness


def verify_ballot(election: Election, ballot: Ballot, signed_digest: bytes | None = None) -> None:
    """Every check a ballot gets before it is accepted or counted; BallotRefused says which failed.

    Whether the credential is registered for the vote, and whether its ballot is the last one, is the board's
    question, not the ballot's. ``signed_digest``: SHA-256 of the ballot's canonical unsigned JSON when the caller
    has it already (a board's verifier derives it from the canonical text it hashes for the tracker), instead of
    encoding the ballot again."""
    if ballot.vote != election.vote or ballot.election != election.fingerprint:
        raise BallotRefused("the ballot was made for another vote or another election key")
    if len(ballot.ciphertexts) != len(election.slots):
        raise BallotRefused(f"{len(ballot.ciphertexts)} ciphertexts for {len(election.slots)} slots")
    if ballot.signature is None or len(ballot.proofs) != len(ballot.ciphertexts):
        raise BallotRefused("a proof or the signature is missing")
    context = _context(election, ballot.credential)
    for slot, c, proof in zip(election.slots, ballot.ciphertexts, ballot.proofs):
        if not disjunctive_verify("zero-one", context, election.key, c, ZERO_ONE, proof):
            raise BallotRefused(f"the proof that {slot!r} is 0 or 1 fails")
    if not disjunctive_verify("range", _overall_context(election, ballot.credential, ballot.ciphertexts),
                              election.key, _combined(election, ballot.ciphertexts),
                              range(election.min, election.max + 1), ballot.overall_proof):
        raise BallotRefused(_overall_message(election))
    digest = _signed_digest(ballot) if signed_digest is None else signed_digest
    if not schnorr_verify("signature", (election.fingerprint, digest), ballot.credential, ballot.signature):
        raise BallotRefused("the credential's signature fails")


def tracker(ballot: Ballot | dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the whole ballot: what the voter sees, and finds on the board."""
    return sha256_hex(ballot.to_json() if isinstance(ballot, Ballot) else ballot)


def audit(election: Election, ballot: Ballot, randomness: Sequence[Scalar]) -> Any:
    """Benaloh's cast-or-audit: with the revealed randomness, the choice the ballot encrypts (or BallotRefused).

    An audited ballot is spoiled: it must never be cast (the server refuses its tracker)."""
    verify_ballot(election, ballot)
    if len(randomness) != len(ballot.ciphertexts):
        raise BallotRefused("one randomness per ciphertext")
    values = [open_with_randomness(election.key, c, r, range(2)) for c, r in zip(ballot.ciphertexts, randomness)]
    if None in values:
        raise BallotRefused("the randomness does not open the ballot")
    return choice_from(election, values)  # type: ignore[arg-type]


def audit_to_json(ballot: Ballot, randomness: Sequence[Scalar]) -> dict[str, Any]:
    return {"ballot": ballot.to_json(), "randomness": [encoding.hx(r) for r in randomness]}
