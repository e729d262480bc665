"""``tha4 export web``: a static site that plays a character in the browser with no Python and no network.

The site holds ``index.html`` and the player (``player.js``, ``timeline.js``, ``player.css``, package data beside
this module), ``character.onnx`` and ``character.json`` (`tha4_sdk.export.onnx`), ``timelines.json`` (timelines
compiled at export time) and onnxruntime-web's files under ``ort/``. onnxruntime-web comes from the npm
registry's tarball of a pinned version (``web/onnxruntime-web.yaml``: integrity and SHA-256 pins), fetched
once into ``$THA4_HOME/runtimes/`` through `tha4_sdk.hub`, or taken offline from a folder or the ``.tgz``.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from tha4_sdk import hub
from tha4_sdk.character import Character
from tha4_sdk.errors import Tha4Error
from tha4_sdk.export.onnx import export_onnx
from tha4_sdk.licensing import Credit, licence_of

RUNTIME_MANIFEST = "onnxruntime-web.yaml"
PLAYER_FILES = ("index.html", "player.js", "render_worker.js", "timeline.js", "player.css")
RUNTIME_DIR = "ort"


class WebExportError(Tha4Error):
    """A web export that cannot be written as asked."""


def runtime_bundle() -> hub.Bundle:
    """The pinned onnxruntime-web bundle."""
    return hub.load_bundle(Path(str(resources.files(__package__).joinpath("web").joinpath(RUNTIME_MANIFEST))))


def fetch_runtime(*, from_path: str | Path | None = None, mirror: str | None = None,
                  progress: bool = True) -> Path:
    """onnxruntime-web's player files, verified, in the cache (downloaded once, or copied from ``from_path``)."""
    return hub.fetch(runtime_bundle(), from_dir=from_path, mirror=mirror, progress=progress)


def export_web(character: Character, out_dir: str | Path, *, timelines: Sequence[dict[str, Any]] = (),
               runtime_from: str | Path | None = None, mirror: str | None = None,
               progress: bool = True) -> list[Path]:
    """Write the player site for ``character`` into ``out_dir``; ``timelines``: compiled timelines
    (`tha4_plugins.timeline.timeline_json`). Returns the files written."""
    names = [t["name"] for t in timelines]
    if len(set(names)) != len(names):
        raise WebExportError(f"two timelines share a name ({', '.join(names)}): rename one of the files")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runtime = fetch_runtime(from_path=runtime_from, mirror=mirror, progress=progress)
    written = export_onnx(character, out, graphs=("unbanded", "fast", "fp16"), rgba8=True)
    assets = resources.files(__package__).joinpath("web")
    for name in PLAYER_FILES:
        (out / name).write_bytes(assets.joinpath(name).read_bytes())
        written.append(out / name)
    (out / RUNTIME_DIR).mkdir(exist_ok=True)
    bundle = runtime_bundle()
    for spec in bundle.files:
        for name in spec.outputs:
            shutil.copyfile(runtime / name, out / RUNTIME_DIR / name)
            written.append(out / RUNTIME_DIR / name)
    notice = Credit.of(f"The player's runtime ({RUNTIME_DIR}/)", licence_of(bundle)).line()
    (out / RUNTIME_DIR / "NOTICE.txt").write_text(notice + "\n", encoding="utf-8")
    path = out / "timelines.json"
    path.write_text(json.dumps(list(timelines), indent=1) + "\n", encoding="utf-8")
    return written + [out / RUNTIME_DIR / "NOTICE.txt", path]
