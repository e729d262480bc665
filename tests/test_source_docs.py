"""The runnable examples in docs/sources/{webcam,audio,ifacialmocap,vmc}.md run as written.

Blocks of a page run in order in one namespace (later ones may use earlier files); blocks whose
first line is ``# needs …`` (a camera, a phone, a microphone) are only compiled.
"""

from __future__ import annotations

import re

import pytest

from conftest import REPO

PAGES = ("webcam", "audio", "ifacialmocap", "vmc")


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch, capsys):
    text = (REPO / "docs" / "sources" / f"{page}.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks, f"docs/sources/{page}.md has no Python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page}"}
    ran = 0
    for block in blocks:
        code = compile(block, f"docs/sources/{page}.md", "exec")
        if not block.startswith("# needs"):
            exec(code, namespace)
            ran += 1
    assert ran, f"docs/sources/{page}.md has no example that runs without hardware"
    assert capsys.readouterr().out.strip()
