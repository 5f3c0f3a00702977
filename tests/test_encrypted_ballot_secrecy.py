"""The database administrator against an encrypted vote: the attacks that read a server-secret vote read nothing here.

The ballot-integrity issue paired, in a server-secret vote cast one ballot at a time, 200 of 200 ballots with their
voters through PostgreSQL's ``xmin`` and 197 of 200 through copies of SQLite's write-ahead log (``bench/secrecy.py``).
Here 200 residents cast known choices one at a time, and an attacker holding everything the server holds — every
column of every table, a copy of the ``-wal`` file after every ballot (SQLite), ``xmin`` and ``ctid`` (PostgreSQL),
the server's log at DEBUG (SQL statements and their parameters included), the history and the audit bundles — runs
the same attacks on a server-secret vote (the control: they must recover the choices, or the attack code is broken)
and on an encrypted one, where:

(a) they still pair voters with **ballots**: the server binds each credential to an entry of the frozen electorate
    (docs/ballot-encryption.md §13), so it knows whose ciphertext is whose — without the files' help even;
(b) no **choice** follows: no plaintext anywhere; encrypting each possible choice again never meets a ballot's
    ciphertexts (fresh randomness), nor does guessed randomness; no two ciphertexts are equal; the tally's factors
    open only the per-option sums. The attacker's success is the rate of its blind guess, nothing more.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from engine.audit import bundles
from engine.bootstrap import Engine
from engine.identity.actors import Actor
from engine.voting.commands import CastBallot
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption import trustees as et
from engine.voting.encryption.group import IDENTITY, Point, Scalar, base_mul, random_scalar
from engine.voting.models import Ballot, Ceremony, CeremonyPost, EncryptedBallot, Vote
from tests import encrypted_elections as ee
from tests.builders import open_vote
from tests.helpers import Community

CHOICES = ("yes", "no", "abstain")
VOTERS = 200
GUESSED_RANDOMNESS = 2048
"""The attacker tries r = 1 … this for every ciphertext (a booth with a broken random generator would fall to it)."""
WAL_KEY = re.compile(rb"(m:\d+).{1,9}?online", re.DOTALL)
"""A participation's record in a page: its voter key, its member id (a few bytes), its channel (bench/secrecy.py)."""
HEX_RUN = re.compile(rb"[0-9a-f]{64,}")
LOGGED_KEY = re.compile(r"'(m:\d+)'")
LOGGED_CHOICE = re.compile(r"""'"(yes|no|abstain)"'""")
"""A choice as the SQL log shows a JSON parameter: the string ``"yes"``, quoted by the log."""


def choice_of(i: int) -> str:
    return CHOICES[i % len(CHOICES)]


# ---- what the attacker collects while the ballots arrive --------------------------------------------------------

@dataclass
class Watch:
    """The attacker's view during casting: after every ballot, what is new in a copy of the write-ahead log."""

    wal: Path | None
    seen_keys: set[str] = field(default_factory=set)
    seen_hex: set[str] = field(default_factory=set)
    seen_frames: set[bytes] = field(default_factory=set)
    copies: list[tuple[set[str], set[str]]] = field(default_factory=list)
    """Per copy: the voter keys and the 64-character hex strings it shows for the first time."""

    def copy(self) -> None:
        if self.wal is None:
            return
        new = [frame for frame in frames(self.wal.read_bytes() if self.wal.exists() else b"")
               if frame not in self.seen_frames]  # a frame seen in an earlier copy holds nothing new
        self.seen_frames.update(new)
        data = b"\0".join(new)
        keys = {k.decode() for k in WAL_KEY.findall(data)} - self.seen_keys
        runs = {run[i:i + 64].decode() for run in HEX_RUN.findall(data) for i in range(len(run) - 63)} - self.seen_hex
        self.seen_keys |= keys
        self.seen_hex |= runs
        self.copies.append((keys, runs))


def frames(wal: bytes) -> Iterator[bytes]:
    """A copy of a -wal file's valid frames, as SQLite reads it back: from the start, while a frame's salts are the
    header's (a checkpoint restarts the log from its start, leaving older frames with other salts behind them)."""
    if len(wal) < 32:
        return
    size, salts = 24 + int.from_bytes(wal[8:12], "big"), wal[16:24]
    for offset in range(32, len(wal) - size + 1, size):
        if wal[offset + 8:offset + 16] != salts:
            return
        yield wal[offset:offset + size]


