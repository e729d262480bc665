"""The fast student path against the exact one, on the official characters and conformance poses."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tha4_sdk.cli import main
from tha4_sdk.character import load_character
from tha4_sdk.image import tensor_to_rgba8
from tha4_sdk.metrics import psnr
from tha4_sdk.pose import Pose
from tha4_sdk.render import open_renderer
from tha4_sdk.render.student import StudentSession
from tha4_sdk.render.student_fast import FastStudentSession

CPU = torch.device("cpu")
ROWS = [0, 4, 9]  # rest pose and two varied rows of conformance/poses.npy
# max |fast − exact| per output (blended, alpha, colour, warped, grid, face); measured ≤ 0.4, 0.07, 0.2, 2.3,
# 0.04, 0.03 × 1e-3: the warped image is the most sensitive (sampling positions move by float rounding)
TOLERANCES = [2e-3, 5e-4, 1e-3, 1e-2, 2e-4, 2e-4]


@pytest.fixture(scope="module", params=["lambda_00", "lambda_01"])
def case(request: pytest.FixtureRequest, reference: Path):
    character = load_character(reference / "characters" / request.param)
    poses = torch.from_numpy(np.load(reference / "conformance" / "poses.npy")[ROWS])
    with StudentSession(character, CPU, torch.float32) as exact:
        return character, poses, exact.outputs(poses)


@pytest.fixture(scope="module", params=[True, False], ids=["native-sine", "torch-ops"])
def fast(case, request: pytest.FixtureRequest) -> FastStudentSession:
    session = FastStudentSession(case[0], CPU, torch.float32, native=request.param)
    assert session.native is request.param
    yield session
    session.close()


def test_fast_float32_matches_exact_on_all_six_outputs(case, fast: FastStudentSession) -> None:
    _, poses, exact = case
    got = fast.outputs(poses)
    assert len(got) == 6
    for k, (e, g, tol) in enumerate(zip(exact, got, TOLERANCES)):
        assert g.shape == e.shape and g.dtype == torch.float32, k
        assert (g - e).abs().max().item() <= tol, f"output {k}"
    for e, g in zip(exact[0], got[0]):
        assert psnr(e, g, data_range=2.0) >= 90.0


def test_fast_frames_within_one_level_of_exact(case) -> None:
    character, poses, exact = case
    with open_renderer("student", character, device="cpu", fast=True) as session:
        assert isinstance(session, FastStudentSession)
        frames = session.render(poses.numpy())
    got = np.stack([f.rgba for f in frames]).astype(np.int16)
    want = tensor_to_rgba8(exact[0]).numpy().astype(np.int16)
    diff = np.abs(got - want)
    # measured: 99.96% of the bytes identical, 99.997% within ±1; the rest are colours of nearly
    # transparent pixels, where un-premultiplying divides a tiny rounding difference by a tiny alpha
    assert (diff == 0).mean() >= 0.999
    assert (diff <= 1).mean() >= 0.9999


def test_float16_matmuls_stay_above_45_db(case) -> None:
    character, poses, exact = case
    with FastStudentSession(character, CPU, torch.float16) as session:
        got = session.outputs(poses)[0]
    for e, g in zip(exact[0], got):
        assert psnr(e, g, data_range=2.0) >= 45.0  # measured 48.6–54.4 dB


def test_tiles_and_workers_do_not_change_the_result(case) -> None:
    character, poses, _ = case
    with FastStudentSession(character, CPU, torch.float32, tile_values=0, native=False) as whole:
        want = whole.outputs(poses[:2])
    # odd tile sizes: bands of 2 rows at 512, a short last band, more workers than cores
    for tile_values, workers in [(90 * 512 * 3, 3), (360 * 128 * 20, 1)]:
        with FastStudentSession(character, CPU, torch.float32, tile_values=tile_values, workers=workers,
                                native=False) as s:
            got = s.outputs(poses[:2])
        for w, g in zip(want, got):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-5)
    # the native runner: its bands per worker change with the worker count, its results must not
    with FastStudentSession(character, CPU, torch.float32, workers=1, native=True) as one:
        want = one.outputs(poses[:2])
    with FastStudentSession(character, CPU, torch.float32, workers=3, native=True) as three:
        got = three.outputs(poses[:2])
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_batch_of_n_poses_gives_n_frames(case, fast: FastStudentSession) -> None:
    character, poses, exact = case
    frames = fast.render(poses.numpy(), batch_size=2)
    assert [f.pose for f in frames] == [Pose(p) for p in poses.numpy()]
    assert [f.seq for f in frames] == sorted(f.seq for f in frames) and len({f.seq for f in frames}) == 3
    assert all(f.character == character.name and f.rgba.shape == (512, 512, 4) for f in frames)
    single = fast.outputs(poses[1])  # a bare 45-vector is a batch of one
    assert single[0].shape == (1, 4, 512, 512)
    assert (single[0][0] - exact[0][1]).abs().max().item() <= TOLERANCES[0]


def test_close_stops_the_worker_threads(case) -> None:
    def workers() -> int:
        return sum(t.name.startswith("tha4-student") for t in threading.enumerate())

    before = workers()
    session = FastStudentSession(case[0], CPU, torch.float32, workers=2)
    assert workers() == before + 2
    session.close()
    assert workers() == before


@pytest.mark.slow
def test_bench_student_writes_its_section(lambda_00: Path, tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\nother sections stay\n")
    result = CliRunner().invoke(main, ["bench", "student", "--character", str(lambda_00), "--count", "1",
                                       "--batch", "1", "--repeats", "1", "--output", str(report)])
    assert result.exit_code == 0, result.output
    text = report.read_text()
    assert "other sections stay" in text and "<!-- bench:student:begin -->" in text
    section = text.split("<!-- bench:student:begin -->")[1]
    for name in ["exact float32", "fast float32 (native runner)", "fast float32, PyTorch ops in tiles",
                 "fast float32, PyTorch ops untiled", "fast float16 matmuls",
                 "onnxruntime CPUExecutionProvider, fast graph (character.onnx)",
                 "onnxruntime CPUExecutionProvider, exact graph (character_exact.onnx)"]:
        assert f"| {name}" in section
    quality = [line for line in section.splitlines() if line.startswith(("| fast float32", "| onnxruntime"))
               and "%" in line]
    assert len(quality) == 5 and all(float(q.split("|")[2]) >= 90.0 for q in quality)  # PSNR of each float32 path
    assert "onnxruntime (fast graph) against the native fast path, time per frame (goal ≤ 1.25×) — batch 1: " in section


def test_bench_student_rejects_a_character_without_student(tmp_path: Path, reference: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "character.yaml").write_text("name: plain\nimage: character.png\n")
    (folder / "character.png").write_bytes((reference / "characters" / "lambda_00" / "character.png").read_bytes())
    result = CliRunner().invoke(main, ["bench", "student", "--character", str(folder), "--no-write"])
    assert result.exit_code != 0 and "has no student weights" in result.output


def test_bench_student_default_character_must_be_fetched() -> None:
    result = CliRunner().invoke(main, ["bench", "student", "--no-write"])  # THA4_HOME is empty in tests
    assert result.exit_code == 1 and "tha4 characters fetch lambda_00" in result.output


def test_bfloat16_warns_about_its_precision(lambda_00: Path) -> None:
    with pytest.warns(UserWarning, match="bfloat16"):
        FastStudentSession(load_character(lambda_00), CPU, torch.bfloat16).close()
