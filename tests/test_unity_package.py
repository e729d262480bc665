"""The Unity package's layout as Unity and its Package Manager expect it: a `.meta` with a unique GUID beside
every asset and folder (bridges/unity/metas.py writes them), the package files, and NUnit test assemblies."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

from bridge_harness import BRIDGES

UNITY, UNITY_PACKAGE = BRIDGES.unity, BRIDGES.unity_package

_spec = importlib.util.spec_from_file_location("unity_metas", UNITY / "metas.py")
metas = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(metas)  # type: ignore[union-attr]


def test_every_asset_and_folder_has_a_meta_with_a_unique_guid():
    assets = [p for p in UNITY_PACKAGE.rglob("*")
              if p.suffix != ".meta" and not any(part.endswith("~") and part != "Samples~"
                                                 for part in p.relative_to(UNITY_PACKAGE).parts)
              and p != UNITY_PACKAGE / "Samples~"]
    assert len(assets) > 25
    guids = {}
    for asset in assets:
        meta = asset.with_name(asset.name + ".meta")
        assert meta.is_file(), f"{asset.relative_to(UNITY_PACKAGE)} has no .meta (run python3 bridges/unity/metas.py)"
        text = meta.read_text()
        found = re.fullmatch(r"fileFormatVersion: 2\nguid: ([0-9a-f]{32})\n(?:folderAsset: yes\n)?\w+Importer:\n.*",
                             text, re.S)
        assert found, meta
        assert ("folderAsset: yes" in text) == asset.is_dir(), meta
        guids.setdefault(found[1], []).append(asset)
    assert all(len(paths) == 1 for paths in guids.values()), [p for p in guids.values() if len(p) > 1]
    orphans = [m for m in UNITY_PACKAGE.rglob("*.meta") if not m.with_name(m.name[:-5]).exists()]
    assert orphans == []
    assert not list((UNITY_PACKAGE / "Documentation~").glob("*.meta"))
    assert not (UNITY_PACKAGE / "Samples~.meta").exists()


def test_metas_are_what_the_script_writes_and_guids_do_not_depend_on_the_machine(tmp_path: Path):
    check = subprocess.run([sys.executable, str(UNITY / "metas.py"), "--check"], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout == "all .meta files are current\n", check.stdout
    assert metas.differences() == []
    assert metas.guid("Runtime/Tha4Character.cs") == "ba5701cdcf2115317955f0b388e0a6ac"  # md5 of the package path
    copy = tmp_path / "com.tha4sdk.bridge"
    (copy / "Runtime").mkdir(parents=True)
    (copy / "Runtime" / "New.cs").write_text("class New {}")
    (copy / "Runtime" / "Gone.cs.meta").write_text("fileFormatVersion: 2\n")
    assert metas.differences(copy) == ["missing or stale: Runtime.meta", "missing or stale: Runtime/New.cs.meta",
                                       "orphan: Runtime/Gone.cs.meta"]
    metas.write(copy)
    assert metas.differences(copy) == []
    assert (copy / "Runtime" / "New.cs.meta").read_text().startswith(
        f"fileFormatVersion: 2\nguid: {metas.guid('Runtime/New.cs')}\nMonoImporter:")


def test_package_files_and_test_assemblies():
    package = json.loads((UNITY_PACKAGE / "package.json").read_text())
    assert package["license"] == "MIT" and "MIT License" in (UNITY_PACKAGE / "LICENSE.md").read_text()
    assert f"## [{package['version']}]" in (UNITY_PACKAGE / "CHANGELOG.md").read_text()
    assert (UNITY_PACKAGE / "README.md").is_file() and list((UNITY_PACKAGE / "Documentation~").glob("*.md"))
    assert [s["path"] for s in package["samples"]] == ["Samples~/DriveFromScript", "Samples~/TypedCalls"]
    for folder, platforms in (("Runtime", []), ("Editor", ["Editor"])):
        [asmdef] = (UNITY_PACKAGE / "Tests" / folder).glob("*.asmdef")
        spec = json.loads(asmdef.read_text())
        assert spec["includePlatforms"] == platforms and spec["defineConstraints"] == ["UNITY_INCLUDE_TESTS"]
        assert spec["overrideReferences"] and spec["precompiledReferences"] == ["nunit.framework.dll"]
        assert not spec["autoReferenced"] and "Tha4Sdk.Bridge.Core" in spec["references"]
        assert {"UnityEngine.TestRunner", "UnityEditor.TestRunner"} <= set(spec["references"])  # Test Runner
        assert "[TestFixture]" in "".join(p.read_text() for p in asmdef.parent.glob("*.cs"))
    sample = (UNITY_PACKAGE / "Samples~" / "TypedCalls" / "TypedCalls.cs").read_text()
    for call in ("SetExpression(", "PlayTimeline(", "AttachIdle(", "Say(", "OnFrame +=", "OnJobProgress +="):
        assert call in sample, call
