"""Small builders shared by tests: a community with one member per role, and their actors."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.identity import actors as identity_actors
from engine.identity.actors import Actor
from engine.identity.commands import SeedCommunity
from engine.bootstrap import Engine

PEOPLE = {
    "chair": ["committee", "resident"],
    "clerk": ["committee"],
    "alice": ["resident"],
    "bob": ["resident"],
    "carol": ["resident"],
    "auditor": ["auditor"],
    "admin": ["admin"],
}


@dataclass
class Community:
    id: int
    slug: str
    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    """Each member's web sign-in code, when made with ``sign_in_codes=True``."""

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]


def make_community(engine: Engine, slug: str, timezone: str = "Asia/Shanghai", *, sign_in_codes: bool = False) -> Community:
    people = tuple((name, tuple(roles)) for name, roles in PEOPLE.items())
    seeded = engine.execute(SeedCommunity(slug, slug.title(), people, "test", timezone, sign_in_codes))
    community = Community(seeded[0].member.community_id, slug)
    for member, token, code in seeded:
        community.actors[member.name] = identity_actors.actor_for(member)
        community.tokens[member.name] = token
        if code is not None:
            community.codes[member.name] = code
    return community


class Race:
    """Where two racing requests meet: each waits there until both have read what they go on to write.

    On SQLite that meeting cannot happen: units of work take turns (``engine.kernel.db.WriterLock``), so
    the second request reads only after the first has written. There the first only lingers a
    moment, so that the second is surely waiting for its turn.
    """

    def __init__(self, engine: Engine) -> None:
        self.serialized = engine.db.engine.dialect.name == "sqlite"
        self.barrier = threading.Barrier(1 if self.serialized else 2, timeout=10)

    def meet(self) -> None:
        self.barrier.wait()
        if self.serialized:
            time.sleep(0.1)

    @property
    def broken(self) -> bool:
        return self.barrier.broken


def race(engine: Engine, attempts: list[tuple[object, Actor]], patch: object, linger: float = 0.15) -> list[object]:
    """Run the commands at once, one thread each; each command's outcome (its result, or the exception).

    Every command lingers ``linger`` seconds after its reads and checks, just before its writes are
    flushed (at ``record_unloaded``, which every domain command goes through): without a row lock
    or a conditional write, each would pass its checks on what the others have not yet written.
    ``patch`` is pytest's ``monkeypatch``.
    """
    from engine.kernel import instances
    from engine.voting import casting

    real = instances.record_unloaded

    def lingering(*args: object, **kwargs: object) -> None:
        time.sleep(linger)
        real(*args, **kwargs)  # type: ignore[arg-type]

    patch.setattr(instances, "record_unloaded", lingering)  # type: ignore[attr-defined]
    patch.setattr(casting, "record_unloaded", lingering)  # type: ignore[attr-defined]
    return at_once([lambda command=command, actor=actor: engine.execute(command, actor) for command, actor in attempts])


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls together, one thread each (released by a barrier); each one's result or exception."""
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls), timeout=30)

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 — the test checks each outcome
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    return outcomes


def send(port: int, token: str, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    """One JSON request to a server on this machine, on a connection of its own: the status and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Connection": "close"}
    if key is not None:
        headers["Idempotency-Key"] = key
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()
