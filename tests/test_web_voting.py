"""The vote pages (表决): the list, a ballot for every method through a confirmation step, the receipt shown once,
changing a secret ballot with its receipt, refusals as form errors, the result, the bulletin board and checking a
receipt after the close. Every ballot cast here is checked in the engine; every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from engine.voting.models import Ballot, Participation
from tests.builders import ballot_events, close_by_deadline, count, open_vote
from tests.helpers import Community
from tests.pages import Page, Pages, pages_for

pytestmark = pytest.mark.pages

OPTIONS = [{"id": "park", "label": "A small park"}, {"id": "bikes", "label": "Bike shelter"},
           {"id": "parking", "label": "Four parking spaces"}]


def choices(engine: Engine, vote_id: str) -> list[Any]:
    with engine.read() as session:
        return list(session.scalars(select(Ballot.choice).where(Ballot.vote_id == vote_id)))


def review(browser: Pages, vote_id: str, data: dict[str, Any]) -> Page:
    browser.get(f"/votes/{vote_id}")
    return browser.post(f"/votes/{vote_id}/ballot", {"step": "review", **data})


def confirm_fields(page: Page) -> dict[str, Any]:
    """The confirmation page's hidden fields, as its Cast button sends them."""
    fields: dict[str, Any] = {}
    for node in page.tree.xpath("//main//form//input[@type='hidden']"):
        fields.setdefault(node.get("name"), []).append(node.get("value"))
    return {name: values if len(values) > 1 else values[0] for name, values in fields.items()}


def cast(browser: Pages, vote_id: str, data: dict[str, Any]) -> Page:
    """Review a ballot, then press Cast on the confirmation page; the page with the receipt."""
    confirmation = review(browser, vote_id, data)
    assert confirmation.status == 200, confirmation.text
    return browser.post(f"/votes/{vote_id}/ballot", {**confirm_fields(confirmation), "step": "cast"}, csrf=False)


def receipt_of(page: Page) -> str:
    (code,) = page.texts("//code[@id='receipt-code']")
    return code


def test_the_votes_page_lists_open_votes_first_then_closed_ones_with_their_results(
        deployed: Engine, neighbours: Community, clock: ManualClock) -> None:
    closed_instance, closed = open_vote(deployed, neighbours, title="Old question", deadline="2026-03-04T18:00")
    close_by_deadline(deployed, clock, closed_instance)
    _, open_id = open_vote(deployed, neighbours, title="New question", deadline="2026-03-20T18:00")
    browser = pages_for(deployed, neighbours, "alice")
    page = browser.get("/votes")
    assert page.status == 200
    assert page.texts("//main//h3") == ["New question", "Old question"]
    assert page.texts("//main//li[1]/p[@class='card__kind']")[0] == "You may vote"
    assert "Result: Rejected" in page.texts("//main//p[@class='card__kind']")
    assert browser.get("/home").tree.xpath("//nav//a[@href='/votes']")


@pytest.mark.parametrize("method, data, stored, summary", [
    ("yes_no_abstain", {"choice": "yes"}, "yes", ["Yes"]),
    ("yes_no_abstain", {"choice": "abstain"}, "abstain", ["Abstain"]),
    ("plurality", {"choice": "bikes"}, "bikes", ["Bike shelter"]),
    ("approval", {"choice": ["park", "parking"]}, ["park", "parking"], ["A small park", "Four parking spaces"]),
    ("approval", {}, [], ["No option (an abstention)"]),
    ("irv", {"rank-park": "2", "rank-bikes": "", "rank-parking": "1"}, ["parking", "park"], ["Four parking spaces", "A small park"]),
    ("schulze", {"rank-park": "3", "rank-bikes": "1", "rank-parking": "2"}, ["bikes", "parking", "park"],
     ["Bike shelter", "Four parking spaces", "A small park"]),
])
@pytest.mark.both_backends
def test_a_ballot_of_every_method_is_reviewed_then_cast_through_the_pages_and_stored_as_the_api_would(
        deployed: Engine, neighbours: Community, method: str, data: dict[str, Any], stored: Any, summary: list[str]) -> None:
    options = [] if method == "yes_no_abstain" else OPTIONS
    instance_id, vote_id = open_vote(deployed, neighbours, method=method, options=options)
    browser = pages_for(deployed, neighbours, "alice")
    page = browser.get(f"/votes/{vote_id}")
    assert page.status == 200 and page.texts("//h1") == ["Stairwell colour"]
    assert page.tree.xpath("//form//fieldset/legend") and page.texts("//fieldset/legend") == ["Shall the stairwells be green?"]
    if method in ("irv", "schulze"):
        assert len(page.tree.xpath("//fieldset//select")) == 3
        assert page.texts("//select[@name='rank-park']/option") == ["Not ranked", "1st", "2nd", "3rd"]
    confirmation = review(browser, vote_id, data)
    assert confirmation.status == 200
    assert confirmation.texts("//h1") == ["Check your ballot"]
    lines = confirmation.texts("//div[@class='ballot-summary']//li") or confirmation.texts("//p[@class='ballot-summary__choice']")
    assert lines == summary or lines == [", ".join(summary)]
    assert choices(deployed, vote_id) == []  # nothing is cast before the Cast button
    done = browser.post(f"/votes/{vote_id}/ballot", {**confirm_fields(confirmation), "step": "cast"}, csrf=False)
    assert done.status == 200, done.text
    assert len(receipt_of(done)) == 32
    assert choices(deployed, vote_id) == [stored]
    with deployed.read() as session:
        assert [e.type for e in ballot_events(session, instance_id)] == ["ballot_cast"]


