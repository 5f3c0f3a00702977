"""Step definitions for voting.feature: votes walked through the HTTP API.

Everything goes through the Flask test client with the members' bearer tokens. The only things
done behind the API's back are what no HTTP client can do: moving the ``clock`` fixture, and
firing due timers with ``Engine.fire_due_timers`` (which is what the ``yishi worker`` does).
The bulletin board is checked with ``engine.voting.counting.board``, as ``yishi tally --verify`` does.

State passes between steps in the ``ctx`` dict: the instance and vote ids, the vote's
configuration, each voter's latest ballot (receipt, fingerprint, choice) and their earlier
receipts, the members the admin added (ids and tokens), and the last response.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_bdd import given, parsers, scenarios, then, when
from werkzeug.test import TestResponse

from engine.kernel.clock import ManualClock
from engine.bootstrap import Engine
from engine.voting.counting import board as bulletin
from tests.error_steps import error_of
from tests.fixtures import bearer
from tests.helpers import Community

scenarios("voting.feature")

# Steps ask for their fixtures only when they run, too late for pytest to parametrize the
# scenarios by ``database_url``; naming ``client`` here runs every scenario on every backend.
pytestmark = pytest.mark.usefixtures("client")

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = "2026-03-09T18:00"
DEFAULTS: dict[str, Any] = {
    "title": "Stairwell colour",
    "question": "Shall the stairwells be green?",
    "method": "yes_no_abstain",
    "rule": {},
    "secret": True,
    "electorate": "residents",
    "deadline": DEADLINE,
}
RANKED_OR_LISTS = ("approval", "irv", "schulze")
BALLOT_EVENTS = ("ballot_cast", "ballot_changed", "paper_ballot_entered", "paper_ballot_corrected")
EVERYONE = ("chair", "clerk", "alice", "auditor", "admin")
TURNOUT_KEYS = {"vote_id", "status", "eligible", "cast", "by_channel", "eligible_weight", "cast_weight"}


# --- plumbing ---------------------------------------------------------------------------------


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {"tasks": {}, "ballots": {}, "earlier": {}, "members": {}, "tokens": {}, "response": None}


def who(member: str) -> str:
    """'the chair' -> 'chair'; 'alice' -> 'alice'."""
    return member.strip().removeprefix("the ")


def token_of(community: Community, ctx: dict[str, Any], member: str) -> str:
    name = who(member)
    return ctx["tokens"].get(name) or community.tokens[name]


def id_of(community: Community, ctx: dict[str, Any], member: str) -> int:
    name = who(member)
    return ctx["members"][name] if name in ctx["members"] else community[name].member_id


def names_by_id(community: Community, ctx: dict[str, Any]) -> dict[int, str]:
    return {**{actor.member_id: name for name, actor in community.actors.items()}, **{i: n for n, i in ctx["members"].items()}}


def call(client: FlaskClient, token: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> TestResponse:
    return client.open(path, method=method, json=body, headers={**bearer(token), **(headers or {})})


def as_member(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str, method: str, path: str,
              body: Any = None) -> TestResponse:
    return call(client, token_of(community, ctx, member), method, path, body)


def ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    header, *body = datatable
    return [dict(zip(header, row)) for row in body]


def listed(text: str) -> list[str]:
    """'alice, bob and carol' -> ['alice', 'bob', 'carol']."""
    return [name.strip() for name in text.replace(" and ", ", ").split(",") if name.strip()]


def form_value(field: str, value: str) -> Any:
    """A configuration cell: options as 'park, gym' become option objects; JSON literals are JSON."""
    if field == "options":
        return [{"id": option, "label": option.title()} for option in listed(value)]
    if value in ("true", "false") or value.startswith(("{", "[")):
        return json.loads(value)
    return value


def remember_tasks(ctx: dict[str, Any], instance: dict[str, Any]) -> None:
    for task in instance["open_tasks"]:
        ctx["tasks"][task["element_id"]] = task["id"]


def read_instance(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str = "chair") -> dict[str, Any]:
    instance = ok(as_member(client, community, ctx, member, "GET", f"/api/instances/{ctx['instance']}"))
    remember_tasks(ctx, instance)
    return instance


def read_vote(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str = "auditor") -> dict[str, Any]:
    return ok(as_member(client, community, ctx, member, "GET", f"/api/votes/{ctx['vote']}"))


def complete(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str, element: str, data: dict[str, Any]) -> TestResponse:
    read_instance(client, community, ctx)
    response = as_member(client, community, ctx, member, "POST", f"/api/tasks/{ctx['tasks'][element]}/complete", {"data": data})
    ctx["response"] = response
    if response.status_code == 200:
        remember_tasks(ctx, response.get_json())
    return response


def choice_of(ctx: dict[str, Any], text: str) -> Any:
    """A choice as written in a table: a ranking or a list of approvals is written 'park, gym'."""
    return listed(text) if ctx["config"]["method"] in RANKED_OR_LISTS else text


def cast(client: FlaskClient, community: Community, ctx: dict[str, Any], voter: str, choice: str, receipt: str | None = None) -> TestResponse:
    body: dict[str, Any] = {"choice": choice_of(ctx, choice)}
    if receipt is not None:
        body["receipt"] = receipt
    response = as_member(client, community, ctx, voter, "POST", f"/api/votes/{ctx['vote']}/ballots", body)
    ctx["response"] = response
    return response


def keep_receipt(ctx: dict[str, Any], voter: str, choice: str, receipt: dict[str, Any], *, changed: bool) -> None:
    """Check a receipt and keep it as the voter's latest ballot (the one before goes to 'earlier')."""
    assert receipt["vote_id"] == ctx["vote"]
    assert receipt["changed"] is changed
    assert receipt["fingerprint"] == bulletin.fingerprint(ctx["vote"], receipt["receipt"])
    name = who(voter)
    if name in ctx["ballots"]:
        assert receipt["receipt"] != ctx["ballots"][name]["receipt"]
        ctx["earlier"].setdefault(name, []).append(ctx["ballots"][name])
    ctx["ballots"][name] = {"receipt": receipt["receipt"], "fingerprint": receipt["fingerprint"], "choice": choice_of(ctx, choice)}


