"""Step definitions for voting.feature: votes walked through the HTTP API.

Everything goes through the Flask test client with the members' bearer tokens. The only things
done behind the API's back are what no HTTP client can do: moving the ``clock`` fixture, and
firing due timers with ``Engine.fire_due_timers`` (which is what the ``yishi worker`` does).
The bulletin board is checked with ``engine.voting.counting.board``, as ``yishi tally --verify`` does.

State passes between steps in the ``driver`` (tests/driver.py): the instance and vote ids, the
members the admin added (ids and tokens), the last response, and, kept by this module, the vote's
configuration, each voter's latest ballot (receipt, fingerprint, choice) and their earlier receipts.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from werkzeug.test import TestResponse

from engine.voting.counting import board as bulletin
from tests.builders import BALLOT_EVENTS
from tests.driver import Driver, error_of, listed, ok, rows, who
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
EVERYONE = ("chair", "clerk", "alice", "auditor", "admin")
TURNOUT_KEYS = {"vote_id", "status", "eligible", "cast", "by_channel", "eligible_weight", "cast_weight"}


# --- plumbing ---------------------------------------------------------------------------------


def ballots(driver: Driver) -> dict[str, dict[str, Any]]:
    """Each voter's latest ballot: its receipt, fingerprint and choice."""
    return driver.kept.setdefault("ballots", {})


def earlier(driver: Driver) -> dict[str, list[dict[str, Any]]]:
    """Each voter's ballots before their latest one."""
    return driver.kept.setdefault("earlier", {})


def vote_path(driver: Driver, tail: str = "") -> str:
    return f"/api/votes/{driver.ids['vote']}{tail}"


def form_value(field: str, value: str) -> Any:
    """A configuration cell: options as 'park, gym' become option objects; JSON literals are JSON."""
    if field == "options":
        return [{"id": option, "label": option.title()} for option in listed(value)]
    if value in ("true", "false") or value.startswith(("{", "[")):
        return json.loads(value)
    return value


def read_vote(driver: Driver, member: str = "auditor") -> dict[str, Any]:
    return driver.get(member, vote_path(driver))


def complete(driver: Driver, member: str, element: str, data: dict[str, Any]) -> TestResponse:
    """Complete the task of ``element``: the open one, else the last one seen (to try it again)."""
    return driver.complete(member, element, data, seen=True)


def choice_of(driver: Driver, text: str) -> Any:
    """A choice as written in a table: a ranking or a list of approvals is written 'park, gym'."""
    return listed(text) if driver.kept["config"]["method"] in RANKED_OR_LISTS else text


def cast(driver: Driver, voter: str, choice: str, receipt: str | None = None) -> TestResponse:
    body: dict[str, Any] = {"choice": choice_of(driver, choice)}
    if receipt is not None:
        body["receipt"] = receipt
    return driver.send(voter, "POST", vote_path(driver, "/ballots"), body)


def keep_receipt(driver: Driver, voter: str, choice: str, receipt: dict[str, Any], *, changed: bool) -> None:
    """Check a receipt and keep it as the voter's latest ballot (the one before goes to 'earlier')."""
    assert receipt["vote_id"] == driver.ids["vote"]
    assert receipt["changed"] is changed
    assert receipt["fingerprint"] == bulletin.fingerprint(driver.ids["vote"], receipt["receipt"])
    name = who(voter)
    if name in ballots(driver):
        assert receipt["receipt"] != ballots(driver)[name]["receipt"]
        earlier(driver).setdefault(name, []).append(ballots(driver)[name])
    ballots(driver)[name] = {"receipt": receipt["receipt"], "fingerprint": receipt["fingerprint"], "choice": choice_of(driver, choice)}


def vote_in(driver: Driver, voter: str, choice: str) -> None:
    receipt = ok(cast(driver, voter, choice), 201)
    keep_receipt(driver, voter, choice, receipt, changed=False)
    mine = driver.get(voter, vote_path(driver, "/me"))
    assert (mine["eligible"], mine["voted"], mine["channel"], mine["changes"]) == (True, True, "online", 0)


