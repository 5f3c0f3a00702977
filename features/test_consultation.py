"""Step definitions for consultation.feature: the consultation walked through the HTTP API.

Everything goes through the Flask test client with the members' bearer tokens. The only things
done behind the API's back are what no HTTP client can do: moving the ``clock`` fixture, and
firing due timers with ``Engine.fire_due_timers`` (which is what the ``yishi worker`` does).

State passes between steps in the ``driver`` (tests/driver.py): the instance id, the task ids seen
(by element id), the last response, and, kept by this module, the opinions (by their current text).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from werkzeug.test import TestResponse

from engine.kernel import instances as engine_instances
from tests.driver import Driver, error_of, ok, rows
from tests.helpers import PEOPLE, Community, Race

scenarios("consultation.feature")

# Steps ask for their fixtures only when they run, too late for pytest to parametrize the
# scenarios by ``database_url``; naming ``client`` here runs every scenario on every backend.
pytestmark = pytest.mark.usefixtures("client")

RESIDENTS = [name for name, roles in PEOPLE.items() if "resident" in roles]
FIRST_DEADLINE = "2026-03-09T18:00"


def topic(title: str = "Bike shed by building 3", deadline: str = FIRST_DEADLINE) -> dict[str, str]:
    return {
        "title": title,
        "description": "Where should the new bike shed stand?",
        "affected": "Residents of buildings 2 to 4",
        "opinion_deadline": deadline,
    }


DELIBERATION = {"meeting_date": "2026-03-10", "attendees": ["chair", "clerk"], "minutes": "Went through every opinion."}


# --- plumbing ---------------------------------------------------------------------------------


def form_data(datatable: list[list[str]]) -> dict[str, Any]:
    """A field/value table as form data; a value written as a JSON list is a list."""
    return {field: json.loads(value) if value.startswith("[") else value for field, value in datatable[1:]}


def opinions(driver: Driver) -> dict[str, dict[str, Any]]:
    """The opinions given, by their current text: their id and author."""
    return driver.kept.setdefault("opinions", {})


def opinion_id(driver: Driver, text: str) -> int:
    return opinions(driver)[text]["id"]


def complete(driver: Driver, member: str, element: str, data: dict[str, Any]) -> TestResponse:
    """Complete the task of ``element``: the open one, else the last one seen (to retry on it)."""
    return driver.complete(member, element, data, seen=True)


def submit_opinion(driver: Driver, member: str, text: str) -> TestResponse:
    return driver.send(member, "POST", f"/api/instances/{driver.instance}/opinions", {"text": text})


# --- the community ----------------------------------------------------------------------------


@given(parsers.parse('the community "{slug}" with these members:'))
def the_community(slug: str, datatable: list[list[str]], driver: Driver) -> None:
    community = driver.community
    assert community.slug == slug
    mine = driver.get("admin", f"/api/communities/{community.id}")
    assert (mine["slug"], mine["timezone"]) == (slug, "Asia/Shanghai")
    listed = driver.get("admin", f"/api/communities/{community.id}/members?page_size=100")
    assert {m["name"]: set(m["roles"]) for m in listed["items"]} == {
        row["member"]: {role.strip() for role in row["roles"].split(",")} for row in rows(datatable)
    }


# --- starting and drafting ----------------------------------------------------------------------


@given("the chair has started a consultation")
@when("the chair starts a consultation")
def start_consultation(driver: Driver) -> None:
    instance = ok(driver.request("chair", "POST", "/api/instances", {"definition_key": "consultation"}), 201)
    assert (instance["definition_key"], instance["status"], instance["last_seq"]) == ("consultation", "running", 1)
    assert instance["community_id"] == driver.community.id
    driver.instance = instance["id"]
    driver.remember_tasks(instance)


@when(parsers.parse("{member} tries to start a consultation"))
def try_to_start(member: str, driver: Driver) -> None:
    driver.send(member, "POST", "/api/instances", {"definition_key": "consultation"})


@when(parsers.parse('the chair drafts the topic "{title}" with the opinion deadline "{deadline}"'))
def draft_topic(title: str, deadline: str, driver: Driver) -> None:
    complete(driver, "chair", "draft_topic", topic(title, deadline))


@given(parsers.parse('the opinion period is open until "{deadline}"'))
def opinion_period_open(deadline: str, driver: Driver) -> None:
    start_consultation(driver)
    ok(complete(driver, "chair", "draft_topic", topic(deadline=deadline)))
    assert [t["element_id"] for t in driver.read_instance()["open_tasks"]] == ["opinion_period"]


@then(parsers.parse('the open tasks are "{elements}"'))
def open_tasks_are(elements: str, driver: Driver) -> None:
    instance = driver.read_instance()
    assert instance["status"] == "running"
    assert [t["element_id"] for t in instance["open_tasks"]] == [e.strip() for e in elements.split(",")]
    assert all(t["state"] == "READY" and t["lane"] == "committee" for t in instance["open_tasks"])


@then(parsers.parse("the opinion period closes by itself at {due_at}"))
def period_closes_at(due_at: str, driver: Driver) -> None:
    timers = driver.read_instance()["timers"]
    assert [(t["element_id"], t["due_at"]) for t in timers] == [("opinion_deadline_reached", due_at)]


@then(parsers.parse("the pending timer falls due at {due_at}"))
def pending_timer_due(due_at: str, driver: Driver) -> None:
    timers = driver.read_instance()["timers"]
    assert [t["due_at"] for t in timers] == ([] if due_at == "nothing" else [due_at])


@then("the consultation has no pending timers")
def no_pending_timers(driver: Driver) -> None:
    assert driver.read_instance()["timers"] == []


# --- opinions ---------------------------------------------------------------------------------


@given("the residents have given their opinions:")
@when("the residents give their opinions:")
def give_opinions(datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        opinion = ok(submit_opinion(driver, row["resident"], row["opinion"]), 201)
        assert (opinion["text"], opinion["status"], opinion["revision"], opinion["answer"]) == (row["opinion"], "submitted", 1, None)
        assert opinion["author_id"] == driver.community[row["resident"]].member_id
        opinions(driver)[row["opinion"]] = {"id": opinion["id"], "author": row["resident"]}


@when(parsers.parse('{member} tries to give the opinion "{text}"'))
def try_to_give_opinion(member: str, text: str, driver: Driver) -> None:
    submit_opinion(driver, member, text)


@when(parsers.parse('{member} sends the opinion "{text}" with the extra field "{field}"'))
def opinion_with_extra_field(member: str, text: str, field: str, driver: Driver) -> None:
    driver.send(member, "POST", f"/api/instances/{driver.instance}/opinions", {"text": text, field: "x"})


@when(parsers.parse('{member} changes {pronoun:w} opinion "{old}" to "{new}"'))
def change_opinion(member: str, pronoun: str, old: str, new: str, driver: Driver) -> None:
    opinion = ok(driver.request(member, "PATCH", f"/api/opinions/{opinion_id(driver, old)}", {"text": new}))
    assert (opinion["text"], opinion["revision"]) == (new, 2)
    opinions(driver)[new] = opinions(driver)[old]


@when(parsers.parse('{member} tries to change {pronoun:w} opinion "{old}" to "{new}"'))
def try_to_change_opinion(member: str, pronoun: str, old: str, new: str, driver: Driver) -> None:
    driver.send(member, "PATCH", f"/api/opinions/{opinion_id(driver, old)}", {"text": new})


@when(parsers.parse('{member} withdraws {pronoun:w} opinion "{text}"'))
def withdraw_opinion(member: str, pronoun: str, text: str, driver: Driver) -> None:
    opinion = ok(driver.request(member, "POST", f"/api/opinions/{opinion_id(driver, text)}/withdraw"))
    assert opinion["status"] == "withdrawn"


@then("each resident sees only their own opinions:")
def own_opinions_only(datatable: list[list[str]], driver: Driver) -> None:
    expected: dict[str, list[tuple[str, str, int]]] = {}
    for row in rows(datatable):
        expected.setdefault(row["resident"], []).append((row["opinion"], row["status"], int(row["revision"])))
    for resident, theirs in expected.items():
        listed = driver.get(resident, f"/api/instances/{driver.instance}/opinions")
        assert listed["total"] == len(theirs)
        assert [(o["text"], o["status"], o["revision"]) for o in listed["items"]] == theirs
        assert {o["author_id"] for o in listed["items"]} == {driver.community[resident].member_id}


@then(parsers.parse('{member} cannot read the opinion "{text}"'))
def cannot_read_opinion(member: str, text: str, driver: Driver) -> None:
    response = driver.request(member, "GET", f"/api/opinions/{opinion_id(driver, text)}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@then(parsers.parse("{member} sees all {count:d} opinions"))
def sees_all_opinions(member: str, count: int, driver: Driver) -> None:
    listed = driver.get(member, f"/api/instances/{driver.instance}/opinions")
    assert listed["total"] == count
    assert {o["id"] for o in listed["items"]} == {o["id"] for o in opinions(driver).values()}


# --- time and timers --------------------------------------------------------------------------


@when(parsers.parse("the clock reaches {moment} and the worker fires the due timers"))
def clock_reaches(moment: str, driver: Driver) -> None:
    driver.clock.set(datetime.fromisoformat(moment))
    driver.fired = driver.engine.fire_due_timers()


@given("the deadline has passed and the worker has fired the due timers")
def deadline_passed(driver: Driver) -> None:
    (timer,) = driver.read_instance()["timers"]
    driver.clock.set(datetime.fromisoformat(timer["due_at"]) + timedelta(minutes=1))
    assert driver.engine.fire_due_timers() == 1
    assert [t["element_id"] for t in driver.read_instance()["open_tasks"]] == ["record_deliberation"]


@then(parsers.parse("the worker has fired the timers of {count:d} consultation"))
def fired_timers_of(count: int, driver: Driver) -> None:
    assert driver.fired == count


# --- the committee's tasks --------------------------------------------------------------------


@when(parsers.parse("{member} records the deliberation meeting:"))
def record_deliberation(member: str, datatable: list[list[str]], driver: Driver) -> None:
    complete(driver, member, "record_deliberation", form_data(datatable))


@given("the clerk has recorded the deliberation meeting")
def deliberation_recorded(driver: Driver) -> None:
    ok(complete(driver, "clerk", "record_deliberation", DELIBERATION))


@when(parsers.parse('{member} tries to complete "{element}" with:'))
def try_to_complete_with(member: str, element: str, datatable: list[list[str]], driver: Driver) -> None:
    complete(driver, member, element, form_data(datatable))


@when(parsers.parse('{member} tries to complete "{element}" with a valid topic'))
def try_to_complete_topic(member: str, element: str, driver: Driver) -> None:
    complete(driver, member, element, topic())


@when(parsers.parse('the chair completes "{element}" with the note "{note}"'))
def complete_with_note(element: str, note: str, driver: Driver) -> None:
    complete(driver, "chair", element, {"note": note})


@when(parsers.parse('the chair closes the opinion period early because "{reason}"'))
def close_early(reason: str, driver: Driver) -> None:
    complete(driver, "chair", "opinion_period", {"reason": reason})


@when(parsers.parse("the chair answers the opinions:"))
def answer_opinions(datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        answered = ok(driver.request("chair", "PUT", f"/api/opinions/{opinion_id(driver, row['opinion'])}/answer",
                                     {"verdict": row["verdict"], "reason": row["reason"]}))
        answer = answered["answer"]
        assert (answer["verdict"], answer["reason"], answer["answered_by"]) == (row["verdict"], row["reason"], driver.community["chair"].member_id)


@when(parsers.parse('the chair publishes the outcome "{summary}"'))
def publish_outcome(summary: str, driver: Driver) -> None:
    complete(driver, "chair", "publish_outcome", {"summary": summary, "decisions": ["Build a roofed shed by the gate."]})


@then(parsers.parse('{member} has no tasks to do, while the clerk has "{element}"'))
def task_lists(member: str, element: str, driver: Driver) -> None:
    assert driver.get(member, "/api/tasks")["items"] == []
    clerks = driver.get("clerk", f"/api/tasks?instance_id={driver.instance}")["items"]
    assert [t["element_id"] for t in clerks] == [element]


# --- the outcome and the history --------------------------------------------------------------


@then("the consultation is completed, with no open tasks")
def consultation_completed(driver: Driver) -> None:
    instance = driver.read_instance()
    assert (instance["status"], instance["open_tasks"], instance["timers"]) == ("completed", [], [])
    assert datetime.fromisoformat(instance["completed_at"]) == driver.clock.now()


@then(parsers.parse('every resident reads the outcome "{summary}"'))
def residents_read_outcome(summary: str, driver: Driver) -> None:
    for resident in RESIDENTS:
        instance = driver.read_instance(resident)
        assert instance["status"] == "completed"
        assert instance["data"]["summary"] == summary
        assert instance["data"]["phase"] == "closed"


@then("each author sees the answer to their opinion:")
def authors_see_answers(datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        opinion = driver.get(row["resident"], f"/api/opinions/{opinion_id(driver, row['opinion'])}")
        assert (opinion["text"], opinion["author_id"]) == (row["opinion"], driver.community[row["resident"]].member_id)
        if row["verdict"] == "none":
            assert opinion["answer"] is None
        else:
            assert (opinion["answer"]["verdict"], opinion["answer"]["reason"]) == (row["verdict"], row["reason"])
            assert opinion["answer"]["answered_by"] == driver.community["chair"].member_id


@then(parsers.parse("{member} reads the history, in this order:"))
def history_in_order(member: str, datatable: list[list[str]], driver: Driver) -> None:
    page = driver.get(member, f"/api/instances/{driver.instance}/events?page_size=100")
    events = page["items"]
    names = driver.names()
    seen = [
        {
            "type": e["type"],
            "by": names[e["actor_id"]] if e["actor_id"] is not None else "",
            "task": driver.task_elements[e["input"]["task_id"]] if e["type"] == "task_completed" else "",
        }
        for e in events
    ]
    assert seen == rows(datatable)
    assert page["total"] == len(events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert driver.read_instance()["last_seq"] == len(events)


@then(parsers.parse("the consultation's history has {count:d} events"))
@then(parsers.parse("the consultation's history has {count:d} event"))
def history_length(count: int, driver: Driver) -> None:
    page = driver.get("auditor", f"/api/instances/{driver.instance}/events")
    assert page["total"] == len(page["items"]) == count


# --- other communities ------------------------------------------------------------------------


@when(parsers.parse('the chair of the community "{slug}" tries each of these requests:'))
def outsider_requests(slug: str, datatable: list[list[str]], driver: Driver, other_community: Community) -> None:
    assert other_community.slug == slug
    bodies = {"/complete": {"data": topic()}, "/opinions": {"text": "From next door."}}
    places = {"instance": driver.instance, "task": driver.tasks["opinion_period"], "opinion": next(iter(opinions(driver).values()))["id"]}
    driver.responses = []
    for row in rows(datatable):
        path = row["path"].format(**places)
        body = next((b for end, b in bodies.items() if path.endswith(end)), None) if row["method"] == "POST" else None
        driver.responses.append((row["method"], path, driver.call(other_community.tokens["chair"], row["method"], path, body)))


# --- two requests at once ---------------------------------------------------------------------


@when(parsers.parse('the chair and the clerk complete "{element}" at the same moment, each with their own topic'))
def complete_concurrently(element: str, driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads, two test clients, one task; both read the instance before either writes.

    ``engine.kernel.instances.advance`` runs after the command has loaded the task and the instance and
    before it writes anything, so a barrier there — in the units that write, not in those that compute
    the step ahead on a snapshot — makes both requests hold the same version of the instance when they go
    on to write it: a real race, whatever the scheduler does. (On SQLite, where units of work take turns,
    the second reads after the first wrote: see ``Race``.)
    """
    driver.read_instance()
    target = driver.tasks[element]
    real_advance = engine_instances.advance
    barrier = Race(driver.engine)

    def advance_once_both_have_read(uow: Any, *args: Any, **kwargs: Any) -> Any:
        if not uow.ahead:
            barrier.meet()
        return real_advance(uow, *args, **kwargs)

    requests = {name: {"data": topic(title=f"The {name}'s topic")} for name in ("chair", "clerk")}
    responses: dict[str, TestResponse | BaseException] = {}

    def attempt(name: str) -> None:
        try:
            own_client = driver.client.application.test_client()
            responses[name] = driver.call(driver.token(name), "POST", f"/api/tasks/{target}/complete", requests[name], client=own_client)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            responses[name] = exc

    with monkeypatch.context() as patch:
        patch.setattr(engine_instances, "advance", advance_once_both_have_read)
        threads = [threading.Thread(target=attempt, args=(name,)) for name in requests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    assert not barrier.broken, "the two requests did not both reach the write"
    assert all(isinstance(r, TestResponse) for r in responses.values()), responses
    driver.kept["race"] = {"task": target, "requests": requests, "responses": responses, "both_read_first": not barrier.serialized}


@then(parsers.parse('exactly one of them succeeds and the other is refused with {status:d} "{code}"'))
def one_wins(status: int, code: str, driver: Driver) -> None:
    responses = driver.kept["race"]["responses"]
    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [200, status], {n: (r.status_code, r.get_json()) for n, r in responses.items()}
    winner = next(n for n, r in responses.items() if r.status_code == 200)
    loser = next(n for n, r in responses.items() if r.status_code != 200)
    assert error_of(responses[loser])["code"] == code
    driver.kept["race"].update(winner=winner, loser=loser)


@then("the refusal says the task was completed meanwhile")
def refusal_says(driver: Driver) -> None:
    """Both read before either wrote (PostgreSQL): the loser's write finds the instance changed. Where
    units of work take turns (SQLite), the loser reads after the winner wrote: the task is not ready."""
    race = driver.kept["race"]
    message = error_of(race["responses"][race["loser"]])["message"]
    assert ("changed by a concurrent request" if race["both_read_first"] else "not ready") in message


@then("the topic is the one of whoever succeeded")
def winners_topic(driver: Driver) -> None:
    instance = driver.read_instance()
    assert instance["data"]["title"] == f"The {driver.kept['race']['winner']}'s topic"
    assert [t["element_id"] for t in instance["open_tasks"]] == ["opinion_period"]
    assert instance["last_seq"] == 2


@then(parsers.parse('the history records "{element}" as completed exactly once, by whoever succeeded'))
def completed_once(element: str, driver: Driver) -> None:
    events = driver.get("auditor", f"/api/instances/{driver.instance}/events")["items"]
    completions = [e for e in events if e["type"] == "task_completed" and e["input"]["task_id"] == driver.kept["race"]["task"]]
    assert len(completions) == 1
    assert completions[0]["actor_id"] == driver.community[driver.kept["race"]["winner"]].member_id
    assert [e["type"] for e in events] == ["instance_started", "task_completed"]


@when("the one who was refused sends the same request again")
def loser_retries(driver: Driver) -> None:
    race = driver.kept["race"]
    loser = race["loser"]
    driver.send(loser, "POST", f"/api/tasks/{race['task']}/complete", race["requests"][loser])


# --- authentication ---------------------------------------------------------------------------


@when(parsers.parse("someone lists the consultations with {credentials}"))
def list_with_credentials(credentials: str, driver: Driver) -> None:
    headers = {
        "no Authorization header": {},
        'the bearer token "ys_not-a-token"': {"Authorization": "Bearer ys_not-a-token"},
        "an empty bearer token": {"Authorization": "Bearer "},
        "alice's token in a Basic header": {"Authorization": f"Basic {driver.community.tokens['alice']}"},
    }[credentials]
    driver.response = driver.call(None, "GET", "/api/instances", headers=headers)


@when(parsers.parse('someone without a token asks for "{path}"'))
def public_request(path: str, driver: Driver) -> None:
    driver.response = driver.call(None, "GET", path)


@then("the response asks for a bearer token")
def asks_for_bearer(driver: Driver) -> None:
    assert driver.response.headers["WWW-Authenticate"].startswith("Bearer")


@then(parsers.parse('the response says the status is "{status}"'))
def health_status(status: str, driver: Driver, database_url: str) -> None:
    body = ok(driver.response)
    assert body["status"] == status
    assert body["database"] == database_url.split(":")[0].split("+")[0]


@then(parsers.parse('the API description documents "{path}"'))
def documents_path(path: str, driver: Driver) -> None:
    spec = ok(driver.response)
    assert spec["openapi"].startswith("3.")
    assert path in spec["paths"]
