"""`tha4 bench teacher` runs on CPU and writes its section (speed itself is never asserted in tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tha4_sdk.bench.teacher import official_seconds
from tha4_sdk.cli import main
from tha4_sdk.models.teacher.poser import NETWORKS


def test_official_timings_are_read_from_the_conformance_data(reference: Path, tmp_path: Path) -> None:
    recorded = official_seconds(reference / "conformance")
    assert set(recorded) == {*NETWORKS, "pipeline"} and all(v > 0 for v in recorded.values())
    assert official_seconds(tmp_path) == {} and official_seconds(None) == {}


@pytest.mark.slow
def test_bench_writes_its_section(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nkept\n")
    result = CliRunner().invoke(main, ["bench", "teacher", "--repeats", "1", "--device", "cpu",
                                       "--official", str(reference / "conformance"), "--output", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nkept") and "<!-- bench:teacher:begin -->" in text
    for name in NETWORKS:
        assert f"| {name} |" in text
    assert "| CPU float32 | 1 |" in text and "| official code, CPU float32 (recorded) | 1 |" in text
