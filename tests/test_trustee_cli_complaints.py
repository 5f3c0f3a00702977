"""``yishi trustee`` through a complaint (docs/ballot-encryption.md §4 step 2): a whole ceremony with one cheating
trustee — its device dealt a wrong share to another — caught by the recipient's ``keyshare`` (a complaint), exposed
by its own ``answer`` (the share does not check: disqualified), the others ``join`` the restarted round with fresh
polynomials, the key is made without the cheater, ballots are cast and decrypted by the two left, and the board
verifies offline; and an honest dealer whose envelope was corrupted in transit answers, the complaint is dismissed,
and the recipient's ``keyshare`` takes the published share instead of the envelope's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.ballot import trusted_election
from cli.trustee import Keystore
from engine.bootstrap import Engine
from engine.voting.encryption import encoding
from engine.voting.encryption.group import Scalar, random_scalar
from tests.ceremonies import Trustees, encrypted_vote, passphrase_of, trustee_cli, verify_offline, vote_and_decrypt
from tests.fixtures import bearer
from tests.helpers import Community

NAMES = ("chair", "clerk", "auditor")


def ok(result: Any) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return str(result.output)


def failed(result: Any) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    return str(result.output)


def key_share_on_device(home: Path, vote_id: str, name: str) -> Scalar:
    return encoding.scalar(Keystore.load(home / name / f"{vote_id}.trustee", passphrase_of(name)).secrets["key_share"])


def test_a_cheating_trustee_is_caught_disqualified_and_the_others_finish_through_the_cli(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community, NAMES, 2)
    cli = lambda name, *args: trustee_cli(client, community, tmp_path, name, *args)  # noqa: E731
    for name in NAMES:
        ok(cli(name, "join", vote_id))
    path = tmp_path / "clerk" / f"{vote_id}.trustee"  # the clerk's device deals the auditor a wrong share
    cheat = Keystore.load(path, passphrase_of("clerk"))
    cheat.secrets["shares"]["3"] = encoding.hx(random_scalar())
    cheat.save()
    for name in NAMES:
        ok(cli(name, "shares", vote_id))
    assert "verification key published" in ok(cli("chair", "keyshare", vote_id))
    assert "verification key published" in ok(cli("clerk", "keyshare", vote_id))
    complained = failed(cli("auditor", "keyshare", vote_id))
    assert "trustees 2 do not check: complaint published" in complained and "within 24 hours" in complained
    assert "awaiting the dealer's answer" in ok(cli("chair", "status", vote_id))
    assert "no complaint against you" in ok(cli("chair", "answer", vote_id))  # not addressed to the chair

    exposed = failed(cli("clerk", "answer", vote_id))
    assert "does not check against your commitments: you are disqualified" in exposed
    status = ok(cli("auditor", "status", vote_id))
    assert "round 1; disqualified: 2" in status
    assert "round 0: dealer 2 disqualified on trustee 3's complaint (its revealed share does not check)" in status
    assert "restarted" in failed(cli("chair", "shares", vote_id))  # the old round's secrets are of no use now
    assert "disqualified" in failed(cli("clerk", "join", vote_id))

    before = Keystore.load(tmp_path / "chair" / f"{vote_id}.trustee", passphrase_of("chair")).secrets
    for name in ("chair", "auditor"):
        assert "round 1" in ok(cli(name, "join", vote_id))
    after = Keystore.load(tmp_path / "chair" / f"{vote_id}.trustee", passphrase_of("chair")).secrets
    assert after["round"] == 1 and not set(after["coefficients"]) & set(before["coefficients"])  # a fresh polynomial
    assert "key_share" not in after and after["envelope_secret"] != before["envelope_secret"]
    assert "sent sealed shares to trustees 3" in ok(cli("chair", "shares", vote_id))  # not to the disqualified 2
    assert "sent sealed shares to trustees 1" in ok(cli("auditor", "shares", vote_id))
    for name in ("chair", "auditor"):
        assert "all 1 shares check" in ok(cli(name, "keyshare", vote_id))
    state = client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(community.tokens["chair"])).get_json()
    assert state["state"] == "open" and state["election"]["disqualified"] == [2]
    assert trusted_election(state, vote_id).numbers == (1, 3)  # a voter's device (yishi ballot) trusts it too

    keys = {1: key_share_on_device(tmp_path, vote_id, "chair"), 3: key_share_on_device(tmp_path, vote_id, "auditor")}
    board = vote_and_decrypt(client, deployed, community, Trustees(client, community, vote_id, NAMES, 2), instance_id, keys)
    assert "disqualified" in failed(cli("clerk", "decrypt", vote_id))
    verified = verify_offline(board, tmp_path)
    assert verified.exit_code == 0, verified.output


def test_an_honest_dealer_answers_and_the_recipient_uses_the_published_share(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    _, vote_id = encrypted_vote(deployed, community, NAMES, 2)
    cli = lambda name, *args, **kw: trustee_cli(client, community, tmp_path, name, *args, **kw)  # noqa: E731
    for step in ("join", "shares"):
        for name in NAMES:
            ok(cli(name, step, vote_id))

    def corrupt_from_dealer_1(method: str, path: str, payload: Any) -> Any:
        if method == "GET" and path.endswith("/ceremony/envelopes"):
            return [{**e, "envelope": e["envelope"][:-2] + "00"} if e["dealer"] == 1 else e for e in payload]
        return payload

    assert "trustees 1 do not check" in failed(cli("auditor", "keyshare", vote_id, tamper=corrupt_from_dealer_1))
    assert "answered trustee 3's complaint; the share checks" in ok(cli("chair", "answer", vote_id))
    assert "no complaint against you" in ok(cli("chair", "answer", vote_id))  # answered already
    status = ok(cli("clerk", "status", vote_id))
    assert "complaint: trustee 3 against dealer 1, answered, the share checks: dismissed" in status
    assert "disqualified: nobody" in status
    ok(cli("chair", "keyshare", vote_id))
    ok(cli("clerk", "keyshare", vote_id))
    # the envelope is still corrupted: the published share is used instead
    assert "verification key published" in ok(cli("auditor", "keyshare", vote_id, tamper=corrupt_from_dealer_1))
    state = client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(community.tokens["chair"])).get_json()
    assert state["state"] == "open" and "disqualified" not in state["election"]
