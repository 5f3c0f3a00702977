"""A teller's paper entry in an encrypted vote, in a real browser (docs/ballot-encryption.md §13.1): the page's module
(static/js/paper-ballot.js) encrypts the choice under the site's CSP, the form posts no choice in clear, the server
accepts the ballot's proofs, and the trustees' key shares (held by the test) decrypt it to the choice that was ticked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.voting.encryption import ballots as eb
from engine.voting.encryption import trustees as et
from engine.voting.encryption.tally import discrete_log
from engine.voting.models import EncryptedBallot, Participation
from tests.browser.conftest import LiveServer
from tests.browser.helpers import sign_in
from tests.encrypted_ceremony import encrypted_vote


@pytest.mark.parametrize("screen", ["desktop"])
def test_the_tellers_page_encrypts_the_paper_choice_in_the_browser(page: Page, live_server: LiveServer, neighbours: Any) -> None:
    engine = live_server.engine
    vote = encrypted_vote(engine, neighbours)
    sign_in(page, neighbours.codes["chair"])
    page.goto(f"/desk/votes/{vote.vote_id}/paper/{neighbours['carol'].member_id}")
    button = page.locator("button[data-encrypt-submit]")
    expect(button).to_be_enabled()  # the module ran (it is disabled without it)
    page.locator("input[name=choice][value=no]").check()
    with page.expect_request(lambda r: r.method == "POST") as sent, page.expect_navigation():
        button.click()
    form = parse_qs(sent.value.post_data or "")
    assert "choice" not in form and set(form) >= {"credential", "ballot", "csrf_token"}  # no choice in clear
    tracker = page.locator("code[data-tracker]").inner_text().strip()

    with engine.read() as session:
        row = session.get(EncryptedBallot, (vote.vote_id, tracker))
        participation = session.scalars(select(Participation).where(Participation.vote_id == vote.vote_id)).one()
        ballot, channel = eb.Ballot.from_json(row.ballot), row.channel
        assert (participation.channel, participation.teller_id) == ("paper", neighbours["chair"].member_id)
    assert channel == "paper" and ballot.credential.encode().hex() == form["credential"][0]
    assert vote.election is not None
    ciphertexts = list(ballot.ciphertexts)
    partials = [et.decrypt_partially(vote.election.fingerprint, j, vote.key_shares[j], ciphertexts) for j in (1, 2)]
    values = [discrete_log(ct.beta - factor, 1) for ct, factor in zip(ciphertexts, et.combine(partials, 2))]
    assert dict(zip(vote.election.slots, values)) == {"yes": 0, "no": 1, "abstain": 0}
