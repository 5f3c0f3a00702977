"""Workflow commands through the real HTTP server, and replay of what they recorded.

The ballot benchmark (``bench.ballots``) measures the busiest single request; this one measures the
engine's everyday work: starting processes and completing their tasks, each command a workflow step
(SpiffWorkflow runs, the state is serialized and digested, an event is chained) in one transaction.

It talks to Yishi only through its command line and its HTTP API, so it measures any checkout the same
way: ``--tree PATH`` runs the server and the verifier from another checkout (for an A/B against the
previous commit, in one run, on the same machine minutes apart). For each tree it

1. builds a fresh SQLite database with ``yishi deploy`` and ``yishi demo`` (the demo community's tokens);
2. starts ``yishi serve --workers 2 --threads 8`` and, from ``--clients`` concurrent keep-alive clients,
   walks whole workflows for ``--seconds``: consultations (start, draft the topic, two residents' opinions,
   close the period, record the meeting, answer both opinions, answer and publish) and PDCA cycles
   (start, define the standard, close the service period, close the rating window: the check computes the
   indicators through a decision table). It prints **commands per second** (every state-changing request
   answered 2xx counts, anything else is an error), p50 and p99 latency;
3. fetches the community's audit bundle and times ``yishi verify-bundle`` with and without replay: the
   difference over the number of workflow events is **replayed events per second**.

Both figures are printed per tree, with the ratio to the first tree. Nothing is asserted: the machine is noisy.

    python -m bench.workflows                                  # this checkout
    python -m bench.workflows --tree ../main --tree .          # A/B: the previous commit, then this one
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
PROCESSES = ("consultation", "pdca")


# ---- running a checkout ----------------------------------------------------------------------

def yishi(tree: Path, database: str, *args: str) -> list[str]:
    """The argv of the tree's own ``yishi`` command (its entry point, read from its pyproject.toml), run with this Python."""
    entry = tomllib.loads((tree / "pyproject.toml").read_text())["project"]["scripts"]["yishi"]
    module, function = entry.split(":")
    return [sys.executable, "-c", f"import sys; from {module} import {function}; sys.exit({function}())",
            "--database", database, "--audit-key", str(Path(database.removeprefix("sqlite:///")).with_suffix(".key")), *args]


def environment(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PROMETHEUS_MULTIPROC_DIR": ""}


def run(tree: Path, database: str, *args: str) -> str:
    done = subprocess.run(yishi(tree, database, *args), cwd=tree, env=environment(tree), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"yishi {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def demo_tokens(output: str) -> dict[str, list[str]]:
    """Tokens printed by ``yishi demo``, by role: one line per member, roles first, the token last."""
    tokens: dict[str, list[str]] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[-1].startswith("ys_"):
            tokens.setdefault(fields[0], []).append(fields[-1])
    return tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tree: Path, database: str, log: Path, workers: int, threads: int) -> None:
        self.tree, self.database, self.log = tree, database, log
        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        argv = yishi(self.tree, self.database, "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(self.port),
                     "--workers", str(self.workers), "--threads", str(self.threads), "--no-access-log")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.tree, env=environment(self.tree))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log}")
            if self._healthy():
                return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"the server did not answer within {START_TIMEOUT:.0f} s; see {self.log}")

    def _healthy(self) -> bool:
        try:
            return Client(self.port, "").request("GET", "/api/health")[0] == 200
        except OSError:
            return False

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# ---- the clients -----------------------------------------------------------------------------

class Refused(Exception):
    pass


