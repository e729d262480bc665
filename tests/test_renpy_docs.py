"""docs/renpy.md runs as written: its voice line, timeline, export command and scene pass real Ren'Py's lint,
and its excerpt of the generated script is what the export writes."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from renpy_harness import lint
from tha4_sdk.cli import main

DOC = (REPO / "docs" / "renpy.md").read_text(encoding="utf-8")


def block(language: str, first_line: str) -> str:
    """The doc's ``language`` code block whose first line starts with ``first_line``."""
    for text in re.findall(rf"^```{language}\n(.*?)^```", DOC, re.S | re.M):
        if text.startswith(first_line):
            return text
    raise AssertionError(f"docs/renpy.md has no ```{language} block starting with {first_line!r}")


@pytest.mark.slow
def test_docs_scene_passes_renpy_lint(lambda_00: Path, tmp_path: Path) -> None:
    voice = shlex.split(block("sh", "espeak-ng"))
    subprocess.run(voice, cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "hello.yaml").write_text(block("yaml", "# hello.yaml"))
    command = shlex.split(block("sh", "tha4 export renpy"))
    assert command[:4] == ["tha4", "export", "renpy", "lambda_00"] and command[4:6] == ["-o", "my_vn/game"]
    game = tmp_path / "my_vn" / "game"
    args = ["export", "renpy", str(lambda_00), "-o", str(game), *command[6:], "--device", "cpu", "--size", "128",
            "--fps", "4"]  # smaller and fewer frames than in the docs, to keep the test short (lint plays nothing)
    result = CliRunner().invoke(main, [a.replace("hello.yaml", str(tmp_path / "hello.yaml")) for a in args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (game / "tha4" / "lambda" / "hello.opus").is_file()  # the line has a voice: it was exported

    script = (game / "tha4_lambda.rpy").read_text(encoding="utf-8")
    excerpt = block("renpy", "define -10 tha4_lambda_about")
    for line in excerpt.splitlines():
        if line.strip() and "…" not in line:
            assert line in script, f"docs/renpy.md shows a line the export does not write: {line!r}"

    (game / "script.rpy").write_text(block("renpy", "# script.rpy"))
    (game / "options.rpy").write_text(block("renpy", "define gui.about"))  # the credits, read at init time
    problems, report = lint(game.parent)
    assert problems == [], report
    # 4 expressions, their 4 speaking animations, the movie, the background: lint saw them all
    assert "10 images" in report
