"""Step definitions for pdca.feature: service-quality cycles walked through the HTTP API.

Everything goes through the Flask test client with the members' bearer tokens. The only things
done behind the API's back are what no HTTP client can do: moving the ``clock`` fixture, and
firing due timers with ``Engine.fire_due_timers`` (which is what the ``yishi worker`` does).

State passes between steps in the ``driver`` (tests/driver.py): the instance, the members added in
the background (their tokens and ids), the current cycle and series, the last corrective action and
request (``ids``), the standard (kept by this module), and the last response.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from matplotlib import image
from pytest_bdd import given, parsers, scenarios, then, when

from tests.driver import Driver, error_of, listed, ok, rows, who

scenarios("pdca.feature")

# Steps ask for their fixtures only when they run, too late for pytest to parametrize the
# scenarios by ``database_url``; naming ``client`` here runs every scenario on every backend.
pytestmark = pytest.mark.usefixtures("client")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- plumbing ---------------------------------------------------------------------------------


def cycle_path(driver: Driver, tail: str = "") -> str:
    return f"/api/pdca/cycles/{driver.ids['cycle']}{tail}"


def series_path(driver: Driver, tail: str = "") -> str:
    return f"/api/pdca/series/{driver.ids['series']}{tail}"


# --- the community and the series ---------------------------------------------------------------


@given(parsers.parse('the community "{slug}" with the provider "{provider}" and the street office "{office}"'))
def community_with_staff(slug: str, provider: str, office: str, driver: Driver) -> None:
    assert driver.community.slug == slug
    for name, label, role in (("provider", provider, "provider"), ("street office", office, "street_office")):
        added = ok(driver.send("admin", "POST", f"/api/communities/{driver.community.id}/members",
                               {"name": label, "roles": [role]}), 201)
        driver.tokens[name], driver.members[name] = added["token"], added["id"]


@when(parsers.parse('the chair starts a series for "{service}" with cycles of {days:d} days and these indicators:'))
def start_series(service: str, days: int, datatable: list[list[str]], driver: Driver) -> None:
    started = ok(driver.send("chair", "POST", "/api/instances", {"definition_key": "pdca"}), 201)
    driver.instance = started["id"]
    assert [t["element_id"] for t in started["open_tasks"]] == ["define_standard"]
    indicators = [_indicator(row) for row in rows(datatable)]
    plan = {"service": service, "provider_id": driver.members["provider"], "cycle_days": days, "rating_days": 7,
            "answer_hours": 48, "indicators": indicators}
    after = ok(driver.complete("chair", "define_standard", {"plan": plan}))
    driver.ids["cycle"], driver.ids["series"] = after["data"]["cycle"]["cycle_id"], after["data"]["cycle"]["series_id"]
    driver.kept["standard"] = driver.get("alice", series_path(driver))["standard"]
    assert [i["target"] for i in driver.kept["standard"]] == [float(row["target"]) for row in rows(datatable)]


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
def series_in_service(driver: Driver) -> None:
    start_series("Stairwell cleaning", 30, [
        ["key", "name", "kind", "source", "metric", "unit", "target", "direction", "near_margin", "threshold", "percentile"],
        ["visits", "Cleanings per stairwell", "count_per_subject", "records", "", "cleanings", "8", "at_least", "1", "", ""],
    ], driver)
    driver.clock.advance(timedelta(days=1))


@then(parsers.parse('the open tasks are "{elements}"'))
def open_tasks_are(elements: str, driver: Driver) -> None:
    current = driver.read_instance()
    assert current["status"] == "running", current["error"]
    assert sorted(t["element_id"] for t in current["open_tasks"]) == sorted(listed(elements))


@then(parsers.parse("the service period of cycle {number:d} ends by itself at {due_at}"))
def period_ends_at(number: int, due_at: str, driver: Driver) -> None:
    assert driver.get("chair", cycle_path(driver))["number"] == number
    assert [(t["element_id"], t["due_at"]) for t in driver.read_instance()["timers"]] == [("cycle_ended", due_at)]


@then(parsers.parse("cycle {number:d} is in its service period, with the same standard"))
def cycle_in_service(number: int, driver: Driver) -> None:
    current = driver.read_instance()
    assert [t["element_id"] for t in current["open_tasks"]] == ["service_period"]
    driver.ids["cycle"] = current["data"]["cycle"]["cycle_id"]
    cycle = driver.get("bob", cycle_path(driver))
    assert (cycle["number"], cycle["status"], cycle["standard"], cycle["decision_version"]) == (number, "doing", driver.kept["standard"], 1)
    assert [t["element_id"] for t in current["timers"]] == ["cycle_ended"]


# --- do: records, measurements, requests --------------------------------------------------------


@when(parsers.parse("the provider records repairs for {residents}"))
def record_repairs(residents: str, driver: Driver) -> None:
    driver.clock.advance(timedelta(days=2))
    served = (driver.clock.now() - timedelta(hours=3)).isoformat()
    records = [{"served_at": served, "subject": f"flat of {who(r)}", "resident_id": driver.member_id(r)}
               for r in listed(residents)]
    uploaded = ok(driver.send("provider", "POST", cycle_path(driver, "/records"), {"records": records}), 201)
    assert uploaded["count"] == len(records)


@when(parsers.parse('the provider uploads the response times "{hours}" as CSV'))
def upload_response_times(hours: str, driver: Driver) -> None:
    measured = (driver.clock.now() - timedelta(hours=1)).isoformat()
    text = "metric,value,measured_at\n" + "".join(f"response_hours,{h},{measured}\n" for h in listed(hours))
    uploaded = ok(driver.send("provider", "POST", cycle_path(driver, "/measurements.csv"),
                              data=text.encode(), content_type="text/csv"), 201)
    assert uploaded["count"] == len(listed(hours))


@when(parsers.parse('bob complains "{text}"'))
def bob_complains(text: str, driver: Driver) -> None:
    filed = ok(driver.send("bob", "POST", cycle_path(driver, "/requests"), {"kind": "complaint", "text": text}), 201)
    driver.ids["request"] = filed["id"]


@when(parsers.parse("the provider answers bob's complaint \"{answer}\""))
def answer_complaint(answer: str, driver: Driver) -> None:
    driver.clock.advance(timedelta(hours=5))
    answered = ok(driver.send("provider", "PUT", f"/api/pdca/requests/{driver.ids['request']}/answer", {"answer": answer}))
    assert (answered["answer"], answered["answered_by"]) == (answer, driver.members["provider"])
    assert driver.get("bob", f"/api/pdca/requests/{driver.ids['request']}")["answer"] == answer


@when("the cycle's time is up and the worker fires the due timers")
def cycle_time_up(driver: Driver) -> None:
    driver.pass_the_timer("cycle_ended")


# --- check: ratings and indicators --------------------------------------------------------------


@when("the residents rate the service:")
def residents_rate(datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        body = {"score": int(row["score"]), "comment": row["comment"] or None}
        rating = ok(driver.send(row["resident"], "POST", cycle_path(driver, "/ratings"), body), 201)
        assert rating["resident_id"] == driver.member_id(row["resident"])


@when("the rating window ends and the worker fires the due timers")
def rating_window_ends(driver: Driver) -> None:
    driver.pass_the_timer("rating_window_ended")


@then(parsers.parse("the indicators of cycle {number:d} are:"))
def indicators_are(number: int, datatable: list[list[str]], driver: Driver) -> None:
    cycle = driver.get("carol", cycle_path(driver))
    assert cycle["number"] == number and cycle["checked_at"] is not None
    assert cycle["status"] == ("acting" if any(row["status"] == "missed" for row in rows(datatable)) else "closed")
    seen = driver.get("carol", cycle_path(driver, "/indicators"))
    assert [(i["key"], i["value"], i["status"], i["escalated"]) for i in seen] == [
        (row["indicator"], float(row["value"]), row["status"], row["escalated"] == "yes") for row in rows(datatable)]


# --- act: corrective actions and the street office ------------------------------------------------


@when(parsers.parse('the chair assigns "{description}" to the provider for "{indicator}"'))
def assign_action(description: str, indicator: str, driver: Driver) -> None:
    due = (driver.clock.now() + timedelta(days=30)).date().isoformat()
    body = {"indicator": indicator, "description": description, "owner_id": driver.members["provider"], "due_date": due}
    action = ok(driver.send("chair", "POST", cycle_path(driver, "/corrective-actions"), body), 201)
    assert action["status"] == "assigned"
    driver.ids["action"] = action["id"]
    opened = driver.get("auditor", series_path(driver, "/corrective-actions?open=true"))
    assert [a["id"] for a in opened["items"]] == [action["id"]]


@when(parsers.parse('{member} completes "{element}"'))
def completes(member: str, element: str, driver: Driver) -> None:
    ok(driver.complete(member, element))


@when(parsers.parse('the provider reports the action done: "{report}"'))
def report_done(report: str, driver: Driver) -> None:
    done = ok(driver.send("provider", "POST", f"/api/pdca/corrective-actions/{driver.ids['action']}/report", {"report": report}))
    assert (done["status"], done["report"]) == ("done", report)


@when(parsers.parse('the chair verifies the action as effective: "{note}"'))
def verify_effect(note: str, driver: Driver) -> None:
    closed = ok(driver.send("chair", "POST", f"/api/pdca/corrective-actions/{driver.ids['action']}/verify",
                            {"effective": True, "note": note}))
    assert (closed["status"], closed["effective"], closed["verification"]) == ("closed", True, note)


@then(parsers.parse('the street office has the task "{element}" to do'))
def street_office_task(element: str, driver: Driver) -> None:
    tasks = driver.get("street office", f"/api/tasks?instance_id={driver.instance}")["items"]
    assert [(t["element_id"], t["lane"]) for t in tasks] == [(element, "street_office")]


@when(parsers.parse('the chair tries to complete "{element}"'))
def try_to_complete(element: str, driver: Driver) -> None:
    driver.complete("chair", element, {"response": "Not ours to answer."})


@when(parsers.parse('the street office responds "{response}"'))
def street_office_responds(response: str, driver: Driver) -> None:
    ok(driver.complete("street office", "street_office_review", {"response": response}))


# --- the series report ------------------------------------------------------------------------------


@then("the series report reads:")
def report_reads(datatable: list[list[str]], driver: Driver) -> None:
    report = driver.get("alice", series_path(driver, "/report"))
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
def report_counts(share: int, driver: Driver) -> None:
    report = driver.get("chair", series_path(driver, "/report"))
    assert report["open_corrective_actions"] == []
    assert (report["requests"]["share_answered_in_time"], report["requests"]["answered_in_time"]) == (share, 1)


@then(parsers.parse('the chart of "{key}" is a PNG image of {width:d} by {height:d} pixels'))
def chart_renders(key: str, width: int, height: int, driver: Driver) -> None:
    response = driver.request("bob", "GET", series_path(driver, f"/indicators/{key}/chart.png"))
    assert (response.status_code, response.mimetype) == (200, "image/png")
    assert response.data.startswith(PNG_SIGNATURE)
    assert image.imread(io.BytesIO(response.data), format="png").shape[:2] == (height, width)
    missing = driver.request("bob", "GET", series_path(driver, "/indicators/nope/chart.png"))
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


@then("the CSV report has one line per cycle and indicator, cycle 4's without values")
def csv_report(driver: Driver) -> None:
    response = driver.request("auditor", "GET", series_path(driver, "/report.csv"))
    assert (response.status_code, response.mimetype) == (200, "text/csv")
    seen = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["cycle"], row["indicator"]) for row in seen] == [
        (str(n), key) for n in range(1, 5) for key in ("satisfaction", "response")]
    assert [row["value"] for row in seen if row["indicator"] == "satisfaction"] == ["50.0", "75.0", "100.0", ""]
    assert [row["status"] for row in seen if row["cycle"] == "2"] == ["missed", "met"]


# --- bulk uploads -----------------------------------------------------------------------------------


@when("the provider uploads these service records as CSV:")
def provider_uploads_csv(docstring: str, driver: Driver) -> None:
    driver.kept["csv"] = docstring
    driver.send("provider", "POST", cycle_path(driver, "/records.csv"), data=docstring.encode(), content_type="text/csv")


@when("alice uploads the same records as CSV")
def alice_uploads_csv(driver: Driver) -> None:
    driver.send("alice", "POST", cycle_path(driver, "/records.csv"), data=driver.kept["csv"].encode(), content_type="text/csv")


@then(parsers.parse('the errors name the rows and fields "{expected}"'))
def errors_name_rows(expected: str, driver: Driver) -> None:
    errors = error_of(driver.response)["details"]["errors"]
    assert [f"{e['row']} {e['field']}" for e in errors] == listed(expected)


@then("the cycle has no service records")
def no_records(driver: Driver) -> None:
    assert driver.get("chair", cycle_path(driver, "/records"))["total"] == 0
