"""Driving an encrypted vote's key ceremony through the API as its trustees' devices would, round after round:
each trustee's polynomial, envelope key and shares live in a ``Device`` here (never sent), and a dealer can be made
to cheat by sealing a wrong share for one recipient. Used by the complaint tests (engine/API and CLI).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.audit import tally as tally_command
from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding, envelopes
from engine.voting.encryption import trustees as et
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import Scalar, base_mul, random_scalar
from tests.builders import open_vote, ready
from tests.fixtures import bearer
from tests.helpers import Community

VOTERS = {"alice": "yes", "bob": "no", "carol": "yes"}


class Device:
    """One trustee's secrets for one round: its polynomial's shares, its envelope key, then its key share."""

    def __init__(self, vote_id: str, j: int, k: int, n: int) -> None:
        self.vote_id, self.j = vote_id, j
        self.coefficients, self.dealing, self.shares = et.deal(vote_id, j, k, n)
        self.envelope_secret = random_scalar()
        self.x: Scalar | None = None


class Trustees:
    """The ceremony's trustees (by member name, numbered in order), played through the API."""

    def __init__(self, client: Any, community: Community, vote_id: str, names: tuple[str, ...], k: int) -> None:
        self.client, self.community, self.vote_id, self.k = client, community, vote_id, k
        self.names = names
        self.tokens = {j: community.tokens[name] for j, name in enumerate(names, 1)}
        self.devices: dict[int, Device] = {}

    def post(self, j: int | str, path: str, body: Any) -> Any:
        token = self.tokens[j] if isinstance(j, int) else self.community.tokens[j]
        return self.client.post(f"/api/votes/{self.vote_id}/ceremony/{path}", headers=bearer(token), json=body)

    def state(self) -> dict[str, Any]:
        return self.client.get(f"/api/votes/{self.vote_id}/ceremony", headers=bearer(self.tokens[1])).get_json()

    def qualified(self) -> list[int]:
        return [j for j in self.tokens if j not in self.state()["disqualified"]]

    def deal(self) -> None:
        """Every qualified trustee deals afresh (a new round starts with new polynomials)."""
        self.devices = {j: Device(self.vote_id, j, self.k, len(self.names)) for j in self.qualified()}
        for j, device in self.devices.items():
            answer = self.post(j, "dealings", {"dealing": device.dealing.to_json(),
                                               "envelope_key": encoding.hx(base_mul(device.envelope_secret))})
            assert answer.status_code == 201, answer.get_json()

    def send(self, cheats: dict[tuple[int, int], Scalar] | None = None) -> None:
        """Every dealer seals each other qualified trustee's share; ``cheats[(dealer, recipient)]`` replaces one."""
        keys = {d["trustee"]: encoding.point(d["envelope_key"]) for d in self.state()["dealings"]}
        for j, device in self.devices.items():
            sealed = {str(i): envelopes.seal(self.vote_id, j, i, keys[i], (cheats or {}).get((j, i), device.shares[i]))
                      for i in self.devices if i != j}
            answer = self.post(j, "envelopes", {"envelopes": sealed})
            assert answer.status_code == 201, answer.get_json()

    def check(self, j: int) -> tuple[list[Scalar], list[int]]:
        """Trustee j opens its envelopes and checks each share (or takes the dealer's published answer instead):
        the good shares, and the dealers whose share failed."""
        state = self.state()
        dealings = {d["trustee"]: et.Dealing.from_json(d["dealing"]) for d in state["dealings"]}
        revealed = {c["dealer"]: c["answer"] for c in state["complaints"] if c["trustee"] == j and c["answer"]}
        received = self.client.get(f"/api/votes/{self.vote_id}/ceremony/envelopes", headers=bearer(self.tokens[j])).get_json()
        device, good, bad = self.devices[j], [self.devices[j].shares[j]], []
        for item in received:
            if item["dealer"] in revealed:
                good.append(encoding.scalar(revealed[item["dealer"]]))
                continue
            share = envelopes.open_envelope(self.vote_id, item["dealer"], j, device.envelope_secret, item["envelope"])
            (good.append(share) if et.verify_share(dealings[item["dealer"]], j, share) else bad.append(item["dealer"]))
        return good, bad

    def publish_key(self, j: int) -> Any:
        good, bad = self.check(j)
        assert bad == [], bad
        self.devices[j].x, published = et.key_share(self.vote_id, j, good)
        return self.post(j, "key-shares", {"key_share": published.to_json()})

    def keys(self, *numbers: int) -> dict[int, Scalar]:
        """The key shares x_j of these trustees (in this order), for them to decrypt."""
        return {j: x for j in numbers if (x := self.devices[j].x) is not None}

    def complain(self, j: int, dealer: int) -> Any:
        return self.post(j, "complaints", {"dealer": dealer})

    def answer(self, dealer: int, complainant: int, share: Scalar | None = None) -> Any:
        revealed = self.devices[dealer].shares[complainant] if share is None else share
        return self.post(dealer, "answers", {"complainant": complainant, "share": encoding.hx(revealed)})


