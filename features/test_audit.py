"""Step definitions for audit.feature: export and time travel through the HTTP API, verification offline.

"Offline" is the ``yishi verify-bundle`` command run (with click's CliRunner) on the saved file:
it opens no database. The consultation itself is held with engine commands (``tests.builders.consultation``),
since how it was held is not what this feature is about. The steps share the ``driver`` (tests/driver.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_bdd import given, parsers, scenarios, then, when

from cli import main
from tests.builders import consultation
from tests.driver import Driver, ok
from tests.helpers import make_community

scenarios("audit.feature")

pytestmark = pytest.mark.usefixtures("client")

PERSONAL_EVENT_FIELDS = {"actor_id", "input", "error", "services"}


def verify_offline(path: Path, key: Path) -> Result:
    return CliRunner().invoke(main, ["verify-bundle", str(path), "--public-key", str(key)])


# --- the history ------------------------------------------------------------------------------


@given(parsers.parse('the community "{slug}" has held a consultation whose opinion period closed at its deadline'))
def held(slug: str, driver: Driver) -> None:
    assert driver.community.slug == slug
    driver.instance = consultation(driver.engine, driver.community, driver.clock, close_early=False)


# --- bundles ----------------------------------------------------------------------------------


@when(parsers.parse("{member} downloads the community's {kind} audit bundle"))
def download(member: str, kind: str, driver: Driver, tmp_path: Path) -> None:
    response = driver.request(member, "GET", f"/api/audit/bundle?public={str(kind == 'public').lower()}")
    driver.kept["bundle"] = ok(response)
    driver.kept["disposition"] = response.headers["Content-Disposition"]
    driver.kept["file"] = tmp_path / "bundle.json"
    driver.kept["file"].write_bytes(response.data)
    driver.kept["key"] = tmp_path / "yishi.pem"
    driver.kept["key"].write_text(ok(driver.call(None, "GET", "/api/audit/public-key"))["public_pem"])


@when(parsers.parse("{member} asks for the community's full audit bundle"))
def ask_full(member: str, driver: Driver) -> None:
    driver.send(member, "GET", "/api/audit/bundle")


@then("the bundle comes as a file to save")
def as_a_file(driver: Driver) -> None:
    disposition = driver.kept["disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.json"')
    assert driver.kept["bundle"]["format"] == "yishi-audit-bundle/1"


@then("the saved bundle verifies offline against the deployment's published key")
def verifies(driver: Driver) -> None:
    result = verify_offline(driver.kept["file"], driver.kept["key"])
    assert result.exit_code == 0, result.output
    assert "verified: the history holds" in result.output
    assert "1 checkpoints" in result.output


@when(parsers.parse('someone changes the opinion "{text}" to "{new}" in a copy of the bundle'))
def tamper(text: str, new: str, driver: Driver) -> None:
    copy = json.loads(driver.kept["file"].read_text(encoding="utf-8"))
    (record,) = [r for r in copy["records"] if r["kind"] == "opinion" and r["personal"]["text"] == text]
    record["personal"]["text"] = new
    driver.kept["tampered"] = driver.kept["file"].with_name("tampered.json")
    driver.kept["tampered"].write_text(json.dumps(copy, ensure_ascii=False), encoding="utf-8")
    driver.ids["opinion"] = record["id"]


@then(parsers.parse('the copy is rejected offline, naming opinion "{text}" as changed after it was written'))
def rejected(text: str, driver: Driver) -> None:
    result = verify_offline(driver.kept["tampered"], driver.kept["key"])
    assert result.exit_code == 1, result.output
    (problem,) = [line for line in result.output.splitlines() if line.startswith("PROBLEM")]
    assert problem.startswith(f"PROBLEM [records] opinion {driver.ids['opinion']} was changed after event ")
    assert problem.endswith(f"of instance {driver.instance} wrote it: its fingerprint differs")


@then("the bundle holds no salt, no actor, no command input and no personal field")
def nothing_personal(driver: Driver) -> None:
    bundle = driver.kept["bundle"]
    assert bundle["public"] is True
    for instance in bundle["instances"]:
        assert "salt" not in instance
        assert all(not PERSONAL_EVENT_FIELDS & event.keys() for event in instance["events"])
    opinions = [r for r in bundle["records"] if r["kind"] == "opinion"]
    assert opinions and all("personal" not in r and "author_id" not in r["public"] for r in opinions)
    assert all("author_id" in r["personal_digests"] for r in opinions)


# --- time travel --------------------------------------------------------------------------------


@when("the auditor reads the consultation as of its opinion deadline")
def as_of_deadline(driver: Driver) -> None:
    events = driver.get("auditor", f"/api/instances/{driver.instance}/events?page_size=100")["items"]
    (fired,) = [e for e in events if e["type"] == "timers_fired"]
    driver.kept["snapshot"] = driver.get("auditor", f"/api/instances/{driver.instance}/as-of/{fired['seq']}")
    driver.kept["recorded_digest"] = fired["state_digest"]


@then(parsers.parse('the open tasks then were "{element}", and the timer "{timer}" had fired'))
def open_then(element: str, timer: str, driver: Driver) -> None:
    snapshot = driver.kept["snapshot"]
    assert [t["element_id"] for t in snapshot["open_tasks"]] == [element]
    assert snapshot["completed_elements"][timer] == 1
    assert snapshot["pending_timers"] == []


@then("the state then is the one the history recorded")
def state_then(driver: Driver) -> None:
    snapshot = driver.kept["snapshot"]
    assert snapshot["digest"] == driver.kept["recorded_digest"]
    assert snapshot["digest_matches"] and snapshot["history_matches"]


# --- what an auditor may not do ------------------------------------------------------------------


def _attempt(change: str, driver: Driver) -> None:
    if change == "start a consultation":
        driver.send("auditor", "POST", "/api/instances", {"definition_key": "consultation"})
        return
    verb, _, text = change.partition(' the opinion "')
    text = text.rstrip('"')
    if verb == "answer":
        opinions = driver.get("auditor", f"/api/instances/{driver.instance}/opinions?page_size=100")["items"]
        (opinion,) = [o for o in opinions if o["text"] == text]
        driver.send("auditor", "PUT", f"/api/opinions/{opinion['id']}/answer", {"verdict": "adopted", "reason": "Why not."})
        return
    driver.send("auditor", "POST", f"/api/instances/{driver.instance}/opinions", {"text": text})


@when(parsers.parse("the auditor tries to {change}"))
def auditor_tries(change: str, driver: Driver) -> None:
    driver.kept["history"] = driver.get("auditor", f"/api/instances/{driver.instance}")["last_seq"]
    _attempt(change, driver)


@then("the consultation's history is unchanged")
def unchanged(driver: Driver) -> None:
    assert driver.get("auditor", f"/api/instances/{driver.instance}")["last_seq"] == driver.kept["history"]


@when(parsers.parse('the auditor of the community "{slug}" tries each of these requests:'))
def other_community(slug: str, datatable: list[list[str]], driver: Driver) -> None:
    other = make_community(driver.engine, slug)
    driver.responses = []
    for method, path in datatable[1:]:
        body = {"instance": driver.instance} if method == "POST" else None
        path = path.format(instance=driver.instance)
        driver.responses.append((method, path, driver.call(other.tokens["auditor"], method, path, body)))