def result_of(driver: Driver) -> dict[str, Any]:
    return driver.get("alice", vote_path(driver, "/result"))


def board_of(driver: Driver) -> dict[str, Any]:
    return driver.get("auditor", vote_path(driver, "/board"))


def check_receipt(driver: Driver, member: str, receipt: str) -> dict[str, Any]:
    return ok(driver.request(member, "POST", vote_path(driver, "/receipts/check"), {"receipt": receipt}))


def history(driver: Driver, member: str = "auditor") -> list[dict[str, Any]]:
    page = driver.get(member, f"/api/instances/{driver.instance}/events?page_size=100")
    assert page["total"] == len(page["items"])
    return page["items"]


def number(amount: dict[str, str]) -> Fraction:
    """A published amount ({"fraction", "decimal"}) as an exact number."""
    return Fraction(amount["fraction"])


# --- the community ----------------------------------------------------------------------------


@given(parsers.parse('the community "{slug}" with these members:'))
def the_community(slug: str, datatable: list[list[str]], driver: Driver) -> None:
    assert driver.community.slug == slug
    mine = driver.get("admin", f"/api/communities/{driver.community.id}")
    assert (mine["slug"], mine["timezone"]) == (slug, "Asia/Shanghai")
    members = driver.get("admin", f"/api/communities/{driver.community.id}/members?page_size=100")
    assert {m["name"]: set(m["roles"]) for m in members["items"]} == {
        row["member"]: {role.strip() for role in row["roles"].split(",")} for row in rows(datatable)
    }


