"""100,000 encrypted yes/no/abstain ballots: the close (homomorphic tally), the trustees' decryption and the full
offline verification, phase by phase, against the issue's target (under 2 minutes on 2 cores).

For each backend (SQLite in a temporary file; PostgreSQL in a throwaway durable cluster) the benchmark builds a
community of N residents, opens an encrypted vote whose three trustees (k = 2) key it through the engine's ceremony
commands (``bench.encrypted_votes``), registers every voter's credential and stores every voter's real ballot
(made once, in parallel, and cached in ``var/bench/``; bulk inserts of the rows a cast writes: the ballot and the
participation). Then, timed:

1. **close**: the chair closes the vote early (``CompleteTask`` of ``voting``): the engine's one transaction reads
   every ballot, adds up the counted ones' ciphertexts (the homomorphic tally) and computes the board's root;
2. **trustees**: two trustees compute their decryption factors with proofs on their devices and publish them
   (``PublishDecryption``): the server checks each, combines two and takes the discrete logs, and the vote decides;
3. **export**: the encrypted board, as ``GET /api/votes/{id}/encrypted-board`` builds it, saved to a file (not part
   of the target: the board is published once, whoever verifies it);
4. **verify**: ``yishi tally --verify board.json`` in a subprocess, as anyone would run it: reading the file, every
   trustee's dealing and key share, every ballot's tracker, proofs and signature (on every core), the tally, every
   decryption factor's proof, the discrete logs and the recount.

It prints each phase's time, the machine's load and a calibration beside each row, and the total of 1, 2 and 4
against 120 s. A benchmark, not a test: the verdict is printed, never asserted.

    python -m bench.encrypted_tally                                   # 100,000 ballots, SQLite and PostgreSQL
    python -m bench.encrypted_tally --ballots 2000 --backends sqlite  # a quick one
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.ballots import calibrate, databases
from bench.encrypted_votes import (
    Community, EncryptedVote, ballots_for, community, open_encrypted_vote, register_credentials, trustees_of, vote_id_for,
)
from engine.kernel.commands import CompleteTask
from engine.kernel.models import HumanTask
from engine.voting import ceremony
from engine.voting.commands import PublishDecryption
from engine.voting.encryption import trustees as et
from engine.voting.encryption.ballots import tracker
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.models import Ceremony, EncryptedBallot, Participation, Vote
from engine.voting.queries import get_vote

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 120.0
DECIDERS = (1, 2)


def load_average() -> float:
    return os.getloadavg()[0]


def children_cpu() -> float:
    """CPU seconds of the finished child processes (the verifier and the processes it forked)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Timed:
    """Wall-clock and CPU seconds of a phase: this process's (all threads), or a child's with ``children``."""

    def __init__(self, children: bool = False) -> None:
        self.cpu_of = children_cpu if children else time.process_time

    def __enter__(self) -> Timed:
        self.started, self.cpu_started = time.perf_counter(), self.cpu_of()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall, self.cpu = time.perf_counter() - self.started, self.cpu_of() - self.cpu_started


def store_ballots(place: Community, vote: EncryptedVote, made: list[dict[str, Any]]) -> None:
    """What casting each ballot writes, in bulk: the ballot (tracker, credential, whole ballot, weight) and the
    voter's participation. The events of the casts are left out: the close does not read them."""
    engine = place.engine
    now = engine.clock.now()
    with engine.db.engine.begin() as conn:
        for start in range(0, len(made), 5000):
            part = made[start:start + 5000]
            conn.execute(insert(EncryptedBallot.__table__), [
                {"vote_id": vote.vote_id, "tracker": tracker(m["ballot"]), "credential": m["ballot"]["credential"],
                 "ballot": m["ballot"], "weight": "1", "replaced": False, "channel": "online"} for m in part])
            conn.execute(insert(Participation.__table__), [
                {"vote_id": vote.vote_id, "voter_key": f"m:{place.voters[m['i']]}", "member_id": place.voters[m["i"]],
                 "channel": "online", "teller_id": None, "cast_at": now, "changes": 0} for m in part])


def close(place: Community, vote: EncryptedVote) -> Timed:
    engine = place.engine
    with engine.read() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == vote.instance_id, HumanTask.element_id == "voting", HumanTask.state == "READY"))
    with Timed() as timed:
        engine.execute(CompleteTask(task_id, {"reason": "Everyone has voted."}), place.chair)
    return timed


