"""The vendored third-party assets: each file matches the manifest, and the API docs load only them (no CDN)."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "web" / "static" / "vendor"


def vendor_assets() -> ModuleType:
    """scripts/vendor-assets, imported as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("vendor_assets", str(ROOT / "scripts" / "vendor-assets"))
    spec = importlib.util.spec_from_loader("vendor_assets", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_every_vendored_file_matches_the_manifest() -> None:
    assert vendor_assets().check() == []


def test_the_manifest_names_package_version_licence_and_tarball() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))
    packages = {entry["package"]: entry for entry in manifest["assets"]}
    assert set(packages) == {entry["package"] for entry in vendor_assets().ASSETS}
    assert {"swagger-ui-dist", "axe-core", "sortablejs", "bpmn-js"} <= set(packages)
    assert packages["swagger-ui-dist"]["version"].startswith("5.")
    assert packages["axe-core"]["version"].startswith("4.")
    for entry in manifest["assets"]:
        assert entry["licence"] and entry["integrity"].startswith("sha512-")
        assert entry["tarball"] == (f"https://registry.npmjs.org/{entry['package']}/-/"
                                    f"{entry['package'].split('/')[-1]}-{entry['version']}.tgz")
        assert "LICENSE" in entry["files"]
        for name, digest in entry["files"].items():
            stored = VENDOR / entry["package"] / vendor_assets().stored_as(name)
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest


def test_the_check_finds_a_changed_a_missing_and_an_unlisted_file(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    (copy / "axe-core" / "axe.min.js").write_bytes(b"tampered")
    (copy / "swagger-ui-dist" / "NOTICE").unlink()
    (copy / "swagger-ui-dist" / "extra.js").write_text("alert(1)")
    problems = vendor_assets().check(copy)
    assert sorted(problems) == [
        "axe-core/axe.min.js does not match its sha256 in the manifest",
        "swagger-ui-dist/NOTICE is missing",
        "swagger-ui-dist/extra.js is not in the manifest",
    ]


@pytest.mark.backend_independent
def test_the_api_docs_load_swagger_ui_from_the_server_only(client: Any) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(references) == [
        "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/static/vendor/swagger-ui-dist/swagger-ui.css",
    ]
    assert "//" not in " ".join(references)
    for reference in references:
        served = client.get(reference)
        assert served.status_code == 200
        assert served.data == (VENDOR / reference.removeprefix("/static/vendor/")).read_bytes()
        served.close()


@pytest.mark.backend_independent
@pytest.mark.parametrize("path", ["/static/vendor/manifest.json", "/static/vendor/axe-core/axe.min.js"])
def test_static_files_need_no_token(client: Any, path: str) -> None:
    served = client.get(path)
    assert served.status_code == 200
    served.close()