def watch(engine: Engine) -> Watch:
    url = engine.db.engine.url
    return Watch(Path(f"{url.database}-wal") if url.get_backend_name() == "sqlite" else None)


@dataclass
class Casting:
    vote_id: str
    truth: dict[str, str]
    """Each voter key's choice: what the attacker must not learn."""
    ballots: dict[str, str]
    """Each voter key's ballot (its tracker, or its receipt's fingerprint): what the attacker may learn."""
    watch: Watch
    log: list[str]
    randomness: list[Scalar] = field(default_factory=list)


def cast_one_at_a_time(engine: Engine, voters: list[Actor], vote_id: str, caplog: pytest.LogCaptureFixture,
                       cast: Callable[[int, Actor], str]) -> Casting:
    """Each voter casts in turn (a quiet vote: the attacks' best case), the attacker copying the -wal file after each,
    the log captured at DEBUG — SQLAlchemy's too, which it keeps at WARNING unless an operator debugging the database
    turns it up: then every statement and its parameters are logged."""
    seen = watch(engine)
    seen.copy()
    truth, ballots = {}, {}
    caplog.clear()
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
        for i, voter in enumerate(voters):
            ballots[f"m:{voter.member_id}"] = cast(i, voter)
            truth[f"m:{voter.member_id}"] = choice_of(i)
            seen.copy()
    return Casting(vote_id, truth, ballots, seen, [record.getMessage() for record in caplog.records])


# ---- (a) pairing voters with ballots ------------------------------------------------------------------------------

def paired_by_files(engine: Engine, casting: Casting, table: str, column: str) -> dict[str, str]:
    """Voter key → ballot id, from the database's own files: PostgreSQL's ``xmin`` (a participation and its ballot
    are written by one transaction), SQLite's write-ahead log (the copy taken after a ballot shows one new voter key
    and one new ballot id)."""
    with engine.read() as session:
        ids = set(session.scalars(text(f"SELECT {column} FROM {table} WHERE vote_id = :v"), {"v": casting.vote_id}))
        if engine.db.engine.dialect.name == "postgresql":
            rows = session.execute(text(
                f"SELECT p.voter_key, b.{column} FROM participations p JOIN {table} b ON p.xmin = b.xmin "
                "WHERE p.vote_id = :v AND b.vote_id = :v"), {"v": casting.vote_id}).all()
            return dict(rows)
    pairs = {}
    for keys, runs in casting.watch.copies:
        new_ids = runs & ids
        if len(keys) == 1 and len(new_ids) == 1:
            pairs[next(iter(keys))] = next(iter(new_ids))
    return pairs


def paired_by_place(engine: Engine, vote_id: str, table: str, column: str) -> dict[str, str]:
    """PostgreSQL's ``ctid``: rows sit in the heap in the order they were inserted, participations as ballots."""
    with engine.read() as session:
        keys = session.scalars(text("SELECT voter_key FROM participations WHERE vote_id = :v ORDER BY ctid"), {"v": vote_id}).all()
        ids = session.scalars(text(f"SELECT {column} FROM {table} WHERE vote_id = :v ORDER BY ctid"), {"v": vote_id}).all()
    return dict(zip(keys, ids))


def paired_by_log(log: list[str]) -> dict[str, str]:
    """Voter key → choice from the SQL log: within one transaction, the key the participation was inserted with and
    the choice any statement carried (SQLAlchemy logs a statement, then its parameters on a line of their own)."""
    pairs: dict[str, str] = {}
    key = choice = None
    statement = ""
    for line in log:
        if line.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            key = choice = None
        elif not line.startswith("["):
            statement = line
        else:
            if statement.startswith("INSERT INTO participations"):
                key = next(iter(LOGGED_KEY.findall(line)), key)
            choice = next(iter(LOGGED_CHOICE.findall(line)), choice)
            if key and choice:
                pairs[key] = choice
    return pairs


def score(pairs: dict[str, str], truth: dict[str, str]) -> int:
    return sum(1 for key, value in pairs.items() if truth.get(key) == value)


