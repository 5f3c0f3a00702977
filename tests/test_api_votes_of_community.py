"""GET /api/votes: the votes of the caller's community, open ones first (soonest deadline first), then closed ones."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from tests.builders import close_by_deadline, open_vote
from tests.fixtures import bearer
from tests.helpers import Community


def test_the_votes_of_my_community_open_ones_first_and_never_another_communitys(
        deployed: Engine, community: Community, other_community: Community, clock: ManualClock, client: Any) -> None:
    late_instance, late = open_vote(deployed, community, title="Late", deadline="2026-03-20T18:00")
    closed_instance, closed = open_vote(deployed, community, title="Closed", deadline="2026-03-05T18:00")
    close_by_deadline(deployed, clock, closed_instance)
    _, soon = open_vote(deployed, community, title="Soon", deadline="2026-03-10T18:00")
    _, theirs = open_vote(deployed, other_community, title="Theirs", deadline="2026-03-10T18:00")

    listed = client.get("/api/votes", headers=bearer(community.tokens["alice"]))
    assert listed.status_code == 200
    body = listed.get_json()
    assert [(v["id"], v["status"]) for v in body["items"]] == [(soon, "open"), (late, "open"), (closed, "closed")]
    assert body["total"] == 3 and theirs not in {v["id"] for v in body["items"]}

    paged = client.get("/api/votes?page=2&page_size=2", headers=bearer(community.tokens["alice"])).get_json()
    assert [v["id"] for v in paged["items"]] == [closed]
    assert client.get("/api/votes?page_size=1000", headers=bearer(community.tokens["alice"])).status_code == 422
    assert client.get("/api/votes").status_code == 401
