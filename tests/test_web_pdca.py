"""The service-quality pages: the series and my requests, the series report (charts and trend tables), a cycle with its
rating form, filing a request or complaint, and answering it inline; each refusal shown where it happened."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.identity.commands import IssueSignInCode
from engine.kernel.clock import ManualClock
from engine.pdca.commands import AnswerServiceRequest, FileServiceRequest
from engine.pdca.models import ServiceRating, ServiceRequest
from tests.builders import Series, pdca_staff
from tests.fixtures import bearer
from tests.pages import Pages, pages_for

pytestmark = pytest.mark.pages


@pytest.fixture
def series(deployed: Engine, neighbours: Any, clock: ManualClock) -> Series:
    """A repairs series in its first cycle's service period, which served alice, bob, carol and the chair."""
    made = Series(deployed, neighbours, pdca_staff(deployed, neighbours), clock).define()
    made.serve()
    return made


def ratings(engine: Engine, cycle_id: int) -> dict[int, tuple[int, str | None]]:
    with engine.read() as session:
        return {r.resident_id: (r.score, r.comment) for r in session.scalars(select(ServiceRating).where(ServiceRating.cycle_id == cycle_id))}


def requests(engine: Engine, cycle_id: int) -> list[ServiceRequest]:
    with engine.read() as session:
        found = list(session.scalars(select(ServiceRequest).where(ServiceRequest.cycle_id == cycle_id).order_by(ServiceRequest.id)))
        session.expunge_all()
        return found


def api(deployed: Engine) -> Any:
    from api import create_app
    return create_app({"TESTING": True}, engine=deployed).test_client()


# ---- reading -----------------------------------------------------------------------------------------

def test_the_services_page_lists_each_series_with_its_cycle_and_phase_in_chinese(deployed: Engine, neighbours: Any, series: Series) -> None:
    page = pages_for(deployed, neighbours, "alice", "zh_CN").get("/services")
    assert page.status == 200
    assert page.texts("//h1") == ["服务质量"]
    assert page.texts("//main//h3") == ["Repairs"]
    assert "第 1 周期" in page.texts("//main//dd")
    assert page.texts("//dd[@class='phase']") == ["服务期：正在提供服务，受理诉求和投诉"]
    assert f"/services/cycles/{series.cycle_id}" in page.tree.xpath("//main//a/@href")
    assert "服务质量" in page.texts("//nav[@class='site-nav']//a")


def test_a_cycle_page_in_english_says_the_phase_and_offers_a_resident_the_request_form(deployed: Engine, neighbours: Any, series: Series) -> None:
    page = pages_for(deployed, neighbours, "alice").get(f"/services/cycles/{series.cycle_id}")
    assert page.status == 200
    assert page.texts("//h1") == ["Repairs · Cycle 1"]
    assert page.texts("//fieldset[@id='kind']/legend") == ["What do you want to send?"]
    assert page.tree.xpath("//form[contains(@action, '/rating')]") == []
    assert "Residents who receive the service rate it when the service period ends." in page.texts("//section[@id='rate']/p")


@pytest.mark.parametrize("url", ["/services/series/{other_series}", "/services/cycles/{other_cycle}",
                                 "/services/series/{other_series}/indicators/satisfaction/chart.png",
                                 "/services/series/99999999999999999999", "/services/cycles/2147483648",
                                 "/services/series/{series}/indicators/nope/chart.png"])
def test_another_communitys_series_or_cycle_and_ids_that_cannot_be_are_not_found(
        deployed: Engine, neighbours: Any, other_community: Any, series: Series, clock: ManualClock, url: str) -> None:
    theirs = Series(deployed, other_community, pdca_staff(deployed, other_community), clock).define()
    with deployed.read() as session:
        from engine.pdca.queries import series_of
        other_series = series_of(session, theirs.instance_id).id
        ours = series_of(session, series.instance_id).id
    page = pages_for(deployed, neighbours, "alice").get(url.format(other_series=other_series, other_cycle=theirs.cycle_id, series=ours))
    assert page.status == 404
    assert page.texts("//h1") == ["Page not found"]


