"""Convention drafting through the engine's commands (the HTTP walk is features/convention.feature)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.conventions.commands import CommentOnArticle, DecideAmendment, ProposeAmendment, SupportAmendment, WithdrawAmendment
from engine.kernel.commands import StartInstance
from engine.conventions import queries as conventions_queries
from engine.audit.bundles import export
from engine.audit.offline.verify import verify
from engine.kernel.clock import ManualClock
from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from engine.conventions.models import Amendment, Convention, ConventionVersion
from engine.kernel.models import Event, Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests.fixtures import bearer
from tests.builders import complete_task, convention_draft, convention_of, convention_texts, open_drafting, propose_amendment, ready, review_amendments, vote_on_convention
from tests.helpers import Community, race

def test_a_round_applies_each_amendment_as_the_committee_decided_it(deployed: Engine, community: Community) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    assert convention_texts(engine, convention_id, 1) == [
        {"id": "a1", "text": "晚上十点后不得大声喧哗。"}, {"id": "a2", "text": "Keep the stairwells clear of bicycles."},
        {"id": "a3", "text": "宠物狗出门须拴绳。"}]
    reworded = propose_amendment(engine, community, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    preamble = propose_amendment(engine, community, convention_id, "bob", "insert", text="本公约由全体居民共同制定。")
    appended = propose_amendment(engine, community, convention_id, "carol", "insert", after="a3", text="Recycle your bottles.")
    deleted = propose_amendment(engine, community, convention_id, "alice", "delete", "a2")
    refused = propose_amendment(engine, community, convention_id, "bob", "replace", "a3", "猫也须拴绳。")
    review_amendments(engine, community, instance_id, [
        (reworded, "accepted_with_changes", "晚上十点半后禁止喧哗。"), (preamble, "accepted", None),
        (appended, "accepted", None), (deleted, "accepted", None), (refused, "rejected", None)])

    assert convention_texts(engine, convention_id, 2) == [
        {"id": "a4", "text": "本公约由全体居民共同制定。"}, {"id": "a1", "text": "晚上十点半后禁止喧哗。"},
        {"id": "a3", "text": "宠物狗出门须拴绳。"}, {"id": "a5", "text": "Recycle your bottles."}]
    assert convention_texts(engine, convention_id, 1)[1]["id"] == "a2"  # versions are never rewritten
    with engine.read() as session:
        version = session.scalar(select(ConventionVersion).where(ConventionVersion.number == 2))
        assert (version.kind, version.based_on, version.amendment_ids, version.created_by) == (
            "consolidated", 1, [reworded.id, preamble.id, appended.id, deleted.id], community["chair"].member_id)
        assert version.reason == (f"Round 1 consolidated: accepted #{preamble.id}, #{appended.id}, #{deleted.id}; "
                                  f"accepted with the committee's wording #{reworded.id}; rejected #{refused.id}.")
        results = {a.id: a.result_article_id for a in session.scalars(select(Amendment))}
        assert results == {reworded.id: "a1", preamble.id: "a4", appended.id: "a5", deleted.id: "a2", refused.id: None}
        drafting = conventions_queries.get_round(session, community["alice"], convention_id, 1)
        assert (drafting.status, drafting.base_number, drafting.result_number) == ("notice", 1, 2)
        assert drafting.notice_ends == datetime.fromisoformat("2026-03-05T01:00:00+00:00")
        report = replay(session, session.get(Instance, instance_id))
        assert report.ok, report.mismatches


def test_an_amendment_to_an_article_changed_since_the_version_read_is_stale(deployed: Engine, community: Community, clock: ManualClock) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    changed = propose_amendment(engine, community, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    deleted = propose_amendment(engine, community, convention_id, "bob", "delete", "a3")
    review_amendments(engine, community, instance_id, [(changed, "accepted", None), (deleted, "accepted", None)])
    vote_on_convention(engine, clock, community, instance_id, {"alice": "yes", "bob": "no", "carol": "no"})
    complete_task(engine, community, instance_id, "decide_next_step", {"next_step": "another_round", "reason": "Too strict."})
    complete_task(engine, community, instance_id, "draft_convention", convention_draft(articles=None, deadline="2026-03-20T18:00"))
    with engine.read() as session:
        drafting = conventions_queries.get_round(session, community["alice"], convention_id, 2)
        assert (drafting.status, drafting.base_number) == ("amending", 2)  # the last version, not a new one
        assert session.scalar(select(func.count()).select_from(ConventionVersion)) == 2

    with pytest.raises(StaleVersion) as stale:
        propose_amendment(engine, community, convention_id, "carol", "replace", "a1", "晚上九点后禁止喧哗。", version=1)
    assert "article a1 has changed since version 1" in stale.value.message
    assert stale.value.details == {"stale": True, "article_id": "a1", "version": 1, "current_version": 2,
                                   "current_text": "晚上十一点后禁止喧哗。"}
    with pytest.raises(StaleVersion, match="article a3 was deleted since version 1"):
        propose_amendment(engine, community, convention_id, "carol", "replace", "a3", "猫也须拴绳。", version=1)
    with pytest.raises(StaleVersion, match="article a3 was deleted"):
        propose_amendment(engine, community, convention_id, "carol", "insert", after="a3", text="New.", version=1)
    unchanged = propose_amendment(engine, community, convention_id, "carol", "delete", "a2", version=1)  # a2 is as carol read it
    assert (unchanged.version_number, unchanged.original_text) == (1, "Keep the stairwells clear of bicycles.")
    with pytest.raises(InvalidInput, match="the convention has no version 7"):
        propose_amendment(engine, community, convention_id, "carol", "delete", "a2", version=7)
    with pytest.raises(InvalidInput, match="version 2 has no article a9"):
        propose_amendment(engine, community, convention_id, "carol", "delete", "a9", version=2)


def test_the_committee_cannot_accept_two_changes_to_one_article(deployed: Engine, community: Community) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    first = propose_amendment(engine, community, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    second = propose_amendment(engine, community, convention_id, "bob", "delete", "a1")
    complete_task(engine, community, instance_id, "amendment_period", {"reason": "Enough."})
    engine.execute(DecideAmendment(first.id, "accepted", "Most agree."), community["chair"])
    with pytest.raises(Conflict, match=f"amendment #{first.id}, already accepted, changes article a1 too"):
        engine.execute(DecideAmendment(second.id, "accepted", "Also good."), community["chair"])
    engine.execute(DecideAmendment(second.id, "rejected", "The rule is needed."), community["chair"])
    with pytest.raises(InvalidInput, match="only an acceptance with changes"):
        engine.execute(DecideAmendment(first.id, "accepted", "Most agree.", "My own words."), community["chair"])
    with pytest.raises(InvalidInput, match="text must be 1 to"):
        engine.execute(DecideAmendment(first.id, "accepted_with_changes", "Reworded."), community["chair"])
    with pytest.raises(PermissionDenied):
        engine.execute(DecideAmendment(first.id, "rejected", "I changed my mind."), community["alice"])


def test_the_review_waits_for_every_decision_and_a_withdrawn_amendment_needs_none(deployed: Engine, community: Community) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    kept = propose_amendment(engine, community, convention_id, "alice", "replace", "a2", "Keep the stairwells clear.")
    dropped = propose_amendment(engine, community, convention_id, "bob", "delete", "a3")
    engine.execute(WithdrawAmendment(dropped.id), community["bob"])
    with pytest.raises(Conflict, match="amendments are decided while the committee reviews them"):
        engine.execute(DecideAmendment(kept.id, "accepted", "Early."), community["chair"])
    complete_task(engine, community, instance_id, "amendment_period", {"reason": "Enough."})
    with pytest.raises(Conflict, match="1 amendment is still undecided"):
        complete_task(engine, community, instance_id, "review_amendments", {})
    with pytest.raises(Conflict, match="a withdrawn amendment needs no decision"):
        engine.execute(DecideAmendment(dropped.id, "rejected", "Withdrawn."), community["chair"])
    engine.execute(DecideAmendment(kept.id, "rejected", "Bicycles are the problem."), community["chair"])
    complete_task(engine, community, instance_id, "review_amendments", {})
    with engine.read() as session:
        drafting = conventions_queries.get_round(session, community["alice"], convention_id, 1)
        assert (drafting.status, drafting.result_number) == ("notice", 1)  # nothing accepted: the text stays version 1
        assert conventions_queries.amendment_counts(drafting.amendments) == {
            "undecided": 0, "withdrawn": 1, "accepted": 0, "accepted_with_changes": 0, "rejected": 1}


def test_support_and_withdrawal(deployed: Engine, community: Community) -> None:
    engine = deployed
    convention_id = convention_of(engine, open_drafting(engine, community))
    amendment = propose_amendment(engine, community, convention_id, "alice", "delete", "a3")
    engine.execute(SupportAmendment(amendment.id), community["bob"])
    with pytest.raises(Conflict, match="you already support this amendment"):
        engine.execute(SupportAmendment(amendment.id), community["bob"])
    with pytest.raises(Conflict, match="an author supports their amendment by proposing it"):
        engine.execute(SupportAmendment(amendment.id), community["alice"])
    with pytest.raises(PermissionDenied):
        engine.execute(SupportAmendment(amendment.id), community["clerk"])  # committee only, not a resident
    with pytest.raises(PermissionDenied, match="only its author"):
        engine.execute(WithdrawAmendment(amendment.id), community["bob"])
    engine.execute(WithdrawAmendment(amendment.id), community["alice"])
    with pytest.raises(Conflict, match="the amendment was withdrawn"):
        engine.execute(SupportAmendment(amendment.id), community["carol"])
    with pytest.raises(InvalidInput, match="a deletion takes no text"):
        propose_amendment(engine, community, convention_id, "carol", "delete", "a3", "Gone.")
    with pytest.raises(InvalidInput, match="the proposed text is the article as it stands"):
        propose_amendment(engine, community, convention_id, "carol", "replace", "a3", "宠物狗出门须拴绳。")
    with engine.read() as session:
        assert [s.member_id for s in session.get(Amendment, amendment.id).supports] == [community["bob"].member_id]


def test_the_amendment_period_ends_at_its_deadline_even_before_the_worker_runs(deployed: Engine, community: Community, clock: ManualClock) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    amendment = propose_amendment(engine, community, convention_id, "alice", "delete", "a3")
    clock.set(datetime.fromisoformat("2026-03-09T18:00:30+08:00"))
    with pytest.raises(Conflict, match=r"the amendment period closed at 2026-03-09T10:00:00\+00:00"):
        propose_amendment(engine, community, convention_id, "bob", "delete", "a2")
    with pytest.raises(Conflict, match="closed at"):
        engine.execute(WithdrawAmendment(amendment.id), community["alice"])
    with pytest.raises(Conflict, match="closed at"):
        engine.execute(CommentOnArticle(convention_id, 1, "a1", "Too late?"), community["bob"])
    assert engine.fire_due_timers() == 1
    assert list(ready(engine, instance_id)) == ["review_amendments"]
    with pytest.raises(Conflict, match="the convention has no amendment period open"):
        propose_amendment(engine, community, convention_id, "bob", "delete", "a2")


def test_a_convention_to_amend_must_exist_here_and_not_be_in_drafting_elsewhere(
        deployed: Engine, community: Community, other_community: Community) -> None:
    engine = deployed
    convention_id = convention_of(engine, open_drafting(engine, community))
    for bad in (999, "1", True):
        with pytest.raises(InvalidInput, match="convention_id names no convention of this community"):
            engine.execute(StartInstance("convention", {"convention_id": bad}), community["chair"])
    with pytest.raises(InvalidInput):
        engine.execute(StartInstance("convention", {"convention_id": convention_id}), other_community["chair"])
    with pytest.raises(Conflict, match="another process is drafting this convention"):
        engine.execute(StartInstance("convention", {"convention_id": convention_id}), community["chair"])
    with engine.read() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 1
    with pytest.raises(NotFound):
        engine.execute(ProposeAmendment(convention_id, 1, "delete", "Why not.", "a1"), other_community["alice"])


def test_a_first_draft_needs_its_articles_and_a_revision_names_only_known_ones(deployed: Engine, community: Community) -> None:
    engine = deployed
    instance_id = engine.execute(StartInstance("convention"), community["chair"]).id
    with pytest.raises(InvalidInput, match="a new convention's first draft needs a title and articles") as refused:
        complete_task(engine, community, instance_id, "draft_convention", convention_draft(articles=None))
    assert refused.value.details["errors"] == [{"field": "draft.articles", "message": "required for a new convention"}]
    with pytest.raises(InvalidInput, match="article id a7 is not an article of the current text"):
        complete_task(engine, community, instance_id, "draft_convention", convention_draft([{"id": "a7", "text": "Unknown."}]))
    with engine.read() as session:
        assert session.scalar(select(func.count()).select_from(Convention)) == 0
    assert list(ready(engine, instance_id)) == ["draft_convention"]


def test_adoption_then_an_amendment_process_from_the_adopted_text(deployed: Engine, community: Community, clock: ManualClock) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    review_amendments(engine, community, instance_id, [])
    vote_on_convention(engine, clock, community, instance_id, {"alice": "yes", "bob": "yes", "carol": "no"})
    with pytest.raises(InvalidInput, match="the effective date 2026-03-01 lies in the past"):
        complete_task(engine, community, instance_id, "publish_convention", {"effective_date": "2026-03-01"})
    today = clock.now().date().isoformat()
    complete_task(engine, community, instance_id, "publish_convention", {"effective_date": today})
    with engine.read() as session:
        convention = session.get(Convention, convention_id)
        assert (convention.status, convention.adopted_number, convention.effective_date.isoformat()) == ("adopted", 1, today)
        adopted_fingerprint = convention.adopted_version.fingerprint
        assert session.get(Instance, instance_id).status == "completed"
        report = replay(session, session.get(Instance, instance_id))  # the vote it called included
        assert report.ok, report.mismatches

    clock.advance(timedelta(days=30))
    amending = engine.execute(StartInstance("convention", {"convention_id": convention_id}), community["chair"]).id
    with engine.read() as session:
        prepared = session.get(Instance, amending).data["convention"]
    assert prepared["version"] == 1 and prepared["fingerprint"] == adopted_fingerprint
    revised = [{"id": "a1", "text": "晚上十一点后禁止喧哗。"}, {"id": "a3", "text": "宠物狗出门须拴绳。"}, {"text": "New article."}]
    complete_task(engine, community, amending, "draft_convention", convention_draft(revised, deadline="2026-04-20T18:00"))
    assert convention_texts(engine, convention_id, 2) == [*revised[:2], {"id": "a4", "text": "New article."}]
    with engine.read() as session:
        version = session.scalar(select(ConventionVersion).where(ConventionVersion.number == 2))
        assert (version.kind, version.based_on, version.reason) == ("draft", 1, "The committee's draft.")
        assert session.get(Convention, convention_id).adopted_number == 1  # in force until another is adopted
        assert [r.number for r in conventions_queries.rounds_of(session, community["bob"], convention_id)] == [1, 2]
        # Each round is an instance of its own and both wrote the convention row: the audit takes the latest.
        keys = {engine.signer.key_id: engine.signer.public_pem}
        bundle = export(session, community["chair"].community_id, now=clock.now(), public_keys=keys)
    for order in (bundle["instances"], bundle["instances"][::-1]):  # whichever round a bundle lists first
        verdict = verify({**bundle, "instances": order}, replay=False, trusted_keys=keys)
        assert verdict.ok, verdict.problems


def test_abandoning_a_convention_never_adopted(deployed: Engine, community: Community, clock: ManualClock) -> None:
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    review_amendments(engine, community, instance_id, [])
    vote_on_convention(engine, clock, community, instance_id, {"alice": "no", "bob": "no"})
    complete_task(engine, community, instance_id, "decide_next_step", {"next_step": "abandon", "reason": "No support."})
    with engine.read() as session:
        assert session.get(Convention, convention_id).status == "abandoned"
        assert session.get(Instance, instance_id).status == "completed"
        drafting = conventions_queries.get_round(session, community["alice"], convention_id, 1)
        assert (drafting.status, drafting.vote_outcome, drafting.closing_reason) == ("abandoned", "rejected", "No support.")
        assert [e["type"] for e in conventions_queries.history(session, community["alice"], convention_id)] == [
            "round_opened", "amendment_period_closed", "version_consolidated", "public_notice_ended", "vote_recorded",
            "round_closed"]
    engine.execute(StartInstance("convention", {"convention_id": convention_id}), community["chair"])  # free to revive


def test_bad_requests_get_a_clear_error_and_other_communities_see_nothing(
        deployed: Engine, community: Community, other_community: Community, client: Any) -> None:
    convention_id = convention_of(deployed, open_drafting(deployed, community))
    amendment = propose_amendment(deployed, community, convention_id, "alice", "delete", "a3")
    base = f"/api/conventions/{convention_id}"
    requests = [
        ("alice", "GET", f"{base}/diff?from=1", None, 422, "invalid_input"),
        ("alice", "GET", f"{base}/diff?from=1&to=9", None, 404, "not_found"),
        ("alice", "GET", f"{base}/versions/9", None, 404, "not_found"),
        ("alice", "GET", f"{base}/rounds/9", None, 404, "not_found"),
        ("alice", "POST", f"{base}/amendments", {"version": 1, "kind": "replace", "rationale": "Why."}, 422, "invalid_input"),
        ("alice", "POST", f"{base}/amendments", {"version": 1, "kind": "rewrite", "article_id": "a1", "rationale": "Why."}, 422, "invalid_input"),
        ("alice", "POST", f"{base}/amendments", {"version": 1, "kind": "delete", "article_id": "a1", "rationale": "Why.", "mood": "x"}, 422, "invalid_input"),
        ("clerk", "POST", f"{base}/amendments", {"version": 1, "kind": "delete", "article_id": "a1", "rationale": "Why."}, 403, "forbidden"),
        ("alice", "POST", f"{base}/comments", {"version": 1, "article_id": "a9", "text": "Hm."}, 422, "invalid_input"),
        ("chair", "PUT", f"/api/amendments/{amendment.id}/decision", {"outcome": "maybe", "reason": "Hm."}, 422, "invalid_input"),
        ("chair", "PUT", f"/api/amendments/{amendment.id}/decision", {"outcome": "accepted", "reason": "Hm."}, 409, "conflict"),
    ]
    for who, method, path, body, status, code in requests:
        response = client.open(path, method=method, json=body, headers=bearer(community.tokens[who]))
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), (path, body, response.get_json())
    for path in (base, f"{base}/versions/1", f"{base}/history", f"{base}/amendments", f"/api/amendments/{amendment.id}"):
        response = client.get(path, headers=bearer(other_community.tokens["chair"]))
        assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found"), path
    assert client.get("/api/conventions", headers=bearer(other_community.tokens["chair"])).get_json()["total"] == 0


def test_racing_supports_and_withdrawals_each_count_once(deployed: Engine, community: Community,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Bob supports four times at once and alice withdraws twice at once, each request lingering
    after its checks: one support, one withdrawal, one event each; the rest are refused."""
    engine = deployed
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    amendment = propose_amendment(engine, community, convention_id, "alice", "delete", "a3")
    supports = race(engine, [(SupportAmendment(amendment.id), community["bob"])] * 4, monkeypatch)
    withdrawals = race(engine, [(WithdrawAmendment(amendment.id), community["alice"])] * 2, monkeypatch)
    for outcomes, refusal in ((supports, "you already support this amendment"), (withdrawals, "the amendment was withdrawn")):
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(refused) == len(outcomes) - 1 and all(isinstance(o, Conflict) and o.message == refusal for o in refused), outcomes
    with engine.read() as session:
        assert [s.member_id for s in session.get(Amendment, amendment.id).supports] == [community["bob"].member_id]
        types = list(session.scalars(select(Event.type).where(Event.instance_id == instance_id)))
        assert (types.count("amendment_supported"), types.count("amendment_withdrawn")) == (1, 1)
        assert verify(export(session, community.id, now=engine.clock.now(), public_keys={}), replay=False).ok
