"""Prometheus metrics (requests, commands, incidents, timers) and the readiness check, both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from api import metrics
from engine.kernel import commands as kernel_commands
from engine.kernel.commands import CompleteTask, DeployDefinition
from engine.kernel.clock import ManualClock
from engine.kernel.models import Instance
from engine.voting.models import Vote
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.builders import grew, scrape
from tests.helpers import Community

VOTE = {"title": "Bins", "question": "Move the bins?", "method": "yes_no_abstain", "rule": {}, "secret": True,
        "electorate": "residents", "deadline": "2030-01-01T00:00"}


def test_requests_and_commands_are_counted_by_endpoint_status_type_and_outcome(client: Any, community: Community) -> None:
    before = scrape(client)
    assert client.post("/api/instances", json={"definition_key": "consultation"}, headers=bearer(community.tokens["chair"])).status_code == 201
    assert client.post("/api/instances", json={"definition_key": "consultation"}, headers=bearer(community.tokens["alice"])).status_code == 403
    assert client.get("/api/instances").status_code == 401
    assert client.get("/api/no/such/thing", headers=bearer(community.tokens["chair"])).status_code == 404
    after = scrape(client)

    requests = "yishi_http_requests_total"
    assert grew(before, after, requests, endpoint="/api/instances", method="POST", status="201") == 1
    assert grew(before, after, requests, endpoint="/api/instances", method="POST", status="403") == 1
    assert grew(before, after, requests, endpoint="/api/instances", method="GET", status="401") == 1
    assert grew(before, after, requests, endpoint=metrics.UNMATCHED, method="GET", status="404") == 1
    assert grew(before, after, "yishi_http_request_duration_seconds_count", endpoint="/api/instances") == 3
    assert grew(before, after, "yishi_commands_total", command="StartInstance", outcome="ok") == 1
    assert grew(before, after, "yishi_commands_total", command="StartInstance", outcome="forbidden") == 1


def test_ballots_served_beside_flask_are_counted_as_the_route_s(client: Any, deployed: Engine, community: Community) -> None:
    instance = deployed.execute(kernel_commands.StartInstance("vote"), community["chair"])
    with deployed.read() as session:
        (task,) = [t.id for t in session.get(Instance, instance.id).tasks if t.state == "READY"]
    deployed.execute(CompleteTask(task, {"vote": VOTE}), community["chair"])
    with deployed.read() as session:
        (vote_id,) = session.scalars(select(Vote.id).where(Vote.instance_id == instance.id))
    before = scrape(client)
    path = f"/api/votes/{vote_id}/ballots"
    assert client.post(path, json={"choice": "yes"}, headers=bearer(community.tokens["alice"])).status_code == 201
    assert client.post(path, json={"choice": "no"}, headers=bearer(community.tokens["alice"])).status_code == 409  # once only
    assert client.post(path, json={"choice": "no"}, headers=bearer(community.tokens["clerk"])).status_code == 403  # not a resident
    after = scrape(client)

    endpoint = "/api/votes/<vote_id>/ballots"
    assert grew(before, after, "yishi_http_requests_total", endpoint=endpoint, method="POST", status="201") == 1
    assert grew(before, after, "yishi_http_requests_total", endpoint=endpoint, method="POST", status="409") == 1
    assert grew(before, after, "yishi_http_requests_total", endpoint=endpoint, method="POST", status="403") == 1
    assert grew(before, after, "yishi_commands_total", command="CastBallot", outcome="ok") == 1
    assert grew(before, after, "yishi_commands_total", command="CastBallot", outcome="conflict") == 1


def test_incidents_and_instances_in_error(client: Any, deployed: Engine, community: Community) -> None:
    deployed.execute(DeployDefinition("failing.bpmn", b.minimal("failing", script="x = 1 // 0")), community["admin"])
    before = scrape(client)
    assert before[("yishi_instances_in_error", frozenset())] == 0
    started = client.post("/api/instances", json={"definition_key": "failing"}, headers=bearer(community.tokens["chair"]))
    assert (started.status_code, started.json["status"]) == (201, "error")
    after = scrape(client)
    assert after[("yishi_instances_in_error", frozenset())] == 1
    assert grew(before, after, "yishi_incidents_total", command="StartInstance") == 1
    assert grew(before, after, "yishi_commands_total", command="StartInstance", outcome="incident") == 1


def test_timers_fired_and_overdue(client: Any, deployed: Engine, community: Community, clock: ManualClock) -> None:
    deployed.execute(DeployDefinition("waiting.bpmn", b.linear("waiting", b.timer_event("wait", '"PT1H"'), b.user_task("after"))))
    deployed.execute(kernel_commands.StartInstance("waiting"), community["chair"])
    clock.advance(timedelta(hours=1, seconds=30))
    before = scrape(client)
    assert before[("yishi_timers_overdue", frozenset())] == 0  # due 30 s ago: not yet overdue
    clock.advance(timedelta(minutes=1))
    assert scrape(client)[("yishi_timers_overdue", frozenset())] == 1
    assert deployed.fire_due_timers() == 1  # the app watches this engine: the worker's counting, in-process
    assert deployed.fire_due_timers() == 0
    after = scrape(client)
    assert after[("yishi_timers_overdue", frozenset())] == 0
    assert grew(before, after, "yishi_timers_fired_total") == 1
    assert grew(before, after, "yishi_commands_total", command="FireDueTimers", outcome="ok") == 1


def test_readiness_needs_the_database_at_the_migration_head(client: Any, deployed: Engine) -> None:
    ready = client.get("/api/ready")  # no token
    assert ready.status_code == 200, ready.json
    current, head = deployed.db.revisions()
    assert ready.json == {"status": "ready", "database": deployed.db.engine.dialect.name, "revision": head} and current == head
    with deployed.db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'an_older_one'"))
    behind = client.get("/api/ready")
    assert behind.status_code == 503
    assert behind.json["error"]["code"] == "not_ready"
    assert behind.json["error"]["details"] == {"revision": "an_older_one", "head": head}
    assert client.get("/api/health").status_code == 200  # alive all the same: not to be restarted, only kept out of rotation
