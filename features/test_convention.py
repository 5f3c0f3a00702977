"""Step definitions for convention.feature: drafting a convention, walked through the HTTP API.

Everything goes through the Flask test client with the members' bearer tokens; only the
``clock`` fixture is moved by hand, and due timers are fired with ``Engine.fire_due_timers``
(what the ``yishi worker`` does).

State passes between steps in ``ctx``: the process instance and the convention, the amendments
by their reference in the feature (A, B, …), the committee's decisions, and the last response.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_bdd import given, parsers, scenarios, then, when
from werkzeug.test import TestResponse

from engine.kernel.clock import ManualClock
from engine.bootstrap import Engine
from tests.error_steps import error_of
from tests.fixtures import bearer
from tests.helpers import Community

scenarios("convention.feature")

# Steps ask for their fixtures only when they run, too late for pytest to parametrize the
# scenarios by ``database_url``; naming ``client`` here runs every scenario on every backend.
pytestmark = pytest.mark.usefixtures("client")

RESIDENTS = ("alice", "bob", "carol")
FIRST_DRAFT = [{"text": "晚上十点后不得大声喧哗。"}, {"text": "Keep the stairwells clear of bicycles."}, {"text": "宠物狗出门须拴绳。"}]


# --- plumbing ---------------------------------------------------------------------------------


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {"refs": {}, "decisions": {}, "response": None}


def send(client: FlaskClient, community: Community, member: str, method: str, path: str, body: Any = None) -> TestResponse:
    return client.open(path, method=method, json=body, headers=bearer(community.tokens[member]))


def ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    header, *body = datatable
    return [dict(zip(header, row)) for row in body]


def rendered(ops: list[dict[str, str]]) -> str:
    """Text ops in git's word-diff notation: [-deleted-] and {+inserted+}."""
    marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
    return "".join(marks[op["op"]].format(op["text"]) for op in ops)


def convention_path(ctx: dict[str, Any], tail: str = "") -> str:
    return f"/api/conventions/{ctx['convention']}{tail}"


def complete(client: FlaskClient, community: Community, ctx: dict[str, Any], element: str, data: dict[str, Any]) -> TestResponse:
    instance = ok(send(client, community, "chair", "GET", f"/api/instances/{ctx['instance']}"))
    (task,) = [t for t in instance["open_tasks"] if t["element_id"] == element]
    ctx["response"] = send(client, community, "chair", "POST", f"/api/tasks/{task['id']}/complete", {"data": data})
    return ctx["response"]