def test_change_on_the_confirmation_page_brings_the_ballot_back_as_chosen(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours, method="irv", options=OPTIONS)
    browser = pages_for(deployed, neighbours, "bob")
    confirmation = review(browser, vote_id, {"rank-park": "1", "rank-bikes": "2"})
    back = browser.post(f"/votes/{vote_id}/ballot", {**confirm_fields(confirmation), "step": "change"}, csrf=False)
    assert back.status == 200 and back.texts("//h1") == ["Stairwell colour"]
    assert back.tree.xpath("//select[@name='rank-park']/option[@selected]/@value") == ["1"]
    assert back.tree.xpath("//select[@name='rank-bikes']/option[@selected]/@value") == ["2"]
    assert back.tree.xpath("//select[@name='rank-parking']/option[@selected]/@value") == []
    assert choices(deployed, vote_id) == []


def test_the_receipt_is_shown_once_and_sending_the_confirmation_twice_casts_once(deployed: Engine, neighbours: Community) -> None:
    instance_id, vote_id = open_vote(deployed, neighbours)
    browser = pages_for(deployed, neighbours, "carol")
    confirmation = review(browser, vote_id, {"choice": "no"})
    fields = {**confirm_fields(confirmation), "step": "cast"}
    first = browser.post(f"/votes/{vote_id}/ballot", fields, csrf=False)
    again = browser.post(f"/votes/{vote_id}/ballot", fields, csrf=False)  # a double click, or a reload of the response
    assert first.status == again.status == 200
    assert receipt_of(first) == receipt_of(again)
    assert choices(deployed, vote_id) == ["no"]
    with deployed.read() as session:
        assert count(session, Participation, vote_id) == 1
        assert [e.type for e in ballot_events(session, instance_id)] == ["ballot_cast"]
    assert "Cache-Control" in first.headers and first.headers["Cache-Control"] == "no-store"
    assert receipt_of(first) not in first.headers.get("Set-Cookie", "")
    later = browser.get(f"/votes/{vote_id}")
    assert receipt_of(first) not in later.text and "receipt-code" not in later.text
    assert "You voted on" in later.text
    assert later.tree.xpath("//input[@name='receipt']")  # a secret ballot changes with its receipt


def test_a_secret_ballot_is_changed_with_its_receipt_and_a_wrong_or_missing_receipt_is_a_field_error(
        deployed: Engine, neighbours: Community) -> None:
    instance_id, vote_id = open_vote(deployed, neighbours)
    browser = pages_for(deployed, neighbours, "alice")
    first = receipt_of(cast(browser, vote_id, {"choice": "yes"}))

    missing = review(browser, vote_id, {"choice": "no"})
    assert missing.status == 422
    assert missing.field_errors() == {"receipt": ["Enter the receipt of your last ballot to change it."]}
    assert missing.tree.xpath("//div[@class='error-summary']//a[@href='#receipt']")

    confirmation = review(browser, vote_id, {"choice": "no", "receipt": "Z" * 32})
    assert confirmation.status == 200  # the receipt is the engine's to check, when casting
    wrong = browser.post(f"/votes/{vote_id}/ballot", {**confirm_fields(confirmation), "step": "cast"}, csrf=False)
    assert wrong.status == 422
    assert wrong.field_errors()["receipt"][0].startswith("No ballot of this vote has this receipt")
    assert choices(deployed, vote_id) == ["yes"]

    short = review(browser, vote_id, {"choice": "no", "receipt": "abc"})
    assert short.status == 422 and short.field_errors() == {"receipt": ["A receipt has 32 letters and digits"]}

    changed = cast(browser, vote_id, {"choice": "no", "receipt": first})
    assert changed.status == 200 and changed.texts("//h1") == ["Your ballot has been changed"]
    second = receipt_of(changed)
    assert second != first and choices(deployed, vote_id) == ["no"]

    spent = cast(browser, vote_id, {"choice": "abstain", "receipt": first})
    assert spent.status == 422
    assert spent.field_errors()["receipt"] == ["This receipt was replaced by a later ballot. Enter the receipt of your latest ballot."]
    assert choices(deployed, vote_id) == ["no"]
    with deployed.read() as session:
        assert [e.type for e in ballot_events(session, instance_id)] == ["ballot_cast", "ballot_changed"]


