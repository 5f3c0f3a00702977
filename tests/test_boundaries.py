"""The import boundaries in pyproject.toml hold, and they catch a forbidden import when one is added.

``scripts/test`` runs ``lint-imports`` on the tree itself; this test runs it on a copy of the tree with one
forbidden import added per contract kind, so a contract that silently stopped matching would fail here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")

FORBIDDEN = [
    # (module that gains the import, the import, the contract that must break)
    ("engine/kernel/queries.py", "from engine.voting import casting", "the kernel, BPMN, identity and audit import no domain"),
    ("engine/consultation/opinions.py", "from engine.pdca import records", "domains do not import each other"),
    ("engine/audit/offline/verify.py", "from engine.kernel import db", "the offline verifier imports no database session"),
    ("engine/voting/casting.py", "import flask", "the engine knows nothing of HTTP, Flask or the command line"),
    ("cli/admin.py", "from engine.kernel.unit_of_work import UnitOfWork", "adapters change state only through engine commands"),
    ("web/__init__.py", "from engine.kernel.unit_of_work import UnitOfWork", "adapters change state only through engine commands"),
    ("engine/identity/models.py", "import web", "the engine knows nothing of HTTP, Flask or the command line"),
]


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tree), "PATH": str(LINT.parent)})


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for package in ("engine", "api", "cli", "web"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    done = lint(tree)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("module", "line", "contract"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_a_forbidden_import_breaks_its_contract(tree: Path, module: str, line: str, contract: str) -> None:
    path = tree / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # noqa: E402 — added by the test\n")
    try:
        done = lint(tree)
    finally:
        path.write_text(original)
    assert done.returncode == 1, done.stdout
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in " ".join(broken.split()), done.stdout
