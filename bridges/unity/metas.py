"""Unity `.meta` files for the package com.tha4sdk.bridge: one per asset and folder, with a GUID derived from
the asset's path (stable across machines and runs, unique per path).

    python3 bridges/unity/metas.py          # write the missing or stale .meta files, delete orphans
    python3 bridges/unity/metas.py --check  # exit 1 and list the differences

Unity ignores folders whose names end in `~` (Documentation~, Samples~) and hidden files, so those get no
`.meta`; the contents of Samples~ do, since Unity copies a sample into Assets/ with its metas on import.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "com.tha4sdk.bridge"

_TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_COMMON = "  externalObjects: {}\n" + _TAIL
IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n" + _TAIL,
    ".asmdef": "AssemblyDefinitionImporter:\n" + _COMMON,
    ".md": "TextScriptImporter:\n" + _COMMON,
    ".json": "TextScriptImporter:\n" + _COMMON,
}
PACKAGE_MANIFEST = "PackageManifestImporter:\n" + _COMMON
FOLDER = "folderAsset: yes\nDefaultImporter:\n" + _COMMON


def guid(relative: str) -> str:
    """32 lowercase hex digits from the path inside the package (POSIX separators)."""
    return hashlib.md5(f"com.tha4sdk.bridge/{relative}".encode()).hexdigest()


def _ignored(relative: Path) -> bool:
    parts = relative.parts
    return any(p.startswith(".") for p in parts) or relative.suffix == ".meta" or \
        any(p.endswith("~") and p != "Samples~" for p in parts) or parts == ("Samples~",)


def expected(package: Path = PACKAGE) -> dict[Path, str]:
    """Every .meta the package must hold, by path, with its content."""
    metas = {}
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if _ignored(relative):
            continue
        if path.is_dir():
            body = FOLDER
        elif relative == Path("package.json"):
            body = PACKAGE_MANIFEST
        else:
            body = IMPORTERS.get(path.suffix, "DefaultImporter:\n" + _COMMON)
        metas[path.with_name(path.name + ".meta")] = f"fileFormatVersion: 2\nguid: {guid(relative.as_posix())}\n{body}"
    return metas


def differences(package: Path = PACKAGE) -> list[str]:
    want = expected(package)
    have = {p for p in package.rglob("*.meta")}
    out = [f"missing or stale: {p.relative_to(package)}" for p, text in want.items()
           if not p.is_file() or p.read_text(encoding="utf-8") != text]
    return out + [f"orphan: {p.relative_to(package)}" for p in sorted(have - want.keys())]


def write(package: Path = PACKAGE) -> None:
    want = expected(package)
    for path, text in want.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for path in set(package.rglob("*.meta")) - want.keys():
        path.unlink()


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        problems = differences()
        print("\n".join(problems) or "all .meta files are current")
        sys.exit(1 if problems else 0)
    write()