def test_a_visitor_is_sent_to_sign_in(deployed: Engine, neighbours: Any, series: Series) -> None:
    page = Pages(deployed).get(f"/services/cycles/{series.cycle_id}")
    assert page.status == 302 and page.location == f"/sign-in?next=/services/cycles/{series.cycle_id}"


# ---- rating --------------------------------------------------------------------------------------------

@pytest.mark.both_backends
def test_a_served_resident_rates_the_service_through_the_page_while_the_window_is_open(deployed: Engine, neighbours: Any, series: Series) -> None:
    series.close_period()
    browser = pages_for(deployed, neighbours, "alice")
    page = browser.get(f"/services/cycles/{series.cycle_id}")
    assert page.texts("//fieldset[@id='score']/legend") == ["How good was the service?"]
    assert page.texts("//fieldset[@id='score']//label") == [
        "Very good (5/5)", "Good (4/5)", "Fair (3/5)", "Poor (2/5)", "Very poor (1/5)"]
    sent = browser.post(f"/services/cycles/{series.cycle_id}/rating", {"score": "4", "comment": "  Quick and tidy. "})
    assert sent.status == 302 and sent.location == f"/services/cycles/{series.cycle_id}#rate"
    assert ratings(deployed, series.cycle_id) == {neighbours["alice"].member_id: (4, "Quick and tidy.")}
    again = browser.get(f"/services/cycles/{series.cycle_id}")
    assert "You rated this cycle's service: Good (4 of 5)." in again.texts("//div[@class='panel-ok']/p")
    assert again.tree.xpath("//form[contains(@action, '/rating')]") == []
    twice = browser.post(f"/services/cycles/{series.cycle_id}/rating", {"score": "5"})
    assert twice.status == 409 and "you have already rated this cycle's service" in twice.texts("//div[@class='error-summary']//li")
    assert ratings(deployed, series.cycle_id) == {neighbours["alice"].member_id: (4, "Quick and tidy.")}


def test_rating_outside_the_window_is_refused_with_a_clear_message_in_chinese(deployed: Engine, neighbours: Any, series: Series) -> None:
    browser = pages_for(deployed, neighbours, "alice", "zh_CN")
    browser.get(f"/services/cycles/{series.cycle_id}")
    page = browser.post(f"/services/cycles/{series.cycle_id}/rating", {"score": "5"})
    assert page.status == 409
    assert page.texts("//div[@class='error-summary']//li") == ["只有在评价期内才能提交评价"]
    assert ratings(deployed, series.cycle_id) == {}


def test_a_resident_not_served_in_the_cycle_gets_no_form_and_is_refused(deployed: Engine, neighbours: Any, clock: ManualClock) -> None:
    made = Series(deployed, neighbours, pdca_staff(deployed, neighbours), clock).define()
    made.serve(residents=("alice",))
    made.close_period()
    browser = pages_for(deployed, neighbours, "bob")
    page = browser.get(f"/services/cycles/{made.cycle_id}")
    assert page.tree.xpath("//form[contains(@action, '/rating')]") == []
    refused = browser.post(f"/services/cycles/{made.cycle_id}/rating", {"score": "3"})
    assert refused.status == 403
    assert refused.texts("//div[@class='error-summary']//li") == ["only residents who received the service in this cycle may rate it"]


