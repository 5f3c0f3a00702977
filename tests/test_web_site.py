"""What every page shares: the landing page, signing in and out with a code, the language switch, CSRF, headers."""

from __future__ import annotations

from typing import Any

import pytest

from engine.bootstrap import Engine
from tests.pages import Pages, pages_for

pytestmark = pytest.mark.pages


@pytest.fixture
def visitor(deployed: Engine) -> Pages:
    return Pages(deployed, "zh_CN")


def test_the_landing_page_says_what_yishi_is_in_chinese_and_links_to_sign_in_and_the_api(visitor: Pages) -> None:
    page = visitor.get("/")
    assert page.status == 200
    assert page.texts("//h1") == ["议事：我们社区的协商平台"]
    assert page.tree.xpath("//html/@lang") == ["zh-CN"]
    assert "/sign-in" in page.tree.xpath("//main//a/@href")
    assert "/api/docs" in page.tree.xpath("//main//a/@href")


def test_pages_carry_a_strict_content_security_policy_and_the_api_does_not_get_the_pages_headers(visitor: Pages, client: Any) -> None:
    headers = visitor.get("/").headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" not in client.get("/api/health").headers


@pytest.mark.both_backends
def test_a_resident_signs_in_with_the_code_from_the_letter_typed_loosely(deployed: Engine, neighbours: Any) -> None:
    browser = Pages(deployed, "zh_CN")
    typed = neighbours.codes["alice"].lower().replace("-", " ")
    browser.get("/sign-in")
    signed = browser.post("/sign-in", {"code": typed})
    assert signed.status == 302 and signed.location == "/home"
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and cookie.startswith("yishi_session=yw_")
    home = browser.get("/home")
    assert home.status == 200 and "已登录：alice" in home.text


def test_a_code_works_once(deployed: Engine, neighbours: Any) -> None:
    assert Pages(deployed).sign_in(neighbours.codes["bob"]).status == 302
    again = Pages(deployed).sign_in(neighbours.codes["bob"])
    assert again.status == 422
    assert again.field_errors() == {"code": ["This code is unknown, already used or expired. Ask your committee for a new one."]}


@pytest.mark.parametrize("typed, error", [
    ("", "Enter the code from your letter"),
    ("X" * 41, "A sign-in code has 10 letters and digits"),
    ("ABCDE-FGHJK", "This code is unknown, already used or expired. Ask your committee for a new one."),
    ("\u0000<script>", "This code is unknown, already used or expired. Ask your committee for a new one."),
])
def test_a_bad_code_comes_back_with_its_error_beside_the_field(visitor: Pages, typed: str, error: str) -> None:
    visitor.locale = "en"
    browser = Pages(visitor.engine, "en")
    browser.get("/sign-in")
    page = browser.post("/sign-in", {"code": typed})
    assert page.status == 422
    assert page.field_errors() == {"code": [error]}
    assert page.tree.xpath("//input[@id='code']/@aria-describedby") == ["code-hint code-error"]


def test_a_form_without_its_csrf_token_is_refused_and_signs_no_one_in(deployed: Engine, neighbours: Any) -> None:
    browser = Pages(deployed, "en")
    page = browser.post("/sign-in", {"code": neighbours.codes["alice"]}, csrf=False)
    assert page.status == 422 and "yishi_session" not in page.headers.get("Set-Cookie", "")
    assert Pages(deployed).sign_in(neighbours.codes["alice"]).status == 302  # the code was not spent


def test_sign_in_attempts_are_limited_per_address(visitor: Pages) -> None:
    visitor.get("/sign-in")
    statuses = [visitor.post("/sign-in", {"code": f"AAAAA-AAAA{n % 10}"}).status for n in range(12)]
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]


def test_signing_out_ends_the_session_on_the_server(deployed: Engine, neighbours: Any) -> None:
    browser = pages_for(deployed, neighbours, "carol")
    cookie = browser.client.get_cookie("yishi_session").value
    browser.get("/home")
    assert browser.post("/sign-out").location == "/"
    stolen = Pages(deployed)
    stolen.client.set_cookie("yishi_session", cookie)
    page = stolen.get("/home")
    assert page.status == 302 and page.location.startswith("/sign-in")


def test_a_visitor_asking_for_home_is_sent_to_sign_in_and_back(deployed: Engine, neighbours: Any) -> None:
    browser = Pages(deployed)
    assert browser.get("/home").location == "/sign-in?next=/home"
    browser.get("/sign-in?next=/home")
    assert browser.post("/sign-in", {"code": neighbours.codes["alice"], "next": "/home"}).location == "/home"


@pytest.mark.parametrize("target", ["//evil.example/home", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_signing_in_never_sends_anyone_to_another_site(deployed: Engine, neighbours: Any, target: str) -> None:
    browser = Pages(deployed)
    browser.get("/sign-in")
    assert browser.post("/sign-in", {"code": neighbours.codes["alice"], "next": target}).location == "/home"


def test_the_language_switch_is_on_every_page_and_remembered(visitor: Pages) -> None:
    page = visitor.get("/sign-in")
    assert page.texts("//form[@class='locale-switch']//button") == ["English"]
    switched = visitor.post("/locale", {"locale": "en", "next": "/sign-in"})
    assert switched.location == "/sign-in"
    assert visitor.get("/sign-in").texts("//h1") == ["Sign in"]
    assert visitor.get("/").tree.xpath("//html/@lang") == ["en"]
    assert visitor.post("/locale", {"locale": "fr", "next": "/"}).location == "/"
    assert visitor.get("/").tree.xpath("//html/@lang") == ["en"]


def test_a_page_that_fails_shows_a_page_not_json(visitor: Pages, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.home.routes as home
    monkeypatch.setattr(home, "page", lambda *a, **k: 1 / 0)
    page = visitor.get("/")
    assert page.status == 500 and "出了点问题" in page.text


def test_home_lists_what_needs_the_resident_with_its_deadline_in_the_community_time(deployed: Engine, neighbours: Any) -> None:
    from tests.builders import open_vote
    open_vote(deployed, neighbours)
    page = pages_for(deployed, neighbours, "alice", "zh_CN").get("/home")
    assert page.status == 200
    assert "表决：请投票" in page.texts("//li[@class='card']/p[@class='card__kind']")
    assert all("年" in text for text in page.texts("//li[@class='card']//time"))
    other = pages_for(deployed, neighbours, "auditor", "zh_CN").get("/home")
    assert "表决：请投票" not in other.texts("//li[@class='card']/p[@class='card__kind']")


def test_the_forms_cookie_is_the_sites_own_and_never_travels_cross_site(visitor: Pages) -> None:
    cookie = visitor.get("/sign-in").headers["Set-Cookie"]
    assert cookie.startswith("yishi_form=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_page_names_its_icon_so_no_browser_asks_for_a_missing_favicon(visitor: Pages) -> None:
    icon = visitor.get("/").tree.xpath("//link[@rel='icon']/@href")
    assert icon and visitor.get(icon[0]).status == 200
