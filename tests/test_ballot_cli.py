"""``yishi ballot`` (cli/ballot.py), the voter's reference client, driven with click's CliRunner against the Flask
app (``FlaskTransport``) and once over real HTTP: three trustees key an encrypted vote through ``yishi trustee``;
residents audit a ballot (Benaloh), cast, vote again (the last ballot counts); after the decryption each finds
their tracker on the encrypted board — counted, replaced, audited or absent. A server that lies about the election
(its fingerprint φ, its key, another vote's election) is refused before anything is registered; every refusal is
one line with exit code 1; no output ever shows a token; the credential file is its owner's only.
"""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli.ballot import ballot
from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.voting.encryption import encoding
from engine.voting.encryption.group import base_mul, random_scalar
from engine.voting.encryption.hashing import canonical_json
from engine.voting.models import VoterCredential
from tests.builders import count, open_vote, ready
from tests.device_clients import FlaskTransport, Tamper, keyed_vote, ok, trustee_run
from tests.fixtures import bearer
from tests.helpers import Community


def run(client: Any, community: Community, home: Path, name: str, *args: str, tamper: Tamper | None = None) -> Result:
    transport = FlaskTransport(client, community.tokens[name], tamper)
    return CliRunner().invoke(ballot, ["--home", str(home / name), *args], obj={"transport": transport})


