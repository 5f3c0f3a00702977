"""The tellers' reads in the API: voters of the frozen electorate found by name or household, and the paper entries
with the teller, the time and a correction's reason (what the desk's teller pages show)."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.voting.commands import CastBallot, CorrectPaperBallot, EnterPaperBallot
from tests.builders import open_vote
from tests.fixtures import bearer
from tests.helpers import Community, make_community


def test_a_teller_finds_voters_and_lists_the_paper_entries(client: Any, deployed: Engine, community: Community) -> None:
    _, vote_id = open_vote(deployed, community)
    chair = bearer(community.tokens["chair"])
    found = client.get(f"/api/votes/{vote_id}/paper-ballots/voters?q=AL", headers=chair)
    assert found.status_code == 200
    assert [(v["name"], v["voted"], v["channel"]) for v in found.get_json()] == [("alice", False, None)]
    everyone = client.get(f"/api/votes/{vote_id}/paper-ballots/voters", headers=chair).get_json()
    assert sorted(v["name"] for v in everyone) == ["alice", "bob", "carol", "chair"]
    deployed.execute(CastBallot(vote_id, "no"), community["bob"])
    paper = deployed.execute(EnterPaperBallot(vote_id, community["alice"].member_id, "yes"), community["clerk"])
    answer = client.put(f"/api/votes/{vote_id}/paper-ballots/{community['alice'].member_id}", headers=chair,
                        json={"receipt": paper.receipt, "choice": "no", "reason": "Misread the slip."})
    assert answer.status_code == 200, answer.get_json()
    voters = {v["name"]: v for v in client.get(f"/api/votes/{vote_id}/paper-ballots/voters", headers=chair).get_json()}
    assert (voters["alice"]["channel"], voters["bob"]["channel"], voters["carol"]["voted"]) == ("paper", "online", False)
    entries = client.get(f"/api/votes/{vote_id}/paper-ballots", headers=chair).get_json()
    assert [(e["type"], e["teller"], e["voter"], e["reason"]) for e in entries] == [
        ("paper_ballot_corrected", "chair", "alice", "Misread the slip."), ("paper_ballot_entered", "clerk", "alice", None)]
    assert all("choice" not in e for e in entries)


def test_only_tellers_read_them_and_a_reason_is_checked(client: Any, deployed: Engine, community: Community) -> None:
    _, vote_id = open_vote(deployed, community)
    alice = bearer(community.tokens["alice"])
    assert client.get(f"/api/votes/{vote_id}/paper-ballots", headers=alice).status_code == 403
    assert client.get(f"/api/votes/{vote_id}/paper-ballots/voters?q=a", headers=alice).status_code == 403
    riverside = make_community(deployed, "riverside")
    assert client.get(f"/api/votes/{vote_id}/paper-ballots", headers=bearer(riverside.tokens["chair"])).status_code == 404
    chair = bearer(community.tokens["chair"])
    assert client.get(f"/api/votes/{vote_id}/paper-ballots/voters?q=" + "x" * 201, headers=chair).status_code == 422
    paper = deployed.execute(EnterPaperBallot(vote_id, community["bob"].member_id, "yes"), community["clerk"])
    empty = client.put(f"/api/votes/{vote_id}/paper-ballots/{community['bob'].member_id}", headers=chair,
                       json={"receipt": paper.receipt, "choice": "no", "reason": ""})
    assert empty.status_code == 422
    try:
        deployed.execute(CorrectPaperBallot(vote_id, community["bob"].member_id, paper.receipt, "no", "   "), community["chair"])
    except Exception as exc:  # the engine's own check, beside the schema's
        assert getattr(exc, "details", {}).get("errors")[0]["field"] == "reason"
    else:
        raise AssertionError("a blank reason was accepted")
