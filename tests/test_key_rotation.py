"""A rotated audit key (docs/deploy.md, step 3): checkpoints signed before the rotation still verify
offline when the auditor pins the old key beside the new one, and only then."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from engine.kernel.commands import StartInstance
from engine.audit import access
from engine.kernel.db import Database
from engine.bootstrap import Engine, EngineConfig
from tests.helpers import Community


def test_offline_verification_across_a_key_rotation_pins_both_keys(
    deployed: Engine, community: Community, database_url: str, tmp_path: Path
) -> None:
    deployed.execute(StartInstance("consultation"), community["chair"])
    assert deployed.checkpoint("before key rotation") is not None
    old_pem = tmp_path / "old.pem"
    old_pem.write_text(deployed.signer.public_pem)

    rotated = Engine(Database(database_url), deployed.clock, EngineConfig(audit_key=tmp_path / "new-key.pem"))
    try:
        rotated.execute(StartInstance("consultation"), community["chair"])
        assert rotated.checkpoint("key rotated") is not None
        new_pem = tmp_path / "new.pem"
        new_pem.write_text(rotated.signer.public_pem)
        with rotated.read() as session:
            bundle = access.community_bundle(session, community.id, signer=rotated.signer, now=rotated.clock.now())
    finally:
        rotated.db.dispose()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))

    only_new = CliRunner().invoke(main, ["verify-bundle", str(path), "--no-replay", "--public-key", str(new_pem)])
    assert only_new.exit_code == 1
    assert "checkpoint 1 is signed by an unknown key" in only_new.output
    both = CliRunner().invoke(main, ["verify-bundle", str(path), "--no-replay", "--public-key", str(old_pem), "--public-key", str(new_pem)])
    assert both.exit_code == 0, both.output
    assert "verified: the history holds" in both.output
    assert sorted(line for line in both.output.splitlines() if line.startswith("checkpoints signed by key")) == \
        [f"checkpoints signed by key {', '.join(sorted([deployed.signer.key_id, rotated.signer.key_id]))}"]
