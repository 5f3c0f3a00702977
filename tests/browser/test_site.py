"""The site every page shares, in a real browser on a phone: the landing page, signing in with the letter's code as
a person types it, the member's agenda, signing out, the language switch; axe on every page; and the API's
documentation rendering with no network at all."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in, sign_out
from tests.builders import open_vote

WORDS = {
    "zh_CN": {"lang": "zh-CN", "landing": "议事：我们社区的协商平台", "sign_in": "登录", "vote": "表决：请投票",
              "unknown_code": "此登录码无效、已使用或已过期。请向居委会申请新的登录码。"},
    "en": {"lang": "en", "landing": "Yishi: deliberation for our community", "sign_in": "Sign in", "vote": "Vote: cast your ballot",
           "unknown_code": "This code is unknown, already used or expired. Ask your committee for a new one."},
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_a_resident_signs_in_with_the_code_from_the_letter_sees_the_vote_waiting_and_signs_out(
        page: Page, live_server: LiveServer, neighbours: Any, watch: Watch, locale: str) -> None:
    words = WORDS[locale]
    open_vote(live_server.engine, neighbours)

    page.goto("/")
    expect(page.locator("h1")).to_have_text(words["landing"])
    expect(page.locator("html")).to_have_attribute("lang", words["lang"])
    check_accessibility(page)
    screenshot(page, f"landing-{locale}")

    page.locator("main a.button").click()  # "Sign in with your code"
    page.wait_for_url("**/sign-in")
    expect(page.locator("h1")).to_have_text(words["sign_in"])
    check_accessibility(page)
    screenshot(page, f"sign-in-{locale}")

    watch.allow(r"status of 422")  # the refused code's page is a 422, on purpose
    page.locator("input#code").press_sequentially("ABCDE-FGHJK")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#code-error")).to_contain_text(words["unknown_code"])
    expect(page.locator("input#code")).to_have_attribute("aria-describedby", "code-hint code-error")
    check_accessibility(page)
    screenshot(page, f"sign-in-refused-{locale}")

    typed_loosely = neighbours.codes["alice"].lower().replace("-", " ")
    sign_in(page, typed_loosely)
    cards = page.locator("li.card")
    expect(cards).to_have_count(1)
    expect(cards.locator(".card__kind")).to_have_text(words["vote"])
    expect(cards.locator("h2")).to_have_text("Stairwell colour")
    expect(cards.locator("time")).to_have_attribute("datetime", "2026-03-09T10:00:00+00:00")
    check_accessibility(page)
    screenshot(page, f"home-{locale}")

    sign_out(page)
    assert path_of(page) == "/"
    page.goto("/home")
    assert path_of(page) == "/sign-in"  # the session ended: home sends the visitor to sign in


def test_the_language_switch_changes_every_page_and_is_remembered(page: Page, live_server: LiveServer) -> None:
    page.goto("/sign-in")
    expect(page.locator("h1")).to_have_text("登录")
    with page.expect_navigation():
        page.locator("form.locale-switch button[value=en]").click()
    assert path_of(page) == "/sign-in"
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Yishi: deliberation for our community")
    switch_back = page.locator("form.locale-switch button[value=zh_CN]")
    expect(switch_back).to_have_text("中文")
    expect(switch_back).to_have_attribute("lang", "zh-CN")
    check_accessibility(page)
    with page.expect_navigation():
        switch_back.click()
    expect(page.locator("h1")).to_have_text("议事：我们社区的协商平台")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_signing_in_and_out_works_on_postgresql_too(page: Page, live_server: LiveServer, neighbours: Any) -> None:
    sign_in(page, neighbours.codes["bob"])
    expect(page.locator(".signed-in")).to_contain_text("bob")
    sign_out(page)
    assert path_of(page) == "/"


@pytest.mark.parametrize("screen", ["desktop"])
def test_the_api_documentation_renders_with_no_network(page: Page, live_server: LiveServer) -> None:
    """Every request not to 127.0.0.1 is aborted (and would fail the test): Swagger UI, vendored, still lists the
    operations read from /api/openapi.json."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/docs")
    operation = page.locator(".opblock-summary-path", has_text="/api/instances").first
    expect(operation).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 50
    assert any(url.endswith("/api/openapi.json") for url in requested)
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requested), requested
    screenshot(page, "api-docs", full_page=False)


def test_the_letters_qr_code_fills_the_code_in_without_sending_it_to_the_server(
        page: Page, live_server: LiveServer, neighbours: Any) -> None:
    from engine.identity.letters import sign_in_url
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    code = neighbours.codes["alice"]
    page.goto(sign_in_url(live_server.url, code.lower()))
    expect(page.locator("input#code")).to_have_value(code.upper())
    assert page.evaluate("window.location.hash") == ""
    assert not [url for url in sent if code.lower() in url.lower() or code.replace("-", "").lower() in url.lower()]
    page.get_by_role("button", name="登录").click()
    assert path_of(page) == "/home"
