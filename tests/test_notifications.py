"""A member's notifications (``engine.kernel.notifications``): each kind, derived from the domains' rows, shown to whom it
concerns and to nobody else; the unread count and the read marker (``MarkNotificationsRead``, migration
0008_notification_reads); ``/api/me/notifications``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.identity.actors import Actor
from engine.kernel.clock import ManualClock
from engine.kernel.commands import MarkNotificationsRead
from engine.kernel.errors import InvalidInput
from engine.kernel.notifications import Entry, notifications, read_until, unread_count
from engine.pdca.commands import AnswerServiceRequest, FileServiceRequest
from engine.voting.commands import CastBallot
from tests.builders import (
    Series, close_by_deadline, consultation, convention_of, migrate, open_drafting, open_vote, pdca_staff, propose_amendment,
    review_amendments, rows, schema_differences, table_names,
)
from tests.fixtures import bearer
from tests.helpers import Community, at_once


def notes(engine: Engine, actor: Actor, kind: str | None = None) -> list[Entry]:
    with engine.read() as session:
        found = notifications(session, actor, 1, 100).items
    return [n for n in found if kind is None or n.kind == kind]


def unread(engine: Engine, actor: Actor) -> int:
    with engine.read() as session:
        return unread_count(session, actor)


# --- each kind ------------------------------------------------------------------------------------

def test_an_opinion_period_and_the_answers_to_my_opinions(deployed: Engine, community: Community, other_community: Community,
                                                          clock: ManualClock) -> None:
    instance_id = consultation(deployed, community, clock, close_early=True)
    (opened,) = notes(deployed, community["alice"], "opinion_period_opened")
    assert (opened.title, opened.instance_id, opened.refs) == ("Bike shed", instance_id, {})
    (answer,) = notes(deployed, community["alice"], "opinion_answered")
    assert (answer.title, answer.instance_id, answer.refs["verdict"]) == ("Bike shed", instance_id, "adopted")
    assert answer.at > opened.at and "adopted" in answer.summary
    (bobs,) = notes(deployed, community["bob"], "opinion_answered")
    assert bobs.refs["verdict"] == "partly_adopted"  # the latest answer
    assert bobs.refs["opinion_id"] != answer.refs["opinion_id"]
    assert not notes(deployed, community["carol"], "opinion_answered")  # withdrawn: never answered
    assert not notes(deployed, community["clerk"])  # no opinion period for the committee only, no opinion of theirs
    assert not notes(deployed, other_community["alice"])
    shown = json.dumps([n.summary for n in notes(deployed, community["bob"])])
    assert "gate" not in shown and "roof" not in shown and "Convenient" not in shown  # no opinion's, no answer's text


def test_a_vote_opened_for_me_and_its_outcome_without_any_ballot(deployed: Engine, community: Community,
                                                                 other_community: Community, clock: ManualClock) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    (opened,) = notes(deployed, community["alice"], "vote_opened")
    assert (opened.title, opened.instance_id, opened.refs) == ("Stairwell colour", instance_id, {"vote_id": vote_id})
    assert not notes(deployed, community["clerk"], "vote_opened")  # not in a residents' electorate
    assert not notes(deployed, other_community["alice"])
    deployed.execute(CastBallot(vote_id, "no"), community["alice"])
    deployed.execute(CastBallot(vote_id, "no"), community["bob"])
    close_by_deadline(deployed, clock, instance_id)
    (closed,) = notes(deployed, community["alice"], "vote_closed")
    assert closed.refs["vote_id"] == vote_id and closed.at == clock.now()
    assert notes(deployed, community["alice"])[0].kind == "vote_closed"  # newest first
    for who in ("alice", "bob", "carol"):
        everything = json.dumps([(n.kind, n.summary, n.refs) for n in notes(deployed, community[who])])
        assert '"no"' not in everything and "choice" not in everything  # a secret ballot's choice never shows


def test_a_rating_window_opened_for_the_residents_served(deployed: Engine, community: Community, other_community: Community,
                                                         clock: ManualClock) -> None:
    series = Series(deployed, community, pdca_staff(deployed, community), clock).define()
    series.serve(residents=("alice",))
    assert not notes(deployed, community["alice"], "rating_opened")
    series.close_period()
    (opened,) = notes(deployed, community["alice"], "rating_opened")
    assert (opened.title, opened.instance_id, opened.refs) == ("Repairs", series.instance_id, {"cycle_id": series.cycle_id, "cycle": 1})
    assert not notes(deployed, community["bob"], "rating_opened")  # not served
    assert not notes(deployed, other_community["alice"])


def test_my_request_answered_and_nobody_elses(deployed: Engine, community: Community, clock: ManualClock) -> None:
    series = Series(deployed, community, pdca_staff(deployed, community), clock).define()
    request = deployed.execute(FileServiceRequest(series.cycle_id, "complaint", "The lift is noisy."), community["alice"])
    assert not notes(deployed, community["alice"], "request_answered")
    clock.advance(timedelta(hours=2))
    deployed.execute(AnswerServiceRequest(request.id, "Oiled it."), series.provider)
    (answered,) = notes(deployed, community["alice"], "request_answered")
    assert answered.refs == {"request_id": request.id, "kind": "complaint", "cycle_id": series.cycle_id}
    assert answered.at == clock.now() and "lift" not in answered.summary and "Oiled" not in answered.summary
    assert not notes(deployed, community["bob"], "request_answered")
    assert not notes(deployed, series.provider, "request_answered")


def test_an_amendment_period_and_the_decision_on_my_amendment(deployed: Engine, community: Community,
                                                              other_community: Community, clock: ManualClock) -> None:
    instance_id = open_drafting(deployed, community)
    convention_id = convention_of(deployed, instance_id)
    (opened,) = notes(deployed, community["alice"], "amendment_period_opened")
    assert (opened.title, opened.instance_id, opened.refs) == ("邻里公约", instance_id, {"convention_id": convention_id, "round": 1})
    assert not notes(deployed, community["clerk"], "amendment_period_opened")
    assert not notes(deployed, other_community["alice"])
    amendment = propose_amendment(deployed, community, convention_id, "bob", "delete", "a1")
    clock.advance(timedelta(hours=1))
    review_amendments(deployed, community, instance_id, [(amendment, "rejected", None)])
    (decided,) = notes(deployed, community["bob"], "amendment_decided")
    assert decided.refs == {"amendment_id": amendment.id, "convention_id": convention_id, "outcome": "rejected"}
    assert not notes(deployed, community["alice"], "amendment_decided")


# --- unread and read ------------------------------------------------------------------------------

def test_the_unread_count_and_the_read_marker(deployed: Engine, community: Community, clock: ManualClock) -> None:
    alice, bob = community["alice"], community["bob"]
    instance_id, _ = open_vote(deployed, community)
    assert unread(deployed, alice) == 1 and notes(deployed, alice)[0].unread
    clock.advance(timedelta(minutes=1))
    marker = deployed.execute(MarkNotificationsRead(), alice)
    assert marker == clock.now()
    assert unread(deployed, alice) == 0 and not notes(deployed, alice)[0].unread
    assert unread(deployed, bob) == 1  # each member has their own marker

    assert deployed.execute(MarkNotificationsRead(clock.now() - timedelta(days=1)), alice) == marker  # never moves back
    close_by_deadline(deployed, clock, instance_id)
    assert unread(deployed, alice) == 1
    assert [n.unread for n in notes(deployed, alice)] == [True, False]
    assert deployed.execute(MarkNotificationsRead(clock.now() + timedelta(days=30)), alice) == clock.now()  # not past now
    assert unread(deployed, alice) == 0
    with pytest.raises(InvalidInput):
        deployed.execute(MarkNotificationsRead(clock.now().replace(tzinfo=None)), alice)


def test_concurrent_marks_both_succeed_and_keep_the_later_moment(deployed: Engine, community: Community,
                                                                  clock: ManualClock) -> None:
    alice, now = community["alice"], clock.now()
    earlier, later = now - timedelta(hours=2), now - timedelta(hours=1)
    outcomes = at_once([lambda: deployed.execute(MarkNotificationsRead(earlier), alice),
                        lambda: deployed.execute(MarkNotificationsRead(later), alice)])
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    with deployed.read() as session:
        assert read_until(session, alice) == later


# --- the API --------------------------------------------------------------------------------------

def test_my_notifications_over_the_api(client: Any, deployed: Engine, community: Community, other_community: Community,
                                       clock: ManualClock) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    close_by_deadline(deployed, clock, instance_id)
    alice = bearer(community.tokens["alice"])
    body = client.get("/api/me/notifications", headers=alice).get_json()
    assert (body["total"], body["unread"], body["read_until"], body["page"]) == (2, 2, None, 1)
    assert [i["kind"] for i in body["items"]] == ["vote_closed", "vote_opened"]
    assert set(body["items"][0]) == {"key", "kind", "title", "summary", "at", "instance_id", "refs", "unread"}
    page = client.get("/api/me/notifications?page=2&page_size=1", headers=alice).get_json()
    assert [i["kind"] for i in page["items"]] == ["vote_opened"] and page["total"] == 2
    assert client.get("/api/me/notifications/unread", headers=alice).get_json() == {"unread": 2, "read_until": None}

    response = client.post("/api/me/notifications/read", json={}, headers=alice)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["unread"] == 0
    assert client.get("/api/me/notifications/unread", headers=alice).get_json()["unread"] == 0
    assert client.get("/api/me/notifications", headers=alice).get_json()["items"][0]["unread"] is False
    assert client.get("/api/me/notifications/unread", headers=bearer(community.tokens["bob"])).get_json()["unread"] == 2
    assert client.get("/api/me/notifications", headers=bearer(other_community.tokens["alice"])).get_json()["total"] == 0
    until = (clock.now() - timedelta(days=1)).isoformat()
    assert client.post("/api/me/notifications/read", json={"until": until}, headers=alice).status_code == 200


@pytest.mark.parametrize("method, path, body", [
    ("get", "/api/me/notifications?page=0", None),
    ("get", "/api/me/notifications?page_size=1000", None),
    ("get", "/api/me/notifications?page=x", None),
    ("post", "/api/me/notifications/read", {"until": "yesterday"}),
    ("post", "/api/me/notifications/read", {"until": "2026-03-02T00:00:00"}),  # no zone
    ("post", "/api/me/notifications/read", {"until": 5}),
    ("post", "/api/me/notifications/read", {"colour": "red"}),
    ("post", "/api/me/notifications/read", ["not", "an", "object"]),
])
def test_bad_notification_requests_get_a_4xx(client: Any, community: Community, method: str, path: str, body: Any) -> None:
    response = getattr(client, method)(path, json=body, headers=bearer(community.tokens["alice"]))
    assert 400 <= response.status_code < 500, response.get_json()
    assert "error" in response.get_json()


def test_notifications_need_a_token(client: Any) -> None:
    assert client.get("/api/me/notifications").status_code == 401
    assert client.get("/api/me/notifications/unread").status_code == 401
    assert client.post("/api/me/notifications/read", json={}).status_code == 401


# --- the migration --------------------------------------------------------------------------------

def test_the_migration_creates_the_read_markers_and_drops_them_on_the_way_down(database_url: str) -> None:
    assert "notification_reads" in table_names(database_url)
    assert schema_differences(database_url, {"notification_reads"}) == []
    migrate(database_url, "0006", down=True)
    assert "notification_reads" not in table_names(database_url)
    migrate(database_url, "head")
    assert "notification_reads" in table_names(database_url)
    assert rows(database_url, "SELECT count(*) FROM notification_reads") == [(0,)]
