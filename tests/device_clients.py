"""Driving the device clients (``yishi trustee``, ``yishi ballot``) in tests: their transport over the Flask test
client, and an encrypted vote whose key ceremony three trustees ran through ``yishi trustee``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from click.testing import CliRunner, Result

from cli.trustee import trustee
from engine.bootstrap import Engine
from tests.builders import open_vote
from tests.fixtures import bearer
from tests.helpers import Community

TRUSTEES = ("chair", "clerk", "auditor")
PASSPHRASES = {"chair": "correct horse battery", "clerk": "甲乙丙丁 staple", "auditor": "tr0ub4dor&3"}
Tamper = Callable[[str, str, Any], Any]


class FlaskTransport:
    """A client's transport over the Flask test client, as the member whose token it carries; ``tamper`` plays a
    server that lies (it rewrites the decoded answers)."""

    def __init__(self, client: Any, token: str, tamper: Tamper | None = None) -> None:
        self.client, self.token, self.tamper = client, token, tamper

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        answer = self.client.open(path, method=method, headers=bearer(self.token), json=body)
        payload = answer.get_json(silent=True)
        if self.tamper is not None:
            payload = self.tamper(method, path, payload)
        return answer.status_code, payload


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def trustee_run(client: Any, community: Community, home: Path, name: str, *args: str) -> Result:
    transport = FlaskTransport(client, community.tokens[name])
    return CliRunner().invoke(trustee, ["--home", str(home / name), *args], obj={"transport": transport},
                              env={"YISHI_TRUSTEE_PASSPHRASE": PASSPHRASES[name]})


def keyed_vote(client: Any, deployed: Engine, community: Community, home: Path, **config: Any) -> tuple[str, str]:
    """An encrypted secret vote (trustees chair, clerk, auditor; k = 2) open for ballots: (instance id, vote id)."""
    trustees = [community[name].member_id for name in TRUSTEES]
    instance_id, vote_id = open_vote(deployed, community, encryption={"trustees": trustees, "threshold": 2}, **config)
    for step in ("join", "shares", "keyshare"):
        for name in TRUSTEES:
            ok(trustee_run(client, community, home, name, step, vote_id))
    return instance_id, vote_id
