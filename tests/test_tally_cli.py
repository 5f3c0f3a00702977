"""`yishi tally --verify`: anyone recounts a saved bulletin board offline, without database or server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from engine.voting.counting import board
from engine.voting.counting.tally import tally

CONFIG = {"method": "schulze", "options": ["park", "gym", "library"], "seed": "vote-1", "rule": {}}
ELECTORATE = {"heads": 10, "heads_label": "residents"}
RANKINGS = [["park", "gym"], ["gym", "library", "park"], ["park"], ["library", "park"], ["park", "library", "gym"]]


def saved_board(tmp_path: Path, *, tamper: bool = False) -> Path:
    entries = board.board_entries(
        [{"fingerprint": board.fingerprint("vote-1", f"receipt-{i}"), "choice": r} for i, r in enumerate(RANKINGS)], weighted=False)
    document = board.document(CONFIG, ELECTORATE, entries, tally([{"choice": e["choice"]} for e in entries], CONFIG, ELECTORATE))
    if tamper:
        document["ballots"][0]["choice"] = ["gym", "park"]
    path = tmp_path / "board.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_faithful_board_verifies(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["tally", "--verify", str(saved_board(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert "park" in result.output  # the recount's explanation names the Schulze order


def test_a_changed_ballot_is_caught_by_the_root_and_the_recount(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["tally", "--verify", str(saved_board(tmp_path, tamper=True))])
    assert result.exit_code == 1
    assert "MISMATCH: the root over the listed ballots" in result.output
    assert "MISMATCH: the recount differs" in result.output


def test_a_file_that_is_not_a_board_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nonsense.json"
    path.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(main, ["tally", "--verify", str(path)])
    assert result.exit_code != 0 and "not a JSON document" in result.output
