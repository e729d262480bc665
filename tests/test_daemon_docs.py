"""The Python example of docs/daemon.md runs as written against a real daemon (only its port differs)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from daemon_harness import DaemonProcess, make_store
from PIL import Image

DOC = (Path(__file__).resolve().parents[1] / "docs" / "daemon.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_python_example_runs(tmp_path: Path, lambda_00: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    example = re.findall(r"```python\n(.*?)```", DOC, re.S)[0]
    assert example.count("Client()") == 1
    monkeypatch.chdir(tmp_path)
    with DaemonProcess(make_store(tmp_path / "store", lambda_00), tmp_path / "state") as daemon:
        exec(compile(example.replace("Client()", f"Client(port={daemon.port}, timeout=300)"), "daemon.md", "exec"), {})
        with daemon.client() as client:
            assert client.sessions() == []  # the example unloaded its character
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "(512, 512, 4) 1.0"
    seqs = [int(line.split()[0]) for line in lines[1:]]
    assert len(seqs) == 3 and seqs == sorted(seqs) and seqs[0] >= 1
    with Image.open(tmp_path / "talk.png") as img:
        assert img.size == (512, 512) and np.asarray(img)[..., 3].max() == 255