class Client:
    """One keep-alive HTTP/1.1 connection, as a committee member's browser holds one."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # the server closed an idle connection: one retry on a new one
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    workflows: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Walker:
    """Walks whole workflows as the committee, the residents and the provider would, counting every command."""

    def __init__(self, port: int, tokens: dict[str, list[str]], provider_id: int, load: Load) -> None:
        self.client = Client(port, "")
        self.chair = next(t for roles, ts in tokens.items() if "committee" in roles for t in ts)
        self.residents = tokens["resident"]
        self.provider_id, self.load = provider_id, load

    def command(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        began = time.perf_counter()
        status, answer = self.client.request(method, path, body, token or self.chair)
        elapsed = time.perf_counter() - began
        if not 200 <= status < 300:
            raise Refused(f"{method} {path}: {status} {json.dumps(answer)[:300]}")
        with self.load.lock:
            self.load.latencies.append(elapsed)
        return answer

    def complete(self, instance: Any, element: str, data: dict[str, Any]) -> Any:
        (task,) = [t for t in instance["open_tasks"] if t["element_id"] == element]
        return self.command("POST", f"/api/tasks/{task['id']}/complete", {"data": data})

    def consultation(self) -> None:
        instance = self.command("POST", "/api/instances", {"definition_key": "consultation"})
        instance = self.complete(instance, "draft_topic", {
            "title": "电动车充电桩选址 Where to put the e-bike chargers", "description": "Three sites are proposed.",
            "affected": "All residents of buildings 1-6", "opinion_deadline": "2099-06-30T18:00"})
        opinions = [self.command("POST", f"/api/instances/{instance['id']}/opinions", {"text": text}, token)["id"]
                    for text, token in zip(("North gate, away from the playground.", "Please add a fire extinguisher."), self.residents)]
        instance = self.complete(instance, "opinion_period", {"reason": "All buildings have been heard."})
        instance = self.complete(instance, "record_deliberation", {
            "meeting_date": "2099-07-02", "attendees": ["王主任", "李委员"], "minutes": "North gate chosen."})
        for opinion in opinions:
            self.command("PUT", f"/api/opinions/{opinion}/answer", {"verdict": "adopted", "reason": "Agreed."})
        instance = self.complete(instance, "answer_opinions", {})
        self.complete(instance, "publish_outcome", {"summary": "Chargers go to the north gate."})

    def pdca(self) -> None:
        instance = self.command("POST", "/api/instances", {"definition_key": "pdca"})
        instance = self.complete(instance, "define_standard", {"plan": {
            "service": "Repairs in buildings 1-6", "provider_id": self.provider_id, "cycle_days": 30, "rating_days": 7,
            "answer_hours": 48, "indicators": [{
                "key": "satisfaction", "name": "Resident satisfaction", "kind": "share", "source": "ratings", "unit": "%",
                "target": 85, "direction": "at_least", "near_margin": 5, "threshold": 4, "threshold_direction": "at_least"}]}})
        instance = self.complete(instance, "service_period", {"reason": "The month's repairs are done."})
        self.complete(instance, "rating_window", {"reason": "Every resident asked has rated."})

    def walk(self, deadline: float) -> None:
        turn = 0
        while time.monotonic() < deadline:
            process = PROCESSES[turn % len(PROCESSES)]
            turn += 1
            try:
                getattr(self, process)()
            except Refused as refused:
                with self.load.lock:
                    self.load.errors.append(str(refused))
                continue
            with self.load.lock:
                self.load.workflows[process] = self.load.workflows.get(process, 0) + 1


def provider_id(port: int, admin: str) -> int:
    client = Client(port, admin)
    _, communities = client.request("GET", "/api/communities")
    (community,) = communities["items"] if isinstance(communities, dict) else communities
    _, members = client.request("GET", f"/api/communities/{community['id']}/members?page_size=100")
    return next(m["id"] for m in (members["items"] if isinstance(members, dict) else members) if "provider" in m["roles"])


# ---- one tree --------------------------------------------------------------------------------

@dataclass
class Figures:
    tree: str
    commands: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    workflows: dict[str, int]
    events: int
    replay_seconds: float

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.replay_seconds if self.replay_seconds > 0 else float("nan")


def measure(tree: Path, args: argparse.Namespace, workdir: Path) -> Figures:
    database = f"sqlite:///{workdir / (tree.name + '-' + str(time.monotonic_ns()) + '.sqlite3')}"
    run(tree, database, "deploy")
    tokens = demo_tokens(run(tree, database, "demo"))
    with Server(tree, database, workdir / f"server-{tree.name}.log", args.workers, args.threads) as server:
        pid = provider_id(server.port, tokens["admin"][0])
        load = Load()
        walkers = [Walker(server.port, tokens, pid, load) for _ in range(args.clients)]
        Walker(server.port, tokens, pid, Load()).consultation()  # warm: every worker's definitions and forms loaded
        began = time.monotonic()
        threads = [threading.Thread(target=w.walk, args=(began + args.seconds,)) for w in walkers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - began
        auditor = Client(server.port, tokens["auditor"][0])
        status, bundle = auditor.request("GET", "/api/audit/bundle")
        assert status == 200, bundle
        status, key = auditor.request("GET", "/api/audit/public-key")
        assert status == 200, key
    bundle_file, key_file = workdir / f"bundle-{tree.name}.json", workdir / f"key-{tree.name}.pem"
    bundle_file.write_text(json.dumps(bundle))
    key_file.write_text(key["public_pem"])
    events = sum(len(i["events"]) for i in bundle["instances"])
    replay = timed(tree, database, "verify-bundle", str(bundle_file), "--public-key", str(key_file))
    without = timed(tree, database, "verify-bundle", str(bundle_file), "--public-key", str(key_file), "--no-replay")
    latencies = sorted(load.latencies)
    return Figures(str(tree), len(latencies), seconds, 1000 * statistics.median(latencies),
                   1000 * latencies[int(0.99 * (len(latencies) - 1))], len(load.errors), load.workflows, events,
                   replay - without)


def timed(tree: Path, database: str, *args: str) -> float:
    """The best of three runs' wall time (the verifier is single-threaded; the best is the least disturbed).
    A verdict other than "verified" (exit 1) stops the benchmark: a replay that fails measures nothing."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        run(tree, database, *args)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", type=Path, help="A checkout to measure (repeat for an A/B); default: this one.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of the load, per tree.")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients walking workflows.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers.")
    parser.add_argument("--threads", type=int, default=8, help="Threads per worker.")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree or [ROOT]]
    results = []
    with tempfile.TemporaryDirectory(prefix="yishi-bench-workflows-") as workdir:
        for tree in trees:
            figures = measure(tree, args, Path(workdir))
            results.append(figures)
            first = results[0]
            print(f"{figures.tree}\n"
                  f"  workflow commands: {figures.commands} in {figures.seconds:.1f} s = {figures.commands_per_second:.0f}/s"
                  f" (×{figures.commands_per_second / first.commands_per_second:.2f}), p50 {figures.p50_ms:.1f} ms,"
                  f" p99 {figures.p99_ms:.1f} ms, errors {figures.errors}, walked {figures.workflows}\n"
                  f"  replay: {figures.events} events in {figures.replay_seconds:.2f} s = {figures.events_per_second:.0f} events/s"
                  f" (×{figures.events_per_second / first.events_per_second:.2f})", flush=True)


if __name__ == "__main__":
    main()