def test_a_public_ballot_is_changed_without_a_receipt(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours, secret=False)
    browser = pages_for(deployed, neighbours, "bob")
    cast(browser, vote_id, {"choice": "yes"})
    assert not browser.get(f"/votes/{vote_id}").tree.xpath("//input[@name='receipt']")
    assert cast(browser, vote_id, {"choice": "no"}).status == 200
    assert choices(deployed, vote_id) == ["no"]


@pytest.mark.parametrize("method, data, error", [
    ("yes_no_abstain", {}, "Choose an answer."),
    ("yes_no_abstain", {"choice": "maybe"}, "Choose one of the answers listed."),
    ("yes_no_abstain", {"choice": ["yes", "no"]}, "Choose one of the answers listed."),
    ("yes_no_abstain", {"choice": "y" * 100_000}, "Choose among the answers listed."),
    ("yes_no_abstain", {"choice": "yes\x00"}, "Choose among the answers listed."),
    ("plurality", {}, "Choose an option, or abstain."),
    ("plurality", {"choice": "nowhere"}, "Choose one of the answers listed."),
    ("approval", {"choice": ["park", "park"]}, "Tick only options listed on the ballot, each once."),
    ("approval", {"choice": ["park", "\x00"]}, "Choose among the answers listed."),
    ("irv", {"rank-park": "1", "rank-bikes": "1"}, "Two options have the same rank (1st): give each option its own rank, or leave one not ranked."),
    ("irv", {"rank-park": "4"}, "Give each option a rank from the list, or leave it not ranked."),
    ("irv", {"rank-park": "9" * 5000}, "Give each option a rank from the list, or leave it not ranked."),
    ("schulze", {"rank-park": "-1"}, "Give each option a rank from the list, or leave it not ranked."),
    ("schulze", {"rank-park": ["1", "2"]}, "Give each option a rank from the list, or leave it not ranked."),
    ("schulze", {"rank-park": "１"}, "Give each option a rank from the list, or leave it not ranked."),
])
def test_a_malformed_choice_is_a_field_error_never_a_500(
        deployed: Engine, neighbours: Community, method: str, data: dict[str, Any], error: str) -> None:
    _, vote_id = open_vote(deployed, neighbours, method=method, options=[] if method == "yes_no_abstain" else OPTIONS)
    browser = pages_for(deployed, neighbours, "alice")
    page = review(browser, vote_id, data)
    assert page.status == 422
    assert page.field_errors() == {"choice": [error]}
    assert page.tree.xpath("//div[@class='error-summary']//a[@href='#choice']")
    forged = browser.post(f"/votes/{vote_id}/ballot", {**data, "step": "cast", "idempotency_key": "k" * 36})
    assert forged.status == 422
    assert choices(deployed, vote_id) == []


