"""`tha4 distill` end to end in real subprocesses: package output, kill -9 / SIGTERM resume, validation."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from tha4_sdk.cli import main as tha4_main
from tha4_sdk.character import load_character
from tha4_sdk.cli.distill import distill_eval_command
from tha4_sdk.distill.job import EXIT_STOPPED
from tha4_sdk.distill.poses import EYEBROW_SHAPES
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.run import DistillConfig, DistillError, default_eval_poses, distill
from tha4_sdk.models.weights import read_state_dict
from tha4_sdk.pose import PARAMETER_BY_NAME, Pose
from tha4_sdk.render.base import open_renderer

#: a tiny but complete job: 4 face + 2 body examples, one at a time, a checkpoint after every example,
#: one sample sheet (face, at 4 examples)
SMALL = ["--face-examples", "4", "--body-examples", "2", "--batch-size", "1", "--checkpoint-every", "1",
         "--sample-every", "4", "--eval-poses", "1", "--progress-json"]


def job_args(lambda_00: Path, out: Path, *extra: str) -> list[str]:
    return [str(lambda_00 / "character.png"), "--face-mask", str(lambda_00 / "face_mask.png"),
            "--teacher", f"student:{lambda_00}", "-o", str(out), *SMALL, *extra]


#: jobs in subprocesses run on one thread: the math libraries may split a reduction differently when threads are
#: starved, and these tests compare runs to the last bits
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tha4_sdk.cli", "distill", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ONE_THREAD)


def records_until(proc: subprocess.Popen[str], **match: Any) -> list[dict[str, Any]]:
    """Read JSON lines until one has all the ``match`` fields (or the process ends)."""
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(json.loads(line))
        if all(seen[-1].get(k) == v for k, v in match.items()):
            break
    return seen


def finish(proc: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture(scope="module")
def finished(lambda_00: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """An uninterrupted run (the reference for the resume test)."""
    out = tmp_path_factory.mktemp("job") / "straight"
    code, records, err = finish(start(job_args(lambda_00, out)))
    assert code == 0, err
    return out, records


def weights(out: Path) -> dict[str, torch.Tensor]:
    return {f"{net}.{k}": v for net in ("face_morpher", "body_morpher")
            for k, v in read_state_dict(out / f"{net}.pt").items()}


def test_output_is_a_package_the_student_renderer_loads(finished: tuple[Path, list[dict[str, Any]]],
                                                        lambda_00: Path) -> None:
    out, records = finished
    events = [r["event"] for r in records]
    assert events[0] == "start" and events[-1] == "done" and "progress" in events
    assert records[-1]["output"] == str(out)
    assert {r["phase"] for r in records if r["event"] == "checkpoint"} == {"face", "body"}
    assert all(set(r) >= {"phase", "examples", "total", "loss", "examples_per_s", "eta_s"}
               for r in records if r["event"] == "progress")
    start = records[0]  # the start record states what is really trained and evaluated
    assert [start["face_examples"], start["body_examples"]] == [r["total"] for r in records if r["event"] == "phase"]
    assert start["trainer"] == "fast" and start["eval_poses"] == 1
    evaluating = [r for r in records if r["event"] == "eval_progress"]
    assert [(r["phase"], r["done"]) for r in evaluating] == [("face", 0), ("face", 1), ("body", 0), ("body", 1),
                                                             ("full", 0), ("full", 1)]
    assert [p.name for p in (out / "distill" / "samples").iterdir()] == ["face_0000000004.png"]
    official = yaml.safe_load((out / "character_model.yaml").read_text())
    assert official == {"character_image_file_name": "character.png", "face_morpher_file_name": "face_morpher.pt",
                        "body_morpher_file_name": "body_morpher.pt"}
    for source in (out, out / "character_model.yaml"):
        character = load_character(source)
        assert character.has_student
        with open_renderer("student", character, device="cpu") as session:
            frame = session.render(Pose.rest().with_values(mouth_aaa=1.0, head_x=0.5))[0]
        assert frame.rgba.shape == (512, 512, 4) and frame.rgba[..., 3].max() == 255
    assert np.array_equal(np.asarray(Image.open(out / "character.png")),
                          np.asarray(Image.open(lambda_00 / "character.png")))
    assert np.array_equal(load_character(out).face_mask(), load_character(lambda_00).face_mask())
    report = json.loads((out / "distill" / "report.json").read_text())
    assert report["psnr"] == records[-1]["psnr"] and set(report["history"]) == {"face", "body"}


@pytest.mark.slow
def test_resume_after_kill_9_and_sigterm_is_bitwise_identical(finished: tuple[Path, list[dict[str, Any]]],
                                                               lambda_00: Path, tmp_path: Path) -> None:
    reference, reference_records = finished
    out = tmp_path / "interrupted"
    proc = start(job_args(lambda_00, out))
    records_until(proc, event="checkpoint", phase="face", examples=2)
    proc.kill()  # SIGKILL in the middle of the face morpher
    proc.wait()
    assert (out / "distill" / "checkpoint.pt").is_file() and not (out / "character.yaml").exists()

    proc = start(job_args(lambda_00, out, "--resume"))
    seen = records_until(proc, event="checkpoint", phase="body", examples=1)
    assert seen[0]["event"] == "start" and seen[0]["resumed"]["phase"] == "face"
    assert seen[0]["resumed"]["examples"] >= 2
    proc.send_signal(signal.SIGTERM)  # cancel as the daemon does
    code, rest, _ = finish(proc)
    assert code == EXIT_STOPPED
    assert rest[-1]["event"] == "stopped" and rest[-1]["exit_code"] == EXIT_STOPPED
    assert rest[-1]["checkpoint"] == str(out / "distill" / "checkpoint.pt")

    code, last, err = finish(start(job_args(lambda_00, out, "--resume")))
    assert code == 0, err
    assert last[0]["resumed"]["phase"] == "body" and last[-1]["event"] == "done"
    got, want = weights(out), weights(reference)
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want), "resumed weights differ from the uninterrupted run"
    assert last[-1]["psnr"] == reference_records[-1]["psnr"]

    code, again, _ = finish(start(job_args(lambda_00, out, "--resume")))
    assert code == 0 and [r["event"] for r in again] == ["done"]


def test_distill_eval_matches_the_jobs_final_psnr(finished: tuple[Path, list[dict[str, Any]]],
                                                  lambda_00: Path) -> None:
    out, records = finished
    result = CliRunner().invoke(distill_eval_command, [str(out), "--teacher", f"student:{lambda_00}", "--poses", "1",
                                                       "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    # same held-out pose, same exact student: the same numbers up to float32 reduction order (thread count)
    assert json.loads(result.output)["psnr"] == pytest.approx(records[-1]["psnr"], abs=1e-4)
    same = CliRunner().invoke(distill_eval_command, [str(lambda_00), "--teacher", f"student:{lambda_00}",
                                                     "--poses", "1", "--device", "cpu"])
    assert same.exit_code == 0 and same.output.count("inf dB") == 3, same.output


def run_cli(args: list[str]) -> tuple[int, str, list[dict[str, Any]]]:
    result = CliRunner().invoke(tha4_main, ["distill", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, result.stderr, lines


def test_bad_inputs_get_clear_errors(lambda_00: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    Image.new("RGBA", (256, 256)).save(small)
    code, err, lines = run_cli(job_args(lambda_00, tmp_path / "o1")[:0] + [
        str(small), "--face-mask", str(lambda_00 / "face_mask.png"), "--teacher", f"student:{lambda_00}",
        "-o", str(tmp_path / "o1"), "--progress-json"])
    assert code == 1 and "256×256; THA4 needs 512×512" in err
    assert lines[-1]["event"] == "error" and "512×512" in lines[-1]["message"]

    grey = tmp_path / "grey.png"
    Image.new("RGB", (512, 512), (128, 128, 128)).save(grey)
    args = job_args(lambda_00, tmp_path / "o2")
    args[2] = str(grey)
    code, err, _ = run_cli(args)
    assert code == 1 and "black (0) and white (255)" in err

    args = job_args(lambda_00, tmp_path / "o3")
    args[4] = "teacher-from-nowhere"
    code, err, _ = run_cli(args)
    assert code == 1 and "unknown teacher" in err

    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    code, err, _ = run_cli(job_args(lambda_00, tmp_path / "busy"))
    assert code == 1 and "not an empty folder" in err
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"

    poses = tmp_path / "poses.npy"
    np.save(poses, np.zeros((2, 45), np.float32))
    code, err, lines = run_cli(job_args(lambda_00, tmp_path / "o4", "--unique-poses", "2", "--poses", str(poses)))
    assert code == 2 and "--unique-poses samples its own poses; give it or --poses, not both" in err and not lines
    code, err, _ = run_cli(job_args(lambda_00, tmp_path / "o4", "--slider-share", "0.5", "--poses", str(poses)))
    assert code == 1 and "slider_share must be in [0, 1] and is for drawn poses, not a pose_file; got 0.5" in err
    code, err, _ = run_cli(job_args(lambda_00, tmp_path / "o4", "--slider-share", "2"))
    assert code == 2 and "2.0 is not in the range 0<=x<=1" in err
    assert not (tmp_path / "o4").exists()

    for fraction, message in (("3/2", "3/2 is not in (0, 1]"), ("half", "'half' is not a number or a fraction")):
        code, err, _ = run_cli(job_args(lambda_00, tmp_path / "o5", "--pixel-fraction", fraction))
        assert code == 2 and message in err


def test_the_library_names_its_parameters_and_records_how_a_job_ends(lambda_00: Path, tmp_path: Path) -> None:
    """`distill` names ``unique_poses`` and ``pose_file`` (not the command's flags) and sends an ``error``
    record before raising; `tha4 distill` checks the same clash itself, naming its flags."""
    poses = tmp_path / "poses.npy"
    np.save(poses, np.zeros((2, 45), np.float32))
    config = DistillConfig(image=lambda_00 / "character.png", face_mask=lambda_00 / "face_mask.png",
                           teacher=f"student:{lambda_00}", output=tmp_path / "o", unique_poses=2, pose_file=poses)
    stream = io.StringIO()
    with pytest.raises(DistillError, match="^unique_poses samples its own poses; give it or pose_file, not both$"):
        distill(config, progress=Progress(json_lines=True, stream=stream))
    record = json.loads(stream.getvalue())
    assert record["event"] == "error" and record["message"].startswith("unique_poses samples its own poses")


def test_resume_refuses_a_different_job(finished: tuple[Path, list[dict[str, Any]]], lambda_00: Path) -> None:
    out, _ = finished
    code, err, _ = run_cli(job_args(lambda_00, out, "--resume", "--seed", "1"))
    assert code == 1 and "seed was 0 when the run started and is 1 now" in err
    code, err, _ = run_cli(job_args(lambda_00, out, "--resume", "--pixel-fraction", "1/4"))
    assert code == 1 and "pixel_fraction was 1.0 when the run started and is 0.25 now" in err
    code, err, _ = run_cli(job_args(lambda_00, out, "--resume", "--face-rest-fit", "3"))
    assert code == 1 and "face_rest_fit was 0 when the run started and is 3 now" in err
    code, err, _ = run_cli(job_args(lambda_00, out, "--resume", "--slider-share", "0.25"))
    assert code == 1 and "slider_share was None when the run started and is 0.25 now" in err
    code, err, _ = run_cli(job_args(lambda_00, out))
    assert code == 1 and "holds a distillation already; resume it to continue or choose another" in err


def test_commands_are_plugins_and_python_m_works() -> None:
    listing = CliRunner().invoke(tha4_main, ["--help"])
    assert "distill-eval" in listing.output
    assert tha4_main.plugin_of["distill"] == tha4_main.plugin_of["distill-eval"] == "distill"
    help_text = subprocess.run([sys.executable, "-m", "tha4_sdk.cli", "distill", "--help"], capture_output=True,
                               text=True, env={**os.environ, "COLUMNS": "200"})
    assert help_text.returncode == 0 and "--progress-json" in help_text.stdout and "--resume" in help_text.stdout


@pytest.mark.slow
def test_two_processes_train_like_one(lambda_00: Path, tmp_path: Path) -> None:
    """torch.distributed (gloo on CPU, as nccl on GPUs): two processes with half a batch each ≈ one process."""
    args = ["--face-examples", "4", "--body-examples", "2", "--batch-size", "2", "--eval-poses", "1",
            "--sample-every", "0", "--progress-json"]
    common = [str(lambda_00 / "character.png"), "--face-mask", str(lambda_00 / "face_mask.png"),
              "--teacher", f"student:{lambda_00}", *args]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                          "29517", "-m", "tha4_sdk.cli", "distill", *common, "-o", str(tmp_path / "two")],
                         capture_output=True, text=True, timeout=600, env=ONE_THREAD)
    assert two.returncode == 0, two.stderr[-2000:]
    records = [json.loads(line) for line in two.stdout.splitlines() if line.startswith("{")]
    assert [r["event"] for r in records].count("start") == 1, "only rank 0 reports"
    assert records[0]["world_size"] == 2 and records[-1]["event"] == "done"
    one = subprocess.run([sys.executable, "-m", "tha4_sdk.cli", "distill", *common, "-o", str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=600, env=ONE_THREAD)
    assert one.returncode == 0, one.stderr[-2000:]
    a, b = weights(tmp_path / "two"), weights(tmp_path / "one")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a if k.startswith("face"))
    assert all(torch.allclose(a[k], b[k], atol=1e-3) for k in a)  # Adam amplifies rounding of tiny gradients


def test_evaluation_is_sized_to_the_budget(tmp_path: Path) -> None:
    """`--examples 64` at batch 8: 26 + 38 examples asked for, 32 + 40 trained, 4 held-out poses (not 100)."""
    config = DistillConfig(image=tmp_path / "i.png", face_mask=tmp_path / "m.png", teacher="tha3",
                           output=tmp_path / "o", examples=64)
    assert config.budgets() == (26, 38) and config.trained() == (32, 40)
    assert config.num_eval_poses() == 4
    assert [default_eval_poses(n) for n in (8, 64, 320, 1_600, 2_500_000)] == [4, 4, 20, 100, 100]
    assert DistillConfig(image=tmp_path, face_mask=tmp_path, teacher="tha3", output=tmp_path, examples=64,
                         eval_poses=9).num_eval_poses() == 9


def test_a_slider_share_draws_the_teacher_caches_poses_too(lambda_00: Path, tmp_path: Path) -> None:
    """With ``--unique-poses`` the share is drawn into the cached poses (every parameter uniform: several eyebrow
    shapes at once), which the job then trains on."""
    out = tmp_path / "sliders"
    code, err, records = run_cli(job_args(lambda_00, out, "--unique-poses", "6", "--slider-share", "1"))
    assert code == 0 and records[-1]["event"] == "done", err
    cached = np.load(out / "distill" / "teacher_cache" / "poses.npy")
    brows = [PARAMETER_BY_NAME[f"eyebrow_{shape}_{side}"].index for shape in EYEBROW_SHAPES
             for side in ("left", "right")]
    assert cached.shape == (6, 45) and ((cached[:, brows] != 0).sum(axis=1) > 2).all()
