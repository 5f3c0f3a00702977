"""``yishi trustee`` (cli/trustee.py) driven with click's CliRunner against the Flask app: three trustees (k = 2),
each with their own device directory and passphrase, deal, send sealed shares, publish key shares; residents cast
encrypted ballots; after the close two trustees decrypt through the CLI and the result is the plaintext count. A
wrong passphrase is refused and changes nothing; the secrets file holds no secret in clear; a share that does not
open makes the recipient publish a complaint naming its dealer instead of a key share.

The CLI's HTTP calls go through ``FlaskTransport`` (the test client, with the trustee's bearer token), the same
``Transport`` seam the real ``HttpTransport`` fills.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli.trustee import Keystore, trustee
from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.voting.encryption import ballots as eb
from tests.builders import open_vote, ready
from tests.device_clients import PASSPHRASES, FlaskTransport
from tests.fixtures import bearer
from tests.helpers import Community
from tests.test_encrypted_votes import CHOICES, TRUSTEES, election_of, voter

def run(client: Any, community: Community, home: Path, name: str, *args: str,
        passphrase: str | None = None, tamper: Any = None) -> Result:
    transport = FlaskTransport(client, community.tokens[name], tamper)
    return CliRunner().invoke(trustee, ["--home", str(home / name), *args], obj={"transport": transport},
                              env={"YISHI_TRUSTEE_PASSPHRASE": passphrase or PASSPHRASES[name]})


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def state_of(client: Any, community: Community, vote_id: str) -> dict[str, Any]:
    return client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(community.tokens["chair"])).get_json()


def encrypted_vote(deployed: Engine, community: Community) -> tuple[str, str]:
    trustees = [community[name].member_id for name in TRUSTEES]
    return open_vote(deployed, community, encryption={"trustees": trustees, "threshold": 2})


def test_three_trustees_run_a_whole_ceremony_and_decrypt_through_the_cli(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community)
    for name in TRUSTEES:
        assert "dealt" in ok(run(client, community, tmp_path, name, "join", vote_id))
    assert "dealt" in ok(run(client, community, tmp_path, "chair", "join", vote_id))  # a retry publishes the same
    for name in TRUSTEES:
        ok(run(client, community, tmp_path, name, "shares", vote_id))
    for name in TRUSTEES:
        assert "verification key published" in ok(run(client, community, tmp_path, name, "keyshare", vote_id))
    assert state_of(client, community, vote_id)["state"] == "open"
    status = ok(run(client, community, tmp_path, "clerk", "status", vote_id))
    assert "vote " + vote_id + ": open" in status and "you are trustee 2" in status and "key shares: 1, 2, 3" in status

    election = election_of(client, community.tokens["chair"], vote_id)
    secrets = {name: voter(client, community.tokens[name], vote_id) for name in CHOICES}
    for name, choice in CHOICES.items():
        ballot, _ = eb.encrypt_ballot(election, secrets[name], choice)
        answer = client.post(f"/api/votes/{vote_id}/encrypted-ballots", headers=bearer(community.tokens[name]),
                             json={"ballot": ballot.to_json()})
        assert answer.status_code == 201, answer.get_json()
    early = run(client, community, tmp_path, "chair", "decrypt", vote_id)
    assert early.exit_code == 1 and "nothing to decrypt yet" in early.output
    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "Everyone has voted."}), community["chair"])

    wrong = run(client, community, tmp_path, "clerk", "decrypt", vote_id, passphrase="not the passphrase")
    assert wrong.exit_code == 1 and "wrong passphrase" in wrong.output
    assert state_of(client, community, vote_id)["decryptions"] == []  # nothing published
    assert "decrypting" in ok(run(client, community, tmp_path, "chair", "decrypt", vote_id))
    assert client.get(f"/api/votes/{vote_id}/result", headers=bearer(community.tokens["chair"])).status_code == 409
    assert "decided" in ok(run(client, community, tmp_path, "auditor", "decrypt", vote_id))

    result = client.get(f"/api/votes/{vote_id}/result", headers=bearer(community.tokens["chair"])).get_json()
    assert result["secrecy"] == "encrypted"
    assert result["decryption"]["counts"] == [2, 1, 1] and result["decryption"]["trustees"] == [1, 3]

    for name in TRUSTEES:  # at rest: nothing secret in clear, the file is the owner's only
        path = tmp_path / name / f"{vote_id}.trustee"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        raw = path.read_text(encoding="utf-8")
        held = Keystore.load(path, PASSPHRASES[name]).secrets
        values = [held["key_share"], held["envelope_secret"], *held["coefficients"], *held["shares"].values()]
        assert len(values) == 2 + 2 + 3
        for value in values:
            number = int.from_bytes(bytes.fromhex(value), "little")  # the scalar, in any spelling
            assert value not in raw and format(number, "x") not in raw.lower() and str(number) not in raw
        assert PASSPHRASES[name] not in raw
        header = json.loads(raw)["header"]
        assert (header["kdf"]["name"], header["cipher"], header["trustee"]) == ("scrypt", "aes-256-gcm", TRUSTEES.index(name) + 1)


def test_a_wrong_passphrase_is_refused_and_an_altered_header_does_not_open(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    _, vote_id = encrypted_vote(deployed, community)
    ok(run(client, community, tmp_path, "chair", "join", vote_id))
    refused = run(client, community, tmp_path, "chair", "shares", vote_id, passphrase="guess")
    assert refused.exit_code == 1 and "wrong passphrase" in refused.output
    path = tmp_path / "chair" / f"{vote_id}.trustee"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["header"]["trustee"] = 2  # the header is bound to the ciphertext
    path.write_text(json.dumps(document), encoding="utf-8")
    altered = run(client, community, tmp_path, "chair", "join", vote_id)
    assert altered.exit_code == 1 and "wrong passphrase (or the secrets file was altered)" in altered.output


def test_a_share_that_does_not_open_makes_its_recipient_complain_against_the_dealer(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    _, vote_id = encrypted_vote(deployed, community)
    for name in TRUSTEES:
        ok(run(client, community, tmp_path, name, "join", vote_id))
    for name in TRUSTEES:
        ok(run(client, community, tmp_path, name, "shares", vote_id))

    def corrupt_from_dealer_1(method: str, path: str, payload: Any) -> Any:
        if method == "GET" and path.endswith("/ceremony/envelopes"):
            return [{**e, "envelope": e["envelope"][:-2] + "00"} if e["dealer"] == 1 else e for e in payload]
        return payload

    result = run(client, community, tmp_path, "auditor", "keyshare", vote_id, tamper=corrupt_from_dealer_1)
    assert result.exit_code == 1 and "trustees 1 do not check: complaint published" in result.output
    state = state_of(client, community, vote_id)
    assert [(c["trustee"], c["dealer"], c["answer"]) for c in state["complaints"]] == [(3, 1, None)]
    assert all(share["trustee"] != 3 for share in state["key_shares"])
    assert "complaint: trustee 3 against dealer 1" in ok(run(client, community, tmp_path, "clerk", "status", vote_id))


def test_the_yishi_command_reaches_a_live_server_over_http(
        deployed: Engine, community: Community, tmp_path: Path) -> None:
    """The real transport (``HttpTransport``, urllib) through ``yishi trustee`` against a werkzeug server on 127.0.0.1."""
    import threading

    from werkzeug.serving import make_server

    from api import create_app
    from cli import main

    _, vote_id = encrypted_vote(deployed, community)
    server = make_server("127.0.0.1", 0, create_app({"TESTING": True}, engine=deployed), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        env = {"YISHI_DATABASE_URL": f"sqlite:///{tmp_path}/unused/yishi.db", "YISHI_SERVER": url,
               "YISHI_TOKEN": community.tokens["clerk"], "YISHI_TRUSTEE_PASSPHRASE": PASSPHRASES["clerk"]}
        base = ["trustee", "--home", str(tmp_path / "clerk")]
        assert "trustee 2 of 3 (k = 2) dealt" in ok(CliRunner().invoke(main, [*base, "join", vote_id], env=env))
        status = ok(CliRunner().invoke(main, [*base, "status", vote_id], env=env))
        assert "keying" in status and "dealt: 2" in status and "you are trustee 2" in status
        stranger = CliRunner().invoke(main, [*base, "join", vote_id], env={**env, "YISHI_TOKEN": community.tokens["alice"]})
        assert stranger.exit_code == 1 and "not a trustee" in stranger.output
        nowhere = CliRunner().invoke(main, ["trustee", "--server", "http://127.0.0.1:9", "--home", str(tmp_path / "x"),
                                            "status", vote_id], env=env)
        assert nowhere.exit_code == 1 and "cannot reach" in nowhere.output
    finally:
        server.shutdown()
        thread.join()