@pytest.mark.parametrize("sent, errors", [
    ({"score": "9"}, {"score": ["a whole number from 1 to 5"]}),
    ({"score": "good"}, {"score": ["a whole number from 1 to 5"]}),
    ({}, {"score": ["Choose how good the service was"]}),
    ({"score": "3", "comment": "x" * 2001}, {"comment": ["at most 2000 characters"]}),
    ({"score": "3", "comment": "x" * 100_000}, {"comment": ["Your text is too long"]}),
    ({"score": "3", "comment": "nul \x00 here"}, {"comment": ["Your text contains a character that cannot be stored. Remove it and send it again."]}),
])
def test_a_bad_rating_comes_back_with_the_error_beside_its_field(deployed: Engine, neighbours: Any, series: Series,
                                                                  sent: dict[str, str], errors: dict[str, list[str]]) -> None:
    series.close_period()
    browser = pages_for(deployed, neighbours, "alice")
    browser.get(f"/services/cycles/{series.cycle_id}")
    page = browser.post(f"/services/cycles/{series.cycle_id}/rating", sent)
    assert page.status == 422
    assert page.field_errors() == errors
    assert page.tree.xpath("//div[@class='error-summary']//a/@href") == [f"#{name}" for name in errors]
    assert ratings(deployed, series.cycle_id) == {}


def test_a_rating_without_its_csrf_token_is_refused(deployed: Engine, neighbours: Any, series: Series) -> None:
    series.close_period()
    page = pages_for(deployed, neighbours, "alice").post(f"/services/cycles/{series.cycle_id}/rating", {"score": "5"}, csrf=False)
    assert page.status == 400 and page.texts("//h1") == ["This form has expired"]
    assert ratings(deployed, series.cycle_id) == {}


# ---- requests and answers --------------------------------------------------------------------------

def test_a_request_is_filed_answered_inline_and_read_by_its_author_only(deployed: Engine, neighbours: Any, series: Series) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    alice.get(f"/services/cycles/{series.cycle_id}")
    filed = alice.post(f"/services/cycles/{series.cycle_id}/requests", {"kind": "complaint", "text": "The plumber came two days late."})
    [made] = requests(deployed, series.cycle_id)
    assert filed.status == 302 and filed.location == f"/services/cycles/{series.cycle_id}#request-{made.id}"
    assert (made.kind, made.text, made.filed_by) == ("complaint", "The plumber came two days late.", neighbours["alice"].member_id)
    waiting = alice.get("/services")
    assert waiting.texts(f"//li[@id='request-{made.id}']//strong") == ["Waiting for an answer"]

    bob = pages_for(deployed, neighbours, "bob")
    assert "The plumber came two days late." not in bob.get(f"/services/cycles/{series.cycle_id}").text
    assert "The plumber came two days late." not in bob.get("/services").text
    assert bob.post(f"/services/requests/{made.id}/answer", {"answer": "Not mine to answer"}).status == 404

    chair = pages_for(deployed, neighbours, "clerk")
    page = chair.get(f"/services/cycles/{series.cycle_id}")
    assert page.texts(f"//li[@id='request-{made.id}']//label") == ["Your answer"]
    empty = chair.post(f"/services/requests/{made.id}/answer", {"answer": ""})
    assert empty.status == 422 and empty.field_errors() == {f"request-{made.id}-answer": ["Write your answer"]}
    answered = chair.post(f"/services/requests/{made.id}/answer", {"answer": "Sorry: we were short of staff."})
    assert answered.status == 302 and answered.location == f"/services/cycles/{series.cycle_id}#request-{made.id}"
    assert requests(deployed, series.cycle_id)[0].answer == "Sorry: we were short of staff."
    again = chair.post(f"/services/requests/{made.id}/answer", {"answer": "Again"}, from_page=f"/services/cycles/{series.cycle_id}")
    assert again.status == 409 and again.texts("//div[@class='error-summary']//li") == ["this request has already been answered"]

    mine = alice.get("/services")
    assert mine.texts(f"//li[@id='request-{made.id}']//blockquote") == ["Sorry: we were short of staff."]
    assert mine.texts(f"//li[@id='request-{made.id}']//strong") == ["Answered"]
    assert "Sorry: we were short of staff." in alice.get(f"/services/cycles/{series.cycle_id}").texts("//blockquote")
    assert "Sorry: we were short of staff." not in bob.get(f"/services/cycles/{series.cycle_id}").text


