"""What a database reader can still pair: voters with their secret choices, through the database's own files.

The API, the history and the bundles never pair a voter with a secret choice, and no stored column
is a function of the choice (``tests/test_ballot_secrecy.py``). What remains is below the tables:

- **PostgreSQL's ``xmin``**: a participation and its ballot are written by one transaction, so
  ``participations JOIN ballots ON xmin`` pairs them;
- **SQLite's write-ahead log**: a copy of the ``-wal`` file taken between two ballots holds the
  pages of the one just committed — the voter key in the participation's page, the new receipt
  fingerprint in the ballot's.

This measures both, on ballots cast one at a time through the engine (a quiet vote: the worst
case; ballots cast together pair only as a group), and prints how many of the ballots each attack
pairs exactly with their voter. The remedy is ballots the server cannot read (encrypted on the
voter's device); until then these numbers stay high, and ``docs/voting.md`` says so.

    python -m bench.secrecy [--ballots 200] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, select, text

from engine.kernel.commands import CompleteTask, StartInstance
from engine.voting.commands import CastBallot
from engine.identity import actors
from engine.identity import members
from engine.kernel.db import Database
from engine.voting.models import Ballot, Vote
from engine.kernel.models import Instance
from engine.bootstrap import Engine
from engine.kernel.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parent.parent
CHOICES = ("yes", "no", "abstain")
CONFIG = {"title": "Secrecy", "question": "Measured?", "method": "yes_no_abstain", "rule": {}, "secret": True,
          "electorate": "residents", "deadline": "2030-01-01T00:00"}
COPY_EVERY = 0.3  # seconds between two copies of the -wal file, as in the attack that opened this work
CAST_EVERY = 0.35  # a quiet vote: about one ballot between two copies


def setup(url: str, ballots: int) -> tuple[Engine, list[actors.Actor], str]:
    db = Database(url)
    db.migrate()
    engine = Engine(db)
    engine.deploy_bundled()
    with UnitOfWork(db, engine.clock) as uow:
        community = members.create_community(uow.session, "secrecy", "Secrecy", "Asia/Shanghai", uow.now)
        chair = actors.actor_for(members.add_member(uow.session, community, "chair", ["committee"], uow.now))
        voters = [actors.actor_for(members.add_member(uow.session, community, f"voter {i:04d}", ["resident"], uow.now))
                  for i in range(ballots)]
        uow.commit()
    instance = engine.execute(StartInstance("vote"), chair)
    with engine.read() as session:
        (task,) = [t.id for t in session.get(Instance, instance.id).tasks if t.state == "READY"]
    engine.execute(CompleteTask(task, {"vote": CONFIG}), chair)
    with engine.read() as session:
        (vote_id,) = session.scalars(select(Vote.id).where(Vote.instance_id == instance.id))
    return engine, voters, vote_id


def cast_all(engine: Engine, voters: list[actors.Actor], vote_id: str, pause: float) -> dict[str, str]:
    """Each voter's choice, by voter key (the truth the attacks are scored against)."""
    truth = {}
    for i, voter in enumerate(voters):
        choice = CHOICES[i % 3]
        engine.execute(CastBallot(vote_id, choice), voter)
        truth[f"m:{voter.member_id}"] = choice
        time.sleep(pause)
    return truth


def xmin_attack(url: str, ballots: int) -> tuple[int, int]:
    engine, voters, vote_id = setup(url, ballots)
    truth = cast_all(engine, voters, vote_id, 0)
    with engine.db.engine.connect() as conn:
        pairs = conn.execute(text(
            "SELECT p.voter_key, b.choice FROM participations p JOIN ballots b ON p.xmin = b.xmin "
            "WHERE p.vote_id = :v AND b.vote_id = :v"), {"v": vote_id}).all()
    engine.db.dispose()
    return sum(1 for key, choice in pairs if truth.get(key) == choice), len(truth)


def wal_attack(path: Path, ballots: int) -> tuple[int, int]:
    """Copy the -wal file every COPY_EVERY s while ballots arrive; pair each copy's new voter key with its new fingerprint."""
    engine, voters, vote_id = setup(f"sqlite:///{path}", ballots)
    wal, copies, stop = Path(f"{path}-wal"), [], threading.Event()

    def copier() -> None:
        while not stop.is_set():
            copies.append(wal.read_bytes() if wal.exists() else b"")
            time.sleep(COPY_EVERY)

    thread = threading.Thread(target=copier)
    thread.start()
    truth = cast_all(engine, voters, vote_id, CAST_EVERY)
    stop.set()
    thread.join()
    with engine.read() as session:
        choice_of = dict(session.execute(select(Ballot.fingerprint, Ballot.choice).where(Ballot.vote_id == vote_id)).all())
    engine.db.dispose()
    # A participation's record: its voter key, then its member id (a few bytes), then its channel;
    # the electorate's records hold every voter key from the start, followed by a label instead.
    # A fingerprint follows the ballot's vote id, whose last characters are hex too: look in every hex run.
    keys, hex_runs = re.compile(rb"(m:\d+).{1,9}?online", re.DOTALL), re.compile(rb"[0-9a-f]{64,}")
    seen_keys: set[bytes] = set()
    seen_fps: set[bytes] = set()
    paired = 0
    for copy in copies:
        new_keys = {k for k in keys.findall(copy) if k.decode() in truth} - seen_keys
        new_fps = {run[i:i + 64] for run in hex_runs.findall(copy) for i in range(len(run) - 63)
                   if run[i:i + 64].decode() in choice_of} - seen_fps
        seen_keys |= new_keys
        seen_fps |= new_fps
        if len(new_keys) == 1 and len(new_fps) == 1:
            (key,), (fp,) = new_keys, new_fps
            paired += truth[key.decode()] == choice_of[fp.decode()]
    return paired, len(truth)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.secrecy", description=__doc__.split("\n\n")[0])
    p.add_argument("--ballots", type=int, default=200)
    p.add_argument("--backends", default="sqlite,postgresql")
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="yishi-secrecy-"))
    try:
        if "sqlite" in args.backends:
            paired, total = wal_attack(workdir / "secrecy.sqlite3", args.ballots)
            print(f"SQLite write-ahead log, a copy every {COPY_EVERY} s: {paired} of {total} ballots paired with their voter")
        if "postgresql" in args.backends:
            sys.path.insert(0, str(ROOT))
            from tests import postgres_cluster

            with postgres_cluster.cluster() as admin_url:
                admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text("CREATE DATABASE secrecy"))
                admin.dispose()
                paired, total = xmin_attack(admin_url.rsplit("/", 1)[0] + "/secrecy", args.ballots)
            print(f"PostgreSQL xmin join, ballots cast one at a time: {paired} of {total} ballots paired with their voter")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
