"""What a newcomer meets before any code runs: the license files and the CI scripts' references."""

from __future__ import annotations

import json
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
#: every package a user can take on its own carries the license, word for word the root one
BRIDGE_LICENSES = ("bridges/godot/addons/tha4_bridge/LICENSE", "bridges/unity/com.tha4sdk.bridge/LICENSE.md",
                   "bridges/blender/tha4_bridge/LICENSE")


def test_the_code_is_mit_licensed_at_the_root_and_in_every_bridge_package() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in text
    assert "WITHOUT WARRANTY OF ANY KIND" in text and re.search(r"Copyright \(c\) \d{4} ", text)
    for path in BRIDGE_LICENSES:
        assert (REPO / path).read_text() == text, f"{path} differs from LICENSE"
    # and every manifest says the same
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == {"text": "MIT"}
    assert json.loads((REPO / "bridges/unity/com.tha4sdk.bridge/package.json").read_text())["license"] == "MIT"
    manifest = tomllib.loads((REPO / "bridges/blender/tha4_bridge/blender_manifest.toml").read_text())
    assert manifest["license"] == ["SPDX:MIT"]
    assert "The code is MIT" in (REPO / "README.md").read_text()


def test_ci_scripts_name_only_files_that_exist() -> None:
    for script in (".ci/install", ".ci/run"):
        text = (REPO / script).read_text()
        named = set(re.findall(r"[\w./-]+\.(?:md|py|toml|txt|cfg|yaml|json|sh)\b", text))
        missing = sorted(name for name in named if not (REPO / name).exists())
        assert not missing, f"{script} refers to files the repository does not have: {missing}"
