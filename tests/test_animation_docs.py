"""The docs of the timeline format, mixer, export and sources stay runnable and in step with the code."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from media import tone_wav
from tha4_plugins.timeline import load_timeline, parse_timeline
from tha4_plugins.timeline.source import EXAMPLES
from tha4_sdk import hub
from tha4_sdk.presets import PRESETS

DOCS = [REPO / "docs" / name for name in ("timeline.md", "mixer.md", "export.md", "sources/timeline.md",
                                          "sources/idle.md", "sources/sliders.md")]


def blocks(language: str) -> list[tuple[str, int, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(rf"^```{language}\n(.*?)^```", text, re.S | re.M):
            found.append((doc.name, text[:m.start()].count("\n") + 1, m.group(1)))
    return found


@pytest.mark.parametrize("doc, line, text", blocks("yaml"), ids=lambda v: str(v)[:20])
def test_yaml_examples_are_valid_timelines(doc: str, line: int, text: str, tmp_path: Path) -> None:
    audio = (yaml.safe_load(text) or {}).get("audio")
    if audio:
        tone_wav(tmp_path / audio["file"], 2.0)  # the example's sound file, made up here
    timeline = parse_timeline(text, f"{doc}:{line}", base=tmp_path)
    assert timeline.length > 0


def python_examples() -> list:
    """Every Python block; those that render a clip with a real character (seconds of CPU) are marked slow."""
    return [pytest.param(doc, line, code, marks=pytest.mark.slow if "render_timeline(" in code else ())
            for doc, line, code in blocks("python")]


@pytest.mark.parametrize("doc, line, code", python_examples(), ids=lambda v: str(v)[:20])
def test_python_examples_run(doc: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             lambda_00: Path) -> None:
    """Each example runs as written, in an empty folder, and writes exactly the media files it names."""
    compiled = compile(code, f"{doc}:{line}", "exec")
    if "resolve_character(\"lambda_00\")" in code:  # "after `tha4 characters fetch lambda_00`": fetched offline
        hub.fetch(hub.bundle("lambda_00", "character"), from_dir=lambda_00, progress=False)
    monkeypatch.chdir(tmp_path)
    exec(compiled, {"__name__": "__doc_example__"})
    named = sorted(set(re.findall(r"[\"']([\w.-]+\.(?:apng|gif|webm|mov|png))[\"']", code)))
    assert sorted(os.listdir(tmp_path)) == named
    for name in named:
        if name.endswith((".webm", ".mov")):  # a whole clip: as many frames as the timeline at the example's fps
            import av

            fps = float(re.search(r"fps=(\d+)", code)[1])
            timeline = re.search(r'EXAMPLES / "([\w.-]+)"', code)[1]
            with av.open(str(tmp_path / name)) as container:
                frames = sum(1 for _ in container.decode(video=0))
            assert frames == round(load_timeline(EXAMPLES / timeline).length * fps), (name, frames)


def test_every_builtin_preset_is_documented() -> None:
    text = (REPO / "docs" / "timeline.md").read_text(encoding="utf-8")
    table = text.split("## Presets", 1)[1].split("Your own presets", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    assert documented == set(PRESETS)
