"""Step definitions for pdca.feature: service-quality cycles walked through the HTTP API.

Everything goes through the Flask test client with the members' bearer tokens. The only things
done behind the API's back are what no HTTP client can do: moving the ``clock`` fixture, and
firing due timers with ``Engine.fire_due_timers`` (which is what the ``yishi worker`` does).

State passes between steps in ``ctx``: the instance, the members added in the background (their
tokens and ids), the current cycle, the last corrective action and request, and the last response.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from matplotlib import image
from pytest_bdd import given, parsers, scenarios, then, when
from werkzeug.test import TestResponse

from engine.kernel.clock import ManualClock
from engine.bootstrap import Engine
from tests.fixtures import bearer
from tests.helpers import Community

scenarios("pdca.feature")

# Steps ask for their fixtures only when they run, too late for pytest to parametrize the
# scenarios by ``database_url``; naming ``client`` here runs every scenario on every backend.
pytestmark = pytest.mark.usefixtures("client")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- plumbing ---------------------------------------------------------------------------------


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {"tokens": {}, "ids": {}, "response": None}


def who(member: str) -> str:
    """'the chair' -> 'chair', 'the provider' -> 'provider'."""
    return member.strip().removeprefix("the ")


def send(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str, method: str, path: str,
         body: Any = None, **options: Any) -> TestResponse:
    name = who(member)
    token = ctx["tokens"].get(name) or community.tokens[name]
    ctx["response"] = client.open(path, method=method, json=body, headers=bearer(token), **options)
    return ctx["response"]


def ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    header, *body = datatable
    return [dict(zip(header, row)) for row in body]


def listed(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" and ", ", ").split(",") if part.strip()]


def member_id(community: Community, ctx: dict[str, Any], member: str) -> int:
    name = who(member)
    return ctx["ids"][name] if name in ctx["ids"] else community[name].member_id


def instance(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> dict[str, Any]:
    return ok(send(client, community, ctx, "chair", "GET", f"/api/instances/{ctx['instance']}"))


def complete(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str, element: str,
             data: dict[str, Any] | None = None) -> TestResponse:
    (task,) = [t for t in instance(client, community, ctx)["open_tasks"] if t["element_id"] == element]
    return send(client, community, ctx, member, "POST", f"/api/tasks/{task['id']}/complete", {"data": data or {}})


def cycle_path(ctx: dict[str, Any], tail: str = "") -> str:
    return f"/api/pdca/cycles/{ctx['cycle']}{tail}"


def series_path(ctx: dict[str, Any], tail: str = "") -> str:
    return f"/api/pdca/series/{ctx['series']}{tail}"


def fire_the_due_timer(client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock,
                       engine: Engine, element: str) -> None:
    (timer,) = instance(client, community, ctx)["timers"]
    assert timer["element_id"] == element
    clock.set(datetime.fromisoformat(timer["due_at"]) + timedelta(minutes=1))
    assert engine.fire_due_timers() == 1


# --- the community and the series ---------------------------------------------------------------


@given(parsers.parse('the community "{slug}" with the provider "{provider}" and the street office "{office}"'))
def community_with_staff(slug: str, provider: str, office: str, client: FlaskClient, community: Community,
                         ctx: dict[str, Any]) -> None:
    assert community.slug == slug
    for name, label, role in (("provider", provider, "provider"), ("street office", office, "street_office")):
        added = ok(send(client, community, ctx, "admin", "POST", f"/api/communities/{community.id}/members",
                        {"name": label, "roles": [role]}), 201)
        ctx["tokens"][name], ctx["ids"][name] = added["token"], added["id"]


@when(parsers.parse('the chair starts a series for "{service}" with cycles of {days:d} days and these indicators:'))
def start_series(service: str, days: int, datatable: list[list[str]], client: FlaskClient, community: Community,
                 ctx: dict[str, Any]) -> None:
    started = ok(send(client, community, ctx, "chair", "POST", "/api/instances", {"definition_key": "pdca"}), 201)
    ctx["instance"] = started["id"]
    assert [t["element_id"] for t in started["open_tasks"]] == ["define_standard"]
    indicators = [_indicator(row) for row in rows(datatable)]
    plan = {"service": service, "provider_id": ctx["ids"]["provider"], "cycle_days": days, "rating_days": 7,
            "answer_hours": 48, "indicators": indicators}
    after = ok(complete(client, community, ctx, "chair", "define_standard", {"plan": plan}))
    ctx["cycle"], ctx["series"] = after["data"]["cycle"]["cycle_id"], after["data"]["cycle"]["series_id"]
    ctx["standard"] = ok(send(client, community, ctx, "alice", "GET", series_path(ctx)))["standard"]
    assert [i["target"] for i in ctx["standard"]] == [float(row["target"]) for row in rows(datatable)]


def _indicator(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {k: row[k] for k in ("key", "name", "kind", "source", "unit", "direction")}
    item |= {"target": float(row["target"]), "near_margin": float(row["near_margin"])}
    if row["metric"]:
        item["metric"] = row["metric"]
    if row["threshold"]:
        direction, value = row["threshold"].split()
        item |= {"threshold": float(value), "threshold_direction": direction}
    if row["percentile"]:
        item["percentile"] = float(row["percentile"])
    return item


@given("a series whose first cycle is in its service period")
def series_in_service(client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock) -> None:
    start_series("Stairwell cleaning", 30, [
        ["key", "name", "kind", "source", "metric", "unit", "target", "direction", "near_margin", "threshold", "percentile"],
        ["visits", "Cleanings per stairwell", "count_per_subject", "records", "", "cleanings", "8", "at_least", "1", "", ""],
    ], client, community, ctx)
    clock.advance(timedelta(days=1))


@then(parsers.parse('the open tasks are "{elements}"'))
def open_tasks_are(elements: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    current = instance(client, community, ctx)
    assert current["status"] == "running", current["error"]
    assert sorted(t["element_id"] for t in current["open_tasks"]) == sorted(listed(elements))


@then(parsers.parse("the service period of cycle {number:d} ends by itself at {due_at}"))
def period_ends_at(number: int, due_at: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert ok(send(client, community, ctx, "chair", "GET", cycle_path(ctx)))["number"] == number
    assert [(t["element_id"], t["due_at"]) for t in instance(client, community, ctx)["timers"]] == [("cycle_ended", due_at)]


@then(parsers.parse("cycle {number:d} is in its service period, with the same standard"))
def cycle_in_service(number: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    current = instance(client, community, ctx)
    assert [t["element_id"] for t in current["open_tasks"]] == ["service_period"]
    ctx["cycle"] = current["data"]["cycle"]["cycle_id"]
    cycle = ok(send(client, community, ctx, "bob", "GET", cycle_path(ctx)))
    assert (cycle["number"], cycle["status"], cycle["standard"], cycle["decision_version"]) == (number, "doing", ctx["standard"], 1)
    assert [t["element_id"] for t in current["timers"]] == ["cycle_ended"]


# --- do: records, measurements, requests --------------------------------------------------------


@when(parsers.parse("the provider records repairs for {residents}"))
def record_repairs(residents: str, client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock) -> None:
    clock.advance(timedelta(days=2))
    served = (clock.now() - timedelta(hours=3)).isoformat()
    records = [{"served_at": served, "subject": f"flat of {who(r)}", "resident_id": member_id(community, ctx, r)}
               for r in listed(residents)]
    uploaded = ok(send(client, community, ctx, "provider", "POST", cycle_path(ctx, "/records"), {"records": records}), 201)
    assert uploaded["count"] == len(records)


@when(parsers.parse('the provider uploads the response times "{hours}" as CSV'))
def upload_response_times(hours: str, client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock) -> None:
    measured = (clock.now() - timedelta(hours=1)).isoformat()
    text = "metric,value,measured_at\n" + "".join(f"response_hours,{h},{measured}\n" for h in listed(hours))
    uploaded = ok(send(client, community, ctx, "provider", "POST", cycle_path(ctx, "/measurements.csv"),
                       data=text.encode(), content_type="text/csv"), 201)
    assert uploaded["count"] == len(listed(hours))


@when(parsers.parse('bob complains "{text}"'))
def bob_complains(text: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    filed = ok(send(client, community, ctx, "bob", "POST", cycle_path(ctx, "/requests"), {"kind": "complaint", "text": text}), 201)
    ctx["request"] = filed["id"]


@when(parsers.parse("the provider answers bob's complaint \"{answer}\""))
def answer_complaint(answer: str, client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock) -> None:
    clock.advance(timedelta(hours=5))
    answered = ok(send(client, community, ctx, "provider", "PUT", f"/api/pdca/requests/{ctx['request']}/answer", {"answer": answer}))
    assert (answered["answer"], answered["answered_by"]) == (answer, ctx["ids"]["provider"])
    assert ok(send(client, community, ctx, "bob", "GET", f"/api/pdca/requests/{ctx['request']}"))["answer"] == answer


@when("the cycle's time is up and the worker fires the due timers")
def cycle_time_up(client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock, deployed: Engine) -> None:
    fire_the_due_timer(client, community, ctx, clock, deployed, "cycle_ended")


# --- check: ratings and indicators --------------------------------------------------------------


@when("the residents rate the service:")
def residents_rate(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for row in rows(datatable):
        body = {"score": int(row["score"]), "comment": row["comment"] or None}
        rating = ok(send(client, community, ctx, row["resident"], "POST", cycle_path(ctx, "/ratings"), body), 201)
        assert rating["resident_id"] == member_id(community, ctx, row["resident"])


@when("the rating window ends and the worker fires the due timers")
def rating_window_ends(client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock, deployed: Engine) -> None:
    fire_the_due_timer(client, community, ctx, clock, deployed, "rating_window_ended")


@then(parsers.parse("the indicators of cycle {number:d} are:"))
def indicators_are(number: int, datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    cycle = ok(send(client, community, ctx, "carol", "GET", cycle_path(ctx)))
    assert cycle["number"] == number and cycle["checked_at"] is not None
    assert cycle["status"] == ("acting" if any(row["status"] == "missed" for row in rows(datatable)) else "closed")
    seen = ok(send(client, community, ctx, "carol", "GET", cycle_path(ctx, "/indicators")))
    assert [(i["key"], i["value"], i["status"], i["escalated"]) for i in seen] == [
        (row["indicator"], float(row["value"]), row["status"], row["escalated"] == "yes") for row in rows(datatable)]


# --- act: corrective actions and the street office ------------------------------------------------


@when(parsers.parse('the chair assigns "{description}" to the provider for "{indicator}"'))
def assign_action(description: str, indicator: str, client: FlaskClient, community: Community, ctx: dict[str, Any],
                  clock: ManualClock) -> None:
    due = (clock.now() + timedelta(days=30)).date().isoformat()
    body = {"indicator": indicator, "description": description, "owner_id": ctx["ids"]["provider"], "due_date": due}
    action = ok(send(client, community, ctx, "chair", "POST", cycle_path(ctx, "/corrective-actions"), body), 201)
    assert action["status"] == "assigned"
    ctx["action"] = action["id"]
    opened = ok(send(client, community, ctx, "auditor", "GET", series_path(ctx, "/corrective-actions?open=true")))
    assert [a["id"] for a in opened["items"]] == [action["id"]]


@when(parsers.parse('{member} completes "{element}"'))
def completes(member: str, element: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ok(complete(client, community, ctx, member, element))


@when(parsers.parse('the provider reports the action done: "{report}"'))
def report_done(report: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    done = ok(send(client, community, ctx, "provider", "POST", f"/api/pdca/corrective-actions/{ctx['action']}/report", {"report": report}))
    assert (done["status"], done["report"]) == ("done", report)


@when(parsers.parse('the chair verifies the action as effective: "{note}"'))
def verify_effect(note: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    closed = ok(send(client, community, ctx, "chair", "POST", f"/api/pdca/corrective-actions/{ctx['action']}/verify",
                     {"effective": True, "note": note}))
    assert (closed["status"], closed["effective"], closed["verification"]) == ("closed", True, note)


@then(parsers.parse('the street office has the task "{element}" to do'))
def street_office_task(element: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    tasks = ok(send(client, community, ctx, "street office", "GET", f"/api/tasks?instance_id={ctx['instance']}"))["items"]
    assert [(t["element_id"], t["lane"]) for t in tasks] == [(element, "street_office")]


@when(parsers.parse('the chair tries to complete "{element}"'))
def try_to_complete(element: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    complete(client, community, ctx, "chair", element, {"response": "Not ours to answer."})


@when(parsers.parse('the street office responds "{response}"'))
def street_office_responds(response: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ok(complete(client, community, ctx, "street office", "street_office_review", {"response": response}))


# --- the series report ------------------------------------------------------------------------------


@then("the series report reads:")
def report_reads(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    report = ok(send(client, community, ctx, "alice", "GET", series_path(ctx, "/report")))
    assert (report["service"], report["status"], report["cycles"]) == ("Repairs in buildings 1-6", "active", 4)
    by_key = {item["key"]: item for item in report["indicators"]}
    for row in rows(datatable):
        item = by_key[row["indicator"]]
        checked = [c for c in item["cycles"] if c["status"] is not None]
        assert [c["value"] for c in checked] == [float(v) for v in listed(row["values"])]
        assert [c["status"] for c in checked] == listed(row["statuses"])
        assert item["trend"] == row["trend"]
        assert [c["cycle"] for c in item["cycles"]] == [1, 2, 3, 4]  # the running cycle is listed, not yet valued


@then(parsers.parse("the report counts no open corrective actions and {share:d} % of the requests answered in time"))
def report_counts(share: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    report = ok(send(client, community, ctx, "chair", "GET", series_path(ctx, "/report")))
    assert report["open_corrective_actions"] == []
    assert (report["requests"]["share_answered_in_time"], report["requests"]["answered_in_time"]) == (share, 1)


@then(parsers.parse('the chart of "{key}" is a PNG image of {width:d} by {height:d} pixels'))
def chart_renders(key: str, width: int, height: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    response = send(client, community, ctx, "bob", "GET", series_path(ctx, f"/indicators/{key}/chart.png"))
    assert (response.status_code, response.mimetype) == (200, "image/png")
    assert response.data.startswith(PNG_SIGNATURE)
    assert image.imread(io.BytesIO(response.data), format="png").shape[:2] == (height, width)
    missing = send(client, community, ctx, "bob", "GET", series_path(ctx, "/indicators/nope/chart.png"))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


@then("the CSV report has one line per cycle and indicator, cycle 4's without values")
def csv_report(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    response = send(client, community, ctx, "auditor", "GET", series_path(ctx, "/report.csv"))
    assert (response.status_code, response.mimetype) == (200, "text/csv")
    seen = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["cycle"], row["indicator"]) for row in seen] == [
        (str(n), key) for n in range(1, 5) for key in ("satisfaction", "response")]
    assert [row["value"] for row in seen if row["indicator"] == "satisfaction"] == ["50.0", "75.0", "100.0", ""]
    assert [row["status"] for row in seen if row["cycle"] == "2"] == ["missed", "met"]


# --- bulk uploads -----------------------------------------------------------------------------------


@when("the provider uploads these service records as CSV:")
def provider_uploads_csv(docstring: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ctx["csv"] = docstring
    send(client, community, ctx, "provider", "POST", cycle_path(ctx, "/records.csv"), data=docstring.encode(), content_type="text/csv")


@when("alice uploads the same records as CSV")
def alice_uploads_csv(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    send(client, community, ctx, "alice", "POST", cycle_path(ctx, "/records.csv"), data=ctx["csv"].encode(), content_type="text/csv")


@then(parsers.parse('the errors name the rows and fields "{expected}"'))
def errors_name_rows(expected: str, ctx: dict[str, Any]) -> None:
    errors = ctx["response"].get_json()["error"]["details"]["errors"]
    assert [f"{e['row']} {e['field']}" for e in errors] == listed(expected)


@then("the cycle has no service records")
def no_records(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert ok(send(client, community, ctx, "chair", "GET", cycle_path(ctx, "/records")))["total"] == 0
