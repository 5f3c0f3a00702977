"""Step definitions for convention.feature: drafting a convention, walked through the HTTP API.

Everything goes through the Flask test client with the members' bearer tokens; only the
``clock`` fixture is moved by hand, and due timers are fired with ``Engine.fire_due_timers``
(what the ``yishi worker`` does).

State passes between steps in the ``driver`` (tests/driver.py): the process instance, the
convention and its adoption vote (``ids``), the last response, and, kept by this module, the
amendments by their reference in the feature (A, B, …) and the committee's decisions.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from werkzeug.test import TestResponse

from tests.driver import Driver, error_of, ok, rows

scenarios("convention.feature")

# Steps ask for their fixtures only when they run, too late for pytest to parametrize the
# scenarios by ``database_url``; naming ``client`` here runs every scenario on every backend.
pytestmark = pytest.mark.usefixtures("client")

RESIDENTS = ("alice", "bob", "carol")
FIRST_DRAFT = [{"text": "晚上十点后不得大声喧哗。"}, {"text": "Keep the stairwells clear of bicycles."}, {"text": "宠物狗出门须拴绳。"}]


# --- plumbing ---------------------------------------------------------------------------------


def refs(driver: Driver) -> dict[str, int]:
    """The amendments, by their reference in the feature (A, B, …)."""
    return driver.kept.setdefault("refs", {})


def decisions(driver: Driver) -> dict[str, dict[str, Any]]:
    """The committee's decisions, by amendment reference."""
    return driver.kept.setdefault("decisions", {})


def rendered(ops: list[dict[str, str]]) -> str:
    """Text ops in git's word-diff notation: [-deleted-] and {+inserted+}."""
    marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
    return "".join(marks[op["op"]].format(op["text"]) for op in ops)


def convention_path(driver: Driver, tail: str = "") -> str:
    return f"/api/conventions/{driver.ids['convention']}{tail}"


def complete(driver: Driver, element: str, data: dict[str, Any]) -> TestResponse:
    """The chair completes the one open task of ``element``."""
    return driver.complete("chair", element, data)


