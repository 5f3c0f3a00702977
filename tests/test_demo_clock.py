"""The demo clock: system time plus a shared offset, re-read at most once a second, never going backwards;\nin demo mode only an admin advances it, and the timers it makes due fire at once."""

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api import create_app
from engine.audit.bundles import export
from engine.audit.offline.verify import verify
from engine.bootstrap import Engine
from engine.kernel.bus import EngineConfig
from engine.kernel.clock import DemoClock, ManualClock
from engine.kernel.db import Database
from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied
from engine.kernel.models import DemoClockAdvance, Event, Instance
from engine.kernel.replay import replay
from tests.builders import open_drafting, ready, review_amendments
from tests.fixtures import bearer
from tests.helpers import Community

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_demo_clock_adds_the_stored_offset_and_rereads_it_at_most_once_a_second():
    stored = {"offset": timedelta(0)}
    reads = []

    def load():
        reads.append(1)
        return stored["offset"]

    tick = Tick()
    clock = DemoClock(load, system=ManualClock(START), monotonic=tick)
    assert clock.now() == START
    stored["offset"] = timedelta(days=1)  # another process advanced
    assert clock.now() == START  # cached
    tick.t = 1.0
    assert clock.now() == START + timedelta(days=1)
    assert len(reads) == 2


def test_two_clocks_share_the_offset_and_an_own_advance_is_seen_at_once():
    stored = {"offset": timedelta(0)}
    tick = Tick()
    a = DemoClock(lambda: stored["offset"], system=ManualClock(START), monotonic=tick)
    b = DemoClock(lambda: stored["offset"], system=ManualClock(START), monotonic=tick)
    a.now(), b.now()
    stored["offset"] = timedelta(hours=2)
    a.advanced(stored["offset"])
    assert a.now() == START + timedelta(hours=2)
    tick.t = 1.5
    assert b.now() == START + timedelta(hours=2)


def test_time_never_goes_backwards():
    stored = {"offset": timedelta(days=3)}
    tick = Tick()
    system = ManualClock(START)
    clock = DemoClock(lambda: stored["offset"], system=system, monotonic=tick)
    high = clock.now()
    stored["offset"] = timedelta(0)
    tick.t = 5
    assert clock.now() == high
    system.advance(timedelta(days=-1))
    assert clock.now() == high


def test_demo_mode_is_off_by_default():
    assert EngineConfig().demo is False


@pytest.fixture
def engine(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Engine]:
    """This module's engine runs in demo mode (the shared fixtures build on it)."""
    yishi = Engine(Database(database_url), clock, EngineConfig(audit_key=tmp_path / "audit-key.pem", demo=True))
    yield yishi
    yishi.db.dispose()


def test_advancing_passes_a_conventions_notice_period_so_its_adoption_vote_opens(deployed: Engine, community: Community, clock: ManualClock) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    review_amendments(engine, community, instance_id, [])
    assert "configure_vote" not in ready(engine, instance_id)  # the public notice runs three days
    before = engine.clock.now()
    advanced = engine.advance_demo_clock(int(timedelta(days=3, hours=1).total_seconds()), actor=community["admin"])
    assert advanced.fired == 1 and advanced.from_at == before and advanced.to_at == before + timedelta(days=3, hours=1)
    assert engine.clock.now() == before + timedelta(days=3, hours=1)
    assert "configure_vote" in ready(engine, instance_id)
    with engine.read() as session:
        (row,) = session.scalars(select(DemoClockAdvance))
        assert (row.actor_id, row.community_id, row.seconds, row.from_at, row.to_at) == (
            community["admin"].member_id, community.id, advanced.seconds, advanced.from_at, advanced.to_at)
        last = session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.seq.desc())).first()
        assert last.type == "fire_timers" or "timer" in last.type
        assert last.at == advanced.to_at  # the firing is recorded at the advanced time
        report = replay(session, session.get(Instance, instance_id))
        assert report.ok, report.mismatches
        keys = {engine.signer.key_id: engine.signer.public_pem}
        bundle = export(session, community.id, now=engine.clock.now(), public_keys=keys)
    verdict = verify(bundle, trusted_keys=keys)
    assert verdict.ok, verdict.problems