def decrypt(place: Community, vote: EncryptedVote) -> tuple[Timed, Timed, dict[str, Any]]:
    """The deciders' factors (their devices' time), then their publication (the server's); the result."""
    engine = place.engine
    with engine.read() as session:
        sums = [Ciphertext.from_json(c, allow_identity=True) for c in session.get(Ceremony, vote.vote_id).tally["ciphertexts"]]
    fingerprint = vote.trustees.election.fingerprint
    with Timed() as devices:
        partials = {j: et.decrypt_partially(fingerprint, j, vote.trustees.secrets[j], sums) for j in DECIDERS}
    with Timed() as server:
        for j, partial in partials.items():
            engine.execute(PublishDecryption(vote.vote_id, partial.to_json()), vote.trustee_actors[j - 1])
    with engine.read() as session:
        result = session.get(Vote, vote.vote_id).result
    return devices, server, result


def export(place: Community, vote: EncryptedVote, path: Path) -> Timed:
    with Timed() as timed:
        with place.engine.read() as session:
            board = ceremony.encrypted_board(session, get_vote(session, place.chair, vote.vote_id))
        path.write_text(json.dumps(board), encoding="utf-8")
    return timed


def verify(path: Path) -> tuple[Timed, str, bool]:
    with Timed(children=True) as timed:
        done = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "tally", str(path), "--verify"], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    return timed, (done.stdout + done.stderr).strip(), done.returncode == 0


def run(backend: str, url: str, made: list[dict[str, Any]], label: str, workdir: Path) -> dict[str, Any]:
    n = len(made)
    started = time.perf_counter()
    place = community(url, n, with_tokens=False)
    vote = open_encrypted_vote(place, label, n)
    register_credentials(place, vote, n)
    store_ballots(place, vote, made)
    setup = time.perf_counter() - started
    row: dict[str, Any] = {"backend": backend, "ballots": n, "setup": setup}
    row["load"], row["calibration"] = load_average(), calibrate()
    row["close"] = close(place, vote)
    row["devices"], row["server"], result = decrypt(place, vote)
    board = workdir / f"board-{backend}.json"
    row["export"] = export(place, vote, board)
    row["board_mb"] = board.stat().st_size / 1e6
    row["verify"], row["output"], row["verified"] = verify(board)
    row["load_after"] = load_average()
    expected = [sum(1 for m in made if m["choice"] == c) for c in ("yes", "no", "abstain")]
    row["counts"] = result["decryption"]["counts"] if result and "decryption" in result else None
    row["counts_ok"] = row["counts"] == expected
    phases = [row[k] for k in ("close", "devices", "server", "verify")]
    row["total"] = sum(p.wall for p in phases)
    # What the phases would take on two idle cores: the close and the trustees run on one, the verifier on two.
    row["idle"] = sum(p.cpu for p in phases[:3]) + row["verify"].cpu / 2
    place.engine.db.dispose()
    return row


def report(row: dict[str, Any]) -> None:
    ok = row["verified"] and row["counts_ok"]
    print(f"\n{row['backend']}, {row['ballots']:,} ballots (set-up {row['setup']:.0f} s; load average "
          f"{row['load']:.1f} before, {row['load_after']:.1f} after; calibration {row['calibration']:.1f} ms):")
    print("                                                 wall s    CPU s")
    for key, label in (("close", "close (homomorphic tally, one transaction)"), ("devices", "trustees' factors + proofs (2, devices)"),
                       ("server", "publish, check, combine, discrete logs"), ("export", "export of the board (not in the target)"),
                       ("verify", "yishi tally --verify (every core)")):
        print(f"  {label:44} {row[key].wall:7.2f}  {row[key].cpu:7.2f}")
    print(f"  counts {row['counts']} ({'as cast' if row['counts_ok'] else 'NOT as cast'}); board {row['board_mb']:.0f} MB; "
          f"verifier: {'ok' if row['verified'] else 'FAILED'}: {row['output'].splitlines()[0] if row['output'] else ''}")
    print(f"  total (close + trustees + verify), wall   {row['total']:7.2f} s   target < {TARGET_SECONDS:.0f} s: "
          f"{'met' if row['total'] < TARGET_SECONDS and ok else 'MISSED'}")
    print(f"  the same on two idle cores (from CPU)     {row['idle']:7.2f} s   "
          f"{'met' if row['idle'] < TARGET_SECONDS and ok else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="processes making the ballots")
    args = parser.parse_args(argv)
    label = f"tally-{args.ballots}"
    print(f"cores: {os.cpu_count()}, load average {load_average():.1f}; ballots for {args.ballots:,} voters:")
    made = ballots_for(trustees_of(vote_id_for(label)).election, range(args.ballots), args.processes)
    with tempfile.TemporaryDirectory(prefix="yishi-bench-") as tmp:
        workdir = Path(tmp)
        for backend in args.backends.split(","):
            with databases(backend, workdir, durable=True, naptime="1s") as (fresh, _port):
                report(run(backend, fresh(args.ballots), made, label, workdir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