def refused(result: Result, words: str) -> str:
    """A refusal: exit code 1 and one line saying why."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.output.count("\n") == 1 and result.output.startswith("Error: "), result.output
    assert words in result.output, result.output
    return result.output


def tracker_of(output: str) -> str:
    return output.split("tracker ")[1].split()[0].rstrip(";,")


def close(deployed: Engine, community: Community, instance_id: str) -> None:
    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "Everyone has voted."}), community["chair"])


def test_residents_audit_cast_vote_again_and_find_their_trackers(
        client: Any, deployed: Engine, community: Community, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    instance_id, vote_id = keyed_vote(client, deployed, community, tmp_path / "trustees")
    outputs = []

    def cast(name: str, choice: str) -> str:
        outputs.append(ok(run(client, community, tmp_path, name, "cast", vote_id, choice)))
        return tracker_of(outputs[-1])

    outputs.append(ok(run(client, community, tmp_path, "alice", "audit", vote_id, "yes")))
    assert "encrypts yes" in outputs[-1]
    spoiled = tracker_of(outputs[-1])
    audit_file = tmp_path / f"ballot-audit-{spoiled[:16]}.json"
    document = json.loads(audit_file.read_text(encoding="utf-8"))
    assert set(document) == {"format", "election", "ballot", "randomness"} and document["election"]["vote"] == vote_id
    from cli.audit import tally  # anyone checks the opened ballot offline

    assert "yes" in ok(CliRunner().invoke(tally, ["--audit", str(audit_file)]))

    alice, bob_first = cast("alice", "yes"), cast("bob", "no")
    assert alice != spoiled
    bob = cast("bob", "abstain")
    assert "replaces your previous ballot" in outputs[-1] and "replaces" not in outputs[-2]
    carol = cast("carol", "yes")
    outputs.append(refused(run(client, community, tmp_path, "carol", "check", vote_id, carol), "not published yet"))

    close(deployed, community, instance_id)
    for name in ("chair", "auditor"):
        ok(trustee_run(client, community, tmp_path / "trustees", name, "decrypt", vote_id))
    result = client.get(f"/api/votes/{vote_id}/result", headers=bearer(community.tokens["carol"])).get_json()
    assert result["secrecy"] == "encrypted" and result["decryption"]["counts"] == [2, 0, 1]  # yes, no, abstain

    for tracker, where in ((alice, "counted"), (bob, "counted"), (carol, "counted"), (bob_first, "replaced by a later ballot"),
                           (spoiled, "audited by its voter")):
        outputs.append(ok(run(client, community, tmp_path, "carol", "check", vote_id, tracker.upper())))
        assert f"tracker {tracker} in vote {vote_id}: {where}" in outputs[-1]
    outputs.append(refused(run(client, community, tmp_path, "carol", "check", vote_id, "0" * 64), "is not on the board"))

    def rotate_ballots(method: str, path: str, payload: Any) -> Any:  # a board pairing trackers with others' ballots
        if path.endswith("/encrypted-board"):
            ballots = [entry["ballot"] for entry in payload["ballots"]]
            payload["ballots"] = [{**entry, "ballot": b} for entry, b in zip(payload["ballots"], ballots[1:] + ballots[:1])]
        return payload

    refused(run(client, community, tmp_path, "carol", "check", vote_id, carol, tamper=rotate_ballots), "does not hash to it")

    for name in ("alice", "bob", "carol"):  # on the device: the credential only, the owner's only
        path = tmp_path / name / f"{vote_id}.voter"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert set(json.loads(path.read_text(encoding="utf-8"))) == {"format", "vote", "secret", "credential"}
    assert not any(token in output for output in outputs for token in community.tokens.values())


def test_a_server_lying_about_the_election_is_refused_before_anything_is_sent(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    _, vote_id = keyed_vote(client, deployed, community, tmp_path / "trustees")
    own_key = encoding.hx(base_mul(random_scalar()))

    def rewrite(change: Any) -> Tamper:
        def tamper(method: str, path: str, payload: Any) -> Any:
            if method == "GET" and path.endswith("/ceremony"):
                payload = json.loads(json.dumps(payload))
                change(payload)
            return payload
        return tamper

    def rehash(state: dict[str, Any]) -> None:  # a consistent lie: φ recomputed over the altered descriptor
        state["fingerprint"] = hashlib.sha256(canonical_json(state["election"])).hexdigest()

    def other_phi(state: dict[str, Any]) -> None:
        state["fingerprint"] = "00" * 32

    def own_election_key(state: dict[str, Any]) -> None:
        state["election"]["public_key"] = own_key
        rehash(state)

    def another_vote(state: dict[str, Any]) -> None:
        state["election"]["vote"] = "another-vote"
        rehash(state)

    def own_trustee_key(state: dict[str, Any]) -> None:
        state["election"]["trustees"][0] = own_key
        rehash(state)

    def forged_dealing(state: dict[str, Any]) -> None:
        state["dealings"][0]["dealing"]["commitments"][0] = own_key

    for lie, words in ((other_phi, "fingerprint φ is not the hash"), (own_election_key, "election key is not the one"),
                       (another_vote, "the election of vote 'another-vote'"), (own_trustee_key, "trustee keys are not"),
                       (forged_dealing, "published dealing of trustee 1")):
        refused(run(client, community, tmp_path, "alice", "cast", vote_id, "yes", tamper=rewrite(lie)), words)
    refused(run(client, community, tmp_path, "alice", "cast", vote_id, "yes",
                tamper=lambda method, path, payload: {"state": "open"} if path.endswith("/ceremony") else payload),
            "the server's election data does not read")
    with deployed.read() as session:
        assert count(session, VoterCredential, vote_id) == 0
    assert not (tmp_path / "alice" / f"{vote_id}.voter").exists()

    def swapped_tracker(method: str, path: str, payload: Any) -> Any:
        return {**payload, "tracker": "ab" * 32} if path.endswith("/encrypted-ballots") else payload

    refused(run(client, community, tmp_path, "alice", "cast", vote_id, "yes", tamper=swapped_tracker),
            "the server answered tracker abab")


def test_every_refusal_is_one_line(client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    instance_id, vote_id = keyed_vote(client, deployed, community, tmp_path / "trustees")
    refused(run(client, community, tmp_path, "alice", "cast", vote_id, "maybe"), "not a choice in this vote: one of yes, no, abstain")
    refused(run(client, community, tmp_path, "alice", "cast", vote_id, "yes", "no"), "one choice in a yes_no_abstain vote")
    refused(run(client, community, tmp_path, "alice", "cast", "no-such-vote", "yes"), "the server answered 404")
    refused(run(client, community, tmp_path, "alice", "cast", "../../me", "yes"), "not a vote id")
    refused(run(client, community, tmp_path, "clerk", "cast", vote_id, "yes"), "the server answered 403: you are not in this vote's electorate")
    refused(run(client, community, tmp_path, "alice", "check", vote_id, "xyz"), "64 hexadecimal characters")
    _, plain = open_vote(deployed, community)
    refused(run(client, community, tmp_path, "alice", "cast", plain, "yes"), "the server answered 409: this vote's ballots are not encrypted")
    trustees = [community[name].member_id for name in ("chair", "clerk")]
    _, keying = open_vote(deployed, community, encryption={"trustees": trustees, "threshold": 2})
    refused(run(client, community, tmp_path, "alice", "cast", keying, "yes"), "the trustees have not made the election key yet")

    ok(run(client, community, tmp_path, "alice", "cast", vote_id, "yes"))
    (tmp_path / "alice" / f"{vote_id}.voter").unlink()  # a lost device: its ballot can no longer be changed
    refused(run(client, community, tmp_path, "alice", "cast", vote_id, "no"), f"only from the device that holds {tmp_path}")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / f"{vote_id}.voter").write_text("{not json", encoding="utf-8")
    refused(run(client, community, tmp_path, "bob", "cast", vote_id, "no"), "cannot read")

    close(deployed, community, instance_id)
    refused(run(client, community, tmp_path, "carol", "cast", vote_id, "yes"), "is closed (the ceremony is decrypting)")
    refused(run(client, community, tmp_path, "carol", "audit", vote_id, "yes"), "is closed")


def test_the_yishi_command_casts_and_audits_over_http(deployed: Engine, community: Community, tmp_path: Path,
                                                      monkeypatch: Any) -> None:
    """The real transport (urllib) against a werkzeug server on 127.0.0.1; a dead address is one line too."""
    import threading

    from werkzeug.serving import make_server

    from api import create_app
    from cli import main

    app = create_app({"TESTING": True}, engine=deployed)
    _, vote_id = keyed_vote(app.test_client(), deployed, community, tmp_path / "trustees")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.chdir(tmp_path)
    try:
        env = {"YISHI_SERVER": f"http://127.0.0.1:{server.server_port}", "YISHI_TOKEN": community.tokens["alice"]}
        base = ["ballot", "--home", str(tmp_path / "alice")]
        audited = ok(CliRunner().invoke(main, [*base, "audit", vote_id, "no"], env=env))
        cast = ok(CliRunner().invoke(main, [*base, "cast", vote_id, "yes"], env=env))
        assert "encrypts no" in audited and tracker_of(cast) != tracker_of(audited)
        state = app.test_client().get(f"/api/votes/{vote_id}/ceremony", headers=bearer(community.tokens["chair"])).get_json()
        assert state["state"] == "open"
        nowhere = CliRunner().invoke(main, ["ballot", "--server", "http://127.0.0.1:9", *base[1:], "cast", vote_id, "yes"], env=env)
        refused(nowhere, "cannot reach http://127.0.0.1:9")
        assert community.tokens["alice"] not in audited + cast + nowhere.output
    finally:
        server.shutdown()
        thread.join()


def test_the_device_commands_load_without_the_server(tmp_path: Path) -> None:
    """``yishi ballot`` and ``yishi trustee`` import the encryption code only, not the engine and the web app that take
    seconds to load; the group's defaults are the app's."""
    script = ("import sys\nfrom cli import main\ntry:\n    main(['ballot', '--help'])\nexcept SystemExit:\n    pass\n"
              "print(sorted(m for m in ('flask', 'sqlalchemy', 'engine.bootstrap', 'api') if m in sys.modules))")
    answer = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parent.parent,
                            check=True, env={"PYTHONPATH": "."})
    assert answer.stdout.splitlines()[-1] == "[]" and "audit" in answer.stdout
    from api.config import DEFAULT_AUDIT_KEY, DEFAULT_DATABASE
    from cli.common import DEFAULT_AUDIT_KEY as CLI_AUDIT_KEY, DEFAULT_DATABASE_URL

    assert (DEFAULT_DATABASE_URL, CLI_AUDIT_KEY) == (f"sqlite:///{DEFAULT_DATABASE}", str(DEFAULT_AUDIT_KEY))
