"""An encrypted vote walked end to end in a real browser (docs/ballot-encryption.md §6, §13): three trustees make the
key with ``yishi trustee`` over HTTP against the live server; a resident's booth makes her voting key, encrypts,
audits one ballot (the page opens it and shows the choice; the audit file checks offline), encrypts afresh and casts,
noting the tracker; another resident casts; the vote closes; two trustees decrypt through the CLI; the resident finds
her tracker counted; the board JSON verifies offline with ``yishi tally --verify``; the audited tracker is listed as
audited and was never counted. axe-core checks the booth. An approval vote's booth: two boxes ticked, the audit opens
to that list (on the page and in the audit file), the fresh ballot is cast and counted (~3.5 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from playwright.sync_api import Page, expect

from cli import main
from cli.audit import tally as tally_command
from engine.audit.offline import ballot_audit
from engine.kernel.commands import CompleteTask
from engine.voting import ceremony
from engine.voting.encryption import ballots as eb
from engine.voting.models import Ceremony
from tests.browser.conftest import LiveServer
from tests.browser.helpers import check_accessibility, sign_in
from tests.builders import ready
from tests.encrypted_ceremony import TRUSTEES, cast, encrypt, encrypted_vote, register


def trustee(live_server: LiveServer, community: Any, home: Path, name: str, *args: str) -> str:
    """``yishi trustee`` as the trustee's own device would run it: over HTTP, with their token and passphrase."""
    env = {"YISHI_DATABASE_URL": f"sqlite:///{home}/unused.db", "YISHI_SERVER": live_server.url,
           "YISHI_TOKEN": community.tokens[name], "YISHI_TRUSTEE_PASSPHRASE": f"{name} keeps a long passphrase"}
    result = CliRunner().invoke(main, ["trustee", "--home", str(home / name), *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_resident_audits_a_ballot_casts_another_and_finds_it_counted(
        page: Page, live_server: LiveServer, neighbours: Any, tmp_path: Path) -> None:
    engine = live_server.engine
    vote = encrypted_vote(engine, neighbours, keyed=False, title="Lift repair")
    for step in ("join", "shares", "keyshare"):
        for name in TRUSTEES:
            trustee(live_server, neighbours, tmp_path, name, step, vote.vote_id)
    with engine.read() as session:
        vote.election = eb.Election.from_json(session.get(Ceremony, vote.vote_id).election)

    sign_in(page, neighbours.codes["alice"])
    page.goto(f"/votes/{vote.vote_id}")
    expect(page.locator("[data-booth-nojs]")).to_be_hidden()  # the script runs: the words for no script go
    with page.expect_navigation():
        page.locator("[data-booth-register] button").click()
    key = page.locator("[data-booth-key-text]")
    expect(key).to_be_visible()  # shown once, to write down
    assert len(key.inner_text().replace(" ", "")) == 64

    page.locator("input[name=choice][value=yes]").check()
    yes = page.locator("label[for=choice-yes]").inner_text().strip()
    page.locator("[data-booth-choose] button[type=submit]").click()
    first = page.locator("[data-booth-tracker]").inner_text().strip()
    assert len(first) == 64
    check_accessibility(page)
    page.locator("[data-booth-audit]").click()
    expect(page.locator("[data-booth-audited]")).to_be_visible()
    assert page.locator("[data-booth-opened]").inner_text().strip() == yes  # "this ballot encrypted: Yes"
    assert page.locator("[data-booth-audited-tracker]").inner_text().strip() == first
    with page.expect_download() as download:
        page.locator("[data-booth-audit-file]").click()
    audited = ballot_audit.check(json.loads(Path(download.value.path()).read_text(encoding="utf-8")))
    assert (audited.ok, audited.choice, audited.tracker) == (True, "yes", first)  # and offline too
    fresh = page.locator("[data-booth-tracker]").inner_text().strip()
    assert fresh != first and len(fresh) == 64  # encrypted afresh for casting
    with page.expect_navigation():
        page.locator("[data-booth-cast] button").click()
    tracker = page.locator("#tracker-code").inner_text().strip()
    assert tracker == fresh

    bob = register(engine, neighbours, vote, "bob")
    cast(engine, neighbours, vote, "bob", encrypt(vote, bob, "no")[0])
    engine.execute(CompleteTask(ready(engine, vote.instance_id)["voting"], {"reason": "Enough."}), neighbours["chair"])
    for name in TRUSTEES[:2]:
        trustee(live_server, neighbours, tmp_path, name, "decrypt", vote.vote_id)

    page.goto(f"/votes/{vote.vote_id}/board")
    page.locator("input[name=tracker]").fill(tracker)
    page.locator("form[action$='/trackers'] button").click()
    expect(page.locator("[role=status] strong")).to_have_text("已计入。")  # counted
    board = page.request.get(f"/votes/{vote.vote_id}/encrypted-board.json")
    document = board.json()
    assert document["audited"] == [first] and first not in {b["tracker"] for b in document["ballots"]}
    assert document["result"]["decryption"]["counts"] == [1, 1, 0]  # the audited ballot is not among them
    path = tmp_path / "board.json"
    path.write_bytes(board.body())
    verified = CliRunner().invoke(tally_command, [str(path), "--verify"])
    assert verified.exit_code == 0 and "verified" in verified.output, verified.output


APPROVAL = {"method": "approval", "question": "Which projects do you approve?",
            "options": [{"id": "park", "label": "Pocket park"}, {"id": "gym", "label": "Outdoor gym"},
                        {"id": "library", "label": "Book corner"}],
            "rule": {"quorum": {"share": "1/2"}, "threshold": {"kind": "simple_majority", "abstentions_in_base": True},
                     "ties": "lot"}}


def test_an_approval_ballot_ticked_on_the_page_is_audited_to_its_list_and_cast(
        page: Page, live_server: LiveServer, neighbours: Any) -> None:
    """The booth's script on an approval vote (its key made through the engine: the trustees' CLI is walked above):
    two boxes ticked, the ballot audited opens to those two options, on the page and in the audit file; the fresh
    ballot is cast and counted on the board."""
    engine = live_server.engine
    vote = encrypted_vote(engine, neighbours, **APPROVAL)
    sign_in(page, neighbours.codes["alice"])
    page.goto(f"/votes/{vote.vote_id}")
    with page.expect_navigation():
        page.locator("[data-booth-register] button").click()
    for option in ("park", "library"):
        page.locator(f"input[name=choice][value={option}]").check()
    page.locator("[data-booth-choose] button[type=submit]").click()
    expect(page.locator("[data-booth-chosen]")).to_have_text("Pocket park, Book corner")  # said before casting
    first = page.locator("[data-booth-tracker]").inner_text().strip()
    page.locator("[data-booth-audit]").click()
    expect(page.locator("[data-booth-opened]")).to_have_text("Pocket park, Book corner")
    with page.expect_download() as download:
        page.locator("[data-booth-audit-file]").click()
    audited = ballot_audit.check(json.loads(Path(download.value.path()).read_text(encoding="utf-8")))
    assert (audited.ok, audited.choice, audited.tracker) == (True, ["park", "library"], first)
    with page.expect_navigation():
        page.locator("[data-booth-cast] button").click()
    tracker = page.locator("#tracker-code").inner_text().strip()
    assert tracker != first
    with engine.read() as session:
        assert ceremony.find_tracker(session, neighbours["alice"], vote.vote_id, tracker)["status"] == "counted"
        assert ceremony.find_tracker(session, neighbours["alice"], vote.vote_id, first)["status"] == "audited"