def vote_in(client: FlaskClient, community: Community, ctx: dict[str, Any], voter: str, choice: str) -> None:
    receipt = ok(cast(client, community, ctx, voter, choice), 201)
    keep_receipt(ctx, voter, choice, receipt, changed=False)
    mine = ok(as_member(client, community, ctx, voter, "GET", f"/api/votes/{ctx['vote']}/me"))
    assert (mine["eligible"], mine["voted"], mine["channel"], mine["changes"]) == (True, True, "online", 0)


def result_of(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> dict[str, Any]:
    return ok(as_member(client, community, ctx, "alice", "GET", f"/api/votes/{ctx['vote']}/result"))


def board_of(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> dict[str, Any]:
    return ok(as_member(client, community, ctx, "auditor", "GET", f"/api/votes/{ctx['vote']}/board"))


def check_receipt(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str, receipt: str) -> dict[str, Any]:
    return ok(as_member(client, community, ctx, member, "POST", f"/api/votes/{ctx['vote']}/receipts/check", {"receipt": receipt}))


def history(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str = "auditor") -> list[dict[str, Any]]:
    page = ok(as_member(client, community, ctx, member, "GET", f"/api/instances/{ctx['instance']}/events?page_size=100"))
    assert page["total"] == len(page["items"])
    return page["items"]


def number(amount: dict[str, str]) -> Fraction:
    """A published amount ({"fraction", "decimal"}) as an exact number."""
    return Fraction(amount["fraction"])


# --- the community ----------------------------------------------------------------------------


@given(parsers.parse('the community "{slug}" with these members:'))
def the_community(slug: str, datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert community.slug == slug
    mine = ok(as_member(client, community, ctx, "admin", "GET", f"/api/communities/{community.id}"))
    assert (mine["slug"], mine["timezone"]) == (slug, "Asia/Shanghai")
    members = ok(as_member(client, community, ctx, "admin", "GET", f"/api/communities/{community.id}/members?page_size=100"))
    assert {m["name"]: set(m["roles"]) for m in members["items"]} == {
        row["member"]: {role.strip() for role in row["roles"].split(",")} for row in rows(datatable)
    }


@given("the admin registers these owners:")
def register_owners(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for row in rows(datatable):
        body = {"name": row["owner"], "roles": ["owner"], "household": row["household"], "area": row["area"]}
        added = ok(as_member(client, community, ctx, "admin", "POST", f"/api/communities/{community.id}/members", body), 201)
        assert (added["name"], added["roles"], added["household"], added["area"]) == (row["owner"], ["owner"], row["household"], row["area"])
        assert added["community_id"] == community.id and added["token"].startswith("ys_")
        ctx["members"][row["owner"]], ctx["tokens"][row["owner"]] = added["id"], added["token"]
        ctx.setdefault("areas", {})[row["owner"]] = row["area"]


# --- starting and configuring -----------------------------------------------------------------


def start(client: FlaskClient, community: Community, ctx: dict[str, Any], key: str) -> dict[str, Any]:
    instance = ok(as_member(client, community, ctx, "chair", "POST", "/api/instances", {"definition_key": key}), 201)
    assert (instance["definition_key"], instance["status"], instance["community_id"]) == (key, "running", community.id)
    ctx["instance"] = instance["id"]
    remember_tasks(ctx, instance)
    return instance


def configure(client: FlaskClient, community: Community, ctx: dict[str, Any], config: dict[str, Any]) -> TestResponse:
    response = complete(client, community, ctx, "chair", "configure_vote", {"vote": config})
    if response.status_code == 200:
        ctx["config"] = config
        opened = ok(as_member(client, community, ctx, "chair", "GET", f"/api/instances/{ctx['instance']}/votes"))
        assert len(opened) == 1
        ctx["vote"] = opened[0]["id"]
        if response.get_json()["definition_key"] == "vote":  # a caller's data shows the vote's only when it returns
            assert response.get_json()["data"]["ballot_box"]["vote_id"] == ctx["vote"]
    return response


@given("the chair has started a vote")
def started_vote(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert [t["element_id"] for t in start(client, community, ctx, "vote")["open_tasks"]] == ["configure_vote"]


@when("the chair configures the vote with:")
def configure_with(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    configure(client, community, ctx, {row["field"]: form_value(row["field"], row["value"]) for row in rows(datatable)})


@given("the chair has opened a vote with:")
def opened_with(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    started_vote(client, community, ctx)
    config = {**DEFAULTS, **{row["field"]: form_value(row["field"], row["value"]) for row in rows(datatable)}}
    ok(configure(client, community, ctx, config))


@given(parsers.parse('a {secrecy} yes/no vote of the residents is open until "{deadline}"'))
def open_yes_no(secrecy: str, deadline: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert secrecy in ("secret", "public")
    started_vote(client, community, ctx)
    ok(configure(client, community, ctx, {**DEFAULTS, "secret": secrecy == "secret", "deadline": deadline}))


@then(parsers.re(r'the vote is open to (?P<count>\d+) (?P<label>\w+): "(?P<voters>[^"]*)"$'))
def open_to(count: str, label: str, voters: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    vote = read_vote(client, community, ctx)
    assert (vote["status"], vote["eligible"], vote["electorate"], vote["weighted"]) == ("open", int(count), label, False)
    assert (vote["secret"], vote["method"], vote["title"]) == (ctx["config"]["secret"], ctx["config"]["method"], ctx["config"]["title"])
    assert vote["board_root"] is None and vote["closed_at"] is None
    entries = ok(as_member(client, community, ctx, "alice", "GET", f"/api/votes/{ctx['vote']}/electorate?page_size=100"))
    assert sorted(e["label"] for e in entries["items"]) == listed(voters)
    assert {e["weight"] for e in entries["items"]} == {"1"}
    assert {e["voter_key"] for e in entries["items"]} == {f"m:{id_of(community, ctx, v)}" for v in listed(voters)}


@then(parsers.re(r'the vote is open to (?P<count>\d+) owners holding (?P<area>[\d.]+) m²: "(?P<voters>[^"]*)"$'))
def open_to_owners(count: str, area: str, voters: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    vote = read_vote(client, community, ctx)
    assert (vote["status"], vote["eligible"], vote["electorate"], vote["weighted"]) == ("open", int(count), "owners", True)
    assert Decimal(vote["eligible_weight"]) == Decimal(area)
    entries = ok(as_member(client, community, ctx, "alice", "GET", f"/api/votes/{ctx['vote']}/electorate?page_size=100"))
    assert sorted(e["label"] for e in entries["items"]) == listed(voters)
    assert {e["label"]: e["weight"] for e in entries["items"]} == ctx["areas"]


@then(parsers.parse("the vote closes by itself at {due_at}"))
def closes_at(due_at: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    instance = read_instance(client, community, ctx)
    assert [(t["element_id"], t["due_at"]) for t in instance["timers"]] == [("deadline_reached", due_at)]
    assert read_vote(client, community, ctx)["deadline"] == due_at
    assert instance["data"]["ballot_box"]["deadline"] == due_at


# --- casting ----------------------------------------------------------------------------------


@given("the voters have cast their ballots:")
@when("the voters cast their ballots:")
def voters_cast(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for row in rows(datatable):
        vote_in(client, community, ctx, row["voter"], row["choice"])


@when(parsers.parse('{voters} each vote "{choice}"'))
def each_votes(voters: str, choice: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for voter in listed(voters):
        vote_in(client, community, ctx, voter, choice)


@when(parsers.parse('{voter} votes "{choice}"'))
def votes(voter: str, choice: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    vote_in(client, community, ctx, voter, choice)


@when(parsers.parse('{voter} tries to vote "{choice}"'))
def tries_to_vote(voter: str, choice: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    cast(client, community, ctx, voter, choice)


@when(parsers.parse('{voter} tries to vote "{choice}" again without {pronoun:w} receipt'))
def again_without_receipt(voter: str, choice: str, pronoun: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    cast(client, community, ctx, voter, choice)


@when(parsers.parse('{voter} tries to vote "{choice}" again with a receipt that is not {pronoun:w}'))
def again_with_wrong_receipt(voter: str, choice: str, pronoun: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    cast(client, community, ctx, voter, choice, receipt=secrets.token_urlsafe(24))


@when(parsers.parse('{voter} tries to vote "{choice}" again with {pronoun:w} receipt'))
def again_with_receipt(voter: str, choice: str, pronoun: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    cast(client, community, ctx, voter, choice, receipt=ctx["ballots"][who(voter)]["receipt"])


@when(parsers.parse('{voter} changes {pronoun:w} ballot to "{choice}" with {pronoun2:w} receipt'))
def change_ballot(voter: str, pronoun: str, choice: str, pronoun2: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    receipt = ok(cast(client, community, ctx, voter, choice, receipt=ctx["ballots"][who(voter)]["receipt"]), 201)
    keep_receipt(ctx, voter, choice, receipt, changed=True)
    ctx["changed_by"] = who(voter)


@then(parsers.parse("{pronoun:w} gets a new receipt"))
def gets_new_receipt(pronoun: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    voter = ctx["changed_by"]
    latest, (first,) = ctx["ballots"][voter], ctx["earlier"][voter]
    assert latest["fingerprint"] != first["fingerprint"]
    mine = ok(as_member(client, community, ctx, voter, "GET", f"/api/votes/{ctx['vote']}/me"))
    assert (mine["voted"], mine["channel"], mine["changes"]) == (True, "online", 1)
    assert check_receipt(client, community, ctx, voter, latest["receipt"])["current"] is True
    replaced = check_receipt(client, community, ctx, voter, first["receipt"])
    assert (replaced["found"], replaced["current"], replaced["replaced"], replaced["choice"]) == (True, False, True, None)


@then(parsers.parse("{member} is told they may not vote"))
def may_not_vote(member: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert ok(as_member(client, community, ctx, member, "GET", f"/api/votes/{ctx['vote']}/me")) == {"eligible": False, "voted": False}


@then(parsers.parse("{voter} is told {pronoun:w} voted on paper"))
def told_voted_on_paper(voter: str, pronoun: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    mine = ok(as_member(client, community, ctx, voter, "GET", f"/api/votes/{ctx['vote']}/me"))
    assert (mine["eligible"], mine["voted"], mine["channel"], mine["changes"]) == (True, True, "paper", 1)


# --- paper ballots ----------------------------------------------------------------------------


def enter_paper(client: FlaskClient, community: Community, ctx: dict[str, Any], teller: str, voter: str, choice: str) -> TestResponse:
    body = {"member_id": id_of(community, ctx, voter), "choice": choice_of(ctx, choice)}
    ctx["response"] = as_member(client, community, ctx, teller, "POST", f"/api/votes/{ctx['vote']}/paper-ballots", body)
    return ctx["response"]


@when(parsers.parse('{teller} enters {voter}\'s paper ballot "{choice}"'))
def enters_paper(teller: str, voter: str, choice: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    receipt = ok(enter_paper(client, community, ctx, teller, voter, choice), 201)
    keep_receipt(ctx, voter, choice, receipt, changed=False)


@when(parsers.parse('{teller} tries to enter {voter}\'s paper ballot "{choice}"'))
def tries_to_enter_paper(teller: str, voter: str, choice: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    enter_paper(client, community, ctx, teller, voter, choice)


@when(parsers.parse('{teller} corrects {voter}\'s paper ballot to "{choice}" with its receipt'))
def corrects_paper(teller: str, voter: str, choice: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    body = {"receipt": ctx["ballots"][who(voter)]["receipt"], "choice": choice_of(ctx, choice)}
    path = f"/api/votes/{ctx['vote']}/paper-ballots/{id_of(community, ctx, voter)}"
    receipt = ok(as_member(client, community, ctx, teller, "PUT", path, body))
    keep_receipt(ctx, voter, choice, receipt, changed=True)


# --- what can be seen while the vote is open ----------------------------------------------------


@then(parsers.parse("the turnout shows {cast:d} of {eligible:d} voted: {online:d} online and {paper:d} on paper"))
def turnout_shows(cast: int, eligible: int, online: int, paper: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for member in EVERYONE:
        turnout = ok(as_member(client, community, ctx, member, "GET", f"/api/votes/{ctx['vote']}/turnout"))
        assert set(turnout) == TURNOUT_KEYS  # counts only: nothing about what was chosen
        assert (turnout["vote_id"], turnout["cast"], turnout["eligible"]) == (ctx["vote"], cast, eligible)
        assert turnout["by_channel"] == {k: v for k, v in (("online", online), ("paper", paper)) if v}
    ctx["turnout"] = turnout


@then(parsers.parse("the turnout weighs {cast} of {eligible} m²"))
def turnout_weighs(cast: str, eligible: str, ctx: dict[str, Any]) -> None:
    turnout = ctx["turnout"]
    assert (Decimal(turnout["cast_weight"]), Decimal(turnout["eligible_weight"])) == (Decimal(cast), Decimal(eligible))


@then("nobody can see the result or the bulletin board yet, not even the admin")
def result_sealed(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for member in EVERYONE:
        for what in ("result", "board"):
            response = as_member(client, community, ctx, member, "GET", f"/api/votes/{ctx['vote']}/{what}")
            assert response.status_code == 409, (member, what, response.get_json())
            assert error_of(response)["code"] == "conflict"
        vote = read_vote(client, community, ctx, member)
        assert (vote["status"], vote["board_root"]) == ("open", None)
        assert "result" not in vote
    assert "vote_result" not in read_instance(client, community, ctx, "admin")["data"]


@then("nobody can see who voted what")
def who_voted_what_hidden(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for member in EVERYONE:
        response = as_member(client, community, ctx, member, "GET", f"/api/votes/{ctx['vote']}/ballots")
        assert response.status_code == 403, (member, response.get_json())
        assert "secret" in error_of(response)["message"]


@then("everyone sees who voted what:")
def who_voted_what(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    expected = sorted((row["voter"], row["choice"]) for row in rows(datatable))
    for member in EVERYONE:
        shown = ok(as_member(client, community, ctx, member, "GET", f"/api/votes/{ctx['vote']}/ballots"))
        assert sorted((b["voter"], b["choice"]) for b in shown) == expected
        assert {b["voter_key"] for b in shown} == {f"m:{id_of(community, ctx, voter)}" for voter, _ in expected}


# --- time, closing ------------------------------------------------------------------------------


@when(parsers.parse("the clock reaches {moment} and the worker fires the due timers"))
def clock_and_worker(moment: str, clock: ManualClock, deployed: Engine, ctx: dict[str, Any]) -> None:
    clock.set(datetime.fromisoformat(moment))
    ctx["fired"] = deployed.fire_due_timers()


@when(parsers.re(r"the clock reaches (?P<moment>\S+)$"))
def clock_reaches(moment: str, clock: ManualClock) -> None:
    clock.set(datetime.fromisoformat(moment))


@when("the worker fires the due timers")
def worker_fires(deployed: Engine, ctx: dict[str, Any]) -> None:
    ctx["fired"] = deployed.fire_due_timers()
    assert ctx["fired"] == 1


@given("the deadline passes and the worker fires the due timers")
@when("the deadline passes and the worker fires the due timers")
def deadline_passes(clock: ManualClock, deployed: Engine, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    (timer,) = read_instance(client, community, ctx)["timers"]
    assert timer["element_id"] == "deadline_reached"
    clock.set(datetime.fromisoformat(timer["due_at"]) + timedelta(minutes=1))
    assert deployed.fire_due_timers() == 1


@then("the worker has fired nothing")
def fired_nothing(ctx: dict[str, Any]) -> None:
    assert ctx["fired"] == 0


@when("the chair tries to close the vote early without giving a reason")
def close_without_reason(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    complete(client, community, ctx, "chair", "voting", {"reason": ""})


@when(parsers.parse('{member} tries to close the vote early because "{reason}"'))
def try_to_close_early(member: str, reason: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    complete(client, community, ctx, member, "voting", {"reason": reason})


@when(parsers.parse('the chair closes the vote early because "{reason}"'))
def close_early(reason: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    complete(client, community, ctx, "chair", "voting", {"reason": reason})


@then("the vote is still open")
def still_open(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    vote = read_vote(client, community, ctx)
    assert (vote["status"], vote["closed_at"], vote["board_root"]) == ("open", None, None)
    instance = read_instance(client, community, ctx)
    assert instance["status"] == "running"
    assert [t["element_id"] for t in instance["open_tasks"]] == ["voting"]
    assert [t["element_id"] for t in instance["timers"]] == ["deadline_reached"]


@then("the vote is closed and its process completed")
def closed_and_completed(client: FlaskClient, community: Community, ctx: dict[str, Any], clock: ManualClock) -> None:
    vote = read_vote(client, community, ctx)
    assert vote["status"] == "closed"
    assert datetime.fromisoformat(vote["closed_at"]) == clock.now()
    assert vote["board_root"] is not None
    instance = read_instance(client, community, ctx)
    assert (instance["status"], instance["open_tasks"], instance["timers"]) == ("completed", [], [])


# --- the result ---------------------------------------------------------------------------------


@then(parsers.parse('the result is "{outcome}"'))
def result_is(outcome: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    result = result_of(client, community, ctx)
    assert result["outcome"] == outcome
    assert result["method"] == ctx["config"]["method"]
    assert result["seed"] == ctx["vote"]
    ctx["result"] = result


@then(parsers.parse('the result is "{outcome}" and the winner is "{winner}"'))
def result_and_winner(outcome: str, winner: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    result_is(outcome, client, community, ctx)
    assert ctx["result"]["winner"] == winner
    assert read_instance(client, community, ctx)["data"]["vote_result"]["winner"] == winner


@then("the count is:")
def count_is(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    counts = result_of(client, community, ctx)["counts"]
    shown = {option: amount["heads"] for option, amount in counts["options"].items()} | {"abstain": counts["abstentions"]["heads"]}
    assert shown == {row["option"]: int(row["votes"]) for row in rows(datatable)}
    assert counts["cast"]["heads"] == sum(shown.values()) == len(ctx["ballots"])


@then(parsers.parse('the result explains "{sentence}"'))
def result_explains(sentence: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert sentence in result_of(client, community, ctx)["explanation"]


@then(parsers.parse('the Schulze ranking is "{ranking}", with no tie and no lot'))
def schulze_ranking(ranking: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    result = result_of(client, community, ctx)
    assert result["ranking"] == listed(ranking)
    assert result["tiers"] == [[option] for option in listed(ranking)]
    assert (result["ties"], result["tie_broken_by_lot"]) == ([], False)
    first_choices = {ballot["choice"][0] for ballot in ctx["ballots"].values()}
    assert result["winner"] not in first_choices


@then("the rule's checks were:")
def rule_checks(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    result = result_of(client, community, ctx)
    (threshold,) = result["threshold"]
    assert threshold["option"] == "yes"
    made = [("quorum", c) for c in result["quorum"]["checks"]] + [("threshold", c) for c in threshold["checks"]]
    assert [(kind, c["basis"], number(c["part"]), number(c["whole"]), "yes" if c["met"] else "no") for kind, c in made] == [
        (row["check"], row["basis"], Fraction(row["part"]), Fraction(row["whole"]), row["met"]) for row in rows(datatable)
    ]
    assert result["quorum"]["met"] is all(c["met"] for c in result["quorum"]["checks"])
    assert threshold["met"] is all(c["met"] for c in threshold["checks"])
    assert result["rule"]["preset"] == "civil_code_278"


@then(parsers.parse("the process hands back the vote_result \"{outcome}\" with the bulletin board's root"))
def hands_back(outcome: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    handed = read_instance(client, community, ctx)["data"]["vote_result"]
    result, board = result_of(client, community, ctx), board_of(client, community, ctx)
    assert (handed["vote_id"], handed["outcome"], handed["winner"]) == (ctx["vote"], outcome, result["winner"])
    assert handed["explanation"] == result["explanation"]
    assert handed["board_root"] == board["root"] == read_vote(client, community, ctx)["board_root"]


@then(parsers.parse('the calling process holds the vote_result "{outcome}" of the vote it opened'))
def caller_holds(outcome: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    instance = read_instance(client, community, ctx)
    assert (instance["definition_key"], instance["status"]) == ("vote_caller", "running")
    handed = instance["data"]["vote_result"]
    assert (handed["vote_id"], handed["outcome"]) == (ctx["vote"], outcome)
    vote = read_vote(client, community, ctx)
    assert (vote["instance_id"], vote["status"], vote["board_root"]) == (ctx["instance"], "closed", handed["board_root"])
    assert result_of(client, community, ctx)["outcome"] == outcome


# --- the bulletin board and receipts ------------------------------------------------------------


@then(parsers.re(r"the bulletin board lists every counted ballot once, (?P<weights>with its weight and |with )no voter$"))
def board_lists(weights: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    board = board_of(client, community, ctx)
    weighted = "weight" in weights
    entries = board["ballots"]
    fingerprints = [entry["fingerprint"] for entry in entries]
    assert fingerprints == sorted(fingerprints) and len(set(fingerprints)) == len(fingerprints)
    latest = ctx["ballots"]
    assert {entry["fingerprint"]: entry["choice"] for entry in entries} == {b["fingerprint"]: b["choice"] for b in latest.values()}
    assert {key for entry in entries for key in entry} == ({"fingerprint", "choice", "weight"} if weighted else {"fingerprint", "choice"})
    if weighted:
        by_fingerprint = {b["fingerprint"]: ctx["areas"][voter] for voter, b in latest.items()}
        assert all(Decimal(entry["weight"]) == Decimal(by_fingerprint[entry["fingerprint"]]) for entry in entries)
    text = json.dumps(board["ballots"])
    assert not any(name in text for name in (*community.actors, *ctx["members"]))
    assert "voter" not in text and "member" not in text
    assert board["electorate"]["heads"] == read_vote(client, community, ctx)["eligible"]


@then("the bulletin board's root is the Merkle root of its ballots, and the board verifies")
def board_verifies(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    board = board_of(client, community, ctx)
    assert board["format"] == bulletin.BOARD_FORMAT
    assert board["root"] == bulletin.merkle_root(board["ballots"]) == read_vote(client, community, ctx)["board_root"]
    verdict = bulletin.verify(board)
    assert verdict.ok, verdict.problems
    assert verdict.recount == board["result"] == result_of(client, community, ctx)
    tampered = {**board, "ballots": [{**board["ballots"][0], "choice": "no" if board["ballots"][0]["choice"] == "yes" else "yes"},
                                     *board["ballots"][1:]]}
    assert not bulletin.verify(tampered).ok


@then(parsers.re(r"(?P<voter>\w+)'s (?:paper )?receipt shows (?:her|his|their) ballot on the board as \"(?P<choice>[^\"]+)\"$"))
def receipt_on_board(voter: str, choice: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ballot = ctx["ballots"][voter]
    checked = check_receipt(client, community, ctx, voter, ballot["receipt"])
    assert checked == {"fingerprint": ballot["fingerprint"], "found": True, "current": True, "replaced": False,
                       "choice": choice_of(ctx, choice), "on_board": True}
    board = board_of(client, community, ctx)
    assert [e["choice"] for e in board["ballots"] if e["fingerprint"] == ballot["fingerprint"]] == [choice_of(ctx, choice)]


@then(parsers.parse("{voter}'s receipt shows {pronoun:w} ballot recorded and current, but not its choice before the close"))
def receipt_before_close(voter: str, pronoun: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ballot = ctx["ballots"][voter]
    checked = check_receipt(client, community, ctx, voter, ballot["receipt"])
    assert checked == {"fingerprint": ballot["fingerprint"], "found": True, "current": True, "replaced": False,
                       "choice": None, "on_board": False}


@then(parsers.parse("{voter}'s first receipt is no longer on the board: it was replaced"))
def first_receipt_gone(voter: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    (first,) = ctx["earlier"][voter]
    assert check_receipt(client, community, ctx, voter, first["receipt"]) == {
        "fingerprint": first["fingerprint"], "found": True, "current": False, "replaced": True, "choice": None, "on_board": False}
    assert first["fingerprint"] not in {e["fingerprint"] for e in board_of(client, community, ctx)["ballots"]}


@then("a receipt nobody was given is not found")
def unknown_receipt(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    checked = check_receipt(client, community, ctx, "bob", secrets.token_urlsafe(24))
    assert (checked["found"], checked["choice"], checked["on_board"]) == (False, None, False)


# --- the history --------------------------------------------------------------------------------


def ballot_events(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str) -> list[dict[str, Any]]:
    events = [e for e in history(client, community, ctx, member) if e["type"] in BALLOT_EVENTS]
    assert all(e["input"]["vote_id"] == ctx["vote"] for e in events)
    return events


@then(parsers.parse("the {member} reads these ballot events in the history, none with a choice:"))
def ballot_events_without_choice(member: str, datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    names = names_by_id(community, ctx)
    events = ballot_events(client, community, ctx, member)
    assert [{"type": e["type"], "by": names[e["actor_id"]], "voter": names.get(e["input"].get("voter_id"), "")} for e in events] == rows(datatable)
    assert all("choice" not in e["input"] for e in events)
    assert all(set(e["input"]) <= {"vote_id", "channel", "voter_id"} for e in events)


@then(parsers.parse("the {member} reads these ballot events in the history, each with its choice:"))
def ballot_events_with_choice(member: str, datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    names = names_by_id(community, ctx)
    events = ballot_events(client, community, ctx, member)
    assert [{"type": e["type"], "by": names[e["actor_id"]], "choice": e["input"]["choice"]} for e in events] == rows(datatable)


@then(parsers.parse('the vote\'s history ends with the engine delivering the message "{message}" after the chair\'s ballot'))
def history_ends_with_message(message: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    *_, last_ballot, delivered = history(client, community, ctx)
    assert (last_ballot["type"], last_ballot["actor_id"]) == ("ballot_cast", community["chair"].member_id)
    assert (delivered["type"], delivered["actor_id"], delivered["input"]) == ("message_delivered", None, {"message": message, "payload": {}})
    assert delivered["at"] == last_ballot["at"]


# --- another community ------------------------------------------------------------------------


@when(parsers.parse('the chair of the community "{slug}" tries each of these requests:'))
def outsider_requests(slug: str, datatable: list[list[str]], client: FlaskClient, community: Community,
                      other_community: Community, ctx: dict[str, Any]) -> None:
    assert other_community.slug == slug
    bodies = {
        "/ballots": {"choice": "yes"},
        "/paper-ballots": {"member_id": community["bob"].member_id, "choice": "yes"},
        "/receipts/check": {"receipt": ctx["ballots"]["alice"]["receipt"]},
    }
    ctx["requests"], ctx["responses"] = [], []
    for row in rows(datatable):
        path = row["path"].format(instance=ctx["instance"], vote=ctx["vote"])
        body = next(b for end, b in bodies.items() if path.endswith(end)) if row["method"] == "POST" else None
        ctx["requests"].append((row["method"], path))
        ctx["responses"].append((row["method"], path, call(client, other_community.tokens["chair"], row["method"], path, body)))


@then(parsers.parse('every one of them is refused with {status:d} "{code}"'))
def all_refused(status: int, code: str, ctx: dict[str, Any]) -> None:
    for method, path, response in ctx["responses"]:
        assert response.status_code == status, (method, path, response.status_code, response.get_json())
        assert error_of(response)["code"] == code, (method, path)


@then(parsers.parse('the auditor of "{slug}" gets each of the GET requests answered'))
def insiders_answered(slug: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert community.slug == slug
    for method, path in ctx["requests"]:
        if method == "GET":
            ok(as_member(client, community, ctx, "auditor", method, path))
    assert ok(as_member(client, community, ctx, "auditor", "GET", f"/api/votes/{ctx['vote']}/turnout"))["cast"] == 1


# --- a process calling the vote ---------------------------------------------------------------


@given(parsers.parse('the admin has deployed the test process "{path}"'))
def deploy_test_process(path: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    deployed = ok(as_member(client, community, ctx, "admin", "POST", "/api/definitions",
                            {"filename": Path(path).name, "source": source}), 201)
    assert deployed["created"] is True
    assert (deployed["definition"]["key"], deployed["definition"]["version"]) == ("vote_caller", 1)


@when(parsers.parse('the chair starts the process "{key}"'))
def start_process(key: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    start(client, community, ctx, key)


@when(parsers.parse('the chair configures the called vote as a secret yes/no vote of the residents until "{deadline}"'))
def configure_called_vote(deadline: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ok(configure(client, community, ctx, {**DEFAULTS, "deadline": deadline}))
    assert read_vote(client, community, ctx)["instance_id"] == ctx["instance"]


@then(parsers.parse('the open tasks are "{elements}"'))
def open_tasks_are(elements: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    instance = read_instance(client, community, ctx)
    assert instance["status"] == "running"
    assert [t["element_id"] for t in instance["open_tasks"]] == listed(elements)
    assert all(t["state"] == "READY" and t["lane"] == "committee" for t in instance["open_tasks"])


# --- responses --------------------------------------------------------------------------------


@then("the request succeeds")
def request_succeeds(ctx: dict[str, Any]) -> None:
    ok(ctx["response"])


