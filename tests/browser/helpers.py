"""What a browser test does on a page: sign in like a person, check accessibility with axe, take screenshots.

Plain functions over Playwright's sync ``Page``; the fixtures that give a test its page (a live server, Debian's
chromium, a fresh context per test) are in ``tests/browser/conftest.py``, whose docstring shows how to write a test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page

from web.account.routes import reset_attempts

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"
"""Every screenshot a run takes (an artefact; /var/ is not committed)."""
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
"""With ``YISHI_README_SCREENSHOTS=1``, the screenshots the README shows are written here again (the page
from its top: a phone's screen high, or two of a desktop's), so that the README's pictures are the pages as the tests last saw them."""


def readme_names() -> set[str]:
    """The screenshots the README shows (``docs/screenshots/<name>.png``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"docs/screenshots/([\w.-]+)\.png", text))
AXE_SCRIPT = "/static/vendor/axe-core/axe.min.js"
"""axe-core, vendored by ``scripts/vendor-assets`` and served by the site like any script (the CSP allows it)."""
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")
LOOPBACK = ("127.0.0.1",)


@dataclass
class Watch:
    """What went wrong in a test's browser context: console errors, uncaught script errors, failed requests and
    requests that tried to leave this machine (all aborted). The test fails if anything is left here after it ran
    (``tests/browser/conftest.py`` checks it); ``allow`` forgives what a test provokes on purpose."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if not any(pattern.search(problem) for pattern in self.allowed):
            self.problems.append(problem)

    def allow(self, pattern: str) -> None:
        """Forgive the problems matching ``pattern`` (a regular expression), e.g. the console's error for a 404
        page the test asks for on purpose: ``watch.allow(r"status of 404")``."""
        compiled = re.compile(pattern)
        self.allowed.append(compiled)
        self.problems[:] = [problem for problem in self.problems if not compiled.search(problem)]

    def check(self) -> None:
        if self.problems:
            raise AssertionError("the browser saw problems:\n  " + "\n  ".join(self.problems))


def sign_in(page: Page, code: str, *, expect: str | None = "/home") -> None:
    """Sign in as a person does: open /sign-in, type the code from the letter key by key, press the button.

    ``expect`` is the path the browser must land on (None: do not check, e.g. for a wrong code)."""
    reset_attempts()  # every test signs in from 127.0.0.1; the per-address limit is not what these tests test
    page.goto("/sign-in")
    field_ = page.locator("input#code")
    field_.click()
    field_.press_sequentially(code)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    if expect is not None:
        assert path_of(page) == expect, f"signing in landed on {page.url}, not {expect}"


def sign_out(page: Page) -> None:
    """Press the header's sign-out button."""
    with page.expect_navigation():
        page.locator("header form[action='/sign-out'] button").click()


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def check_accessibility(page: Page, *, tags: Iterable[str] = WCAG_TAGS, impacts: Iterable[str] = BLOCKING_IMPACTS,
                        exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now (WCAG 2.1 A and AA rules); fail on any serious or critical violation.

    Returns every violation (the minor and moderate ones too) so a test may look at them. ``exclude`` lists CSS
    selectors axe skips (third-party widgets)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(url=AXE_SCRIPT)
    violations: list[dict[str, Any]] = page.evaluate(
        """async ([tags, exclude]) => {
            const context = exclude.length ? {exclude: exclude.map(selector => [selector])} : document;
            const result = await axe.run(context, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(node => node.target.join(" ")), summary: v.nodes.map(node => node.failureSummary)}));
        }""",
        [list(tags), list(exclude)],
    )
    blocking = [v for v in violations if v["impact"] in tuple(impacts)]
    if blocking:
        lines = [f"{v['id']} ({v['impact']}): {v['help']}\n      on " + "\n      on ".join(v["targets"][:8])
                 + (f"\n      {v['summary'][0]}" if v["summary"] else "") for v in blocking]
        raise AssertionError(f"axe found {len(blocking)} serious or critical accessibility violations on {page.url}:\n    "
                             + "\n    ".join(lines))
    return violations


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save the whole page (or only what the screen shows: ``full_page=False``) as ``var/screenshots/<name>.png`` (and,
    when ``YISHI_README_SCREENSHOTS=1`` and the README shows it, the page's top as ``docs/screenshots/<name>.png``);
    the path of the artefact."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"a screenshot's name is a file name: {name!r}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    if os.environ.get("YISHI_README_SCREENSHOTS") == "1" and name in readme_names():
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size or {"width": 1280, "height": 900}
        height = size["height"] * (1 if size["width"] < 600 else 2)
        page.screenshot(path=str(README_SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled", caret="hide",
                        clip={"x": 0, "y": 0, "width": size["width"], "height": height})
    return path


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOOPBACK
