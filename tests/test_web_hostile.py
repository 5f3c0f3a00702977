"""Every page, asked for with hostile values in its path and query, answers with a page of its own and never a 500:
the attacker's first sweep (ids that do not exist, are huge, hold NUL or markup; another community's; a visitor; a
resident on the committee's pages), run over every route the site registers, so a new page is swept too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from engine.bootstrap import Engine
from tests.builders import open_consultation, open_vote
from tests.pages import Pages, pages_for

pytestmark = pytest.mark.pages

HOSTILE = ["0", "-1", "99999999999999999999999", "%00", "%3Cscript%3E", "a" * 300, "..%2F..%2Fetc%2Fpasswd", "1.5", "%EF%BC%91"]
QUERIES = ["", "?page=99999999999999999999", "?as_of=%00", "?from=-5&to=abc", "?q=%00%00", "?next=//evil.example"]


def page_routes(app: Flask) -> list[tuple[str, list[str]]]:
    """Every GET route of the pages (``site.*``, static files aside), with its path arguments."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("site.") and rule.endpoint != "site.static" and "GET" in (rule.methods or ()):
            found.append((rule.rule, sorted(rule.arguments)))
    return sorted(found)


def fill(rule: str, value: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", value, rule)


@pytest.mark.parametrize("who", ["resident", "committee", "admin", "visitor"])
def test_no_page_answers_a_hostile_path_or_query_with_a_500(deployed: Engine, neighbours: Any, other_community: Any, who: str) -> None:
    open_vote(deployed, other_community)
    open_consultation(deployed, other_community)
    names = {"resident": "alice", "committee": "chair", "admin": "admin"}
    browser = pages_for(deployed, neighbours, names[who]) if who != "visitor" else Pages(deployed)
    routes = page_routes(browser.app)
    assert len(routes) > 40, "the sweep sees the site's pages"
    failures = []
    for rule, arguments in routes:
        values = HOSTILE if arguments else [""]
        for value in values:
            for query in QUERIES:
                url = fill(rule, value) + query
                status = browser.get(url).status
                if status >= 500:
                    failures.append((url[:120], status))
    assert failures == []


def test_no_page_shows_another_communitys_vote_or_consultation(deployed: Engine, neighbours: Any, other_community: Any) -> None:
    theirs = [*open_vote(deployed, other_community), open_consultation(deployed, other_community)]
    for name in ("chair", "admin", "auditor"):
        browser = pages_for(deployed, neighbours, name)
        for rule, arguments in page_routes(browser.app):
            if len(arguments) != 1:
                continue
            for identifier in theirs:
                page = browser.get(fill(rule, identifier))
                assert page.status in (302, 400, 403, 404, 405, 422), (name, rule, page.status)
