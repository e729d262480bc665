"""The Godot Asset Library release zip of the add-on: `addons/tha4_bridge/` at the zip's root (the Asset Library
unpacks a zip into the project as it is laid out), holding the add-on's files and nothing else.

    python3 bridges/godot/release_zip.py [OUT_DIR]    # writes OUT_DIR/tha4_bridge-VERSION.zip (default: .)
"""

from __future__ import annotations

import configparser
import sys
import zipfile
from pathlib import Path

ADDON = Path(__file__).resolve().parent / "addons" / "tha4_bridge"
ROOT = "addons/tha4_bridge"
# Files of a Godot checkout that are not part of the add-on: editor caches and imports.
EXCLUDED_SUFFIXES = (".import", ".uid", ".tmp")


def version(addon: Path = ADDON) -> str:
    config = configparser.ConfigParser()
    config.read(addon / "plugin.cfg", encoding="utf-8")
    return config["plugin"]["version"].strip('"')


def build(out_dir: Path, addon: Path = ADDON) -> Path:
    """Write the zip (sorted entries, fixed timestamps: the same bytes for the same files) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"tha4_bridge-{version(addon)}.zip"
    files = sorted(p for p in addon.rglob("*") if p.is_file() and p.suffix not in EXCLUDED_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(addon).parts))
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(f"{ROOT}/{path.relative_to(addon).as_posix()}", date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return target


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")))
