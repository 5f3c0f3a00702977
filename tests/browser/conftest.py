"""Real-browser tests: the Flask app served on 127.0.0.1, driven by Debian's chromium through Playwright.

Writing a browser test
----------------------
::

    from tests.browser.helpers import check_accessibility, screenshot, sign_in
    from tests.builders import open_vote

    def test_alice_sees_her_vote(page, live_server, neighbours):
        open_vote(live_server.engine, neighbours)           # set the scene through the engine, as in any test
        sign_in(page, neighbours.codes["alice"])            # types the code into /sign-in, lands on /home
        assert page.locator("li.card").count() == 1
        check_accessibility(page)                           # axe-core: no serious or critical WCAG 2.1 AA violation
        screenshot(page, "home-with-a-vote")                # var/screenshots/home-with-a-vote.png

``page`` is a fresh tab in a fresh browser context (no cookies), on a phone's screen, in Chinese, whose relative
URLs go to the live server (``page.goto("/home")``). The server and the test share one ``Engine`` (the
``deployed`` fixture of ``tests/fixtures.py``, with its ``clock``, a ``ManualClock``), so a test sets up its
scenario with ``tests/builders.py`` and engine commands, moves ``clock`` on, and reloads the page.

Fixtures (function scope unless said otherwise)
    ``live_server``  the app on ``http://127.0.0.1:<port>``: ``.url``, ``.engine``, ``.app``, ``.clock``.
    ``page``         a Playwright ``Page`` of ``context``.
    ``context``      a Playwright ``BrowserContext`` with ``base_url`` set to the live server.
    ``watch``        a ``helpers.Watch``: console errors, uncaught script errors, failed requests and any request not
                     to 127.0.0.1 (aborted: nothing may come from a CDN) fail the test after its body has run;
                     ``watch.allow(regex)`` forgives what the test provokes on purpose.
    ``browser``      session scope: one chromium per xdist worker.
                     ``open_context(browser, live_server, locale, screen, watch)`` opens another context as ``context``
                     does (a test with several people, each in a browser of their own, closes each).
    ``locale``       ``"zh_CN"`` (the site's default) or ``"en"``: the site's language (``YISHI_LOCALE``) and the
                     browser's ``Accept-Language``. ``@pytest.mark.parametrize("locale", ["zh_CN", "en"])``.
    ``screen``       ``"phone"`` (390×844 CSS pixels, touch, device scale 2) or ``"desktop"`` (1280×900):
                     ``@pytest.mark.parametrize("screen", ["desktop"])``.
    ``database_url`` SQLite only here (browser tests are about the pages); a test that must run on PostgreSQL too
                     says ``@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)``.

And every fixture of ``tests/fixtures.py``: ``deployed``, ``clock``, ``neighbours`` (members with sign-in codes) ….
Helpers (``tests/browser/helpers.py``): ``sign_in(page, code)``, ``sign_out(page)``, ``check_accessibility(page)``,
``screenshot(page, name)`` (``YISHI_README_SCREENSHOTS=1`` also writes ``docs/screenshots/<name>.png``),
``path_of(page)``.

Keep browser tests few and whole (one journey per test, several pages each): each costs a second or more; the
browser itself is shared by every test of a worker. ``scripts/ensure-chromium`` installs chromium and the CJK font.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from api import create_app
from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from tests.browser.helpers import Watch, is_local
from tests.fixtures import fresh_database
from web.account.routes import reset_attempts

SCREENS: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1},
}
ACCEPT_LANGUAGE = {"zh_CN": "zh-CN", "en": "en-US"}
NOT_LOOPBACK = re.compile(r"^(?!(data|blob|about):|https?://127\.0\.0\.1[:/])")
"""Every URL a page may not load: anything not on this machine (Playwright matches it in the browser's driver, so
local requests never make a round trip through Python)."""
TIMEOUT_MS = 15_000


# --- the database: SQLite unless a test asks for PostgreSQL ---------------------------------------------------------

@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database, as ``tests/fixtures.py`` makes it, on SQLite only unless parametrized indirectly."""
    yield from fresh_database(request, tmp_path, request.param)


# --- the server ---------------------------------------------------------------------------------------------------

@dataclass
class LiveServer:
    url: str
    engine: Engine
    app: Flask
    clock: ManualClock


@pytest.fixture
def locale() -> str:
    return "zh_CN"


@pytest.fixture
def screen() -> str:
    return "phone"


@pytest.fixture
def live_server(deployed: Engine, clock: ManualClock, locale: str) -> Iterator[LiveServer]:
    """The app over the test's engine, served by werkzeug in a thread (one thread per request) on a free port."""
    app = create_app({"TESTING": True, "YISHI_LOCALE": locale}, engine=deployed)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    reset_attempts()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", deployed, app, clock)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- the browser --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's chromium (never Playwright's own download), one per xdist worker."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run scripts/ensure-chromium")
    launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"])
    yield launched
    launched.close()


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer, locale: str, screen: str, watch: Watch) -> Iterator[BrowserContext]:
    opened = open_context(browser, live_server, locale, screen, watch)
    yield opened
    opened.close()


def open_context(browser: Browser, live_server: LiveServer, locale: str, screen: str, watch: Watch) -> BrowserContext:
    """A browser context as the ``context`` fixture makes it (its screen, language, time zone, the ``watch`` on it),
    for a test that needs several people's browsers at once; the test closes it."""
    opened = browser.new_context(base_url=live_server.url, locale=ACCEPT_LANGUAGE[locale], timezone_id="Asia/Shanghai",
                                 **SCREENS[screen])
    opened.set_default_timeout(TIMEOUT_MS)

    def leaving(route: Any) -> None:
        watch.note(f"blocked a request leaving this machine: {route.request.url}")
        route.abort("blockedbyclient")

    def failed(request: Request) -> None:
        # the blocked ones are noted by ``leaving``; a load cut short by the page going elsewhere is no failure
        if is_local(request.url) and request.failure != "net::ERR_ABORTED":
            watch.note(f"request failed: {request.method} {request.url}: {request.failure}")

    opened.route(NOT_LOOPBACK, leaving)
    opened.on("requestfailed", failed)
    opened.on("console", lambda message: message.type == "error" and watch.note(
        f"console error on {message.page.url if message.page else '?'}: {message.text}"))
    opened.on("weberror", lambda error: watch.note(f"uncaught script error: {error.error}"))
    return opened


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After a browser test's body: fail it (as a failure, not a teardown error) if its browser saw problems."""
    result = yield
    watched = getattr(item, "funcargs", {}).get("watch")
    if isinstance(watched, Watch) and "context" in getattr(item, "fixturenames", ()):
        watched.check()
    return result