@given("the admin registers these owners:")
def register_owners(datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        body = {"name": row["owner"], "roles": ["owner"], "household": row["household"], "area": row["area"]}
        added = ok(driver.request("admin", "POST", f"/api/communities/{driver.community.id}/members", body), 201)
        assert (added["name"], added["roles"], added["household"], added["area"]) == (row["owner"], ["owner"], row["household"], row["area"])
        assert added["community_id"] == driver.community.id and added["token"].startswith("ys_")
        driver.members[row["owner"]], driver.tokens[row["owner"]] = added["id"], added["token"]
        driver.kept.setdefault("areas", {})[row["owner"]] = row["area"]


# --- starting and configuring -----------------------------------------------------------------


def start(driver: Driver, key: str) -> dict[str, Any]:
    instance = ok(driver.request("chair", "POST", "/api/instances", {"definition_key": key}), 201)
    assert (instance["definition_key"], instance["status"], instance["community_id"]) == (key, "running", driver.community.id)
    driver.instance = instance["id"]
    driver.remember_tasks(instance)
    return instance


def configure(driver: Driver, config: dict[str, Any]) -> TestResponse:
    response = complete(driver, "chair", "configure_vote", {"vote": config})
    if response.status_code == 200:
        driver.kept["config"] = config
        opened = driver.get("chair", f"/api/instances/{driver.instance}/votes")
        assert len(opened) == 1
        driver.ids["vote"] = opened[0]["id"]
        if response.get_json()["definition_key"] == "vote":  # a caller's data shows the vote's only when it returns
            assert response.get_json()["data"]["ballot_box"]["vote_id"] == driver.ids["vote"]
    return response


@given("the chair has started a vote")
def started_vote(driver: Driver) -> None:
    assert [t["element_id"] for t in start(driver, "vote")["open_tasks"]] == ["configure_vote"]


@when("the chair configures the vote with:")
def configure_with(datatable: list[list[str]], driver: Driver) -> None:
    configure(driver, {row["field"]: form_value(row["field"], row["value"]) for row in rows(datatable)})


@given("the chair has opened a vote with:")
def opened_with(datatable: list[list[str]], driver: Driver) -> None:
    started_vote(driver)
    config = {**DEFAULTS, **{row["field"]: form_value(row["field"], row["value"]) for row in rows(datatable)}}
    ok(configure(driver, config))


@given(parsers.parse('a {secrecy} yes/no vote of the residents is open until "{deadline}"'))
def open_yes_no(secrecy: str, deadline: str, driver: Driver) -> None:
    assert secrecy in ("secret", "public")
    started_vote(driver)
    ok(configure(driver, {**DEFAULTS, "secret": secrecy == "secret", "deadline": deadline}))


@then(parsers.re(r'the vote is open to (?P<count>\d+) (?P<label>\w+): "(?P<voters>[^"]*)"$'))
def open_to(count: str, label: str, voters: str, driver: Driver) -> None:
    vote = read_vote(driver)
    assert (vote["status"], vote["eligible"], vote["electorate"], vote["weighted"]) == ("open", int(count), label, False)
    config = driver.kept["config"]
    assert (vote["secret"], vote["method"], vote["title"]) == (config["secret"], config["method"], config["title"])
    assert vote["board_root"] is None and vote["closed_at"] is None
    entries = driver.get("alice", vote_path(driver, "/electorate?page_size=100"))
    assert sorted(e["label"] for e in entries["items"]) == listed(voters)
    assert {e["weight"] for e in entries["items"]} == {"1"}
    assert {e["voter_key"] for e in entries["items"]} == {f"m:{driver.member_id(v)}" for v in listed(voters)}


@then(parsers.re(r'the vote is open to (?P<count>\d+) owners holding (?P<area>[\d.]+) m²: "(?P<voters>[^"]*)"$'))
def open_to_owners(count: str, area: str, voters: str, driver: Driver) -> None:
    vote = read_vote(driver)
    assert (vote["status"], vote["eligible"], vote["electorate"], vote["weighted"]) == ("open", int(count), "owners", True)
    assert Decimal(vote["eligible_weight"]) == Decimal(area)
    entries = driver.get("alice", vote_path(driver, "/electorate?page_size=100"))
    assert sorted(e["label"] for e in entries["items"]) == listed(voters)
    assert {e["label"]: e["weight"] for e in entries["items"]} == driver.kept["areas"]


@then(parsers.parse("the vote closes by itself at {due_at}"))
def closes_at(due_at: str, driver: Driver) -> None:
    instance = driver.read_instance()
    assert [(t["element_id"], t["due_at"]) for t in instance["timers"]] == [("deadline_reached", due_at)]
    assert read_vote(driver)["deadline"] == due_at
    assert instance["data"]["ballot_box"]["deadline"] == due_at


# --- casting ----------------------------------------------------------------------------------


@given("the voters have cast their ballots:")
@when("the voters cast their ballots:")
def voters_cast(datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        vote_in(driver, row["voter"], row["choice"])


@when(parsers.parse('{voters} each vote "{choice}"'))
def each_votes(voters: str, choice: str, driver: Driver) -> None:
    for voter in listed(voters):
        vote_in(driver, voter, choice)


@when(parsers.parse('{voter} votes "{choice}"'))
def votes(voter: str, choice: str, driver: Driver) -> None:
    vote_in(driver, voter, choice)


@when(parsers.parse('{voter} tries to vote "{choice}"'))
def tries_to_vote(voter: str, choice: str, driver: Driver) -> None:
    cast(driver, voter, choice)


@when(parsers.parse('{voter} tries to vote "{choice}" again without {pronoun:w} receipt'))
def again_without_receipt(voter: str, choice: str, pronoun: str, driver: Driver) -> None:
    cast(driver, voter, choice)


@when(parsers.parse('{voter} tries to vote "{choice}" again with a receipt that is not {pronoun:w}'))
def again_with_wrong_receipt(voter: str, choice: str, pronoun: str, driver: Driver) -> None:
    cast(driver, voter, choice, receipt=secrets.token_urlsafe(24))


@when(parsers.parse('{voter} tries to vote "{choice}" again with {pronoun:w} receipt'))
def again_with_receipt(voter: str, choice: str, pronoun: str, driver: Driver) -> None:
    cast(driver, voter, choice, receipt=ballots(driver)[who(voter)]["receipt"])


@when(parsers.parse('{voter} changes {pronoun:w} ballot to "{choice}" with {pronoun2:w} receipt'))
def change_ballot(voter: str, pronoun: str, choice: str, pronoun2: str, driver: Driver) -> None:
    receipt = ok(cast(driver, voter, choice, receipt=ballots(driver)[who(voter)]["receipt"]), 201)
    keep_receipt(driver, voter, choice, receipt, changed=True)
    driver.kept["changed_by"] = who(voter)


@then(parsers.parse("{pronoun:w} gets a new receipt"))
def gets_new_receipt(pronoun: str, driver: Driver) -> None:
    voter = driver.kept["changed_by"]
    latest, (first,) = ballots(driver)[voter], earlier(driver)[voter]
    assert latest["fingerprint"] != first["fingerprint"]
    mine = driver.get(voter, vote_path(driver, "/me"))
    assert (mine["voted"], mine["channel"], mine["changes"]) == (True, "online", 1)
    assert check_receipt(driver, voter, latest["receipt"])["current"] is True
    replaced = check_receipt(driver, voter, first["receipt"])
    assert (replaced["found"], replaced["current"], replaced["replaced"], replaced["choice"]) == (True, False, True, None)


@then(parsers.parse("{member} is told they may not vote"))
def may_not_vote(member: str, driver: Driver) -> None:
    assert driver.get(member, vote_path(driver, "/me")) == {"eligible": False, "voted": False}


@then(parsers.parse("{voter} is told {pronoun:w} voted on paper"))
def told_voted_on_paper(voter: str, pronoun: str, driver: Driver) -> None:
    mine = driver.get(voter, vote_path(driver, "/me"))
    assert (mine["eligible"], mine["voted"], mine["channel"], mine["changes"]) == (True, True, "paper", 1)


# --- paper ballots ----------------------------------------------------------------------------


def enter_paper(driver: Driver, teller: str, voter: str, choice: str) -> TestResponse:
    body = {"member_id": driver.member_id(voter), "choice": choice_of(driver, choice)}
    return driver.send(teller, "POST", vote_path(driver, "/paper-ballots"), body)


@when(parsers.parse('{teller} enters {voter}\'s paper ballot "{choice}"'))
def enters_paper(teller: str, voter: str, choice: str, driver: Driver) -> None:
    receipt = ok(enter_paper(driver, teller, voter, choice), 201)
    keep_receipt(driver, voter, choice, receipt, changed=False)


@when(parsers.parse('{teller} tries to enter {voter}\'s paper ballot "{choice}"'))
def tries_to_enter_paper(teller: str, voter: str, choice: str, driver: Driver) -> None:
    enter_paper(driver, teller, voter, choice)


@when(parsers.parse('{teller} corrects {voter}\'s paper ballot to "{choice}" with its receipt'))
def corrects_paper(teller: str, voter: str, choice: str, driver: Driver) -> None:
    body = {"receipt": ballots(driver)[who(voter)]["receipt"], "choice": choice_of(driver, choice)}
    path = vote_path(driver, f"/paper-ballots/{driver.member_id(voter)}")
    receipt = ok(driver.request(teller, "PUT", path, body))
    keep_receipt(driver, voter, choice, receipt, changed=True)


# --- what can be seen while the vote is open ----------------------------------------------------


@then(parsers.parse("the turnout shows {cast:d} of {eligible:d} voted: {online:d} online and {paper:d} on paper"))
def turnout_shows(cast: int, eligible: int, online: int, paper: int, driver: Driver) -> None:
    for member in EVERYONE:
        turnout = driver.get(member, vote_path(driver, "/turnout"))
        assert set(turnout) == TURNOUT_KEYS  # counts only: nothing about what was chosen
        assert (turnout["vote_id"], turnout["cast"], turnout["eligible"]) == (driver.ids["vote"], cast, eligible)
        assert turnout["by_channel"] == {k: v for k, v in (("online", online), ("paper", paper)) if v}
    driver.kept["turnout"] = turnout


@then(parsers.parse("the turnout weighs {cast} of {eligible} m²"))
def turnout_weighs(cast: str, eligible: str, driver: Driver) -> None:
    turnout = driver.kept["turnout"]
    assert (Decimal(turnout["cast_weight"]), Decimal(turnout["eligible_weight"])) == (Decimal(cast), Decimal(eligible))


@then("nobody can see the result or the bulletin board yet, not even the admin")
def result_sealed(driver: Driver) -> None:
    for member in EVERYONE:
        for what in ("result", "board"):
            response = driver.request(member, "GET", vote_path(driver, f"/{what}"))
            assert response.status_code == 409, (member, what, response.get_json())
            assert error_of(response)["code"] == "conflict"
        vote = read_vote(driver, member)
        assert (vote["status"], vote["board_root"]) == ("open", None)
        assert "result" not in vote
    assert "vote_result" not in driver.read_instance("admin")["data"]


@then("nobody can see who voted what")
def who_voted_what_hidden(driver: Driver) -> None:
    for member in EVERYONE:
        response = driver.request(member, "GET", vote_path(driver, "/ballots"))
        assert response.status_code == 403, (member, response.get_json())
        assert "secret" in error_of(response)["message"]


@then("everyone sees who voted what:")
def who_voted_what(datatable: list[list[str]], driver: Driver) -> None:
    expected = sorted((row["voter"], row["choice"]) for row in rows(datatable))
    for member in EVERYONE:
        shown = driver.get(member, vote_path(driver, "/ballots"))
        assert sorted((b["voter"], b["choice"]) for b in shown) == expected
        assert {b["voter_key"] for b in shown} == {f"m:{driver.member_id(voter)}" for voter, _ in expected}


# --- time, closing ------------------------------------------------------------------------------


@when(parsers.parse("the clock reaches {moment} and the worker fires the due timers"))
def clock_and_worker(moment: str, driver: Driver) -> None:
    driver.clock.set(datetime.fromisoformat(moment))
    driver.fired = driver.engine.fire_due_timers()


@when(parsers.re(r"the clock reaches (?P<moment>\S+)$"))
def clock_reaches(moment: str, driver: Driver) -> None:
    driver.clock.set(datetime.fromisoformat(moment))


@when("the worker fires the due timers")
def worker_fires(driver: Driver) -> None:
    driver.fired = driver.engine.fire_due_timers()
    assert driver.fired == 1


@given("the deadline passes and the worker fires the due timers")
@when("the deadline passes and the worker fires the due timers")
def deadline_passes(driver: Driver) -> None:
    driver.pass_the_timer("deadline_reached")


@when("the chair tries to close the vote early without giving a reason")
def close_without_reason(driver: Driver) -> None:
    complete(driver, "chair", "voting", {"reason": ""})


@when(parsers.parse('{member} tries to close the vote early because "{reason}"'))
def try_to_close_early(member: str, reason: str, driver: Driver) -> None:
    complete(driver, member, "voting", {"reason": reason})


@when(parsers.parse('the chair closes the vote early because "{reason}"'))
def close_early(reason: str, driver: Driver) -> None:
    complete(driver, "chair", "voting", {"reason": reason})


@then("the vote is still open")
def still_open(driver: Driver) -> None:
    vote = read_vote(driver)
    assert (vote["status"], vote["closed_at"], vote["board_root"]) == ("open", None, None)
    instance = driver.read_instance()
    assert instance["status"] == "running"
    assert [t["element_id"] for t in instance["open_tasks"]] == ["voting"]
    assert [t["element_id"] for t in instance["timers"]] == ["deadline_reached"]


@then("the vote is closed and its process completed")
def closed_and_completed(driver: Driver) -> None:
    vote = read_vote(driver)
    assert vote["status"] == "closed"
    assert datetime.fromisoformat(vote["closed_at"]) == driver.clock.now()
    assert vote["board_root"] is not None
    instance = driver.read_instance()
    assert (instance["status"], instance["open_tasks"], instance["timers"]) == ("completed", [], [])


# --- the result ---------------------------------------------------------------------------------


@then(parsers.parse('the result is "{outcome}"'))
def result_is(outcome: str, driver: Driver) -> None:
    result = result_of(driver)
    assert result["outcome"] == outcome
    assert result["method"] == driver.kept["config"]["method"]
    assert result["seed"] == driver.ids["vote"]
    driver.kept["result"] = result


@then(parsers.parse('the result is "{outcome}" and the winner is "{winner}"'))
def result_and_winner(outcome: str, winner: str, driver: Driver) -> None:
    result_is(outcome, driver)
    assert driver.kept["result"]["winner"] == winner
    assert driver.read_instance()["data"]["vote_result"]["winner"] == winner


@then("the count is:")
def count_is(datatable: list[list[str]], driver: Driver) -> None:
    counts = result_of(driver)["counts"]
    shown = {option: amount["heads"] for option, amount in counts["options"].items()} | {"abstain": counts["abstentions"]["heads"]}
    assert shown == {row["option"]: int(row["votes"]) for row in rows(datatable)}
    assert counts["cast"]["heads"] == sum(shown.values()) == len(ballots(driver))


@then(parsers.parse('the result explains "{sentence}"'))
def result_explains(sentence: str, driver: Driver) -> None:
    assert sentence in result_of(driver)["explanation"]


@then(parsers.parse('the Schulze ranking is "{ranking}", with no tie and no lot'))
def schulze_ranking(ranking: str, driver: Driver) -> None:
    result = result_of(driver)
    assert result["ranking"] == listed(ranking)
    assert result["tiers"] == [[option] for option in listed(ranking)]
    assert (result["ties"], result["tie_broken_by_lot"]) == ([], False)
    first_choices = {ballot["choice"][0] for ballot in ballots(driver).values()}
    assert result["winner"] not in first_choices


@then("the rule's checks were:")
def rule_checks(datatable: list[list[str]], driver: Driver) -> None:
    result = result_of(driver)
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
def hands_back(outcome: str, driver: Driver) -> None:
    handed = driver.read_instance()["data"]["vote_result"]
    result, board = result_of(driver), board_of(driver)
    assert (handed["vote_id"], handed["outcome"], handed["winner"]) == (driver.ids["vote"], outcome, result["winner"])
    assert handed["explanation"] == result["explanation"]
    assert handed["board_root"] == board["root"] == read_vote(driver)["board_root"]


@then(parsers.parse('the calling process holds the vote_result "{outcome}" of the vote it opened'))
def caller_holds(outcome: str, driver: Driver) -> None:
    instance = driver.read_instance()
    assert (instance["definition_key"], instance["status"]) == ("vote_caller", "running")
    handed = instance["data"]["vote_result"]
    assert (handed["vote_id"], handed["outcome"]) == (driver.ids["vote"], outcome)
    vote = read_vote(driver)
    assert (vote["instance_id"], vote["status"], vote["board_root"]) == (driver.instance, "closed", handed["board_root"])
    assert result_of(driver)["outcome"] == outcome


# --- the bulletin board and receipts ------------------------------------------------------------


@then(parsers.re(r"the bulletin board lists every counted ballot once, (?P<weights>with its weight and |with )no voter$"))
def board_lists(weights: str, driver: Driver) -> None:
    board = board_of(driver)
    weighted = "weight" in weights
    entries = board["ballots"]
    fingerprints = [entry["fingerprint"] for entry in entries]
    assert fingerprints == sorted(fingerprints) and len(set(fingerprints)) == len(fingerprints)
    latest = ballots(driver)
    assert {entry["fingerprint"]: entry["choice"] for entry in entries} == {b["fingerprint"]: b["choice"] for b in latest.values()}
    assert {key for entry in entries for key in entry} == ({"fingerprint", "choice", "weight"} if weighted else {"fingerprint", "choice"})
    if weighted:
        by_fingerprint = {b["fingerprint"]: driver.kept["areas"][voter] for voter, b in latest.items()}
        assert all(Decimal(entry["weight"]) == Decimal(by_fingerprint[entry["fingerprint"]]) for entry in entries)
    text = json.dumps(board["ballots"])
    assert not any(name in text for name in (*driver.community.actors, *driver.members))
    assert "voter" not in text and "member" not in text
    assert board["electorate"]["heads"] == read_vote(driver)["eligible"]


@then("the bulletin board's root is the Merkle root of its ballots, and the board verifies")
def board_verifies(driver: Driver) -> None:
    board = board_of(driver)
    assert board["format"] == bulletin.BOARD_FORMAT
    assert board["root"] == bulletin.merkle_root(board["ballots"]) == read_vote(driver)["board_root"]
    verdict = bulletin.verify(board)
    assert verdict.ok, verdict.problems
    published = result_of(driver)
    assert published.pop("secrecy") in ("server", "public")  # what the API adds: which guarantee the vote had
    assert verdict.recount == board["result"] == published
    tampered = {**board, "ballots": [{**board["ballots"][0], "choice": "no" if board["ballots"][0]["choice"] == "yes" else "yes"},
                                     *board["ballots"][1:]]}
    assert not bulletin.verify(tampered).ok


@then(parsers.re(r"(?P<voter>\w+)'s (?:paper )?receipt shows (?:her|his|their) ballot on the board as \"(?P<choice>[^\"]+)\"$"))
def receipt_on_board(voter: str, choice: str, driver: Driver) -> None:
    ballot = ballots(driver)[voter]
    checked = check_receipt(driver, voter, ballot["receipt"])
    assert checked == {"fingerprint": ballot["fingerprint"], "found": True, "current": True, "replaced": False,
                       "choice": choice_of(driver, choice), "on_board": True}
    board = board_of(driver)
    assert [e["choice"] for e in board["ballots"] if e["fingerprint"] == ballot["fingerprint"]] == [choice_of(driver, choice)]


@then(parsers.parse("{voter}'s receipt shows {pronoun:w} ballot recorded and current, but not its choice before the close"))
def receipt_before_close(voter: str, pronoun: str, driver: Driver) -> None:
    ballot = ballots(driver)[voter]
    checked = check_receipt(driver, voter, ballot["receipt"])
    assert checked == {"fingerprint": ballot["fingerprint"], "found": True, "current": True, "replaced": False,
                       "choice": None, "on_board": False}


@then(parsers.parse("{voter}'s first receipt is no longer on the board: it was replaced"))
def first_receipt_gone(voter: str, driver: Driver) -> None:
    (first,) = earlier(driver)[voter]
    assert check_receipt(driver, voter, first["receipt"]) == {
        "fingerprint": first["fingerprint"], "found": True, "current": False, "replaced": True, "choice": None, "on_board": False}
    assert first["fingerprint"] not in {e["fingerprint"] for e in board_of(driver)["ballots"]}


@then("a receipt nobody was given is not found")
def unknown_receipt(driver: Driver) -> None:
    checked = check_receipt(driver, "bob", secrets.token_urlsafe(24))
    assert (checked["found"], checked["choice"], checked["on_board"]) == (False, None, False)


# --- the history --------------------------------------------------------------------------------


def ballot_events(driver: Driver, member: str) -> list[dict[str, Any]]:
    events = [e for e in history(driver, member) if e["type"] in BALLOT_EVENTS]
    assert all(e["input"]["vote_id"] == driver.ids["vote"] for e in events)
    return events


@then(parsers.parse("the {member} reads these ballot events in the history, none with a choice:"))
def ballot_events_without_choice(member: str, datatable: list[list[str]], driver: Driver) -> None:
    names = driver.names()
    events = ballot_events(driver, member)
    assert [{"type": e["type"], "by": names[e["actor_id"]], "voter": names.get(e["input"].get("voter_id"), "")} for e in events] == rows(datatable)
    assert all("choice" not in e["input"] for e in events)
    assert all(set(e["input"]) <= {"vote_id", "channel", "voter_id"} for e in events)


@then(parsers.parse("the {member} reads these ballot events in the history, each with its choice:"))
def ballot_events_with_choice(member: str, datatable: list[list[str]], driver: Driver) -> None:
    names = driver.names()
    events = ballot_events(driver, member)
    assert [{"type": e["type"], "by": names[e["actor_id"]], "choice": e["input"]["choice"]} for e in events] == rows(datatable)


@then(parsers.parse('the vote\'s history ends with the engine delivering the message "{message}" after the chair\'s ballot'))
def history_ends_with_message(message: str, driver: Driver) -> None:
    *_, last_ballot, delivered = history(driver)
    assert (last_ballot["type"], last_ballot["actor_id"]) == ("ballot_cast", driver.community["chair"].member_id)
    assert (delivered["type"], delivered["actor_id"], delivered["input"]) == ("message_delivered", None, {"message": message, "payload": {}})
    assert delivered["at"] == last_ballot["at"]


# --- another community ------------------------------------------------------------------------


@when(parsers.parse('the chair of the community "{slug}" tries each of these requests:'))
def outsider_requests(slug: str, datatable: list[list[str]], driver: Driver, other_community: Community) -> None:
    assert other_community.slug == slug
    bodies = {
        "/ballots": {"choice": "yes"},
        "/paper-ballots": {"member_id": driver.community["bob"].member_id, "choice": "yes"},
        "/receipts/check": {"receipt": ballots(driver)["alice"]["receipt"]},
    }
    driver.kept["requests"], driver.responses = [], []
    for row in rows(datatable):
        path = row["path"].format(instance=driver.instance, vote=driver.ids["vote"])
        body = next(b for end, b in bodies.items() if path.endswith(end)) if row["method"] == "POST" else None
        driver.kept["requests"].append((row["method"], path))
        driver.responses.append((row["method"], path, driver.call(other_community.tokens["chair"], row["method"], path, body)))


@then(parsers.parse('the auditor of "{slug}" gets each of the GET requests answered'))
def insiders_answered(slug: str, driver: Driver) -> None:
    assert driver.community.slug == slug
    for method, path in driver.kept["requests"]:
        if method == "GET":
            ok(driver.request("auditor", method, path))
    assert driver.get("auditor", vote_path(driver, "/turnout"))["cast"] == 1


# --- a process calling the vote ---------------------------------------------------------------


@given(parsers.parse('the admin has deployed the test process "{path}"'))
def deploy_test_process(path: str, driver: Driver) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    deployed = ok(driver.request("admin", "POST", "/api/definitions",
                                 {"filename": Path(path).name, "source": source}), 201)
    assert deployed["created"] is True
    assert (deployed["definition"]["key"], deployed["definition"]["version"]) == ("vote_caller", 1)


@when(parsers.parse('the chair starts the process "{key}"'))
def start_process(key: str, driver: Driver) -> None:
    start(driver, key)


@when(parsers.parse('the chair configures the called vote as a secret yes/no vote of the residents until "{deadline}"'))
def configure_called_vote(deadline: str, driver: Driver) -> None:
    ok(configure(driver, {**DEFAULTS, "deadline": deadline}))
    assert read_vote(driver)["instance_id"] == driver.instance


@then(parsers.parse('the open tasks are "{elements}"'))
def open_tasks_are(elements: str, driver: Driver) -> None:
    instance = driver.read_instance()
    assert instance["status"] == "running"
    assert [t["element_id"] for t in instance["open_tasks"]] == listed(elements)
    assert all(t["state"] == "READY" and t["lane"] == "committee" for t in instance["open_tasks"])
