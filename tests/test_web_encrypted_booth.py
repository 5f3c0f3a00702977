"""The encrypting booth's pages (web/voting/booth.py): an encrypted vote's page in each state (keying, open, decrypting,
decided), the booth's markup for its script and the plain words without it, registering the voting key's public half,
casting the encrypted ballot the booth made (its tracker shown once), auditing a ballot by its tracker (JSON for the
page's script), finding a tracker, the encrypted board and its JSON. The ballots are made here with the reference
encryptor, as the browser's booth makes them (tests/browser/test_encrypted_vote_walk.py drives the real script).
Permissions, CSRF, bad input (a ballot field that is not JSON, a ballot of another voter), another community's vote:
clean 4xx pages, never a 500. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption.group import base_mul, random_scalar
from engine.voting import ceremony
from engine.voting.commands import AuditBallot
from engine.voting.models import AuditedBallot, EncryptedBallot, VoterCredential
from tests.builders import open_vote, ready
from tests.ceremonies import Trustees
from tests.encrypted_ceremony import TRUSTEES, cast, decrypt, encrypt, encrypted_vote, register
from tests.helpers import Community
from tests.pages import Page, Pages, pages_for

pytestmark = pytest.mark.pages


def booth_of(page: Page) -> dict[str, str]:
    (node,) = page.tree.xpath("//div[@data-booth]")
    return dict(node.attrib)


def register_on_page(browser: Pages, vote_id: str) -> tuple[Any, Page]:
    """What the booth's script does on "Make my voting key": a secret kept on the device, its public half posted."""
    browser.get(f"/votes/{vote_id}")
    secret = random_scalar()
    answer = browser.post(f"/votes/{vote_id}/credential", {"credential": encoding.hx(base_mul(secret))})
    return secret, answer


def test_the_booth_from_the_key_to_the_tracker_on_the_board(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours, keyed=False, title="Lift repair")
    alice = pages_for(deployed, neighbours, "alice")
    keying = alice.get(f"/votes/{vote.vote_id}")
    assert keying.status == 200
    assert any("trustees are still making" in t for t in keying.texts("//main//p"))
    assert booth_of(keying)["data-credential"] == ""  # a voting key may be made while the trustees work
    secret, registered = register_on_page(alice, vote.vote_id)
    assert registered.status == 303 and registered.location.endswith(f"/votes/{vote.vote_id}#booth")
    with deployed.read() as session:
        assert session.scalars(select(VoterCredential.credential)).all() == [encoding.hx(base_mul(secret))]

    from tests.encrypted_ceremony import make_key
    make_key(deployed, neighbours, vote, 2)
    page = alice.get(f"/votes/{vote.vote_id}")
    booth = booth_of(page)
    assert booth["data-credential"] == encoding.hx(base_mul(secret)) and "hidden" in booth
    assert eb.Election.from_json(json.loads(booth["data-election"])) == vote.election  # what the script encrypts to
    assert page.texts("//*[@data-booth-nojs]//strong")  # said plainly without JavaScript
    assert "/static/js/booth/booth.js" in page.text and "<script>" not in page.text
    assert page.tree.xpath("//form[@data-booth-choose]//input[@type='radio' and @value='yes']")

    spoiled, randomness = encrypt(vote, secret, "no")
    audited = alice.client.post(f"/votes/{vote.vote_id}/audited-ballot",
                                data={"csrf_token": page.csrf, "tracker": eb.tracker(spoiled)})
    assert audited.status_code == 201 and audited.get_json()["tracker"] == eb.tracker(spoiled)
    refused = alice.post(f"/votes/{vote.vote_id}/encrypted-ballot", {"ballot": json.dumps(spoiled.to_json())})
    assert refused.status == 409 and any("audited" in t for t in refused.texts("//div[@class='error-summary']//li"))
    ballot, _ = encrypt(vote, secret, "yes")
    answer = alice.post(f"/votes/{vote.vote_id}/encrypted-ballot", {"ballot": json.dumps(ballot.to_json())},
                        from_page=f"/votes/{vote.vote_id}")
    assert answer.status == 200, answer.text
    assert answer.texts("//code[@id='tracker-code']") == [eb.tracker(ballot)]  # shown once, in the answer only
    assert eb.tracker(ballot) not in alice.get(f"/votes/{vote.vote_id}").text
    again = alice.client.post(f"/votes/{vote.vote_id}/audited-ballot",
                              data={"csrf_token": page.csrf, "tracker": eb.tracker(ballot)})
    assert again.status_code == 409 and "cast already" in again.get_json()["error"]

    found = alice.get(f"/votes/{vote.vote_id}/trackers?tracker={eb.tracker(ballot)}")
    assert found.status == 200 and any("it counts" in t for t in found.texts("//div[@role='status']//strong"))
    spaced = " ".join(eb.tracker(spoiled)[i:i + 4] for i in range(0, 64, 4)).upper()
    assert any("Audited" in t for t in alice.get(f"/votes/{vote.vote_id}/trackers", query_string={"tracker": spaced})
               .texts("//div[@role='status']//strong"))
    bad = alice.get(f"/votes/{vote.vote_id}/trackers?tracker=not-a-tracker")
    assert bad.status == 422 and bad.field_errors()["tracker"]

    bob = pages_for(deployed, neighbours, "bob")
    bob_secret = register(deployed, neighbours, vote, "bob")
    cast(deployed, neighbours, vote, "bob", encrypt(vote, bob_secret, "yes")[0])
    deployed.execute(CompleteTask(ready(deployed, vote.instance_id)["voting"], {"reason": "Enough."}), neighbours["chair"])
    waiting = alice.get(f"/votes/{vote.vote_id}")
    assert any("waiting for 2 trustees" in t for t in waiting.texts("//main//p"))
    assert not waiting.tree.xpath("//div[@data-booth]")
    decrypt(deployed, neighbours, vote)
    decided = bob.get(f"/votes/{vote.vote_id}")
    assert decided.texts("//h2") and "Guarantee" in decided.texts("//h2")
    assert any("decrypted, by 2 trustees together" in t for t in decided.texts("//main//p"))
    board = bob.get(f"/votes/{vote.vote_id}/board")
    assert board.status == 200
    assert eb.tracker(ballot) in board.texts("//ul[@class='trackers']//code")
    assert eb.tracker(spoiled) in board.texts("//h2[.='Audited ballots']/following-sibling::ul[1]//code")
    document = bob.client.get(f"/votes/{vote.vote_id}/encrypted-board.json")
    assert document.status_code == 200 and json.loads(document.data)["audited"] == [eb.tracker(spoiled)]
    counted = bob.get(f"/votes/{vote.vote_id}/trackers?tracker={eb.tracker(ballot)}")
    assert any(t == "Counted." for t in counted.texts("//div[@role='status']//strong"))