# ---- (b) reading a choice from an encrypted ballot --------------------------------------------------------------

class Reader:
    """Every way the attacker tries to read a choice from an encrypted ballot, given all the server has: a slot's
    ciphertext equal to one whose value it knows (its dictionary, or ballots it knows the choice of), or opened by
    guessed randomness. A slot found to hold 1 is the choice."""

    def __init__(self, election: eb.Election) -> None:
        self.election = election
        self.guesses = {base_mul(Scalar(r)).encode(): Scalar(r) for r in range(1, GUESSED_RANDOMNESS + 1)}
        attacker = random_scalar()  # the attacker's own credential: it encrypts the dictionary under it
        self.dictionary: dict[bytes, int] = {}
        self.trackers: dict[str, str] = {}
        for choice in CHOICES:
            ballot, _ = eb.encrypt_ballot(election, attacker, choice)
            self.dictionary.update(values_of(ballot, eb.values_for(election, choice)))
            self.trackers[eb.tracker(ballot)] = choice

    def read(self, ballot: eb.Ballot, known: dict[bytes, int]) -> str | None:
        if eb.tracker(ballot) in self.trackers:
            return self.trackers[eb.tracker(ballot)]
        for slot, c in zip(self.election.slots, ballot.ciphertexts):
            pair = c.alpha.encode() + c.beta.encode()
            value = self.dictionary.get(pair, known.get(pair))
            r = self.guesses.get(c.alpha.encode())
            if value is None and r is not None:
                opened = c.beta - self.election.key * r
                value = 0 if opened == IDENTITY else 1 if opened == base_mul(Scalar(1)) else None
            if value == 1:
                return slot
        return None


def values_of(ballot: eb.Ballot, values: list[int]) -> dict[bytes, int]:
    """Each slot's ciphertext, with the value it encrypts (known to whoever made the ballot)."""
    return dict(zip(slot_pairs(ballot), values))


def slot_pairs(ballot: eb.Ballot) -> list[bytes]:
    return [c.alpha.encode() + c.beta.encode() for c in ballot.ciphertexts]


# ---- the scenarios ------------------------------------------------------------------------------------------------

@pytest.fixture
def voters(deployed: Engine, community: Community) -> list[Actor]:
    """200 residents, before the vote opens (its electorate is frozen then)."""
    return ee.add_residents(deployed, community, VOTERS)


def test_the_attacks_recover_every_choice_of_a_server_secret_vote(
        deployed: Engine, community: Community, voters: list[Actor], caplog: pytest.LogCaptureFixture) -> None:
    """The control: on a server-secret vote the same attack code pairs voters with ballots and reads their choices."""
    _, vote_id = open_vote(deployed, community)
    casting = cast_one_at_a_time(deployed, voters, vote_id, caplog, lambda i, voter: deployed.execute(
        CastBallot(vote_id, choice_of(i)), voter).fingerprint)
    with deployed.read() as session:
        choice_by_ballot = dict(session.execute(select(Ballot.fingerprint, Ballot.choice).where(Ballot.vote_id == vote_id)).all())
    by_files = paired_by_files(deployed, casting, "ballots", "fingerprint")
    recovered = {key: choice_by_ballot[fp] for key, fp in by_files.items()}
    assert score(recovered, casting.truth) >= 0.95 * VOTERS, f"{score(recovered, casting.truth)} of {VOTERS}"
    if deployed.db.engine.dialect.name == "postgresql":
        by_place = paired_by_place(deployed, vote_id, "ballots", "fingerprint")
        assert score({k: choice_by_ballot[fp] for k, fp in by_place.items()}, casting.truth) == VOTERS
    if deployed.db.engine.dialect.name == "sqlite":  # PostgreSQL's batched insert is logged cut short, choices cut off
        assert score(paired_by_log(casting.log), casting.truth) >= 0.95 * VOTERS  # the SQL log names both


