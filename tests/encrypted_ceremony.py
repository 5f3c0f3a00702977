"""An encrypted vote made ready through the engine's commands, for tests that need one open (or decided) quickly.

The trustees' devices are played here with ``engine.voting.encryption`` (their secrets never leave this module's
objects), and every step goes through the same commands the ceremony API runs: dealings, envelopes, key shares,
credentials, ballots and decryptions. ``tests/test_encrypted_votes.py`` drives the same ceremony over the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.bootstrap import Engine
from engine.voting.commands import (
    CastEncryptedBallot, PublishDealing, PublishDecryption, PublishEnvelopes, PublishKeyShare, RegisterCredential,
)
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding, envelopes
from engine.voting.encryption import trustees as et
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import Scalar, base_mul, random_scalar
from engine.voting.models import Ceremony
from tests.builders import open_vote
from tests.helpers import Community

TRUSTEES = ("chair", "clerk", "auditor")


@dataclass
class EncryptedVote:
    instance_id: str
    vote_id: str
    election: eb.Election | None = None
    key_shares: dict[int, Scalar] = field(default_factory=dict)
    """Each trustee's x_j, as their device keeps it."""


def encrypted_vote(engine: Engine, community: Community, *, keyed: bool = True, threshold: int = 2,
                   **config: Any) -> EncryptedVote:
    """A secret yes/no/abstain vote encrypted for ``TRUSTEES`` (k = threshold); its key made when ``keyed``."""
    trustees = [community[name].member_id for name in TRUSTEES]
    instance_id, vote_id = open_vote(engine, community, encryption={"trustees": trustees, "threshold": threshold},
                                     **config)
    vote = EncryptedVote(instance_id, vote_id)
    if keyed:
        make_key(engine, community, vote, threshold)
    return vote


def make_key(engine: Engine, community: Community, vote: EncryptedVote, k: int) -> None:
    n, vote_id = len(TRUSTEES), vote.vote_id
    actors = {j: community[name] for j, name in enumerate(TRUSTEES, 1)}
    dealt = {j: et.deal(vote_id, j, k, n) for j in actors}
    envelope_secrets = {j: random_scalar() for j in actors}
    for j, actor in actors.items():
        engine.execute(PublishDealing(vote_id, dealt[j][1].to_json(), encoding.hx(base_mul(envelope_secrets[j]))), actor)
    for j, actor in actors.items():
        sealed = {str(i): envelopes.seal(vote_id, j, i, base_mul(envelope_secrets[i]), dealt[j][2][i])
                  for i in actors if i != j}
        engine.execute(PublishEnvelopes(vote_id, sealed), actor)
    for j, actor in actors.items():
        shares = [dealt[i][2][j] for i in actors]  # what j opens from the envelopes (tests/test_encrypted_votes.py)
        vote.key_shares[j], published = et.key_share(vote_id, j, shares)
        engine.execute(PublishKeyShare(vote_id, published.to_json()), actor)
    with engine.read() as session:
        vote.election = eb.Election.from_json(session.get(Ceremony, vote_id).election)


def register(engine: Engine, community: Community, vote: EncryptedVote, name: str) -> Scalar:
    """A voter's credential, made on 'their device' and registered; its secret returned."""
    secret = random_scalar()
    engine.execute(RegisterCredential(vote.vote_id, encoding.hx(base_mul(secret))), community[name])
    return secret


def encrypt(vote: EncryptedVote, secret: Scalar, choice: Any) -> tuple[eb.Ballot, list[Scalar]]:
    assert vote.election is not None
    return eb.encrypt_ballot(vote.election, secret, choice)


def cast(engine: Engine, community: Community, vote: EncryptedVote, name: str, ballot: eb.Ballot) -> str:
    return engine.execute(CastEncryptedBallot(vote.vote_id, ballot.to_json()), community[name]).tracker


def decrypt(engine: Engine, community: Community, vote: EncryptedVote, trustees: tuple[int, ...] = (1, 2)) -> None:
    """Trustees' decryption factors of the closed vote's tally, published through the engine."""
    assert vote.election is not None
    with engine.read() as session:
        tally = session.get(Ceremony, vote.vote_id).tally
    sums = [Ciphertext.from_json(c, allow_identity=True) for c in tally["ciphertexts"]]
    for j in trustees:
        partial = et.decrypt_partially(vote.election.fingerprint, j, vote.key_shares[j], sums)
        engine.execute(PublishDecryption(vote.vote_id, partial.to_json()), community[TRUSTEES[j - 1]])
