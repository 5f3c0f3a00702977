"""The feature driver: what every step module of features/ does through the HTTP API, done once.

A scenario's steps share one ``Driver`` (the ``driver`` fixture): the Flask test client, the
community and its members, the engine and the clock, the process instance the scenario is about,
the tasks seen, the members added along the way, the ids the feature names, and the last response.

Loaded as a pytest plugin (see the root conftest.py), it also holds the steps every feature
shares: how a refused request looks in the one JSON error shape, and how a batch of requests is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_bdd import parsers, then
from werkzeug.test import TestResponse

from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from tests.fixtures import bearer
from tests.helpers import Community


def ok(response: TestResponse, status: int = 200) -> Any:
    """The response's JSON body, once its status is ``status``."""
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def error_of(response: TestResponse) -> dict[str, Any]:
    """The error of a refused request: the body holds it and nothing else."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    """A table with a header row, as one dict per row."""
    header, *body = datatable
    return [dict(zip(header, row)) for row in body]


def listed(text: str) -> list[str]:
    """'alice, bob and carol' -> ['alice', 'bob', 'carol']."""
    return [part.strip() for part in text.replace(" and ", ", ").split(",") if part.strip()]


def who(member: str) -> str:
    """'the chair' -> 'chair'; 'alice' -> 'alice'; 'the street office' -> 'street office'."""
    return member.strip().removeprefix("the ")


@dataclass
class Driver:
    """One scenario's walk through the API, and what its steps keep for the ones after."""

    client: FlaskClient
    community: Community
    engine: Engine
    clock: ManualClock
    instance: str | None = None
    """The process instance the scenario is about."""
    tasks: dict[str, str] = field(default_factory=dict)
    """The id of the last task seen of each element."""
    task_elements: dict[str, str] = field(default_factory=dict)
    """The element of each task seen, by task id."""
    members: dict[str, int] = field(default_factory=dict)
    """Members added by the scenario's steps (not the community's own), by name: their ids."""
    tokens: dict[str, str] = field(default_factory=dict)
    """... and their tokens."""
    ids: dict[str, Any] = field(default_factory=dict)
    """The ids of what the scenario works on, by what the feature calls it: "vote", "convention", "cycle", …"""
    response: TestResponse | None = None
    """The response to the request the last step was about."""
    responses: list[tuple[str, str, TestResponse]] = field(default_factory=list)
    """A batch of requests (method, path, response), when a step sends many."""
    fired: int | None = None
    """How many instances the worker fired timers of, when a step had it fire them."""
    kept: dict[str, Any] = field(default_factory=dict)
    """Whatever else a step keeps for a later one, by name (each feature's own bookkeeping)."""

    # --- members ---------------------------------------------------------------------------------

    def token(self, member: str) -> str:
        name = who(member)
        return self.tokens.get(name) or self.community.tokens[name]

    def member_id(self, member: str) -> int:
        name = who(member)
        return self.members[name] if name in self.members else self.community[name].member_id

    def names(self) -> dict[int, str]:
        """Every member's name by id, the community's own and those the steps added."""
        return {**{actor.member_id: name for name, actor in self.community.actors.items()},
                **{i: name for name, i in self.members.items()}}

    # --- requests --------------------------------------------------------------------------------

    def call(self, token: str | None, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             client: FlaskClient | None = None, **options: Any) -> TestResponse:
        """One request with ``token`` (or none), not kept as the last response."""
        sent = {**(bearer(token) if token is not None else {}), **(headers or {})}
        return (client or self.client).open(path, method=method, json=body, headers=sent, **options)

    def request(self, member: str, method: str, path: str, body: Any = None, **options: Any) -> TestResponse:
        """One request as ``member``, not kept as the last response (a step's check, or one of its setup steps)."""
        return self.call(self.token(member), method, path, body, **options)

    def send(self, member: str, method: str, path: str, body: Any = None, **options: Any) -> TestResponse:
        """The request a step is about, as ``member``: kept as the last response."""
        self.response = self.request(member, method, path, body, **options)
        return self.response

    def get(self, member: str, path: str) -> Any:
        """GET as ``member``: the body, once it is a 200."""
        return ok(self.request(member, "GET", path))

    # --- the instance and its tasks ------------------------------------------------------------------

    def remember_tasks(self, instance: dict[str, Any]) -> None:
        for task in instance["open_tasks"]:
            self.tasks[task["element_id"]] = task["id"]
            self.task_elements[task["id"]] = task["element_id"]

    def read_instance(self, member: str = "chair") -> dict[str, Any]:
        instance = self.get(member, f"/api/instances/{self.instance}")
        self.remember_tasks(instance)
        return instance

    def complete(self, member: str, element: str, data: dict[str, Any] | None = None, *, seen: bool = False) -> TestResponse:
        """Complete the one open task of ``element`` as ``member`` (kept as the last response).

        ``seen``: the task of ``element`` open now, else the last one seen (to try it again once done).
        """
        instance = self.read_instance()
        if seen:
            task = self.tasks[element]
        else:
            (task,) = [t["id"] for t in instance["open_tasks"] if t["element_id"] == element]
        response = self.send(member, "POST", f"/api/tasks/{task}/complete", {"data": data or {}})
        if response.status_code == 200:
            self.remember_tasks(response.get_json())
        return response

    def pass_the_timer(self, element: str) -> None:
        """Move the clock a minute past the instance's one pending timer (of ``element``); the worker fires it."""
        (timer,) = self.read_instance()["timers"]
        assert timer["element_id"] == element
        self.clock.set(datetime.fromisoformat(timer["due_at"]) + timedelta(minutes=1))
        assert self.engine.fire_due_timers() == 1


@pytest.fixture
def driver(client: FlaskClient, community: Community, deployed: Engine, clock: ManualClock) -> Driver:
    return Driver(client, community, deployed, clock)


# --- steps every feature shares -------------------------------------------------------------------


@then("the request succeeds")
def request_succeeds(driver: Driver) -> None:
    ok(driver.response)


@then(parsers.parse("the response status is {status:d}"))
def response_status(status: int, driver: Driver) -> None:
    assert driver.response.status_code == status, driver.response.get_json()


@then(parsers.parse('the request is refused with {status:d} "{code}"'))
def refused(status: int, code: str, driver: Driver) -> None:
    response = driver.response
    assert response.status_code == status, response.get_json()
    error = error_of(response)
    assert error["code"] == code
    assert error["message"]


@then(parsers.parse('the error message says "{text}"'))
def message_says(text: str, driver: Driver) -> None:
    assert text in error_of(driver.response)["message"]


@then(parsers.parse('the error names the required role "{role}"'))
def required_role(role: str, driver: Driver) -> None:
    assert error_of(driver.response)["details"]["required"] == [role]


@then(parsers.parse('the errors name exactly the fields "{fields}"'))
def errors_name_fields(fields: str, driver: Driver) -> None:
    errors = error_of(driver.response)["details"]["errors"]
    assert all(e["message"] for e in errors), errors
    assert {e["field"] for e in errors} == {f.strip() for f in fields.split(",")}, errors


@then(parsers.parse('every one of them is refused with {status:d} "{code}"'))
def all_refused(status: int, code: str, driver: Driver) -> None:
    assert driver.responses
    for method, path, response in driver.responses:
        assert response.status_code == status, (method, path, response.status_code, response.get_json())
        assert error_of(response)["code"] == code, (method, path)


@then("the worker has fired nothing")
def fired_nothing(driver: Driver) -> None:
    assert driver.fired == 0
