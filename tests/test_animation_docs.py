"""The docs of the timeline format, mixer, export and sources stay runnable and in step with the code."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from media import tone_wav
from tha4_plugins.timeline import parse_timeline
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


@pytest.mark.parametrize("doc, line, code", blocks("python"), ids=lambda v: str(v)[:20])
def test_python_examples_run(doc: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = compile(code, f"{doc}:{line}", "exec")
    if "render_timeline(" in code:
        return  # renders a whole clip of a fetched character: checked by tests/test_render_timeline.py instead
    monkeypatch.chdir(tmp_path)
    exec(compiled, {"__name__": "__doc_example__"})
    assert os.listdir(tmp_path) == (["square.apng"] if "square.apng" in code else [])


def test_every_builtin_preset_is_documented() -> None:
    text = (REPO / "docs" / "timeline.md").read_text(encoding="utf-8")
    table = text.split("## Presets", 1)[1].split("Your own presets", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    assert documented == set(PRESETS)
