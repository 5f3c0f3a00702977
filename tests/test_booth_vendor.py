"""The booth's vendored ES modules (@noble/curves, @noble/hashes through scripts/vendor-assets): their layout kept,
their bare '@noble/hashes/…' imports rewritten to relative paths (no import map under the CSP), only those changed.
No network: the checks run on web/static/vendor/ and on copies of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_web_assets import VENDOR, vendor_assets

NOBLE = ("@noble/hashes", "@noble/curves")


def noble_entries() -> dict[str, dict]:
    manifest = json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))
    return {e["package"]: e for e in manifest["assets"] if e["package"] in NOBLE}


def test_noble_is_vendored_at_its_own_paths_under_mit_with_the_registry_tarball() -> None:
    entries = noble_entries()
    assert set(entries) == set(NOBLE)
    for package, entry in entries.items():
        assert entry["licence"] == "MIT" and entry["keep_paths"] is True and "LICENSE" in entry["files"]
        name = package.split("/")[1]  # a scoped package's tarball is named without its scope
        assert entry["tarball"] == f"https://registry.npmjs.org/{package}/-/{name}-{entry['version']}.tgz"
        for file in entry["files"]:
            assert (VENDOR / package / file).is_file(), file
    assert entries["@noble/hashes"]["version"] == entries["@noble/curves"]["version"]  # curves pins hashes exactly
    assert vendor_assets().stored_as("abstract/edwards.js") == "abstract/edwards.js"
    assert vendor_assets().stored_as("dist/bpmn-viewer.production.min.js") == "bpmn-viewer.production.min.js"


def test_only_statement_specifiers_are_rewritten() -> None:
    va = vendor_assets()
    source = ("/**\n * import { sha256 } from '@noble/hashes/sha2.js';\n */\n"
              "import { sha512 } from '@noble/hashes/sha2.js';\nimport {\n  a,\n} from \"@noble/hashes/utils.js\";\n"
              "import { b } from './abstract/edwards.js';\nconst s = \"from '@noble/hashes/x.js'\";\n")
    text, changed = va.rewrite_specifiers("@noble/curves", "abstract/frost.js", source, ["@noble/hashes/"])
    assert changed == {"@noble/hashes/sha2.js": "../../../@noble/hashes/sha2.js",
                       "@noble/hashes/utils.js": "../../../@noble/hashes/utils.js"}
    assert " * import { sha256 } from '@noble/hashes/sha2.js';" in text  # the doc comment's example is left alone
    assert "import { sha512 } from '../../../@noble/hashes/sha2.js';" in text
    assert "} from \"../../../@noble/hashes/utils.js\";" in text and "'./abstract/edwards.js'" in text
    assert "const s = \"from '@noble/hashes/x.js'\";" in text
    assert va.unrewritten_sha256(text, changed) == va.sha256(source.encode())


def test_the_vendored_modules_import_only_vendored_files_and_differ_only_there() -> None:
    entries = noble_entries()
    assert set(entries["@noble/curves"]["rewritten"]) == {"ed25519.js", "utils.js", "abstract/frost.js"}
    for entry in entries.values():
        for name in entry["files"]:
            if name.endswith(".js"):
                assert "'@noble/" not in "\n".join(
                    line for line in (VENDOR / entry["package"] / name).read_text().splitlines()
                    if line.startswith(("import ", "export ", "} from")))
    assert vendor_assets().check() == []


def test_the_check_finds_a_bare_import_a_missing_module_and_an_edit(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    frost = copy / "@noble" / "curves" / "abstract" / "frost.js"
    frost.write_text(frost.read_text().replace("'../../../@noble/hashes/utils.js'", "'@noble/hashes/utils.js'"))
    (copy / "@noble" / "hashes" / "_u64.js").unlink()
    ed = copy / "@noble" / "curves" / "ed25519.js"
    ed.write_text(ed.read_text() + "\n")
    problems = vendor_assets().check(copy)
    assert ("@noble/curves/abstract/frost.js imports '@noble/hashes/utils.js', a bare specifier no browser resolves "
            "under the CSP") in problems
    assert "@noble/hashes/_md.js imports './_u64.js', which is not vendored" in problems
    assert "@noble/hashes/_u64.js is missing" in problems
    assert "@noble/curves/ed25519.js does not match its sha256 in the manifest" in problems


def test_the_check_finds_a_rewritten_module_changed_beyond_its_imports(tmp_path: Path) -> None:
    """Even with the manifest's sha256 updated to match, the tarball's sha256 of a rewritten module catches it."""
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    ed = copy / "@noble" / "curves" / "ed25519.js"
    ed.write_text(ed.read_text().replace("_1n = /* @__PURE__ */ BigInt(1)", "_1n = /* @__PURE__ */ BigInt(2)", 1))
    manifest = json.loads((copy / "manifest.json").read_text())
    entry = next(e for e in manifest["assets"] if e["package"] == "@noble/curves")
    entry["files"]["ed25519.js"] = vendor_assets().sha256(ed.read_bytes())
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert vendor_assets().check(copy) == [
        "@noble/curves/ed25519.js: more than its imports differs from the tarball's"]
