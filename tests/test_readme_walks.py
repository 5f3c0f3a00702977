"""The README's encrypted secret-vote walk runs exactly as written, with bash, against a served app.

The server is started the way ``yishi serve`` starts it — a migrated database with the bundled processes, the demo
community seeded by ``yishi demo`` (whose printout the tokens are copied from, as the README says), the app
``create_app`` makes from that configuration — served by werkzeug on 127.0.0.1 instead of gunicorn on :8000. The
walk's shell blocks are taken from README.md: the consultation walk first (it sets the variables the vote walk
uses: ``API``, the tokens, ``json``, ``next_task``), then the vote walk; each ``NAME=ys_…   # 王主任 Wang (…)``
placeholder gets the token printed for that member. bash runs them with ``-euo pipefail`` in a scratch directory
(with the tests' Python environment linked in as ``.venv``, as the walk calls ``.venv/bin/yishi``): a step that fails, or a
``yishi`` command that refuses, fails the walk, and the outputs that only a working walk prints are checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from api import create_app
from cli import main
from engine.bootstrap import Engine

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
PLACEHOLDER = re.compile(r"^(?P<name>[A-Z]+)=ys_…(?P<gap>\s+)# (?P<who>\S+)", re.M)
PRINTED = re.compile(r"^\s+\S+\s+(?P<who>\S+) .*?\s(?P<token>ys_\S+)\s+\S+$", re.M)


def shell_block(title: str) -> str:
    """The first ```sh block of the README's section ``## title``."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(f"\n## {title}\n"):]
    section = section[:section.find("\n## ", 1)]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def with_tokens(script: str, printed: str) -> str:
    """Each token placeholder filled with the token printed for the member its comment names (by the name's first
    word, 王主任, 审计员 …); a placeholder naming nobody printed is an error, not a blank token."""
    tokens = {m["who"]: m["token"] for m in PRINTED.finditer(printed)}

    def fill(match: re.Match[str]) -> str:
        assert match["who"] in tokens, f"the README names {match['who']}, whom yishi demo does not print"
        return f"{match['name']}={tokens[match['who']]}{match['gap']}# {match['who']}"
    return PLACEHOLDER.sub(fill, script)


def test_every_placeholder_is_a_printed_member() -> None:
    printed = "  committee,resident   王主任 Wang (committee chair)    ys_abc  6S4HS-N5CA7\n"
    assert with_tokens("CHAIR=ys_…   # 王主任 Wang (committee)\n", printed) == "CHAIR=ys_abc   # 王主任 Wang (committee)\n"
    with pytest.raises(AssertionError, match="李委员"):
        with_tokens("LI=ys_…   # 李委员 Li\n", printed)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_encrypted_secret_vote_walk_runs_as_written(deployed: Engine, database_url: str, tmp_path: Path) -> None:
    from werkzeug.serving import make_server

    config = ["--database", database_url, "--audit-key", str(tmp_path / "audit-key.pem"), "--demo-mode"]
    printed = CliRunner().invoke(main, [*config, "demo"])
    assert printed.exit_code == 0, printed.output
    app = create_app({"YISHI_DATABASE_URL": database_url, "YISHI_AUDIT_KEY": str(tmp_path / "audit-key.pem"),
                      "YISHI_DEMO_MODE": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    walk = with_tokens(shell_block("A consultation, walked with curl") + shell_block("A secret vote, walked with curl"),
                       printed.output)
    assert walk.count("=ys_") == 5 and "ys_…" not in walk
    (tmp_path / "walk.sh").write_text(walk.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{server.server_port}"),
                                      encoding="utf-8")
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the environment running these tests, which has yishi
    try:
        ran = subprocess.run(["bash", "-euo", "pipefail", "walk.sh"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"})
    finally:
        server.shutdown()
        thread.join()
    assert ran.returncode == 0, (ran.stdout[-3000:], ran.stderr[-3000:])
    out = ran.stdout
    vote = re.search(r"ballot cast in vote (\S+);", out)[1]
    tracker = re.search(r"张阿姨's tracker: ([0-9a-f]{64})\n", out)[1]
    assert re.search(r"never to be cast: tracker [0-9a-f]{64} encrypts yes;", out)
    assert "(it replaces your previous ballot)" in out and "verification key published" in out
    assert '"the result is sealed until the vote closes; only the turnout is live"' in out
    result = json.loads(next(line for line in out.splitlines() if line.startswith('{"secrecy"')))
    assert result == {"secrecy": "encrypted", "outcome": "passed",
                      "decryption": {"counts": [2, 0, 1], "slots": ["yes", "no", "abstain"], "trustees": [1, 3]}}
    assert "verified: every ballot proof, the tally, every decryption proof and the recount match" in out
    assert out.rstrip().endswith(f"tracker {tracker} in vote {vote}: counted (the last ballot of its voter); "
                                 "recount the board with yishi tally --verify")
    assert "null" not in out.splitlines()  # no step answered an error that jq turned into null
