"""`tha4 bench distill`: speed rows, the three kinds of curve run (one per N for the cached ones), and what
the curves show (speed itself is never asserted in tests)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import REPO
from tha4_sdk.bench.distill import Curves, CurveRun, distill_bench, findings
from tha4_sdk.cli import main
from tha4_sdk.distill.poses import PoseSampler


def _curves(points: dict[str, list[tuple[int, float]]]) -> Curves:
    """A `Curves` holding only finished runs (what `findings` reads)."""
    curves = Curves.__new__(Curves)
    curves.runs = [CurveRun(name, PoseSampler(0), None, points=p) for name, p in points.items()]
    return curves


def test_findings_say_when_warm_start_reaches_scratch_and_give_psnr_against_n() -> None:
    lines = findings(_curves({"scratch": [(0, 5.0), (1000, 20.0), (2000, 25.0)],
                              "warm start": [(0, 18.0), (200, 24.0), (400, 25.5), (2000, 30.0)],
                              "cached 50": [(0, 5.0), (2000, 21.0)], "cached 1000": [(0, 5.0), (2000, 24.5)]}))
    assert lines[0].startswith("warm start reaches scratch's final 25.00 dB at 400 examples, 20% of scratch's "
                               "2,000") and lines[0].endswith("goal (≤ 20%) met")
    assert lines[1] == ("PSNR against N unique poses after 2,000 examples: N = 50: 21.00 dB, N = 1,000: 24.50 dB, "
                        "every pose new (scratch, N = 2,000): 25.00 dB")
    late = findings(_curves({"scratch": [(0, 5.0), (2000, 25.0)], "warm start": [(0, 9.0), (600, 25.0)]}))
    assert "at 600 examples, 30%" in late[0] and late[0].endswith("**not met**")
    never = findings(_curves({"scratch": [(0, 5.0), (2000, 25.0)], "warm start": [(0, 9.0), (2000, 24.9)]}))
    assert never[0].startswith("warm start has not reached") and never[0].endswith("**not met**")


@pytest.mark.slow
def test_bench_records_every_run_of_the_curves(lambda_00: Path, tmp_path: Path) -> None:
    out, plot = tmp_path / "benchmarks.md", tmp_path / "curves.png"
    out.write_text("# Benchmarks\n\nkept\n")
    args = ["bench", "distill", "--teacher", f"student:{lambda_00}", "--init", str(lambda_00), "--networks", "face",
            "--steps", "1", "--batch-size", "4", "--speed-batch-size", "2", "--curve-examples", "8",
            "--curve-every", "4", "--unique-poses", "2", "--unique-poses", "4", "--eval-poses", "2",
            "--cache-dir", str(tmp_path / "cache"), "--output", str(out), "--plot", str(plot)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nkept")
    speed, face = _section(text, "distill"), _section(text, "distill-face")
    assert "| face morpher |" in speed and "| body morpher |" in speed  # the speed rows: both networks
    assert "| examples | scratch | warm start | cached 2 | cached 4 |" in face
    for examples in ("| 0 |", "| 4 |", "| 8 |"):
        assert examples in face
    assert "complete (8 examples per run)" in face
    assert "PSNR against N unique poses after 8 examples: N = 2:" in face and "scratch's final" in face
    line = ("Reproduce: `tha4 bench distill --teacher student:DIR --init lambda_00 --steps 1 --batch-size 4 "
            "--speed-batch-size 2 --networks face --curve-examples 8 --curve-every 4 --unique-poses 2 --unique-poses 4 "
            "--eval-poses 2`.")
    assert line in speed and line in face
    assert Image.open(tmp_path / "curves_face.png").size == (720, 440)
    assert "bench:distill-body" not in text and not (tmp_path / "curves_body.png").exists()
    assert "min for 8 poses; training" in face
    # a second run over the same cache renders nothing, and says where its teacher data came from
    again = CliRunner().invoke(main, [*args[:args.index("--steps") + 1], "0", *args[args.index("--steps") + 2:]],
                               catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "min for 0 poses, 8 more from an earlier run's cache; training" in _section(out.read_text(), "distill-face")


def _section(text: str, key: str) -> str:
    begin, end = f"<!-- bench:{key}:begin -->", f"<!-- bench:{key}:end -->"
    assert begin in text and end in text, key
    return text.split(begin, 1)[1].split(end, 1)[0]


def test_levers_train_each_arm_for_the_same_minutes_and_record_psnr_per_minute(lambda_00: Path,
                                                                                tmp_path: Path) -> None:
    """`--levers` with tiny settings: each chosen arm of the face morpher gets a row and a line of the plot; the
    pixel-sampled arm trains more examples in the same time (its steps cost a sixteenth of the pixels)."""
    out, plot = tmp_path / "benchmarks.md", tmp_path / "curves.png"
    args = ["bench", "distill", "--levers", "--teacher", f"student:{lambda_00}", "--networks", "face", "--steps", "1",
            "--batch-size", "2", "--lever-minutes", "0.03", "--arms", "baseline", "--arms", "pixels 1/16", "--arms",
            "rest-face fit", "--arms", "coarse to fine", "--lever-poses", "8", "--eval-poses", "2", "--lever-evals",
            "2", "--lever-rest-fit", "3", "--cache-dir", str(tmp_path / "cache"), "--output", str(out), "--plot",
            str(plot)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    levers = _section(out.read_text(), "distill-levers-face")
    assert "| arm | examples trained | examples/s | PSNR at 0.015 min (dB) | PSNR at 0.03 min (dB) |" in levers
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in levers.splitlines()
            if line.startswith("| ") and "examples trained" not in line and "---" not in line}
    assert list(rows) == ["baseline", "pixels 1/16", "rest-face fit"]  # coarse to fine is for the body only
    examples = {arm: int(row[1].replace(",", "")) for arm, row in rows.items()}
    assert examples["pixels 1/16"] > examples["baseline"] > 0  # side by side, a few steps each: more, not a ratio
    assert ("--levers --lever-minutes 0.03 --arms baseline --arms 'pixels 1/16' --arms 'rest-face fit' --arms 'coarse "
            "to fine' --lever-poses 8") in levers
    assert Image.open(plot.with_name("curves_levers_face.png")).size == (720, 440)


def test_the_budget_ladder_doc_example_parses() -> None:
    text = (REPO / "docs" / "distillation.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text[text.index("### Budget ladder"):], re.S)
    assert block is not None
    argv = shlex.split(block.group(1).replace("\\\n", " "))
    assert argv[:3] == ["tha4", "bench", "distill"]
    params = distill_bench.make_context("distill", argv[3:], resilient_parsing=True).params
    assert params["budgets"] == (7200.0,) and params["runs_dir"] == Path("RUNS") and params["init_character"] == \
        "lambda_00"