def test_an_encrypted_vote_gives_the_attacker_ballots_and_no_choice(
        deployed: Engine, community: Community, voters: list[Actor], caplog: pytest.LogCaptureFixture) -> None:
    instance_id, vote_id = ee.open_encrypted_vote(deployed, community)
    devices = ee.key_ceremony(deployed, community, vote_id)
    election = ee.election(deployed, vote_id)
    made = []  # every ballot made before the casting starts, so that the casts follow each other closely
    for i, voter in enumerate(voters):
        made.append(eb.encrypt_ballot(election, ee.register(deployed, vote_id, voter), choice_of(i)))
    casting = cast_one_at_a_time(deployed, voters, vote_id, caplog,
                                 lambda i, voter: ee.cast(deployed, vote_id, voter, made[i][0]))
    casting.randomness = [r for _, randomness in made for r in randomness]
    backend = deployed.db.engine.dialect.name

    # (a) the server pairs voters with ballots: by the credentials it registered, and by its files
    with deployed.read() as session:
        by_credential = dict(session.execute(text(
            "SELECT c.voter_key, b.tracker FROM voter_credentials c JOIN encrypted_ballots b "
            "ON b.vote_id = c.vote_id AND b.credential = c.credential WHERE c.vote_id = :v"), {"v": vote_id}).all())
    assert by_credential == casting.ballots
    by_files = paired_by_files(deployed, casting, "encrypted_ballots", "tracker")
    assert score(by_files, casting.ballots) >= 0.95 * VOTERS, f"{backend}: {score(by_files, casting.ballots)}"
    if backend == "postgresql":
        assert score(paired_by_place(deployed, vote_id, "encrypted_ballots", "tracker"), casting.ballots) == VOTERS

    # (b) no choice: not in the log, not in any column of any table, not in the ballots read every way we know
    assert paired_by_log(casting.log) == {}
    assert not [line for line in casting.log if LOGGED_CHOICE.search(line)]
    secret_forms = randomness_forms(casting.randomness)
    assert spelled_in("\n".join(casting.log), secret_forms) == set()
    assert plaintext_choices(deployed) == []

    with deployed.read() as session:
        stored = {row.tracker: eb.Ballot.from_json(row.ballot) for row in
                  session.scalars(select(EncryptedBallot).where(EncryptedBallot.vote_id == vote_id))}
    accomplice = voters[0]  # the attacker's own ballot, whose choice it knows: an equal ciphertext would betray
    known = values_of(stored[casting.ballots[f"m:{accomplice.member_id}"]], eb.values_for(election, choice_of(0)))
    reader = Reader(election)
    read = {key: reader.read(stored[tracker], known) for key, tracker in by_credential.items()
            if key != f"m:{accomplice.member_id}"}
    assert [choice for choice in read.values() if choice is not None] == []
    every_slot = [pair for ballot in stored.values() for pair in slot_pairs(ballot)]
    assert len(set(every_slot)) == len(every_slot) == VOTERS * len(CHOICES)  # no two ciphertexts alike
    guess = max(CHOICES, key=lambda c: sum(1 for v in casting.truth.values() if v == c))
    blind = {key: read[key] or guess for key in read}  # what the attacker can say of each voter: its blind guess
    assert score(blind, casting.truth) == sum(1 for key in read if casting.truth[key] == guess)

    # the tally: one sum per option, and its factors open the sums, not a ballot
    ee.close(deployed, community, instance_id)
    ee.decrypt(deployed, community, vote_id, devices)
    with deployed.read() as session:
        tally = session.get(Ceremony, vote_id).tally
        vote = session.get(Vote, vote_id)
        assert vote.result["decryption"]["counts"] == [sum(1 for c in casting.truth.values() if c == s) for s in election.slots]
    assert len(tally["ciphertexts"]) == len(tally["counts"]) == len(election.slots)
    factors = combined_factors(deployed, vote_id)
    opened = [ballot for ballot in stored.values() for c, f in zip(ballot.ciphertexts, factors)
              if c.beta - f in (IDENTITY, base_mul(Scalar(1)))]
    assert opened == []
    assert plaintext_choices(deployed) == [("votes", "result")]  # the published totals, per option

    # the history and the bundles (full and public, the encrypted board in them): no choice, no randomness
    for public in (False, True):
        with deployed.read() as session:
            bundle = bundles.export(session, community.id, instance_id=instance_id, public=public,
                                    now=deployed.clock.now(), public_keys={})
        assert spelled_in(json.dumps(bundle), secret_forms) == set()
        assert [where for where in choices_in(bundle, "") if not published_in_bundle(where)] == []


