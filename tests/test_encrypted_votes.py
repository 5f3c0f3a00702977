"""Encrypted secret votes through the API (docs/ballot-encryption.md, Integration): 3 trustees (k = 2) whose secrets
live only in this test (it plays their devices with ``engine.voting.encryption``), residents casting ballots made
with the reference encryptor, re-voting, the close, 2 trustees decrypting, the result equal to the plaintext count;
k − 1 cannot decide; a bad decryption share is named; a copied ballot is refused; no plaintext choice anywhere in the
database; ``yishi tally --verify`` passes on the exported board and fails on an altered one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from cli.audit import tally as tally_command
from engine.bootstrap import Engine
from engine.kernel.models import Instance
from engine.voting.counting.board import electorate_summary, tally_config
from engine.voting.counting.tally import tally
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption import trustees as et
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import Scalar, base_mul, random_scalar
from engine.voting.models import Vote
from engine.kernel.commands import CompleteTask
from tests.builders import open_vote, ready
from tests.encrypted_elections import TrusteeDevice
from tests.fixtures import bearer
from tests.helpers import Community

TRUSTEES = ("chair", "clerk", "auditor")
CHOICES = {"alice": "yes", "bob": "no", "carol": "yes", "chair": "abstain"}


def post(client: Any, token: str, path: str, body: Any) -> Any:
    return client.post(path, headers=bearer(token), json=body)


def key_ceremony(client: Any, community: Community, vote_id: str, k: int = 2) -> dict[int, TrusteeDevice]:
    n = len(TRUSTEES)
    devices = {j: TrusteeDevice(vote_id, j, k, n) for j in range(1, n + 1)}
    tokens = {j: community.tokens[name] for j, name in enumerate(TRUSTEES, 1)}
    for j, device in devices.items():
        answer = post(client, tokens[j], f"/api/votes/{vote_id}/ceremony/dealings",
                      {"dealing": device.dealing.to_json(), "envelope_key": encoding.hx(base_mul(device.envelope_secret))})
        assert answer.status_code == 201, answer.get_json()
    state = client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(tokens[1])).get_json()
    keys = {d["trustee"]: encoding.point(d["envelope_key"]) for d in state["dealings"]}
    dealings = {d["trustee"]: et.Dealing.from_json(d["dealing"]) for d in state["dealings"]}
    for j, device in devices.items():
        envelopes = {str(i): device.seal(i, keys[i], device.shares[i]) for i in devices if i != j}
        assert post(client, tokens[j], f"/api/votes/{vote_id}/ceremony/envelopes", {"envelopes": envelopes}).status_code == 201
    for j, device in devices.items():
        received = client.get(f"/api/votes/{vote_id}/ceremony/envelopes", headers=bearer(tokens[j])).get_json()
        shares = [device.shares[j]]
        for item in received:
            share = device.open(item["dealer"], item["envelope"])
            assert et.verify_share(dealings[item["dealer"]], j, share)
            shares.append(share)
        assert len(shares) == n
        device.x, published = et.key_share(vote_id, j, shares)
        answer = post(client, tokens[j], f"/api/votes/{vote_id}/ceremony/key-shares", {"key_share": published.to_json()})
        assert answer.status_code == 201, answer.get_json()
    return devices


def encrypted_vote(client: Any, deployed: Engine, community: Community) -> tuple[str, str]:
    trustees = [community[name].member_id for name in TRUSTEES]
    return open_vote(deployed, community, encryption={"trustees": trustees, "threshold": 2})


def election_of(client: Any, token: str, vote_id: str) -> eb.Election:
    return eb.Election.from_json(client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(token)).get_json()["election"])


def voter(client: Any, token: str, vote_id: str) -> Scalar:
    secret = random_scalar()
    answer = post(client, token, f"/api/votes/{vote_id}/credentials", {"credential": encoding.hx(base_mul(secret))})
    assert answer.status_code == 201, answer.get_json()
    return secret


def dump(deployed: Engine) -> list[tuple[str, str, Any]]:
    """Every cell of every table: (table, column, value)."""
    cells = []
    with deployed.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table in ("alembic_version", "definitions"):  # the deployed process definitions: no ballot there
                continue
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                cells += [(table, column, value) for column, value in row.items()]
    return cells


def plaintext_choices(deployed: Engine) -> list[tuple[str, str, str]]:
    """Any JSON string equal to a choice (yes/no/abstain), or any "choice" key, outside the election's slot list."""
    found = []

    def walk(table: str, column: str, value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "choice":
                    found.append((table, column, f"{path}.choice"))
                if key == "slots" and table == "vote_ceremonies":
                    continue
                walk(table, column, item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(table, column, item, f"{path}[{i}]")
        elif isinstance(value, str):
            if value in CHOICES.values():
                found.append((table, column, path))
            elif value[:1] in "[{":
                try:
                    walk(table, column, json.loads(value), path)
                except ValueError:
                    pass

    for table, column, value in dump(deployed):
        walk(table, column, value, "")
    return found


def test_an_encrypted_vote_from_the_key_ceremony_to_the_verified_board(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    instance_id, vote_id = encrypted_vote(client, deployed, community)
    chair = community.tokens["chair"]
    vote = client.get(f"/api/votes/{vote_id}", headers=bearer(chair)).get_json()
    assert (vote["status"], vote["secrecy"]) == ("keying", "encrypted")
    secrets = {name: voter(client, community.tokens[name], vote_id) for name in CHOICES}  # may register while keying
    early = post(client, community.tokens["alice"], f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": {}})
    assert early.status_code == 409  # no ballot before the election key exists

    devices = key_ceremony(client, community, vote_id)
    assert client.get(f"/api/votes/{vote_id}", headers=bearer(chair)).get_json()["status"] == "open"
    election = election_of(client, chair, vote_id)

    plain = post(client, community.tokens["alice"], f"/api/votes/{vote_id}/ballots", {"choice": "yes"})
    assert plain.status_code == 409  # no choice in clear in an encrypted vote
    trackers = {}
    for name, choice in {**CHOICES, "bob": "yes"}.items():  # bob votes yes first, then changes to no
        ballot, _ = eb.encrypt_ballot(election, secrets[name], choice)
        answer = post(client, community.tokens[name], f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": ballot.to_json()})
        assert answer.status_code == 201, answer.get_json()
        trackers[name] = (answer.get_json()["tracker"], ballot.to_json())
    first_of_bob = trackers["bob"]
    ballot, _ = eb.encrypt_ballot(election, secrets["bob"], "no")
    changed = post(client, community.tokens["bob"], f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": ballot.to_json()})
    assert changed.status_code == 201 and changed.get_json()["changed"] is True
    retried = post(client, community.tokens["bob"], f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": ballot.to_json()})
    assert retried.status_code == 201 and retried.get_json()["tracker"] == changed.get_json()["tracker"]  # idempotent
    stale = post(client, community.tokens["bob"], f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": first_of_bob[1]})
    assert stale.status_code == 409  # a replaced ballot does not come back
    copied = post(client, community.tokens["carol"], f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": trackers["alice"][1]})
    assert copied.status_code == 422 and copied.get_json()["error"]["details"]["errors"][0]["field"] == "ballot.credential"
    forged = copy.deepcopy(trackers["carol"][1])
    forged["ciphertexts"][0], forged["ciphertexts"][1] = forged["ciphertexts"][1], forged["ciphertexts"][0]
    assert post(client, community.tokens["carol"], f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": forged}).status_code == 422

    found = plaintext_choices(deployed)
    assert found == [], found  # with ballots in: no choice in any table, any column
    turnout = client.get(f"/api/votes/{vote_id}/turnout", headers=bearer(chair)).get_json()
    assert turnout["cast"] == 4

    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "Everyone has voted."}), community["chair"])
    assert client.get(f"/api/votes/{vote_id}", headers=bearer(chair)).get_json()["status"] == "decrypting"
    assert client.get(f"/api/votes/{vote_id}/result", headers=bearer(chair)).status_code == 409
    with deployed.read() as session:
        assert session.get(Instance, instance_id).status == "running"  # the process waits for the trustees
        vote_row = session.get(Vote, vote_id)
        expected = tally([{"choice": c} for c in CHOICES.values()], tally_config(vote_row), electorate_summary(vote_row))
    state = client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(chair)).get_json()
    assert state["state"] == "decrypting"
    with deployed.read() as session:
        from engine.voting.models import Ceremony
        sums = [Ciphertext.from_json(c, allow_identity=True) for c in session.get(Ceremony, vote_id).tally["ciphertexts"]]

    tokens = {j: community.tokens[name] for j, name in enumerate(TRUSTEES, 1)}
    good = {j: et.decrypt_partially(election.fingerprint, j, d.x, sums) for j, d in devices.items()}
    bad = et.Partial(1, [good[1].factors[0] + base_mul(Scalar(1)), *good[1].factors[1:]], good[1].proofs)
    refused = post(client, tokens[1], f"/api/votes/{vote_id}/ceremony/decryptions", {"partial": bad.to_json()})
    assert refused.status_code == 422 and refused.get_json()["error"]["details"]["trustee"] == 1, refused.get_json()
    assert "trustee 1" in refused.get_json()["error"]["message"]
    assert post(client, tokens[1], f"/api/votes/{vote_id}/ceremony/decryptions", {"partial": good[1].to_json()}).status_code == 201
    assert client.get(f"/api/votes/{vote_id}/result", headers=bearer(chair)).status_code == 409  # k − 1 cannot decide
    assert post(client, tokens[3], f"/api/votes/{vote_id}/ceremony/decryptions", {"partial": good[3].to_json()}).status_code == 201

    result = client.get(f"/api/votes/{vote_id}/result", headers=bearer(chair)).get_json()
    assert result["secrecy"] == "encrypted"
    assert {k: v for k, v in result.items() if k not in ("secrecy", "decryption")} == expected
    assert result["decryption"]["counts"] == [2, 1, 1] and result["decryption"]["trustees"] == [1, 3]
    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "completed"
        assert instance.data["vote_result"]["outcome"] == expected["outcome"]
    after = {(t, c) for t, c, _ in plaintext_choices(deployed)}
    assert after <= {("votes", "result")}, after  # only the published totals name the options

    board = client.get(f"/api/votes/{vote_id}/encrypted-board", headers=bearer(chair)).get_json()
    assert {b["tracker"] for b in board["ballots"] if b["replaced"]} == {first_of_bob[0]}
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board), encoding="utf-8")
    ok = CliRunner().invoke(tally_command, [str(path), "--verify"])
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.output
    altered = copy.deepcopy(board)
    altered["decryptions"][0]["factors"][0] = altered["decryptions"][1]["factors"][0]
    path.write_text(json.dumps(altered), encoding="utf-8")
    failed = CliRunner().invoke(tally_command, [str(path), "--verify"])
    assert failed.exit_code == 1 and "trustee 1" in failed.output
    swapped = copy.deepcopy(board)
    swapped["result"]["outcome"] = "rejected" if board["result"]["outcome"] != "rejected" else "passed"
    path.write_text(json.dumps(swapped), encoding="utf-8")
    assert CliRunner().invoke(tally_command, [str(path), "--verify"]).exit_code == 1


def test_a_vote_without_encryption_says_its_secrecy_and_the_form_is_unchanged(
        client: Any, deployed: Engine, community: Community) -> None:
    _, vote_id = open_vote(deployed, community)
    vote = client.get(f"/api/votes/{vote_id}", headers=bearer(community.tokens["chair"])).get_json()
    assert (vote["status"], vote["secrecy"]) == ("open", "server")
    assert client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(community.tokens["chair"])).status_code == 409


def test_only_trustees_deal_and_a_bad_dealing_is_refused(client: Any, deployed: Engine, community: Community) -> None:
    _, vote_id = encrypted_vote(client, deployed, community)
    _, dealing, _ = et.deal(vote_id, 1, 2, 3)
    body = {"dealing": dealing.to_json(), "envelope_key": encoding.hx(base_mul(random_scalar()))}
    assert post(client, community.tokens["alice"], f"/api/votes/{vote_id}/ceremony/dealings", body).status_code == 403
    _, other, _ = et.deal("another-vote", 1, 2, 3)
    wrong = {**body, "dealing": other.to_json()}
    assert post(client, community.tokens["chair"], f"/api/votes/{vote_id}/ceremony/dealings", wrong).status_code == 422
    assert post(client, community.tokens["chair"], f"/api/votes/{vote_id}/ceremony/dealings", body).status_code == 201
    assert post(client, community.tokens["chair"], f"/api/votes/{vote_id}/ceremony/dealings", body).status_code == 201  # a retry