def draft(deadline: str, days: int, articles: list[dict[str, str]] | None, title: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": "The committee's draft for this round.", "amendment_deadline": deadline, "notice_days": days}
    if articles is not None:
        body |= {"title": title or "邻里公约", "articles": articles}
    return {"draft": body}


def start(client: FlaskClient, community: Community, ctx: dict[str, Any], variables: dict[str, Any], data: dict[str, Any]) -> None:
    instance = ok(send(client, community, "chair", "POST", "/api/instances", {"definition_key": "convention", "variables": variables}), 201)
    assert [t["element_id"] for t in instance["open_tasks"]] == ["draft_convention"]
    ctx["instance"] = instance["id"]
    ok(complete(client, community, ctx, "draft_convention", data))
    ctx["convention"] = ok(send(client, community, "chair", "GET", f"/api/instances/{ctx['instance']}"))["data"]["convention_id"]


def propose(client: FlaskClient, community: Community, ctx: dict[str, Any], member: str, body: dict[str, Any]) -> TestResponse:
    ctx["response"] = send(client, community, member, "POST", convention_path(ctx, "/amendments"), body)
    return ctx["response"]


def member_names(community: Community) -> dict[int, str]:
    return {actor.member_id: name for name, actor in community.actors.items()}


# --- the community and the drafting ---------------------------------------------------------------


@given(parsers.parse('the community "{slug}" where the chair and the clerk are the committee and alice, bob and carol residents'))
def the_community(slug: str, client: FlaskClient, community: Community) -> None:
    assert community.slug == slug
    members = ok(send(client, community, "admin", "GET", f"/api/communities/{community.id}/members?page_size=100"))["items"]
    roles = {m["name"]: set(m["roles"]) for m in members}
    assert all("committee" in roles[name] for name in ("chair", "clerk"))
    assert all(roles[name] == {"resident"} for name in RESIDENTS)


@when(parsers.parse('the chair opens the drafting of "{title}" with amendments until "{deadline}" and {days:d} days of notice:'))
def open_drafting(title: str, deadline: str, days: int, datatable: list[list[str]], client: FlaskClient,
                  community: Community, ctx: dict[str, Any]) -> None:
    table = rows(datatable)
    start(client, community, ctx, {}, draft(deadline, days, [{"text": row["text"]} for row in table], title))
    version = ok(send(client, community, "alice", "GET", convention_path(ctx, "/versions/1")))
    assert version["title"] == title
    assert version["articles"] == [{"id": row["article"], "text": row["text"]} for row in table]


@given(parsers.parse('the chair has opened the drafting with amendments until "{deadline}"'))
def drafting_opened(deadline: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    start(client, community, ctx, {}, draft(deadline, 3, FIRST_DRAFT))


@when(parsers.parse('the chair opens round {number:d} on the current text, with amendments until "{deadline}" and {days:d} days of notice'))
def open_next_round(number: int, deadline: str, days: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ok(complete(client, community, ctx, "draft_convention", draft(deadline, days, None)))
    assert ok(send(client, community, "bob", "GET", convention_path(ctx)))["current_round"]["number"] == number


@when(parsers.parse('the clock reaches {moment} and the chair starts amending the convention, from its adopted text, '
                    'with amendments until "{deadline}"'))
def start_amending(moment: str, deadline: str, clock: ManualClock, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    clock.set(datetime.fromisoformat(moment))
    convention = ctx["convention"]
    start(client, community, ctx, {"convention_id": convention}, draft(deadline, 3, None))
    assert ctx["convention"] == convention


@then(parsers.parse('round {number:d} is "{status}" on version {version:d}'))
def round_is(number: int, status: str, version: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> dict[str, Any]:
    drafting = ok(send(client, community, "carol", "GET", convention_path(ctx, f"/rounds/{number}")))
    assert (drafting["status"], drafting["base_version"]) == (status, version)
    return drafting


@then(parsers.parse('round {number:d} is "{status}" on version {version:d}, consolidated into version {result:d}'))
def round_consolidated(number: int, status: str, version: int, result: int, client: FlaskClient, community: Community,
                       ctx: dict[str, Any]) -> None:
    drafting = round_is(number, status, version, client, community, ctx)
    assert drafting["result_version"] == result
    assert drafting["amendments"]["undecided"] == 0
    consolidated = ok(send(client, community, "carol", "GET", convention_path(ctx, f"/versions/{result}")))
    assert (consolidated["kind"], consolidated["based_on"]) == ("consolidated", version)
    assert consolidated["amendments"] == [ctx["refs"][ref] for ref, d in ctx["decisions"].items()
                                          if d["round"] == number and d["outcome"] != "rejected"]


@then(parsers.parse('round {number:d} is "{status}" with the vote\'s outcome "{outcome}"'))
def round_voted(number: int, status: str, outcome: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    drafting = ok(send(client, community, "carol", "GET", convention_path(ctx, f"/rounds/{number}")))
    assert (drafting["status"], drafting["vote_outcome"]) == (status, outcome)
    result = ok(send(client, community, "carol", "GET", f"/api/votes/{drafting['vote_id']}/result"))
    assert result["outcome"] == outcome


# --- amendments and comments ----------------------------------------------------------------------


@given(parsers.parse("the residents have proposed these amendments to version {version:d}:"))
@when(parsers.parse("the residents propose these amendments to version {version:d}:"))
def propose_amendments(version: int, datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for row in rows(datatable):
        body: dict[str, Any] = {"version": version, "kind": row["kind"], "rationale": row["rationale"]}
        if row["article"].startswith("after "):
            body["after"] = row["article"].removeprefix("after ")
        else:
            body["article_id"] = row["article"]
        if row["text"]:
            body["text"] = row["text"]
        amendment = ok(propose(client, community, ctx, row["resident"], body), 201)
        assert (amendment["status"], amendment["decision"], amendment["version"]) == ("proposed", None, version)
        assert amendment["author_id"] == community[row["resident"]].member_id
        ctx["refs"][row["ref"]] = amendment["id"]


@when(parsers.parse("{first} and {second} support amendment {ref}"))
def support(first: str, second: str, ref: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for member in (first, second):
        ok(send(client, community, member, "POST", f"/api/amendments/{ctx['refs'][ref]}/support"))


@when(parsers.parse('{member} comments on article {article} of version {version:d}: "{text}"'))
def comment(member: str, article: str, version: int, text: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    note = ok(send(client, community, member, "POST", convention_path(ctx, "/comments"),
                   {"version": version, "article_id": article, "text": text}), 201)
    assert (note["article_id"], note["text"], note["round"]) == (article, text, 1)
    listed = ok(send(client, community, "bob", "GET", convention_path(ctx, f"/comments?article_id={article}")))
    assert [c["text"] for c in listed["items"]] == [text]


@then(parsers.parse("every resident sees the {count:d} amendments, amendment {ref} with {supporters:d} supporters"))
def residents_see_amendments(count: int, ref: str, supporters: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for resident in RESIDENTS:
        listed = ok(send(client, community, resident, "GET", convention_path(ctx, "/amendments")))
        assert listed["total"] == count
        assert {a["id"] for a in listed["items"]} == {ctx["refs"][r] for r in ctx["refs"]}
        (shown,) = [a for a in listed["items"] if a["id"] == ctx["refs"][ref]]
        assert len(shown["supporters"]) == supporters


@when(parsers.parse('alice tries to propose replacing article {article} as she read it in version {version:d} with "{text}"'))
def propose_stale(article: str, version: int, text: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    propose(client, community, ctx, "alice", {"version": version, "kind": "replace", "article_id": article, "text": text,
                                              "rationale": "As I remember it."})


@when(parsers.parse("{member} tries to propose deleting article {article} of version {version:d}"))
def propose_deletion(member: str, article: str, version: int, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    propose(client, community, ctx, member, {"version": version, "kind": "delete", "article_id": article, "rationale": "Too late?"})


@when(parsers.parse("{member} tries to withdraw amendment {ref}"))
def try_to_withdraw(member: str, ref: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ctx["response"] = send(client, community, member, "POST", f"/api/amendments/{ctx['refs'][ref]}/withdraw")


@then(parsers.parse('the error gives the current text of article {article} in version {version:d}: "{text}"'))
def stale_details(article: str, version: int, text: str, ctx: dict[str, Any]) -> None:
    details = error_of(ctx["response"])["details"]
    assert details == {"stale": True, "article_id": article, "version": 1, "current_version": version, "current_text": text}


# --- the committee's review ------------------------------------------------------------------------


@when("the chair decides the amendments:")
def decide(datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for row in rows(datatable):
        body = {"outcome": row["outcome"], "reason": row["reason"], **({"text": row["wording"]} if row["wording"] else {})}
        amendment = ok(send(client, community, "chair", "PUT", f"/api/amendments/{ctx['refs'][row['ref']]}/decision", body))
        decision = amendment["decision"]
        assert (decision["outcome"], decision["reason"], decision["text"]) == (row["outcome"], row["reason"], row["wording"] or None)
        assert decision["decided_by"] == community["chair"].member_id
        ctx["decisions"][row["ref"]] = {**body, "round": amendment["round"]}


@when(parsers.parse("{member} tries to decide amendment {ref} \"{outcome}\" because \"{reason}\""))
def try_to_decide(member: str, ref: str, outcome: str, reason: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ctx["response"] = send(client, community, member, "PUT", f"/api/amendments/{ctx['refs'][ref]}/decision",
                           {"outcome": outcome, "reason": reason})


@when("the chair tries to finish the review")
@when("the chair finishes the review")
def finish_review(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    complete(client, community, ctx, "review_amendments", {"note": "Every amendment is answered."})


@then("every resident sees the committee's decision and its reason on each amendment")
def residents_see_decisions(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for resident in RESIDENTS:
        for ref, decided in ctx["decisions"].items():
            amendment = ok(send(client, community, resident, "GET", f"/api/amendments/{ctx['refs'][ref]}"))
            decision = amendment["decision"]
            assert (decision["outcome"], decision["reason"], decision["text"]) == (decided["outcome"], decided["reason"], decided.get("text"))
            if decided["outcome"] == "accepted_with_changes":
                assert rendered(decision["changes"]) == "{+" + decided["text"] + "+}"
                assert amendment["result_article_id"] == "a4"


@then(parsers.parse("amendment {ref} is still undecided, and the history records no decision"))
def still_undecided(ref: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    assert ok(send(client, community, "alice", "GET", f"/api/amendments/{ctx['refs'][ref]}"))["decision"] is None
    history = ok(send(client, community, "alice", "GET", convention_path(ctx, "/history")))
    assert "amendment_decided" not in {entry["type"] for entry in history}


# --- texts and diffs -------------------------------------------------------------------------------


@then(parsers.parse("the diff from version {old:d} to version {new:d} reads:"))
def diff_reads(old: int, new: int, datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    diff = ok(send(client, community, "bob", "GET", convention_path(ctx, f"/diff?from={old}&to={new}")))
    assert (diff["from"]["number"], diff["to"]["number"]) == (old, new)
    assert [{"article": e["id"], "status": e["status"], "changes": rendered(e["changes"])} for e in diff["articles"]] == rows(datatable)
    assert not any(e["moved"] for e in diff["articles"])


@then(parsers.parse("the convention is adopted: version {version:d} is in force from {effective}"))
def adopted(version: int, effective: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    instance = ok(send(client, community, "chair", "GET", f"/api/instances/{ctx['instance']}"))
    assert (instance["status"], instance["open_tasks"]) == ("completed", [])
    convention = ok(send(client, community, "alice", "GET", convention_path(ctx)))
    assert (convention["status"], convention["adopted_version"], convention["effective_date"]) == ("adopted", version, effective)
    assert convention["adopted_text"]["number"] == version
    listed = ok(send(client, community, "alice", "GET", "/api/conventions"))["items"]
    assert [(c["id"], c["status"]) for c in listed] == [(ctx["convention"], "adopted")]


@then("every resident reads the adopted text, whose fingerprint they can recompute")
def adopted_text(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for resident in RESIDENTS:
        text = ok(send(client, community, resident, "GET", convention_path(ctx)))["adopted_text"]
        canonical = json.dumps({"title": text["title"], "articles": text["articles"]}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert text["fingerprint"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        assert text["articles"][0] == {"id": "a1", "text": "晚上十点半后禁止喧哗。"}


@then("every version's fingerprint, and the adopted text's, is in the history")
def fingerprints_in_history(client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    versions = ok(send(client, community, "bob", "GET", convention_path(ctx, "/versions")))["items"]
    history = ok(send(client, community, "bob", "GET", convention_path(ctx, "/history")))
    published = {(e["details"]["version"], e["details"]["fingerprint"]) for e in history
                 if e["type"] in ("round_opened", "version_consolidated") and e["details"]["version_created"]}
    assert published == {(v["number"], v["fingerprint"]) for v in versions}
    (adoption,) = [e for e in history if e["type"] == "convention_adopted"]
    assert adoption["details"]["fingerprint"] == versions[-1]["fingerprint"]


@then(parsers.parse("{member} reads the history of the convention, in this order:"))
def history_in_order(member: str, datatable: list[list[str]], client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    history = ok(send(client, community, member, "GET", convention_path(ctx, "/history")))
    names, refs = member_names(community), {amendment_id: ref for ref, amendment_id in ctx["refs"].items()}
    seen = [{"type": e["type"], "by": names.get(e["actor_id"], ""), "what": _what(e["type"], e["details"], refs)} for e in history]
    assert seen == rows(datatable)
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)


def _what(kind: str, details: dict[str, Any], refs: dict[int, str]) -> str:
    """A history entry in the feature's few words."""
    new = "new " if details.get("version_created") else ""
    return {
        "round_opened": lambda: f"round {details.get('round')}, {new}version {details.get('version')}",
        "version_consolidated": lambda: f"{new}version {details.get('version')}",
        "amendment_decided": lambda: f"{refs.get(details.get('amendment_id'), '')} {details.get('outcome')}",
        "comment_added": lambda: str(details.get("article_id")),
        "vote_recorded": lambda: str(details.get("outcome")),
        "round_closed": lambda: str(details.get("next_step")),
        "convention_adopted": lambda: f"version {details.get('version')}",
        "amendment_period_closed": lambda: f"round {details.get('round')}",
        "public_notice_ended": lambda: f"round {details.get('round')}",
    }.get(kind, lambda: refs.get(details.get("amendment_id"), ""))()


# --- time, the vote and the publication -----------------------------------------------------------


@given(parsers.parse("the clock reaches {moment} and the worker fires the due timers"))
@when(parsers.parse("the clock reaches {moment} and the worker fires the due timers"))
def clock_and_timers(moment: str, clock: ManualClock, deployed: Engine) -> None:
    clock.set(datetime.fromisoformat(moment))
    assert deployed.fire_due_timers() == 1


@when(parsers.parse("the clock reaches {moment}, before the worker runs"))
def clock_reaches(moment: str, clock: ManualClock) -> None:
    clock.set(datetime.fromisoformat(moment))


@when("the worker fires the due timers")
def worker_fires(deployed: Engine) -> None:
    assert deployed.fire_due_timers() == 1


@when(parsers.parse('the public notice ends and the chair puts version {version:d} to a vote until "{deadline}" with the rule "{kind}"'))
def put_to_vote(version: int, deadline: str, kind: str, clock: ManualClock, deployed: Engine, client: FlaskClient,
                community: Community, ctx: dict[str, Any]) -> None:
    (timer,) = ok(send(client, community, "chair", "GET", f"/api/instances/{ctx['instance']}"))["timers"]
    assert timer["element_id"] == "public_notice"
    clock.set(datetime.fromisoformat(timer["due_at"]) + timedelta(minutes=1))
    assert deployed.fire_due_timers() == 1
    drafting = ok(send(client, community, "bob", "GET", convention_path(ctx, "/rounds")))[-1]
    assert (drafting["status"], drafting["result_version"], drafting["open_tasks"]) == ("voting", version, ["configure_vote"])
    fingerprint = ok(send(client, community, "chair", "GET", convention_path(ctx, f"/versions/{version}")))["fingerprint"]
    ok(complete(client, community, ctx, "configure_vote", {"vote": {
        "title": f"Adopt version {version} of the convention", "question": f"Adopt the text with fingerprint {fingerprint}?",
        "method": "yes_no_abstain", "rule": {"threshold": {"kind": kind}}, "secret": True, "electorate": "residents",
        "deadline": deadline}}))
    (vote,) = [v for v in ok(send(client, community, "bob", "GET", f"/api/instances/{ctx['instance']}/votes")) if v["status"] == "open"]
    ctx["vote"] = vote["id"]


@when(parsers.parse("the residents vote: {ballots}"))
def residents_vote(ballots: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    for member, choice in re.findall(r'(\w+) "(\w+)"', ballots):
        ok(send(client, community, member, "POST", f"/api/votes/{ctx['vote']}/ballots", {"choice": choice}), 201)


@when(parsers.parse('the chair decides on another round because "{reason}"'))
def another_round(reason: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ok(complete(client, community, ctx, "decide_next_step", {"next_step": "another_round", "reason": reason}))
    drafting = ok(send(client, community, "bob", "GET", convention_path(ctx, "/rounds")))[-1]
    assert (drafting["status"], drafting["closing_reason"]) == ("rejected", reason)


@when(parsers.parse('the chair publishes the convention, effective from "{effective}"'))
def publish(effective: str, client: FlaskClient, community: Community, ctx: dict[str, Any]) -> None:
    ok(complete(client, community, ctx, "publish_convention", {"effective_date": effective, "announcement": "公约自四月起施行。"}))


# --- responses --------------------------------------------------------------------------------------