def test_the_series_provider_answers_a_request_on_the_page_and_a_resident_may_not(deployed: Engine, neighbours: Any, series: Series) -> None:
    made = deployed.execute(FileServiceRequest(series.cycle_id, "request", "Please fix the lift light."), neighbours["alice"])
    code = deployed.execute(IssueSignInCode(series.provider.member_id), neighbours["admin"])
    provider = Pages(deployed, "zh_CN")
    assert provider.sign_in(code).status == 302
    page = provider.get(f"/services/cycles/{series.cycle_id}")
    assert page.texts(f"//li[@id='request-{made.id}']//button") == ["发送答复"]
    assert provider.post(f"/services/requests/{made.id}/answer", {"answer": "明天上午修。"}).status == 302
    assert requests(deployed, series.cycle_id)[0].answer == "明天上午修。"
    chair_page = pages_for(deployed, neighbours, "alice").get(f"/services/cycles/{series.cycle_id}")
    assert chair_page.tree.xpath("//form[contains(@action, '/answer')]") == []


@pytest.mark.parametrize("sent, errors", [
    ({"kind": "complaint", "text": "   "}, {"text": ["1 to 2000 characters"]}),
    ({"kind": "praise", "text": "Well done"}, {"kind": ["one of request, complaint"]}),
    ({"text": "Well done"}, {"kind": ["Choose a request or a complaint"]}),
    ({"kind": "request", "text": "y" * 100_000}, {"text": ["Your text is too long"]}),
    ({"kind": "request", "text": "\x00"}, {"text": ["Your text contains a character that cannot be stored. Remove it and send it again."]}),
])
def test_a_bad_request_comes_back_field_by_field(deployed: Engine, neighbours: Any, series: Series, sent: dict[str, str],
                                                 errors: dict[str, list[str]]) -> None:
    browser = pages_for(deployed, neighbours, "alice")
    browser.get(f"/services/cycles/{series.cycle_id}")
    page = browser.post(f"/services/cycles/{series.cycle_id}/requests", sent)
    assert page.status == 422 and page.field_errors() == errors
    assert requests(deployed, series.cycle_id) == []


def test_a_request_after_the_service_period_is_refused_and_one_without_csrf_too(deployed: Engine, neighbours: Any, series: Series) -> None:
    browser = pages_for(deployed, neighbours, "alice")
    assert browser.post(f"/services/cycles/{series.cycle_id}/requests", {"kind": "request", "text": "Hi"}, csrf=False).status == 400
    series.close_period()
    page = browser.post(f"/services/cycles/{series.cycle_id}/requests", {"kind": "request", "text": "Hi"},
                        from_page=f"/services/cycles/{series.cycle_id}")
    assert page.status == 409
    assert page.texts("//div[@class='error-summary']//li") == ["requests are accepted only while the cycle's service period is open"]
    assert requests(deployed, series.cycle_id) == []


def test_my_requests_are_in_the_api_too(deployed: Engine, neighbours: Any, series: Series) -> None:
    made = deployed.execute(FileServiceRequest(series.cycle_id, "complaint", "Noisy at 6am."), neighbours["alice"])
    deployed.execute(AnswerServiceRequest(made.id, "We start at 8 now."), neighbours["chair"])
    client = api(deployed)
    mine = client.get("/api/pdca/requests", headers=bearer(neighbours.tokens["alice"])).get_json()
    assert [(r["id"], r["answer"]) for r in mine["items"]] == [(made.id, "We start at 8 now.")]
    assert client.get("/api/pdca/requests", headers=bearer(neighbours.tokens["bob"])).get_json()["items"] == []


# ---- the series report ---------------------------------------------------------------------------

