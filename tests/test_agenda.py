"""A member's agenda (``engine.kernel.agenda``): each kind appears when the member may act and goes when they did or
the period closed; another community's items never show; a resident sees none of the committee's; ``GET /api/me/agenda``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.consultation.commands import SubmitOpinion, WithdrawOpinion
from engine.identity.actors import Actor
from engine.kernel.agenda import AgendaItem, agenda
from engine.kernel.clock import ManualClock
from engine.kernel.commands import StartInstance
from engine.pdca.commands import AnswerServiceRequest, FileServiceRequest, RateService
from engine.voting.commands import CastBallot
from tests.builders import (
    TOPIC, Series, close_by_deadline, complete_task, convention_of, open_drafting, open_vote, pdca_staff, propose_amendment, ready,
)
from tests.fixtures import bearer
from tests.helpers import Community

COMMITTEE_KINDS = {"complete_task", "answer_request"}


def items(engine: Engine, clock: ManualClock, actor: Actor, kind: str | None = None) -> list[AgendaItem]:
    with engine.read() as session:
        found = agenda(session, actor, clock.now())
    return [item for item in found if kind is None or item.kind == kind]


def open_consultation(engine: Engine, community: Community) -> str:
    instance_id = engine.execute(StartInstance("consultation"), community["chair"]).id
    complete_task(engine, community, instance_id, "draft_topic", TOPIC)
    return instance_id


# --- votes ---------------------------------------------------------------------------------------

def test_a_ballot_to_cast_shows_until_it_is_cast_or_the_vote_closes(deployed: Engine, community: Community,
                                                                     other_community: Community, clock: ManualClock) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    (item,) = items(deployed, clock, community["alice"], "cast_ballot")
    assert (item.title, item.instance_id, item.refs) == ("Stairwell colour", instance_id, {"vote_id": vote_id})
    assert item.deadline is not None and item.deadline > clock.now()
    assert items(deployed, clock, community["chair"], "cast_ballot")  # a committee member who is a resident votes
    assert not items(deployed, clock, community["clerk"], "cast_ballot")  # not in a residents' electorate
    assert not items(deployed, clock, other_community["alice"], "cast_ballot")

    deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    assert not items(deployed, clock, community["alice"], "cast_ballot")
    assert items(deployed, clock, community["bob"], "cast_ballot")

    close_by_deadline(deployed, clock, instance_id)
    assert not items(deployed, clock, community["bob"], "cast_ballot")


def test_a_vote_past_its_deadline_is_off_the_agenda_before_its_timer_fires(deployed: Engine, community: Community,
                                                                           clock: ManualClock) -> None:
    open_vote(deployed, community)
    (item,) = items(deployed, clock, community["bob"], "cast_ballot")
    clock.set(item.deadline + timedelta(seconds=1))
    assert not items(deployed, clock, community["bob"], "cast_ballot")


def test_one_ballot_per_household_takes_the_vote_off_the_whole_households_agenda(deployed: Engine, clock: ManualClock) -> None:
    from engine.identity.commands import AddMember
    from engine.identity import actors
    from tests.helpers import make_community

    community = make_community(deployed, "households")
    admin = community["admin"]
    anna, ben = (actors.actor_for(deployed.execute(AddMember(name, ["resident"], "2-301"), admin)) for name in ("anna", "ben"))
    _, vote_id = open_vote(deployed, community, electorate="households")
    assert items(deployed, clock, anna, "cast_ballot") and items(deployed, clock, ben, "cast_ballot")
    deployed.execute(CastBallot(vote_id, "no"), anna)
    assert not items(deployed, clock, anna, "cast_ballot")
    assert not items(deployed, clock, ben, "cast_ballot")


# --- consultations --------------------------------------------------------------------------------

def test_an_open_opinion_period_shows_to_residents_until_it_closes(deployed: Engine, community: Community,
                                                                   other_community: Community, clock: ManualClock) -> None:
    instance_id = open_consultation(deployed, community)
    (item,) = items(deployed, clock, community["alice"], "give_opinion")
    assert (item.title, item.instance_id, item.refs) == ("Bike shed", instance_id, {"my_opinions": 0})
    assert item.deadline is not None and item.deadline > clock.now()
    assert not items(deployed, clock, community["clerk"], "give_opinion")  # committee only: gives no opinion
    assert not items(deployed, clock, other_community["alice"])

    opinion = deployed.execute(SubmitOpinion(instance_id, "By the gate."), community["alice"])
    (item,) = items(deployed, clock, community["alice"], "give_opinion")
    assert item.refs == {"my_opinions": 1}  # it may still be edited: the item stays
    deployed.execute(WithdrawOpinion(opinion.id), community["alice"])
    assert items(deployed, clock, community["alice"], "give_opinion")[0].refs == {"my_opinions": 0}

    complete_task(deployed, community, instance_id, "opinion_period", {"reason": "Enough heard."})
    assert not items(deployed, clock, community["alice"], "give_opinion")


def test_the_committees_tasks_show_to_the_committee_and_never_to_a_resident(deployed: Engine, community: Community,
                                                                             other_community: Community, clock: ManualClock) -> None:
    instance_id = open_consultation(deployed, community)
    tasks = items(deployed, clock, community["clerk"], "complete_task")
    assert [(t.title, t.instance_id, t.refs["element_id"], t.refs["lane"]) for t in tasks] == [
        ("Opinion period — close early", instance_id, "opinion_period", "committee")]
    assert tasks[0].refs["task_id"] == ready(deployed, instance_id)["opinion_period"]
    assert tasks[0].deadline is not None  # the opinion period's timer
    for resident in ("alice", "bob"):
        assert not {i.kind for i in items(deployed, clock, community[resident])} & COMMITTEE_KINDS
    assert not items(deployed, clock, other_community["clerk"])
    assert not items(deployed, clock, community["auditor"])
    complete_task(deployed, community, instance_id, "opinion_period", {"reason": "Enough heard."})
    assert [t.refs["element_id"] for t in items(deployed, clock, community["clerk"], "complete_task")] == ["record_deliberation"]


# --- conventions ----------------------------------------------------------------------------------

def test_an_amendment_period_shows_to_residents_until_it_closes(deployed: Engine, community: Community,
                                                                other_community: Community, clock: ManualClock) -> None:
    instance_id = open_drafting(deployed, community)
    convention_id = convention_of(deployed, instance_id)
    (item,) = items(deployed, clock, community["bob"], "propose_amendment")
    assert (item.title, item.instance_id, item.refs) == ("邻里公约", instance_id, {"convention_id": convention_id, "round": 1})
    assert item.deadline is not None and item.deadline > clock.now()
    assert not items(deployed, clock, community["clerk"], "propose_amendment")
    assert not items(deployed, clock, other_community["bob"])

    propose_amendment(deployed, community, convention_id, "bob", "delete", "a1")
    assert items(deployed, clock, community["bob"], "propose_amendment")  # more may be proposed until the period closes
    clock.set(item.deadline + timedelta(seconds=1))  # past the deadline, before the timer fires: refused, so not shown
    assert not items(deployed, clock, community["bob"], "propose_amendment")


def test_an_amendment_period_closed_early_leaves_the_agenda(deployed: Engine, community: Community, clock: ManualClock) -> None:
    instance_id = open_drafting(deployed, community)
    assert items(deployed, clock, community["alice"], "propose_amendment")
    complete_task(deployed, community, instance_id, "amendment_period", {"reason": "Everyone has had their say."})
    assert not items(deployed, clock, community["alice"], "propose_amendment")


# --- service quality ------------------------------------------------------------------------------

@pytest.fixture
def series(deployed: Engine, community: Community, clock: ManualClock) -> Series:
    return Series(deployed, community, pdca_staff(deployed, community), clock).define()


def test_a_rating_shows_to_the_residents_served_until_they_rate(series: Series, other_community: Community,
                                                                clock: ManualClock) -> None:
    engine, community = series.engine, series.community
    series.serve(residents=("alice", "bob"))
    assert not items(engine, clock, community["alice"], "rate_service")  # the service period is still open
    series.close_period()
    (item,) = items(engine, clock, community["alice"], "rate_service")
    assert (item.title, item.instance_id, item.refs) == ("Repairs", series.instance_id, {"cycle_id": series.cycle_id, "cycle": 1})
    assert item.deadline is not None and item.deadline > clock.now()
    assert not items(engine, clock, community["carol"], "rate_service")  # not served
    assert not items(engine, clock, other_community["alice"])

    engine.execute(RateService(series.cycle_id, 5, None), community["alice"])
    assert not items(engine, clock, community["alice"], "rate_service")
    assert items(engine, clock, community["bob"], "rate_service")
    series.complete("rating_window", {"reason": "Enough ratings."})
    assert not items(engine, clock, community["bob"], "rate_service")


def test_an_unanswered_request_shows_to_the_provider_and_the_committee_until_answered(series: Series, other_community: Community,
                                                                                      clock: ManualClock) -> None:
    engine, community = series.engine, series.community
    request = engine.execute(FileServiceRequest(series.cycle_id, "complaint", "The lift is noisy."), community["alice"])
    (item,) = items(engine, clock, series.provider, "answer_request")
    assert (item.title, item.instance_id) == ("Repairs", series.instance_id)
    assert item.refs == {"request_id": request.id, "kind": "complaint", "cycle_id": series.cycle_id, "cycle": 1}
    assert item.deadline is not None and item.deadline > clock.now()
    assert items(engine, clock, community["clerk"], "answer_request")
    assert not items(engine, clock, community["alice"], "answer_request")
    assert not items(engine, clock, series.staff["street"], "answer_request")
    assert not items(engine, clock, other_community["clerk"], "answer_request")

    engine.execute(AnswerServiceRequest(request.id, "Oiled it."), series.provider)
    assert not items(engine, clock, series.provider, "answer_request")
    assert not items(engine, clock, community["clerk"], "answer_request")


def test_the_agenda_is_ordered_by_deadline_none_last(deployed: Engine, community: Community, clock: ManualClock) -> None:
    open_consultation(deployed, community)
    open_vote(deployed, community, deadline="2026-03-05T18:00")
    found = items(deployed, clock, community["chair"])
    deadlines = [item.deadline for item in found]
    dated = [d for d in deadlines if d is not None]
    assert dated == sorted(dated) and deadlines[:len(dated)] == dated
    assert found[0].kind == "cast_ballot"


# --- the API --------------------------------------------------------------------------------------

def test_get_my_agenda(client: Any, deployed: Engine, community: Community, other_community: Community) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    response = client.get("/api/me/agenda", headers=bearer(community.tokens["alice"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"at", "items"}
    (item,) = body["items"]
    assert item["kind"] == "cast_ballot" and item["instance_id"] == instance_id and item["refs"] == {"vote_id": vote_id}
    assert set(item) == {"kind", "title", "deadline", "instance_id", "refs"}
    assert client.get("/api/me/agenda", headers=bearer(other_community.tokens["alice"])).get_json()["items"] == []
    committee = client.get("/api/me/agenda", headers=bearer(community.tokens["clerk"])).get_json()["items"]
    assert {i["kind"] for i in committee} == {"complete_task"}  # the vote's "close early"


def test_bad_agenda_requests_get_a_4xx(client: Any, community: Community) -> None:
    assert client.get("/api/me/agenda").status_code == 401
    assert client.get("/api/me/agenda", headers=bearer("ys_not-a-token")).status_code == 401
    assert client.post("/api/me/agenda", headers=bearer(community.tokens["alice"])).status_code == 405