def test_a_choice_forged_past_the_confirmation_is_refused_by_the_engine_on_the_form(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    browser = pages_for(deployed, neighbours, "alice")
    confirmation = review(browser, vote_id, {"choice": "yes"})
    fields = {**confirm_fields(confirmation), "step": "cast", "idempotency_key": "short"}
    assert browser.post(f"/votes/{vote_id}/ballot", fields, csrf=False).status == 422
    no_key = {k: v for k, v in confirm_fields(confirmation).items() if k != "idempotency_key"}
    page = browser.post(f"/votes/{vote_id}/ballot", {**no_key, "step": "cast"}, csrf=False)
    assert page.status == 422 and "This page has expired" in page.text
    assert choices(deployed, vote_id) == []


def test_a_post_without_its_csrf_token_is_refused(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    browser = pages_for(deployed, neighbours, "alice")
    browser.get(f"/votes/{vote_id}")
    refused = browser.post(f"/votes/{vote_id}/ballot", {"choice": "yes", "step": "cast", "idempotency_key": "k" * 36}, csrf=False)
    assert refused.status == 400
    assert browser.post(f"/votes/{vote_id}/receipt", {"check_receipt": "x" * 32}, csrf=False).status == 400
    assert choices(deployed, vote_id) == []


def test_a_member_outside_the_electorate_gets_no_ballot_and_cannot_cast(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    clerk = pages_for(deployed, neighbours, "clerk")  # committee, not a resident
    page = clerk.get(f"/votes/{vote_id}")
    assert page.status == 200
    assert not page.tree.xpath("//fieldset") and "You are not in this vote's electorate" in page.text
    forged = clerk.post(f"/votes/{vote_id}/ballot", {"choice": "yes", "step": "cast", "idempotency_key": "k" * 36})
    assert forged.status == 403 and "You are not in this vote's electorate" in forged.text
    assert choices(deployed, vote_id) == []


@pytest.mark.parametrize("path", ["", "/board", "/board.json", "/turnout"])
def test_another_communitys_vote_and_ids_that_do_not_exist_are_not_found(
        deployed: Engine, neighbours: Community, other_community: Community, path: str) -> None:
    _, theirs = open_vote(deployed, other_community)
    browser = pages_for(deployed, neighbours, "alice")
    for vote_id in (theirs, "99999999999999999999", "x" * 300, "%00", "a%20b"):
        assert browser.get(f"/votes/{vote_id}{path}").status == 404
    browser.get("/votes")
    assert browser.post(f"/votes/{theirs}/ballot", {"choice": "yes", "step": "cast", "idempotency_key": "k" * 36}).status == 404
    assert browser.post(f"/votes/{theirs}/receipt", {"check_receipt": "x" * 32}).status == 404


def test_the_turnout_is_live_counts_only_and_its_json_is_the_apis(deployed: Engine, neighbours: Community, client: Any) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    alice = pages_for(deployed, neighbours, "alice")
    cast(alice, vote_id, {"choice": "yes"})
    bob = pages_for(deployed, neighbours, "bob")
    page = bob.get(f"/votes/{vote_id}")
    assert page.texts("//p[@data-turnout-url]") == ["1 of 4 eligible voters have voted."]
    live = bob.client.get(f"/votes/{vote_id}/turnout")
    api = client.get(f"/api/votes/{vote_id}/turnout", headers={"Authorization": f"Bearer {neighbours.tokens['bob']}"})
    assert live.status_code == 200 and live.get_json() == api.get_json()
    assert "Result" not in page.texts("//h2") and "yes" not in json.dumps(live.get_json())


def test_after_the_close_the_result_in_words_the_board_and_checking_a_receipt(
        deployed: Engine, neighbours: Community, clock: ManualClock, client: Any) -> None:
    instance_id, vote_id = open_vote(deployed, neighbours)
    alice, bob, carol = (pages_for(deployed, neighbours, name) for name in ("alice", "bob", "carol"))
    mine = receipt_of(cast(alice, vote_id, {"choice": "yes"}))
    cast(bob, vote_id, {"choice": "yes"})
    cast(carol, vote_id, {"choice": "no"})

    before = alice.get(f"/votes/{vote_id}")
    alice.post(f"/votes/{vote_id}/receipt", {"check_receipt": mine})
    checked = alice.post(f"/votes/{vote_id}/receipt", {"check_receipt": mine})
    assert checked.status == 200 and "it is your current ballot: it counts" in checked.text
    assert "On the bulletin board it reads" not in checked.text and "Before the close a receipt never shows the choice" in checked.text
    assert alice.get(f"/votes/{vote_id}/board").status == 409
    assert before.status == 200

    close_by_deadline(deployed, clock, instance_id)
    page = alice.get(f"/votes/{vote_id}")
    assert page.status == 200 and not page.tree.xpath("//fieldset")
    assert page.texts("//div[contains(@class, 'result')]/p[@class='lead']") == ["Passed"]
    assert page.texts("//table//tr/th[@scope='row']") == ["Yes", "No", "Abstentions", "All ballots cast"]
    assert page.texts("//table//tbody/tr/td") == ["2", "1", "0", "3"]
    assert any(line.startswith("Outcome: passed") for line in page.texts("//h3[.='How the result was reached']/following-sibling::ul[1]/li"))

    checked = alice.post(f"/votes/{vote_id}/receipt", {"check_receipt": mine})
    assert checked.status == 200 and "On the bulletin board it reads: Yes" in " ".join(checked.texts("//div[@role='status']/p"))
    unknown = alice.post(f"/votes/{vote_id}/receipt", {"check_receipt": "Q" * 32})
    assert unknown.status == 422 and unknown.field_errors()["check_receipt"][0].startswith("No ballot of this vote has this receipt")
    empty = alice.post(f"/votes/{vote_id}/receipt", {"check_receipt": ""})
    assert empty.status == 422 and "check_receipt" in empty.field_errors()
    huge = alice.post(f"/votes/{vote_id}/receipt", {"check_receipt": "\x00" * 100_000})
    assert huge.status == 422

    board = alice.get(f"/votes/{vote_id}/board")
    assert board.status == 200
    assert sorted(board.texts("//tbody/tr/td[2]")) == ["No", "Yes", "Yes"]
    assert "yishi tally --verify" in board.text
    download = alice.client.get(f"/votes/{vote_id}/board.json")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    api = client.get(f"/api/votes/{vote_id}/board", headers={"Authorization": f"Bearer {neighbours.tokens['alice']}"})
    assert json.loads(download.get_data()) == api.get_json()

    late = alice.post(f"/votes/{vote_id}/ballot", {"choice": "no", "step": "cast", "idempotency_key": "k" * 36,
                                                    "receipt": mine}, from_page=f"/votes/{vote_id}")
    assert late.status == 409 and "This vote is closed" in late.text
    assert sorted(choices(deployed, vote_id)) == ["no", "yes", "yes"]


def test_nothing_on_any_page_tells_another_voters_secret_choice(deployed: Engine, neighbours: Community, clock: ManualClock) -> None:
    instance_id, vote_id = open_vote(deployed, neighbours, method="plurality", options=OPTIONS)
    alice = pages_for(deployed, neighbours, "alice")
    cast(alice, vote_id, {"choice": "parking"})
    bob = pages_for(deployed, neighbours, "bob")
    for path in ("/votes", f"/votes/{vote_id}", "/home"):
        text = bob.get(path).text
        assert "Four parking spaces" not in text or path == f"/votes/{vote_id}"  # the option's label is on the ballot
        assert "parking" not in text.replace('value="parking"', "").replace("Four parking spaces", "")
    assert "parking" not in bob.client.get(f"/votes/{vote_id}/turnout").get_data(as_text=True)
    close_by_deadline(deployed, clock, instance_id)
    board = bob.get(f"/votes/{vote_id}/board").text
    assert "alice" not in board


def test_the_pages_speak_chinese(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours, method="schulze", options=OPTIONS)
    browser = pages_for(deployed, neighbours, "alice", "zh_CN")
    page = browser.get(f"/votes/{vote_id}")
    assert page.status == 200 and page.tree.xpath("//html/@lang") == ["zh-CN"]
    assert "你的选票" in page.texts("//h2")
    assert page.texts("//select[@name='rank-park']/option")[:2] == ["不排序", "第1"]
    confirmation = review(browser, vote_id, {"rank-park": "1"})
    assert confirmation.texts("//h1") == ["核对你的选票"]
    done = browser.post(f"/votes/{vote_id}/ballot", {**confirm_fields(confirmation), "step": "cast"}, csrf=False)
    assert done.status == 200 and "你的回执" in done.texts("//h2")
    assert browser.get("/votes").texts("//h1") == ["本社区的表决"]
    bad = review(browser, vote_id, {"rank-park": "1", "rank-bikes": "1", "receipt": receipt_of(done)})
    assert bad.status == 422 and bad.field_errors()["choice"][0].startswith("两个选项")


@pytest.mark.both_backends
def test_two_tabs_sending_one_confirmation_at_the_same_moment_cast_one_ballot(deployed: Engine, neighbours: Community) -> None:
    """A resident's double tap on a slow phone, or two tabs: the same confirmation sent by two threads at once."""
    import threading
    instance_id, vote_id = open_vote(deployed, neighbours)
    browser = pages_for(deployed, neighbours, "alice")
    fields = {**confirm_fields(review(browser, vote_id, {"choice": "yes"})), "step": "cast"}
    cookie = browser.client.get_cookie("yishi_session").value
    form_cookie = browser.client.get_cookie("yishi_form").value
    gate, pages = threading.Barrier(2), []

    def send() -> None:
        tab = Pages(deployed, "en", app=browser.app)
        tab.client.set_cookie("yishi_session", cookie)
        tab.client.set_cookie("yishi_form", form_cookie)
        gate.wait()
        pages.append(tab.post(f"/votes/{vote_id}/ballot", fields, csrf=False))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(page.status for page in pages) == [200, 200], [page.text[:300] for page in pages if page.status != 200]
    assert len({receipt_of(page) for page in pages}) == 1
    assert choices(deployed, vote_id) == ["yes"]
    with deployed.read() as session:
        assert count(session, Participation, vote_id) == 1
        assert [e.type for e in ballot_events(session, instance_id)] == ["ballot_cast"]
