"""The README's pictures are the browser tests' screenshots: each one it shows is in docs/screenshots/ and is taken by a
browser test (``YISHI_README_SCREENSHOTS=1`` writes them again), so none is drawn by hand or left behind."""

from __future__ import annotations

import re
from pathlib import Path

from tests.browser.helpers import README_SCREENSHOTS, ROOT, readme_names


def test_every_screenshot_the_readme_shows_is_there_and_taken_by_a_browser_test() -> None:
    names = readme_names()
    assert names, "the README shows the pages"
    taken = {match for path in (ROOT / "tests" / "browser").glob("test_*.py")
             for match in re.findall(r"""screenshot\([^,]+,\s*f?["']([\w.-]+)["']""", path.read_text(encoding="utf-8"))}
    assert names <= taken, f"no browser test takes {sorted(names - taken)}"
    for name in names:
        picture = README_SCREENSHOTS / f"{name}.png"
        assert picture.read_bytes().startswith(b"\x89PNG"), picture


def test_no_screenshot_is_kept_that_the_readme_does_not_show() -> None:
    kept = {path.stem for path in Path(README_SCREENSHOTS).glob("*.png")}
    assert kept <= readme_names()
