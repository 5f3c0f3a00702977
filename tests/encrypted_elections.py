"""An encrypted vote driven through the engine's commands, for tests that need one decided (or decrypting) quickly:
the trustees' devices (their secrets live only in the test), the key ceremony, voters' credentials, ballots made with
the reference encryptor, the trustees' decryption.

Plain functions and classes, no fixtures and no tests (a test module imports them from here, never from another test
module). ``tests/test_encrypted_votes.py`` drives the same ceremony over the API.
"""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.identity import actors
from engine.identity import members
from engine.identity.actors import Actor
from engine.identity.models import Community as CommunityRow
from engine.kernel.commands import CompleteTask
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting import ceremony
from engine.voting.commands import (
    CastEncryptedBallot, PublishDealing, PublishDecryption, PublishEnvelopes, PublishKeyShare, RegisterCredential,
)
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding, envelopes
from engine.voting.encryption import trustees as et
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import Point, Scalar, base_mul, random_scalar
from engine.voting.models import Ceremony, Vote
from tests.builders import open_vote, ready
from tests.helpers import Community

TRUSTEES = ("chair", "clerk", "auditor")
"""Trustees 1, 2, 3 of every encrypted vote made here (k = 2)."""


class TrusteeDevice:
    """What a trustee's client keeps and does: the polynomial, an envelope key, the key share — never sent."""

    def __init__(self, vote_id: str, j: int, k: int, n: int) -> None:
        self.vote_id, self.j = vote_id, j
        self.coefficients, self.dealing, self.shares = et.deal(vote_id, j, k, n)
        self.envelope_secret = random_scalar()
        self.x: Scalar | None = None

    def seal(self, recipient: int, recipient_key: Point, share: Scalar) -> str:
        return envelopes.seal(self.vote_id, self.j, recipient, recipient_key, share)

    def open(self, dealer: int, envelope: str) -> Scalar:
        return envelopes.open_envelope(self.vote_id, dealer, self.j, self.envelope_secret, envelope)


def add_residents(engine: Engine, community: Community, count: int, prefix: str = "voter") -> list[Actor]:
    """``count`` residents added in one transaction (a command each would take seconds for hundreds)."""
    with UnitOfWork(engine.db, engine.clock) as uow:
        row = uow.session.get(CommunityRow, community.id)
        added = [members.add_member(uow.session, row, f"{prefix} {i:04d}", ["resident"], uow.now) for i in range(count)]
        uow.commit()
        return [actors.actor_for(member) for member in added]


def open_encrypted_vote(engine: Engine, community: Community, **config: Any) -> tuple[str, str]:
    """A secret yes/no/abstain vote encrypted under TRUSTEES (k = 2), still keying: its instance and vote ids."""
    trustees = [community[name].member_id for name in TRUSTEES]
    return open_vote(engine, community, encryption={"trustees": trustees, "threshold": 2}, **config)


def key_ceremony(engine: Engine, community: Community, vote_id: str, k: int = 2) -> dict[int, TrusteeDevice]:
    """Every trustee deals, relays its envelopes, opens the others' and publishes its key share: the vote opens."""
    n = len(TRUSTEES)
    devices = {j: TrusteeDevice(vote_id, j, k, n) for j in range(1, n + 1)}
    who = {j: community[name] for j, name in enumerate(TRUSTEES, 1)}
    for j, device in devices.items():
        engine.execute(PublishDealing(vote_id, device.dealing.to_json(), encoding.hx(base_mul(device.envelope_secret))), who[j])
    keys = {j: base_mul(device.envelope_secret) for j, device in devices.items()}
    for j, device in devices.items():
        engine.execute(PublishEnvelopes(vote_id, {str(i): device.seal(i, keys[i], device.shares[i]) for i in devices if i != j}), who[j])
    for j, device in devices.items():
        with engine.read() as session:
            received = ceremony.envelopes_for(session, who[j], vote_id)
        shares = [device.shares[j]]
        for item in received:
            share = device.open(item["dealer"], item["envelope"])
            assert et.verify_share(devices[item["dealer"]].dealing, j, share)
            shares.append(share)
        device.x, published = et.key_share(vote_id, j, shares)
        engine.execute(PublishKeyShare(vote_id, published.to_json()), who[j])
    return devices


def election(engine: Engine, vote_id: str) -> eb.Election:
    with engine.read() as session:
        return ceremony.election_of(session.get(Ceremony, vote_id))


def register(engine: Engine, vote_id: str, voter: Actor) -> Scalar:
    """The voter's credential: its secret stays here, its public key is registered for the vote."""
    secret = random_scalar()
    engine.execute(RegisterCredential(vote_id, encoding.hx(base_mul(secret))), voter)
    return secret


def cast(engine: Engine, vote_id: str, voter: Actor, ballot: eb.Ballot) -> str:
    """Cast a ballot made beforehand; its tracker."""
    return engine.execute(CastEncryptedBallot(vote_id, ballot.to_json()), voter).tracker


def close(engine: Engine, community: Community, instance_id: str) -> None:
    """The chair closes the vote early: the tally is made and the trustees are asked to decrypt it."""
    engine.execute(CompleteTask(ready(engine, instance_id)["voting"], {"reason": "Everyone has voted."}), community["chair"])


def tally_sums(engine: Engine, vote_id: str) -> list[Ciphertext]:
    with engine.read() as session:
        tally = session.get(Ceremony, vote_id).tally
    assert tally is not None, "the vote is not closed"
    return [Ciphertext.from_json(c, allow_identity=True) for c in tally["ciphertexts"]]


def decrypt(engine: Engine, community: Community, vote_id: str, devices: dict[int, TrusteeDevice],
            trustees: tuple[int, ...] = (1, 3)) -> None:
    """These trustees publish their factors of the tally (k of them decide the vote)."""
    fingerprint, sums = election(engine, vote_id).fingerprint, tally_sums(engine, vote_id)
    for j in trustees:
        x = devices[j].x
        assert x is not None
        partial = et.decrypt_partially(fingerprint, j, x, sums)
        engine.execute(PublishDecryption(vote_id, partial.to_json()), community[TRUSTEES[j - 1]])


def closed_vote(engine: Engine, community: Community, choices: dict[str, str], *,
                decrypted: bool = True) -> tuple[str, str]:
    """An encrypted vote where each named member cast their choice, closed; decided by trustees 1 and 3 unless
    ``decrypted`` is False (then it waits for them, ``decrypting``). Its instance and vote ids."""
    instance_id, vote_id = open_encrypted_vote(engine, community)
    devices = key_ceremony(engine, community, vote_id)
    made = election(engine, vote_id)
    for name, choice in choices.items():
        ballot, _ = eb.encrypt_ballot(made, register(engine, vote_id, community[name]), choice)
        cast(engine, vote_id, community[name], ballot)
    close(engine, community, instance_id)
    if decrypted:
        decrypt(engine, community, vote_id, devices)
    with engine.read() as session:
        assert session.get(Vote, vote_id).status == ("closed" if decrypted else "decrypting")
    return instance_id, vote_id