def test_the_reader_opens_a_ballot_made_with_guessable_randomness_or_copied() -> None:
    """The reader's own control: it does recover a choice when the booth's randomness is weak, or when a ballot's
    ciphertexts equal one the attacker knows, and the search finds randomness a log would spell — so their finding
    nothing above means something."""
    _, dealing, shares = et.deal("v", 1, 1, 1)
    _, share = et.key_share("v", 1, [shares[1]])
    election = eb.make_election("v", et.election_key([dealing]), "yes_no_abstain", list(CHOICES), 1, [share.key])
    counter = iter(range(1, 10_000))
    weak, _ = eb.encrypt_ballot(election, random_scalar(), "no", rng=lambda: Scalar(next(counter)))
    reader = Reader(election)
    assert reader.read(weak, {}) == "no"
    strong, _ = eb.encrypt_ballot(election, random_scalar(), "abstain")
    assert reader.read(strong, {}) is None
    assert reader.read(strong, values_of(strong, [0, 0, 1])) == "abstain"  # equal to a ballot whose choice it knows
    _, randomness = eb.encrypt_ballot(election, random_scalar(), "yes")
    logged = f"INSERT … ('{encoding.hx(randomness[1])}', {randomness[2].value})"  # what a careless log line would show
    assert spelled_in(logged, randomness_forms(randomness)) == {encoding.hx(randomness[1]), str(randomness[2].value)}


# ---- what the attacker searches ---------------------------------------------------------------------------------

def published_in_bundle(where: str) -> bool:
    """Where a bundle names options by design: the deployed definitions (the configure form, the gateways), the
    election's slots, and the published result's per-option totals (in the vote record and on the board)."""
    return where.startswith(".definitions[") or bool(re.search(r"\.election\.slots\[\d+\]$", where)) or ".result." in where


def randomness_forms(randomness: list[Scalar]) -> set[str]:
    """Every spelling of a ballot's randomness that a log or a file might show: hex both ways, decimal."""
    forms = set()
    for r in randomness:
        forms |= {encoding.hx(r), r.encode()[::-1].hex(), str(r.value)}
    return forms


def spelled_in(text: str, forms: set[str]) -> set[str]:
    """The forms (hex or decimal digits, 60 or more) the text spells: only its runs of such digits are looked into."""
    lengths = {len(form) for form in forms}
    found: set[str] = set()
    for run in re.findall(r"[0-9a-f]{60,}", text):
        for n in lengths:
            found |= {run[i:i + n] for i in range(len(run) - n + 1)} & forms
    return found


def combined_factors(engine: Engine, vote_id: str) -> list[Point]:
    """F = Σ λ_j·F_j from the published factors: what opens the tally's sums (β − F = G·count)."""
    with engine.read() as session:
        threshold = session.get(Ceremony, vote_id).threshold
        bodies = session.scalars(select(CeremonyPost.body).where(CeremonyPost.vote_id == vote_id,
                                                                 CeremonyPost.kind == "decryption")).all()
    return et.combine([et.Partial.from_json(body["partial"]) for body in bodies], threshold)


def plaintext_choices(engine: Engine) -> list[tuple[str, str]]:
    """Each (table, column) holding a choice as a value or under a ``choice`` key, outside what lists the options
    (the deployed definitions' forms, the election's slots)."""
    found = set()
    with engine.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table in ("alembic_version", "definitions"):
                continue
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                for column, value in row.items():
                    if [where for where in choices_in(value, "") if not re.search(r"\.slots\[\d+\]$", where)]:
                        found.add((table, column))
    return sorted(found)


def choices_in(value: Any, path: str) -> Iterator[str]:
    """Where a choice shows in a stored value: a string equal to one, or a ``choice`` key (JSON text opened)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "choice":
                yield f"{path}.choice"
            yield from choices_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from choices_in(item, f"{path}[{i}]")
    elif isinstance(value, str):
        if value in CHOICES:
            yield path
        elif value[:1] in "[{":
            try:
                yield from choices_in(json.loads(value), path)
            except ValueError:
                pass