def draft(deadline: str, days: int, articles: list[dict[str, str]] | None, title: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": "The committee's draft for this round.", "amendment_deadline": deadline, "notice_days": days}
    if articles is not None:
        body |= {"title": title or "邻里公约", "articles": articles}
    return {"draft": body}


def start(driver: Driver, variables: dict[str, Any], data: dict[str, Any]) -> None:
    instance = ok(driver.request("chair", "POST", "/api/instances", {"definition_key": "convention", "variables": variables}), 201)
    assert [t["element_id"] for t in instance["open_tasks"]] == ["draft_convention"]
    driver.instance = instance["id"]
    ok(complete(driver, "draft_convention", data))
    driver.ids["convention"] = driver.get("chair", f"/api/instances/{driver.instance}")["data"]["convention_id"]


def propose(driver: Driver, member: str, body: dict[str, Any]) -> TestResponse:
    return driver.send(member, "POST", convention_path(driver, "/amendments"), body)


# --- the community and the drafting ---------------------------------------------------------------


@given(parsers.parse('the community "{slug}" where the chair and the clerk are the committee and alice, bob and carol residents'))
def the_community(slug: str, driver: Driver) -> None:
    assert driver.community.slug == slug
    members = driver.get("admin", f"/api/communities/{driver.community.id}/members?page_size=100")["items"]
    roles = {m["name"]: set(m["roles"]) for m in members}
    assert all("committee" in roles[name] for name in ("chair", "clerk"))
    assert all(roles[name] == {"resident"} for name in RESIDENTS)


@when(parsers.parse('the chair opens the drafting of "{title}" with amendments until "{deadline}" and {days:d} days of notice:'))
def open_drafting(title: str, deadline: str, days: int, datatable: list[list[str]], driver: Driver) -> None:
    table = rows(datatable)
    start(driver, {}, draft(deadline, days, [{"text": row["text"]} for row in table], title))
    version = driver.get("alice", convention_path(driver, "/versions/1"))
    assert version["title"] == title
    assert version["articles"] == [{"id": row["article"], "text": row["text"]} for row in table]


@given(parsers.parse('the chair has opened the drafting with amendments until "{deadline}"'))
def drafting_opened(deadline: str, driver: Driver) -> None:
    start(driver, {}, draft(deadline, 3, FIRST_DRAFT))


@when(parsers.parse('the chair opens round {number:d} on the current text, with amendments until "{deadline}" and {days:d} days of notice'))
def open_next_round(number: int, deadline: str, days: int, driver: Driver) -> None:
    ok(complete(driver, "draft_convention", draft(deadline, days, None)))
    assert driver.get("bob", convention_path(driver))["current_round"]["number"] == number


@when(parsers.parse('the clock reaches {moment} and the chair starts amending the convention, from its adopted text, '
                    'with amendments until "{deadline}"'))
def start_amending(moment: str, deadline: str, driver: Driver) -> None:
    driver.clock.set(datetime.fromisoformat(moment))
    convention = driver.ids["convention"]
    start(driver, {"convention_id": convention}, draft(deadline, 3, None))
    assert driver.ids["convention"] == convention


@then(parsers.parse('round {number:d} is "{status}" on version {version:d}'))
def round_is(number: int, status: str, version: int, driver: Driver) -> dict[str, Any]:
    drafting = driver.get("carol", convention_path(driver, f"/rounds/{number}"))
    assert (drafting["status"], drafting["base_version"]) == (status, version)
    return drafting


@then(parsers.parse('round {number:d} is "{status}" on version {version:d}, consolidated into version {result:d}'))
def round_consolidated(number: int, status: str, version: int, result: int, driver: Driver) -> None:
    drafting = round_is(number, status, version, driver)
    assert drafting["result_version"] == result
    assert drafting["amendments"]["undecided"] == 0
    consolidated = driver.get("carol", convention_path(driver, f"/versions/{result}"))
    assert (consolidated["kind"], consolidated["based_on"]) == ("consolidated", version)
    assert consolidated["amendments"] == [refs(driver)[ref] for ref, d in decisions(driver).items()
                                          if d["round"] == number and d["outcome"] != "rejected"]


@then(parsers.parse('round {number:d} is "{status}" with the vote\'s outcome "{outcome}"'))
def round_voted(number: int, status: str, outcome: str, driver: Driver) -> None:
    drafting = driver.get("carol", convention_path(driver, f"/rounds/{number}"))
    assert (drafting["status"], drafting["vote_outcome"]) == (status, outcome)
    result = driver.get("carol", f"/api/votes/{drafting['vote_id']}/result")
    assert result["outcome"] == outcome


# --- amendments and comments ----------------------------------------------------------------------


@given(parsers.parse("the residents have proposed these amendments to version {version:d}:"))
@when(parsers.parse("the residents propose these amendments to version {version:d}:"))
def propose_amendments(version: int, datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        body: dict[str, Any] = {"version": version, "kind": row["kind"], "rationale": row["rationale"]}
        if row["article"].startswith("after "):
            body["after"] = row["article"].removeprefix("after ")
        else:
            body["article_id"] = row["article"]
        if row["text"]:
            body["text"] = row["text"]
        amendment = ok(propose(driver, row["resident"], body), 201)
        assert (amendment["status"], amendment["decision"], amendment["version"]) == ("proposed", None, version)
        assert amendment["author_id"] == driver.community[row["resident"]].member_id
        refs(driver)[row["ref"]] = amendment["id"]


@when(parsers.parse("{first} and {second} support amendment {ref}"))
def support(first: str, second: str, ref: str, driver: Driver) -> None:
    for member in (first, second):
        ok(driver.request(member, "POST", f"/api/amendments/{refs(driver)[ref]}/support"))


@when(parsers.parse('{member} comments on article {article} of version {version:d}: "{text}"'))
def comment(member: str, article: str, version: int, text: str, driver: Driver) -> None:
    note = ok(driver.request(member, "POST", convention_path(driver, "/comments"),
                             {"version": version, "article_id": article, "text": text}), 201)
    assert (note["article_id"], note["text"], note["round"]) == (article, text, 1)
    listed = driver.get("bob", convention_path(driver, f"/comments?article_id={article}"))
    assert [c["text"] for c in listed["items"]] == [text]


@then(parsers.parse("every resident sees the {count:d} amendments, amendment {ref} with {supporters:d} supporters"))
def residents_see_amendments(count: int, ref: str, supporters: int, driver: Driver) -> None:
    for resident in RESIDENTS:
        listed = driver.get(resident, convention_path(driver, "/amendments"))
        assert listed["total"] == count
        assert {a["id"] for a in listed["items"]} == {refs(driver)[r] for r in refs(driver)}
        (shown,) = [a for a in listed["items"] if a["id"] == refs(driver)[ref]]
        assert len(shown["supporters"]) == supporters


@when(parsers.parse('alice tries to propose replacing article {article} as she read it in version {version:d} with "{text}"'))
def propose_stale(article: str, version: int, text: str, driver: Driver) -> None:
    propose(driver, "alice", {"version": version, "kind": "replace", "article_id": article, "text": text,
                              "rationale": "As I remember it."})


@when(parsers.parse("{member} tries to propose deleting article {article} of version {version:d}"))
def propose_deletion(member: str, article: str, version: int, driver: Driver) -> None:
    propose(driver, member, {"version": version, "kind": "delete", "article_id": article, "rationale": "Too late?"})


@when(parsers.parse("{member} tries to withdraw amendment {ref}"))
def try_to_withdraw(member: str, ref: str, driver: Driver) -> None:
    driver.send(member, "POST", f"/api/amendments/{refs(driver)[ref]}/withdraw")


@then(parsers.parse('the error gives the current text of article {article} in version {version:d}: "{text}"'))
def stale_details(article: str, version: int, text: str, driver: Driver) -> None:
    details = error_of(driver.response)["details"]
    assert details == {"stale": True, "article_id": article, "version": 1, "current_version": version, "current_text": text}


# --- the committee's review ------------------------------------------------------------------------


@when("the chair decides the amendments:")
def decide(datatable: list[list[str]], driver: Driver) -> None:
    for row in rows(datatable):
        body = {"outcome": row["outcome"], "reason": row["reason"], **({"text": row["wording"]} if row["wording"] else {})}
        amendment = ok(driver.request("chair", "PUT", f"/api/amendments/{refs(driver)[row['ref']]}/decision", body))
        decision = amendment["decision"]
        assert (decision["outcome"], decision["reason"], decision["text"]) == (row["outcome"], row["reason"], row["wording"] or None)
        assert decision["decided_by"] == driver.community["chair"].member_id
        decisions(driver)[row["ref"]] = {**body, "round": amendment["round"]}


@when(parsers.parse("{member} tries to decide amendment {ref} \"{outcome}\" because \"{reason}\""))
def try_to_decide(member: str, ref: str, outcome: str, reason: str, driver: Driver) -> None:
    driver.send(member, "PUT", f"/api/amendments/{refs(driver)[ref]}/decision", {"outcome": outcome, "reason": reason})


@when("the chair tries to finish the review")
@when("the chair finishes the review")
def finish_review(driver: Driver) -> None:
    complete(driver, "review_amendments", {"note": "Every amendment is answered."})


@then("every resident sees the committee's decision and its reason on each amendment")
def residents_see_decisions(driver: Driver) -> None:
    for resident in RESIDENTS:
        for ref, decided in decisions(driver).items():
            amendment = driver.get(resident, f"/api/amendments/{refs(driver)[ref]}")
            decision = amendment["decision"]
            assert (decision["outcome"], decision["reason"], decision["text"]) == (decided["outcome"], decided["reason"], decided.get("text"))
            if decided["outcome"] == "accepted_with_changes":
                assert rendered(decision["changes"]) == "{+" + decided["text"] + "+}"
                assert amendment["result_article_id"] == "a4"


@then(parsers.parse("amendment {ref} is still undecided, and the history records no decision"))
def still_undecided(ref: str, driver: Driver) -> None:
    assert driver.get("alice", f"/api/amendments/{refs(driver)[ref]}")["decision"] is None
    history = driver.get("alice", convention_path(driver, "/history"))
    assert "amendment_decided" not in {entry["type"] for entry in history}


# --- texts and diffs -------------------------------------------------------------------------------


@then(parsers.parse("the diff from version {old:d} to version {new:d} reads:"))
def diff_reads(old: int, new: int, datatable: list[list[str]], driver: Driver) -> None:
    diff = driver.get("bob", convention_path(driver, f"/diff?from={old}&to={new}"))
    assert (diff["from"]["number"], diff["to"]["number"]) == (old, new)
    assert [{"article": e["id"], "status": e["status"], "changes": rendered(e["changes"])} for e in diff["articles"]] == rows(datatable)
    assert not any(e["moved"] for e in diff["articles"])


@then(parsers.parse("the convention is adopted: version {version:d} is in force from {effective}"))
def adopted(version: int, effective: str, driver: Driver) -> None:
    instance = driver.get("chair", f"/api/instances/{driver.instance}")
    assert (instance["status"], instance["open_tasks"]) == ("completed", [])
    convention = driver.get("alice", convention_path(driver))
    assert (convention["status"], convention["adopted_version"], convention["effective_date"]) == ("adopted", version, effective)
    assert convention["adopted_text"]["number"] == version
    listed = driver.get("alice", "/api/conventions")["items"]
    assert [(c["id"], c["status"]) for c in listed] == [(driver.ids["convention"], "adopted")]


@then("every resident reads the adopted text, whose fingerprint they can recompute")
def adopted_text(driver: Driver) -> None:
    for resident in RESIDENTS:
        text = driver.get(resident, convention_path(driver))["adopted_text"]
        canonical = json.dumps({"title": text["title"], "articles": text["articles"]}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert text["fingerprint"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        assert text["articles"][0] == {"id": "a1", "text": "晚上十点半后禁止喧哗。"}


@then("every version's fingerprint, and the adopted text's, is in the history")
def fingerprints_in_history(driver: Driver) -> None:
    versions = driver.get("bob", convention_path(driver, "/versions"))["items"]
    history = driver.get("bob", convention_path(driver, "/history"))
    published = {(e["details"]["version"], e["details"]["fingerprint"]) for e in history
                 if e["type"] in ("round_opened", "version_consolidated") and e["details"]["version_created"]}
    assert published == {(v["number"], v["fingerprint"]) for v in versions}
    (adoption,) = [e for e in history if e["type"] == "convention_adopted"]
    assert adoption["details"]["fingerprint"] == versions[-1]["fingerprint"]


@then(parsers.parse("{member} reads the history of the convention, in this order:"))
def history_in_order(member: str, datatable: list[list[str]], driver: Driver) -> None:
    history = driver.get(member, convention_path(driver, "/history"))
    names, by_id = driver.names(), {amendment_id: ref for ref, amendment_id in refs(driver).items()}
    seen = [{"type": e["type"], "by": names.get(e["actor_id"], ""), "what": _what(e["type"], e["details"], by_id)} for e in history]
    assert seen == rows(datatable)
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)


def _what(kind: str, details: dict[str, Any], by_id: dict[int, str]) -> str:
    """A history entry in the feature's few words."""
    new = "new " if details.get("version_created") else ""
    return {
        "round_opened": lambda: f"round {details.get('round')}, {new}version {details.get('version')}",
        "version_consolidated": lambda: f"{new}version {details.get('version')}",
        "amendment_decided": lambda: f"{by_id.get(details.get('amendment_id'), '')} {details.get('outcome')}",
        "comment_added": lambda: str(details.get("article_id")),
        "vote_recorded": lambda: str(details.get("outcome")),
        "round_closed": lambda: str(details.get("next_step")),
        "convention_adopted": lambda: f"version {details.get('version')}",
        "amendment_period_closed": lambda: f"round {details.get('round')}",
        "public_notice_ended": lambda: f"round {details.get('round')}",
    }.get(kind, lambda: by_id.get(details.get("amendment_id"), ""))()


# --- time, the vote and the publication -----------------------------------------------------------


@given(parsers.parse("the clock reaches {moment} and the worker fires the due timers"))
@when(parsers.parse("the clock reaches {moment} and the worker fires the due timers"))
def clock_and_timers(moment: str, driver: Driver) -> None:
    driver.clock.set(datetime.fromisoformat(moment))
    assert driver.engine.fire_due_timers() == 1


@when(parsers.parse("the clock reaches {moment}, before the worker runs"))
def clock_reaches(moment: str, driver: Driver) -> None:
    driver.clock.set(datetime.fromisoformat(moment))


@when("the worker fires the due timers")
def worker_fires(driver: Driver) -> None:
    assert driver.engine.fire_due_timers() == 1


@when(parsers.parse('the public notice ends and the chair puts version {version:d} to a vote until "{deadline}" with the rule "{kind}"'))
def put_to_vote(version: int, deadline: str, kind: str, driver: Driver) -> None:
    driver.pass_the_timer("public_notice")
    drafting = driver.get("bob", convention_path(driver, "/rounds"))[-1]
    assert (drafting["status"], drafting["result_version"], drafting["open_tasks"]) == ("voting", version, ["configure_vote"])
    fingerprint = driver.get("chair", convention_path(driver, f"/versions/{version}"))["fingerprint"]
    ok(complete(driver, "configure_vote", {"vote": {
        "title": f"Adopt version {version} of the convention", "question": f"Adopt the text with fingerprint {fingerprint}?",
        "method": "yes_no_abstain", "rule": {"threshold": {"kind": kind}}, "secret": True, "electorate": "residents",
        "deadline": deadline}}))
    (vote,) = [v for v in driver.get("bob", f"/api/instances/{driver.instance}/votes") if v["status"] == "open"]
    driver.ids["vote"] = vote["id"]


@when(parsers.parse("the residents vote: {ballots}"))
def residents_vote(ballots: str, driver: Driver) -> None:
    for member, choice in re.findall(r'(\w+) "(\w+)"', ballots):
        ok(driver.request(member, "POST", f"/api/votes/{driver.ids['vote']}/ballots", {"choice": choice}), 201)


@when(parsers.parse('the chair decides on another round because "{reason}"'))
def another_round(reason: str, driver: Driver) -> None:
    ok(complete(driver, "decide_next_step", {"next_step": "another_round", "reason": reason}))
    drafting = driver.get("bob", convention_path(driver, "/rounds"))[-1]
    assert (drafting["status"], drafting["closing_reason"]) == ("rejected", reason)


@when(parsers.parse('the chair publishes the convention, effective from "{effective}"'))
def publish(effective: str, driver: Driver) -> None:
    ok(complete(driver, "publish_convention", {"effective_date": effective, "announcement": "公约自四月起施行。"}))