def test_the_series_report_shows_each_chart_with_its_alt_text_and_the_apis_numbers_in_a_table(
        deployed: Engine, neighbours: Any, series: Series) -> None:
    series.serve(hours=(10, 30, 20))
    series.rate({"alice": 5, "bob": 2, "carol": 4})
    series.act()
    series.serve(hours=(5, 8))
    series.rate({"alice": 5, "bob": 4, "carol": 4})
    with deployed.read() as session:
        from engine.pdca.queries import series_of
        series_id = series_of(session, series.instance_id).id
    client = api(deployed)
    report = client.get(f"/api/pdca/series/{series_id}/report", headers=bearer(neighbours.tokens["alice"])).get_json()
    page = pages_for(deployed, neighbours, "alice").get(f"/services/series/{series_id}")
    assert page.status == 200 and page.texts("//h1") == ["Repairs"]
    for indicator in report["indicators"]:
        rows = page.tree.xpath(f"//table[@data-indicator='{indicator['key']}']/tbody/tr")
        shown = [(int(row.xpath("string(th)")), float(row.xpath("string(td[@class='target'])")),
                  None if row.xpath("td[@class='value']/span") else float(row.xpath("string(td[@class='value'])"))) for row in rows]
        assert shown == [(c["cycle"], c["target"], c["value"]) for c in indicator["cycles"]]
        assert any(value is not None for _cycle, _target, value in shown)
        [alt] = page.tree.xpath(f"//section[@aria-labelledby='indicator-{indicator['key']}']//img/@alt")
        assert indicator["name"] in alt and "Trend:" in alt
    [alt] = page.tree.xpath("//section[@aria-labelledby='indicator-satisfaction']//img/@alt")
    assert alt == ("Chart of Resident satisfaction per cycle against its target (at least 85 %). Trend: improving. "
                   "Cycle 2, the latest checked: 100 %, met. Met in 1 cycles, missed in 1.")
    assert page.texts("//table[@class='actions-table']/tbody/tr/td[5]") == ["Verified and closed · effective"] * len(
        [a for a in report["indicators"] if a["missed"]])
    src = page.tree.xpath("//section[@aria-labelledby='indicator-satisfaction']//img/@src")[0]
    png = Pages(deployed).client  # a visitor gets no chart
    assert png.get(src).status_code == 302
    browser = pages_for(deployed, neighbours, "bob")
    chart = browser.client.get(src)
    assert chart.status_code == 200 and chart.mimetype == "image/png" and chart.data.startswith(b"\x89PNG")
    from_api = client.get(f"/api/pdca/series/{series_id}/indicators/satisfaction/chart.png", headers=bearer(neighbours.tokens["bob"]))
    assert chart.data == from_api.data


def test_the_series_report_in_chinese_names_the_trend_and_says_when_nothing_is_checked(deployed: Engine, neighbours: Any, series: Series) -> None:
    with deployed.read() as session:
        from engine.pdca.queries import series_of
        series_id = series_of(session, series.instance_id).id
    page = pages_for(deployed, neighbours, "carol", "zh_CN").get(f"/services/series/{series_id}")
    assert page.status == 200
    assert page.texts("//strong[@class='trend']") == ["有数据的周期还不够"] * 2
    assert page.texts("//table[@data-indicator='satisfaction']//td[@class='status']") == ["尚未核查"]
    assert all("尚无周期经过核查" in alt for alt in page.tree.xpath("//img/@alt"))


# ---- links from home and notifications -----------------------------------------------------------

def test_home_links_a_rating_to_the_cycle_page(deployed: Engine, neighbours: Any, series: Series) -> None:
    series.close_period()
    page = pages_for(deployed, neighbours, "alice").get("/home")
    assert f"/services/cycles/{series.cycle_id}#rate" in page.tree.xpath("//li[@class='card']//a/@href")
    assert "Service quality: rate a service" in page.texts("//p[@class='card__kind']")
