"""Step definitions for audit.feature: export and time travel through the HTTP API, verification offline.

"Offline" is the ``yishi verify-bundle`` command run (with click's CliRunner) on the saved file:
it opens no database. The consultation itself is held with engine commands (``tests.builders.consultation``),
since how it was held is not what this feature is about.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from pytest_bdd import given, parsers, scenarios, then, when

from cli import main
from engine.kernel.clock import ManualClock
from engine.bootstrap import Engine
from tests.builders import consultation
from tests.fixtures import bearer
from tests.helpers import Community, make_community

scenarios("audit.feature")

pytestmark = pytest.mark.usefixtures("client")

PERSONAL_EVENT_FIELDS = {"actor_id", "input", "error", "services"}


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {"response": None}


def get(client: FlaskClient, community: Community, member: str, path: str) -> Any:
    return client.get(path, headers=bearer(community.tokens[member]))


def ok(response: Any) -> Any:
    assert response.status_code == 200, (response.status_code, response.get_json())
    return response.get_json()


def verify_offline(path: Path, key: Path) -> Result:
    return CliRunner().invoke(main, ["verify-bundle", str(path), "--public-key", str(key)])


# --- the history ------------------------------------------------------------------------------


@given(parsers.parse('the community "{slug}" has held a consultation whose opinion period closed at its deadline'))
def held(slug: str, deployed: Engine, community: Community, clock: ManualClock, ctx: dict[str, Any]) -> None:
    assert community.slug == slug
    ctx["instance"] = consultation(deployed, community, clock, close_early=False)


# --- bundles ----------------------------------------------------------------------------------


@when(parsers.parse("{member} downloads the community's {kind} audit bundle"))
def download(member: str, kind: str, client: FlaskClient, community: Community, ctx: dict[str, Any], tmp_path: Path) -> None:
    response = get(client, community, member.removeprefix("the "), f"/api/audit/bundle?public={str(kind == 'public').lower()}")
    ctx["bundle"] = ok(response)
    ctx["disposition"] = response.headers["Content-Disposition"]
    ctx["file"] = tmp_path / "bundle.json"
    ctx["file"].write_bytes(response.data)
    ctx["key"] = tmp_path / "yishi.pem"
    ctx["key"].write_text(ok(client.get("/api/audit/public-key"))["public_pem"])


@when(parsers.parse("{member} asks for the community's full audit bundle"))
def ask_full(member: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ctx["response"] = get(client, community, member, "/api/audit/bundle")


@then("the bundle comes as a file to save")
def as_a_file(ctx: dict[str, Any]) -> None:
    assert ctx["disposition"].startswith("attachment; filename=") and ctx["disposition"].endswith('.json"')
    assert ctx["bundle"]["format"] == "yishi-audit-bundle/1"


@then("the saved bundle verifies offline against the deployment's published key")
def verifies(ctx: dict[str, Any]) -> None:
    result = verify_offline(ctx["file"], ctx["key"])
    assert result.exit_code == 0, result.output
    assert "verified: the history holds" in result.output
    assert "1 checkpoints" in result.output


@when(parsers.parse('someone changes the opinion "{text}" to "{new}" in a copy of the bundle'))
def tamper(text: str, new: str, ctx: dict[str, Any]) -> None:
    copy = json.loads(ctx["file"].read_text(encoding="utf-8"))
    (record,) = [r for r in copy["records"] if r["kind"] == "opinion" and r["personal"]["text"] == text]
    record["personal"]["text"] = new
    ctx["tampered"] = ctx["file"].with_name("tampered.json")
    ctx["tampered"].write_text(json.dumps(copy, ensure_ascii=False), encoding="utf-8")
    ctx["opinion"] = record["id"]


@then(parsers.parse('the copy is rejected offline, naming opinion "{text}" as changed after it was written'))
def rejected(text: str, ctx: dict[str, Any]) -> None:
    result = verify_offline(ctx["tampered"], ctx["key"])
    assert result.exit_code == 1, result.output
    (problem,) = [line for line in result.output.splitlines() if line.startswith("PROBLEM")]
    assert problem.startswith(f"PROBLEM [records] opinion {ctx['opinion']} was changed after event ")
    assert problem.endswith(f"of instance {ctx['instance']} wrote it: its fingerprint differs")


@then("the bundle holds no salt, no actor, no command input and no personal field")
def nothing_personal(ctx: dict[str, Any]) -> None:
    bundle = ctx["bundle"]
    assert bundle["public"] is True
    for instance in bundle["instances"]:
        assert "salt" not in instance
        assert all(not PERSONAL_EVENT_FIELDS & event.keys() for event in instance["events"])
    opinions = [r for r in bundle["records"] if r["kind"] == "opinion"]
    assert opinions and all("personal" not in r and "author_id" not in r["public"] for r in opinions)
    assert all("author_id" in r["personal_digests"] for r in opinions)


# --- time travel --------------------------------------------------------------------------------


@when("the auditor reads the consultation as of its opinion deadline")
def as_of_deadline(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    events = ok(get(client, community, "auditor", f"/api/instances/{ctx['instance']}/events?page_size=100"))["items"]
    (fired,) = [e for e in events if e["type"] == "timers_fired"]
    ctx["snapshot"] = ok(get(client, community, "auditor", f"/api/instances/{ctx['instance']}/as-of/{fired['seq']}"))
    ctx["recorded_digest"] = fired["state_digest"]


@then(parsers.parse('the open tasks then were "{element}", and the timer "{timer}" had fired'))
def open_then(element: str, timer: str, ctx: dict[str, Any]) -> None:
    snapshot = ctx["snapshot"]
    assert [t["element_id"] for t in snapshot["open_tasks"]] == [element]
    assert snapshot["completed_elements"][timer] == 1
    assert snapshot["pending_timers"] == []


@then("the state then is the one the history recorded")
def state_then(ctx: dict[str, Any]) -> None:
    snapshot = ctx["snapshot"]
    assert snapshot["digest"] == ctx["recorded_digest"]
    assert snapshot["digest_matches"] and snapshot["history_matches"]


# --- what an auditor may not do ------------------------------------------------------------------


def _attempt(change: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> Any:
    headers = bearer(community.tokens["auditor"])
    if change == "start a consultation":
        return client.post("/api/instances", json={"definition_key": "consultation"}, headers=headers)
    verb, _, text = change.partition(' the opinion "')
    text = text.rstrip('"')
    if verb == "answer":
        opinions = ok(client.get(f"/api/instances/{ctx['instance']}/opinions?page_size=100", headers=headers))["items"]
        (opinion,) = [o for o in opinions if o["text"] == text]
        return client.put(f"/api/opinions/{opinion['id']}/answer", json={"verdict": "adopted", "reason": "Why not."}, headers=headers)
    return client.post(f"/api/instances/{ctx['instance']}/opinions", json={"text": text}, headers=headers)


@when(parsers.parse("the auditor tries to {change}"))
def auditor_tries(change: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ctx["history"] = ok(get(client, community, "auditor", f"/api/instances/{ctx['instance']}"))["last_seq"]
    ctx["response"] = _attempt(change, client, community, ctx)


@then("the consultation's history is unchanged")
def unchanged(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert ok(get(client, community, "auditor", f"/api/instances/{ctx['instance']}"))["last_seq"] == ctx["history"]


@when(parsers.parse('the auditor of the community "{slug}" tries each of these requests:'))
def other_community(slug: str, datatable: list[list[str]], deployed: Engine, client: FlaskClient, ctx: dict[str, Any]) -> None:
    other = make_community(deployed, slug)
    headers = bearer(other.tokens["auditor"])
    ctx["responses"] = []
    for method, path in datatable[1:]:
        body = {"instance": ctx["instance"]} if method == "POST" else None
        ctx["responses"].append(client.open(path.format(instance=ctx["instance"]), method=method, json=body, headers=headers))


@then(parsers.parse('every one of them is refused with {status:d} "{code}"'))
def all_refused(status: int, code: str, ctx: dict[str, Any]) -> None:
    for response in ctx["responses"]:
        assert response.status_code == status, (response.request.path, response.get_json())
        assert response.get_json()["error"]["code"] == code
