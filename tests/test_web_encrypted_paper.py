"""The tellers' pages in an encrypted vote (docs/ballot-encryption.md §13.1): the entry form carries the election for
the page's module and posts only a credential and an encrypted ballot (made here as static/js/paper-ballot.js makes
it); without them the choice's field says why (422); the engine's refusals come back field by field or above the form;
corrections take the tracker on the slip and a reason. Both locales, CSRF, permissions, garbage: never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from engine.bootstrap import Engine
from engine.kernel.models import Event
from engine.voting.commands import CastEncryptedBallot
from engine.voting.encryption import encoding
from engine.voting.encryption.group import base_mul, random_scalar
from engine.voting.models import EncryptedBallot, Participation
from tests.encrypted_ceremony import EncryptedVote, encrypt, encrypted_vote, register
from tests.helpers import Community
from tests.pages import pages_for


def posted(vote: EncryptedVote, choice: str, **more: str) -> dict[str, str]:
    """What the page's form posts once its module has encrypted ``choice``: no choice, a credential and a ballot."""
    secret = random_scalar()
    ballot, _ = encrypt(vote, secret, choice)
    return {"credential": encoding.hx(base_mul(secret)), "ballot": json.dumps(ballot.to_json()), **more}


def test_a_teller_enters_an_encrypted_paper_ballot_and_corrects_it(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    chair = pages_for(deployed, neighbours, "chair")
    url = f"/desk/votes/{vote.vote_id}/paper/{neighbours['alice'].member_id}"
    form = chair.get(url)
    assert form.status == 200
    (election,) = form.tree.xpath("//form[@data-paper-encrypt]/@data-election")
    assert vote.election is not None and json.loads(election) == vote.election.descriptor()
    assert form.tree.xpath("//form[@data-paper-encrypt]//button[@data-encrypt-submit]/@disabled")  # enabled by the module
    assert "needs JavaScript" in " ".join(form.texts("//noscript"))
    assert form.tree.xpath("//script[@type='module' and contains(@src, 'js/paper-ballot.js')]")
    assert form.tree.xpath("//input[@type='hidden' and @name='ballot']") and form.tree.xpath("//fieldset[@id='choice']//input[@value='yes']")

    without_js = chair.post(url, {"choice": "yes"}, from_page=url)  # the module did not run: nothing encrypted
    assert without_js.status == 422 and list(without_js.field_errors()) == ["choice"]
    assert "needs JavaScript" in without_js.field_errors()["choice"][0]
    entered = chair.post(url, posted(vote, "no"), from_page=url)
    assert entered.status == 200, entered.text[:2000]
    (tracker,) = entered.tree.xpath("//code[@data-tracker]/text()")
    with deployed.read() as session:
        row = session.scalars(select(Participation).where(Participation.vote_id == vote.vote_id)).one()
        assert (row.channel, row.teller_id, row.member_id) == ("paper", neighbours["chair"].member_id, neighbours["alice"].member_id)
        assert session.get(EncryptedBallot, (vote.vote_id, tracker)).channel == "paper"
    again = chair.post(url, posted(vote, "yes"), from_page=url)
    assert again.status == 409 and "one ballot per voter" in " ".join(again.texts("//div[@class='error-summary']//li"))

    correct = f"{url}/correct"
    page = chair.get(correct)
    assert page.status == 200 and page.tree.xpath("//input[@name='tracker']") and page.tree.xpath("//textarea[@name='reason']")
    no_reason = chair.post(correct, posted(vote, "yes", tracker=tracker, reason=" "), from_page=correct)
    assert no_reason.status == 422 and no_reason.field_errors() == {"reason": ["Enter the reason for the correction."]}
    other = "ab" * 32
    wrong = chair.post(correct, posted(vote, "yes", tracker=other, reason="Misread."), from_page=correct)
    assert wrong.status == 422 and list(wrong.field_errors()) == ["tracker"], wrong.field_errors()
    clerk = pages_for(deployed, neighbours, "clerk")
    done = clerk.post(correct, posted(vote, "yes", tracker=tracker.upper(), reason="The slip said yes."), from_page=correct)
    assert done.status == 200, done.text[:2000]
    assert "is corrected" in " ".join(done.texts("//h1"))
    stale = clerk.post(correct, posted(vote, "no", tracker=tracker, reason="Again."), from_page=correct)
    assert stale.status == 422 and "replaced by a later correction" in stale.field_errors()["tracker"][0]
    with deployed.read() as session:
        event = session.scalars(select(Event).where(Event.type == "paper_ballot_corrected")).one()
        assert (event.actor_id, event.input["reason"]) == (neighbours["clerk"].member_id, "The slip said yes.")
        assert session.get(EncryptedBallot, (vote.vote_id, tracker)).replaced is True


def test_refusals_and_garbage_come_back_on_the_form(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    secret = register(deployed, neighbours, vote, "bob")
    deployed.execute(CastEncryptedBallot(vote.vote_id, encrypt(vote, secret, "yes")[0].to_json()), neighbours["bob"])
    chair = pages_for(deployed, neighbours, "chair")
    bob = f"/desk/votes/{vote.vote_id}/paper/{neighbours['bob'].member_id}"
    online = chair.post(bob, posted(vote, "no"), from_page=bob)
    assert online.status == 409 and "already voted" in online.text
    assert chair.post(f"{bob}/correct", posted(vote, "no", tracker="ab" * 32, reason="x"), from_page=f"{bob}/correct").status == 409

    carol = f"/desk/votes/{vote.vote_id}/paper/{neighbours['carol'].member_id}"
    chair.get(carol)
    mismatch = {**posted(vote, "no"), "credential": posted(vote, "no")["credential"]}
    for body in (mismatch, {**posted(vote, "no"), "ballot": "{not json"}, {**posted(vote, "no"), "ballot": "[" * 15_000},
                 {**posted(vote, "no"), "ballot": "x" * 100_000}, {**posted(vote, "no"), "credential": "zz\x00"},
                 {**posted(vote, "no"), "ballot": "{}"}):
        answer = chair.post(carol, body, from_page=carol)
        assert answer.status == 422 and list(answer.field_errors()) == ["choice"], (body.get("ballot", "")[:20], answer.status)
    assert chair.post(carol, posted(vote, "no"), csrf=False).status == 400
    with deployed.read() as session:
        assert session.scalar(select(Participation).where(Participation.member_id == neighbours["carol"].member_id)) is None

    alice = pages_for(deployed, neighbours, "alice")
    assert alice.get(carol).status == 403 and alice.get(f"{carol}/correct").status == 403
    keying = encrypted_vote(deployed, neighbours, keyed=False)
    waiting = chair.get(f"/desk/votes/{keying.vote_id}/paper/{neighbours['carol'].member_id}")
    assert waiting.status == 200 and not waiting.tree.xpath("//form[@data-paper-encrypt]")
    assert "have not made the election key" in waiting.text
    listing = chair.get(f"/desk/votes/{keying.vote_id}/paper")
    assert "have not made the election key" in listing.text and "The vote is closed" not in listing.text


def test_the_encrypted_entry_in_chinese(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    url = f"/desk/votes/{vote.vote_id}/paper/{neighbours['carol'].member_id}"
    form = chair.get(url)
    assert "JavaScript" in " ".join(form.texts("//noscript")) and "加密" in form.text
    refused = chair.post(url, {"choice": "yes"}, from_page=url)
    assert refused.status == 422 and "加密" in refused.field_errors()["choice"][0]
    done = chair.post(url, posted(vote, "abstain"), from_page=url)
    assert done.status == 200 and "追踪码" in done.text