def test_bad_input_comes_back_as_the_booth_with_its_error(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    alice = pages_for(deployed, neighbours, "alice")
    secret, _ = register_on_page(alice, vote.vote_id)
    alice.get(f"/votes/{vote.vote_id}")
    for garbage in ("{not json", "[1, 2]", "", "x" * 100_001, "\u0000"):
        page = alice.post(f"/votes/{vote.vote_id}/encrypted-ballot", {"ballot": garbage}, from_page=f"/votes/{vote.vote_id}")
        assert page.status in (400, 422), (garbage[:10], page.status)
        if page.status == 422:
            assert page.tree.xpath("//div[@class='error-summary']"), garbage[:10]
    carol_secret = register(deployed, neighbours, vote, "carol")
    carols = encrypt(vote, carol_secret, "no")[0]
    copied = alice.post(f"/votes/{vote.vote_id}/encrypted-ballot", {"ballot": json.dumps(carols.to_json())},
                        from_page=f"/votes/{vote.vote_id}")
    assert copied.status == 422 and copied.tree.xpath("//div[@class='error-summary']")
    _, again = register_on_page(alice, vote.vote_id)  # a second, different key: refused, the first stays
    assert again.status == 409
    with deployed.read() as session:
        assert session.scalars(select(EncryptedBallot)).all() == []
        assert len(session.scalars(select(VoterCredential)).all()) == 2
    refused = alice.post(f"/votes/{vote.vote_id}/credential", {"credential": "zz"}, from_page=f"/votes/{vote.vote_id}")
    assert refused.status == 422
    bad_tracker = alice.client.post(f"/votes/{vote.vote_id}/audited-ballot",
                                    data={"csrf_token": alice.get(f"/votes/{vote.vote_id}").csrf, "tracker": "AB" * 32})
    assert bad_tracker.status_code == 422 and bad_tracker.get_json()["error"]
    with deployed.read() as session:
        assert session.scalars(select(AuditedBallot)).all() == []


def test_csrf_permissions_and_other_communities(deployed: Engine, neighbours: Community, other_community: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    alice = pages_for(deployed, neighbours, "alice")
    alice.get(f"/votes/{vote.vote_id}")
    ballot = encrypt(vote, random_scalar(), "yes")[0]
    for url, data in ((f"/votes/{vote.vote_id}/credential", {"credential": "ab" * 32}),
                      (f"/votes/{vote.vote_id}/encrypted-ballot", {"ballot": json.dumps(ballot.to_json())}),
                      (f"/votes/{vote.vote_id}/audited-ballot", {"tracker": "ab" * 32})):
        assert alice.post(url, data, csrf=False).status == 400  # no CSRF token: the site's 400 page
    clerk = pages_for(deployed, neighbours, "clerk")  # committee only: not in the electorate
    page = clerk.get(f"/votes/{vote.vote_id}")
    assert page.status == 200 and not page.tree.xpath("//div[@data-booth]")
    assert clerk.post(f"/votes/{vote.vote_id}/credential", {"credential": "ab" * 32}).status == 403
    _, plain = open_vote(deployed, neighbours)
    assert alice.get(f"/votes/{plain}/trackers").status == 404  # the booth's routes mean nothing for it
    assert alice.post(f"/votes/{plain}/credential", {"credential": "ab" * 32}, from_page=f"/votes/{plain}").status == 404
    theirs = encrypted_vote(deployed, other_community, keyed=False).vote_id
    for url in (f"/votes/{theirs}", f"/votes/{theirs}/trackers", f"/votes/{theirs}/board",
                f"/votes/{theirs}/encrypted-board.json", "/votes/99999999999999999999/trackers", "/votes/%00/trackers"):
        assert alice.get(url).status == 404, url
    assert alice.post(f"/votes/{theirs}/credential", {"credential": "ab" * 32}, from_page=f"/votes/{vote.vote_id}").status == 404
    assert alice.get(f"/votes/{vote.vote_id}/board").status == 409  # the board waits for the decryption
    with deployed.read() as session:
        assert session.scalars(select(VoterCredential)).all() == []


def test_the_booth_in_chinese(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    alice = pages_for(deployed, neighbours, "alice", locale="zh_CN")
    page = alice.get(f"/votes/{vote.vote_id}")
    assert page.status == 200
    nojs = " ".join(page.texts("//*[@data-booth-nojs]"))
    assert "JavaScript" in nojs and "居委会" in nojs or "纸质" in nojs
    assert "生成我的投票密钥" in page.text
    found = alice.get(f"/votes/{vote.vote_id}/trackers?tracker={'0' * 64}")
    assert found.status == 200 and "未找到" in " ".join(found.texts("//div[@role='status']"))


APPROVAL = {"method": "approval", "question": "Which projects do you approve?",
            "options": [{"id": "park", "label": "Pocket park"}, {"id": "gym", "label": "Outdoor gym"},
                        {"id": "library", "label": "Book corner"}],
            "rule": {"quorum": {"share": "1/2"}, "threshold": {"kind": "simple_majority", "abstentions_in_base": True},
                     "ties": "lot"}}


def test_an_approval_booth_has_boxes_and_casts_a_list_or_an_abstention(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours, **APPROVAL)
    alice = pages_for(deployed, neighbours, "alice")
    secret, _ = register_on_page(alice, vote.vote_id)
    page = alice.get(f"/votes/{vote.vote_id}")
    booth = booth_of(page)
    assert json.loads(booth["data-election"])["method"] == "approval"
    boxes = page.tree.xpath("//form[@data-booth-choose]//input[@type='checkbox' and @name='choice']/@value")
    assert boxes == ["park", "gym", "library"] and not page.tree.xpath("//form[@data-booth-choose]//input[@type='radio']")
    assert page.texts("//form[@data-booth-choose]//legend") == ["Which projects do you approve?"]  # a fieldset's legend
    assert "Tick every option you accept. Tick none to abstain." in page.texts("//form[@data-booth-choose]//p")
    assert booth["data-abstain"] == "No option (an abstention)"  # what an opened empty list says
    assert page.tree.xpath("//section[@data-booth-encrypted]//strong[@data-booth-chosen]")

    spoiled = encrypt(vote, secret, ["park", "library"])[0]
    audited = alice.client.post(f"/votes/{vote.vote_id}/audited-ballot",
                                data={"csrf_token": page.csrf, "tracker": eb.tracker(spoiled)})
    assert audited.status_code == 201
    for choice in (["gym"], []):  # a list, then a change of mind: nothing ticked, the abstention
        ballot = encrypt(vote, secret, choice)[0]
        answer = alice.post(f"/votes/{vote.vote_id}/encrypted-ballot", {"ballot": json.dumps(ballot.to_json())},
                            from_page=f"/votes/{vote.vote_id}")
        assert answer.status == 200 and answer.texts("//code[@id='tracker-code']") == [eb.tracker(ballot)]
    with deployed.read() as session:
        rows = session.execute(select(EncryptedBallot.tracker, EncryptedBallot.replaced)).all()
    assert sorted(replaced for _, replaced in rows) == [False, True] and eb.tracker(spoiled) not in {t for t, _ in rows}
    chinese = pages_for(deployed, neighbours, "bob", locale="zh_CN").get(f"/votes/{vote.vote_id}")
    assert booth_of(chinese)["data-abstain"] != "No option (an abstention)"
    assert "No option (an abstention)" not in chinese.text and "Tick none to abstain" not in chinese.text


def test_the_keying_page_names_the_round_and_the_disqualified(client: Any, deployed: Engine,
                                                               neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours, keyed=False)
    trustees = Trustees(client, neighbours, vote.vote_id, TRUSTEES, 2)
    trustees.deal()
    trustees.send()
    assert trustees.complain(3, 1).status_code == 201
    assert trustees.answer(1, 3, random_scalar()).status_code == 201  # a share that does not check: 1 disqualified
    page = pages_for(deployed, neighbours, "alice").get(f"/votes/{vote.vote_id}")
    said = " ".join(page.texts("//div[@data-ceremony]//p | //div[@data-ceremony]//li"))
    first = next(t for t in page.texts("//ul[contains(@class, 'trustees')]/li") if t.startswith("Trustee 1: "))
    name = first.removeprefix("Trustee 1: ").split(" —")[0]
    assert first.endswith("disqualified")
    assert "making the key again (round 2)" in said
    assert f"{name} was disqualified in round 1: the key part they revealed to answer a complaint does not check" in said
    assert booth_of(page)["data-credential"] == ""  # voting keys may still be made while they work


def test_a_failed_ceremony_tells_residents_why_and_what_the_committee_can_do(client: Any, deployed: Engine,
                                                                             neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours, keyed=False, threshold=3)
    trustees = Trustees(client, neighbours, vote.vote_id, TRUSTEES, 3)
    trustees.deal()
    trustees.send()
    assert trustees.complain(2, 1).status_code == 201
    assert trustees.answer(1, 2, random_scalar()).get_json()["state"] == "failed"
    page = pages_for(deployed, neighbours, "alice").get(f"/votes/{vote.vote_id}")
    assert page.status == 200
    said = " ".join(page.texts("//div[@data-ceremony]//p | //div[@data-ceremony]//li"))
    assert "This vote cannot take encrypted ballots" in said and "Only 2 trustees are still qualified" in said
    assert "needs 3 of them" in said and "What the committee can do" in said and "was disqualified in round 1" in said
    assert not page.tree.xpath("//div[@data-booth]") and "Voting has ended" not in page.text
    chinese = pages_for(deployed, neighbours, "bob", locale="zh_CN").get(f"/votes/{vote.vote_id}")
    said = " ".join(chinese.texts("//div[@data-ceremony]//p | //div[@data-ceremony]//li"))
    assert "本表决无法接受加密选票" in said and "居委会可以这样做" in said and "第 1 轮被取消资格" in said


def test_a_lost_voting_key_is_replaced_on_the_page_until_a_ballot_is_cast(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    alice = pages_for(deployed, neighbours, "alice")
    register_on_page(alice, vote.vote_id)
    page = alice.get(f"/votes/{vote.vote_id}")
    (lost,) = page.tree.xpath("//div[@data-booth-key-ask]//form[@data-booth-lost]")
    assert lost.xpath(".//input[@name='replace']/@value") == ["y"] and lost.xpath(".//input[@name='credential']")
    secret = random_scalar()
    answer = alice.post(f"/votes/{vote.vote_id}/credential", {"credential": encoding.hx(base_mul(secret)), "replace": "y"})
    assert answer.status == 303
    with deployed.read() as session:
        assert session.scalars(select(VoterCredential.credential)).all() == [encoding.hx(base_mul(secret))]
    cast(deployed, neighbours, vote, "alice", encrypt(vote, secret, "yes")[0])
    page = alice.get(f"/votes/{vote.vote_id}")
    assert not page.tree.xpath("//form[@data-booth-lost]")  # the API says replaceable: false
    assert any("cannot be replaced" in t for t in page.texts("//div[@data-booth-key-ask]//p"))
    refused = alice.post(f"/votes/{vote.vote_id}/credential", {"credential": encoding.hx(base_mul(random_scalar())),
                                                              "replace": "y"})
    assert refused.status == 409
    assert any("so your voting key cannot be replaced" in t for t in refused.texts("//div[@class='error-summary']//li"))
    with deployed.read() as session:
        assert session.scalars(select(VoterCredential.credential)).all() == [encoding.hx(base_mul(secret))]


def test_the_booth_says_when_the_audits_are_used_up(deployed: Engine, neighbours: Community) -> None:
    vote = encrypted_vote(deployed, neighbours)
    for n in range(ceremony.MAX_AUDITS):
        deployed.execute(AuditBallot(vote.vote_id, f"{n:064x}"), neighbours["alice"])
    alice = pages_for(deployed, neighbours, "alice", locale="zh_CN")
    page = alice.get(f"/votes/{vote.vote_id}")
    answer = alice.client.post(f"/votes/{vote.vote_id}/audited-ballot", data={"csrf_token": page.csrf, "tracker": "f" * 64})
    assert answer.status_code == 409 and answer.get_json()["error"] == f"你已审核 {ceremony.MAX_AUDITS} 张选票，已达本表决每位投票人的上限。现在请投出你的选票。"