def test_a_second_engine_on_the_same_database_sees_the_offset(deployed: Engine, community: Community, clock: ManualClock) -> None:
    deployed.advance_demo_clock(86400, actor=community["admin"])
    other = Engine(Database(deployed.db.url),
                   ManualClock(clock.now()), EngineConfig(demo=True))
    try:
        assert other.clock.now() == clock.now() + timedelta(days=1)
    finally:
        other.db.dispose()


def test_refused_outside_demo_mode_for_non_admins_and_for_bad_amounts(deployed: Engine, community: Community, clock: ManualClock) -> None:
    with pytest.raises(PermissionDenied):
        deployed.advance_demo_clock(3600, actor=community["alice"])
    for seconds in (0, -5, 401 * 86400):
        with pytest.raises(InvalidInput):
            deployed.advance_demo_clock(seconds, actor=community["admin"])
    production = Engine(deployed.db, clock, EngineConfig())
    with pytest.raises(Conflict, match="only in demo mode"):
        production.advance_demo_clock(3600, actor=community["admin"])
    assert deployed.clock.now() == clock.now()


def test_the_api_shows_and_advances_the_clock(client: Any, deployed: Engine, community: Community, clock: ManualClock) -> None:
    shown = client.get("/api/demo/clock", headers=bearer(community.tokens["alice"]))
    assert shown.status_code == 200
    assert shown.json == {"demo": True, "now": clock.now().isoformat(), "offset_seconds": 0, "offset": "PT0S"}
    moved = client.post("/api/demo/clock", json={"advance": "P1DT2H"}, headers=bearer(community.tokens["admin"]))
    assert moved.status_code == 200, moved.json
    assert moved.json["offset"] == "P1DT2H" and moved.json["advanced_seconds"] == 26 * 3600
    assert moved.json["from"] == clock.now().isoformat() and moved.json["to"] == (clock.now() + timedelta(hours=26)).isoformat()
    assert client.get("/api/demo/clock", headers=bearer(community.tokens["bob"])).json["offset_seconds"] == 26 * 3600


@pytest.mark.parametrize("advance", ["P1Y", "P1M", "1 day", "P", "PT", "-P1D", "PT0S", "P401D", "P99999999999D", "P1DT", "x" * 30])
def test_the_api_refuses_bad_durations_with_422(client: Any, community: Community, advance: str) -> None:
    response = client.post("/api/demo/clock", json={"advance": advance}, headers=bearer(community.tokens["admin"]))
    assert response.status_code == 422, (advance, response.json)
    assert response.json["error"]["code"] == "invalid_input"


def test_the_api_refuses_non_admins_and_non_demo_deployments(client: Any, deployed: Engine, community: Community, clock: ManualClock) -> None:
    response = client.post("/api/demo/clock", json={"advance": "PT1H"}, headers=bearer(community.tokens["alice"]))
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert client.post("/api/demo/clock", json={"advance": "PT1H"}).status_code == 401
    assert client.post("/api/demo/clock", json={"advance": 5}, headers=bearer(community.tokens["admin"])).status_code == 422
    production = create_app({"TESTING": True}, engine=Engine(deployed.db, clock, EngineConfig())).test_client()
    response = production.post("/api/demo/clock", json={"advance": "PT1H"}, headers=bearer(community.tokens["admin"]))
    assert response.status_code == 409 and "demo mode" in response.json["error"]["message"]
    assert production.get("/api/demo/clock", headers=bearer(community.tokens["admin"])).json["demo"] is False


@pytest.mark.backend_independent
def test_the_openapi_documents_the_demo_clock(client: Any) -> None:
    spec = client.get("/api/openapi.json").json
    post = spec["paths"]["/api/demo/clock"]["post"]
    assert {"200", "403", "409", "422"} <= set(post["responses"])
    assert "AdvanceDemoClock" in spec["components"]["schemas"]


def test_the_app_and_the_command_line_run_in_demo_mode_only_when_asked(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from api import create_app
    from cli import main

    settings = {"YISHI_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "YISHI_AUDIT_KEY": str(tmp_path / "key.pem")}
    assert create_app(settings).extensions["yishi"].config.demo is False
    assert create_app({**settings, "YISHI_DEMO_MODE": True}).extensions["yishi"].config.demo is True
    seen = []
    for args, env in (([], {}), (["--demo-mode"], {}), ([], {"YISHI_DEMO_MODE": "1"})):
        with CliRunner(env=env).isolation():
            seen.append(main.make_context("yishi", [*args, "migrate"]).params["demo_mode"])
    assert seen == [False, True, True]