def encrypted_vote(deployed: Engine, community: Community, names: tuple[str, ...], k: int, **extra: Any) -> tuple[str, str]:
    trustees = [community[name].member_id for name in names]
    return open_vote(deployed, community, encryption={"trustees": trustees, "threshold": k, **extra})


def vote_and_decrypt(client: Any, deployed: Engine, community: Community, trustees: Trustees, instance_id: str,
                     keys: dict[int, Scalar]) -> dict[str, Any]:
    """Residents cast encrypted ballots, the chair closes the vote, the trustees whose key shares x_j are ``keys``
    decrypt: the encrypted board."""
    chair = community.tokens["chair"]
    election = eb.Election.from_json(trustees.state()["election"])
    for name, choice in VOTERS.items():
        secret = random_scalar()
        token = community.tokens[name]
        registered = client.post(f"/api/votes/{trustees.vote_id}/credentials", headers=bearer(token),
                                 json={"credential": encoding.hx(base_mul(secret))})
        assert registered.status_code == 201, registered.get_json()
        ballot, _ = eb.encrypt_ballot(election, secret, choice)
        cast = client.post(f"/api/votes/{trustees.vote_id}/encrypted-ballots", headers=bearer(token),
                           json={"ballot": ballot.to_json()})
        assert cast.status_code == 201, cast.get_json()
    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "Everyone has voted."}), community["chair"])
    sums = [Ciphertext.from_json(c, allow_identity=True) for c in trustees.state()["tally"]["ciphertexts"]]
    for j, x in keys.items():
        partial = et.decrypt_partially(election.fingerprint, j, x, sums)
        answer = trustees.post(j, "decryptions", {"partial": partial.to_json()})
        assert answer.status_code == 201, answer.get_json()
    result = client.get(f"/api/votes/{trustees.vote_id}/result", headers=bearer(chair)).get_json()
    assert result["decryption"]["counts"] == [2, 1, 0] and result["decryption"]["trustees"] == sorted(keys), result
    return client.get(f"/api/votes/{trustees.vote_id}/encrypted-board", headers=bearer(chair)).get_json()


def verify_offline(board: dict[str, Any], tmp_path: Path) -> Any:
    """``yishi tally --verify`` on the board saved as a file."""
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board), encoding="utf-8")
    return CliRunner().invoke(tally_command, [str(path), "--verify"])


class FlaskTransport:
    """``yishi trustee``'s transport over the Flask test client, as the trustee whose token it carries; ``tamper``
    may alter what the server answered (a lying server, a corrupted envelope)."""

    def __init__(self, client: Any, token: str, tamper: Any = None) -> None:
        self.client, self.token, self.tamper = client, token, tamper

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        answer = self.client.open(path, method=method, headers=bearer(self.token), json=body)
        payload = answer.get_json(silent=True)
        return answer.status_code, payload if self.tamper is None else self.tamper(method, path, payload)


def trustee_cli(client: Any, community: Community, home: Path, name: str, *args: str, tamper: Any = None) -> Any:
    """``yishi trustee --home HOME/NAME ARGS…`` as member ``name`` (passphrase: their name, reversed, and a suffix)."""
    from cli.trustee import trustee

    transport = FlaskTransport(client, community.tokens[name], tamper)
    return CliRunner().invoke(trustee, ["--home", str(home / name), *args], obj={"transport": transport},
                              env={"YISHI_TRUSTEE_PASSPHRASE": passphrase_of(name)})


def passphrase_of(name: str) -> str:
    return f"{name[::-1]} 保管 passphrase"
