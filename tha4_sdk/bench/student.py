"""`tha4 bench student`: the exact student against its fast paths, speed and quality side by side."""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click
import numpy as np
import torch
from tqdm import tqdm

from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.character import Character
from tha4_sdk.device import resolve_device
from tha4_sdk.hub import resolve_character
from tha4_sdk.image import tensor_to_rgba8
from tha4_sdk.metrics import psnr
from tha4_sdk.pose import PoseError, random_poses, validate_batch
from tha4_sdk.render.base import RenderSession
from tha4_sdk.render.student import StudentSession
from tha4_sdk.render.student_fast import FastStudentSession

EXACT = "exact float32 (official-equivalent)"
GOAL_SPEEDUP, GOAL_PSNR = 8.0, 45.0


@dataclass
class _Path:
    """One rendering path under test and what was measured for it."""

    name: str
    session: RenderSession
    wall: dict[int, list[float]] = field(default_factory=dict)  # batch → seconds per call
    cpu: dict[int, list[float]] = field(default_factory=dict)
    outputs: torch.Tensor | None = None  # output 0 for every pose (quality)


def _paths(character: Character, device: torch.device) -> list[_Path]:
    paths = [_Path(EXACT, StudentSession(character, device, torch.float32)),
             _Path("fast float32", FastStudentSession(character, device, torch.float32))]
    if device.type == "cpu":
        if paths[1].session.native:  # type: ignore[attr-defined]
            paths[1].name = "fast float32 (native runner)"
            paths.append(_Path("fast float32, PyTorch ops in tiles (no native runner)",
                               FastStudentSession(character, device, torch.float32, native=False)))
        paths.append(_Path("fast float32, PyTorch ops untiled (whole batch, intra-op threads)",
                           FastStudentSession(character, device, torch.float32, tile_values=0, native=False)))
    paths.append(_Path("fast float16 matmuls", FastStudentSession(character, device, torch.float16)))
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):  # the onnx extra
        from tha4_sdk.render.onnx import OnnxRenderer

        provider = "cpu" if device.type == "cpu" else "auto"
        for graph, file in (("fast", "character.onnx"), ("exact", "character_exact.onnx")):
            session = OnnxRenderer(device=provider, graph=graph).open(character)
            paths.append(_Path(f"onnxruntime {session.providers[0]}, {graph} graph ({file})", session))
    return paths


def _timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """Run ``fn``; wall seconds and process CPU seconds (every thread) it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def _measure(paths: list[_Path], poses: np.ndarray, batches: list[int], repeats: int,
             device: torch.device) -> None:
    """Warm up, then time every path ``repeats`` times per batch size, interleaved (order rotating)."""
    chunks = {b: torch.from_numpy(np.resize(poses, (b, poses.shape[1]))) for b in batches}
    everything = torch.from_numpy(poses)
    with tqdm(total=len(paths) * (1 + len(batches) * (1 + repeats)), desc="bench student", unit="call") as bar:
        for path in paths:  # the quality pass, which also warms every path up
            path.outputs = torch.cat([path.session.render_raw(everything[i:i + 8]).cpu()
                                      for i in range(0, len(everything), 8)])
            bar.update()
        for batch in batches:
            for path in paths:
                path.session.render_raw(chunks[batch])
                bar.update()
            for rep in range(repeats):
                for path in paths[rep % len(paths):] + paths[:rep % len(paths)]:
                    wall, cpu = _timed(lambda: path.session.render_raw(chunks[batch]), device)
                    path.wall.setdefault(batch, []).append(wall / batch)
                    path.cpu.setdefault(batch, []).append(cpu / batch)
                    bar.update()


def _speed_table(paths: list[_Path], batches: list[int]) -> str:
    rows = []
    for batch in batches:
        exact_wall, exact_cpu = (statistics.median(d[batch]) for d in (paths[0].wall, paths[0].cpu))
        for path in paths:
            wall, cpu = statistics.median(path.wall[batch]), statistics.median(path.cpu[batch])
            rows.append([path.name, batch, f"{1 / wall:.2f}", f"{wall:.3f}", f"{cpu:.3f}",
                         f"{exact_wall / wall:.1f}×", f"{exact_cpu / cpu:.1f}×"])
    return markdown_table(["path", "batch", "frames/s", "s/frame (median)", "CPU s/frame",
                           "speed-up (wall)", "speed-up (CPU time)"], rows)


def _quality_table(paths: list[_Path]) -> str:
    exact = paths[0].outputs
    if exact is None:
        raise RuntimeError("the exact path's outputs were not kept")
    exact_px = tensor_to_rgba8(exact).numpy().astype(np.int16)
    rows = []
    for path in paths[1:]:
        if path.outputs is None:
            raise RuntimeError(f"the {path.name} path's outputs were not kept")
        per_pose = [psnr(e, o, data_range=2.0) for e, o in zip(exact, path.outputs)]
        diff = np.abs(tensor_to_rgba8(path.outputs).numpy().astype(np.int16) - exact_px)
        rows.append([path.name, f"{min(per_pose):.1f}", f"{psnr(exact, path.outputs, data_range=2.0):.1f}",
                     f"{(diff == 0).mean():.4%}", f"{(diff <= 1).mean():.4%}", int(diff.max())])
    return markdown_table(["path", "PSNR min over poses (dB)", "PSNR all poses (dB)", "Frame bytes identical",
                           "within ±1", "max |Δ|"], rows)


def _verdict(paths: list[_Path], batches: list[int]) -> str:
    """Whether a fast path reaches the goal: ≥ 8× the exact path's frames/s at ≥ 45 dB on every pose."""
    parts = []
    for batch in batches:
        exact = statistics.median(paths[0].wall[batch])
        best = max(((exact / statistics.median(p.wall[batch]), p) for p in paths[1:]
                    if p.outputs is not None and paths[0].outputs is not None
                    and min(psnr(e, o, data_range=2.0) for e, o in zip(paths[0].outputs, p.outputs)) >= GOAL_PSNR),
                   key=lambda item: item[0], default=None)
        if best is None:
            parts.append(f"batch {batch}: no fast path stays at ≥ {GOAL_PSNR:g} dB")
        else:
            met = "met" if best[0] >= GOAL_SPEEDUP else "NOT met"
            parts.append(f"batch {batch}: {met} by {best[1].name} ({best[0]:.1f}×)")
    return f"Goal ≥ {GOAL_SPEEDUP:g}× the exact path at ≥ {GOAL_PSNR:g} dB (wall time) — " + "; ".join(parts) + "."


def _onnx_ratio(paths: list[_Path], batches: list[int]) -> str:
    """onnxruntime's fast graph against the native fast path, wall time per frame (goal ≤ 1.25×)."""
    native = next((p for p in paths if "native runner" in p.name), None)
    graph = next((p for p in paths if p.name.startswith("onnxruntime") and "fast graph" in p.name), None)
    if native is None or graph is None:
        return ""
    ratios = ", ".join(f"batch {b}: {statistics.median(graph.wall[b]) / statistics.median(native.wall[b]):.2f}×"
                       for b in batches)
    return f"onnxruntime (fast graph) against the native fast path, time per frame (goal ≤ 1.25×) — {ratios}."


def _load_poses(poses_file: str | None, count: int, seed: int) -> tuple[np.ndarray, str]:
    if poses_file is None:
        return random_poses(count, seed), f"{count} random poses (seed {seed}, every parameter uniform in its range)"
    try:
        return validate_batch(np.load(poses_file, allow_pickle=False)), f"the {Path(poses_file).name} poses"
    except (OSError, ValueError, PoseError) as e:
        raise click.BadParameter(f"{poses_file}: {e}", param_hint="--poses") from None


@click.command("student")
@click.option("--character", "character_spec", default="lambda_00", show_default=True,
              help="A fetched character's name or a character folder with student weights.")
@click.option("--poses", "poses_file", type=click.Path(exists=True, dir_okay=False),
              help="N×45 .npy poses (default: seeded random poses).")
@click.option("--count", default=8, show_default=True, type=click.IntRange(1), help="Random poses to draw.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random poses.")
@click.option("--batch", "batches", multiple=True, type=click.IntRange(1), default=(1, 8), show_default=True,
              help="Batch sizes to time (repeatable).")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1), help="Timed calls per path.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--output", default="docs/benchmarks.md", show_default=True, type=click.Path(dir_okay=False),
              help="Markdown file whose 'student' section is replaced.")
@click.option("--no-write", is_flag=True, help="Print the results only.")
def student(character_spec: str, poses_file: str | None, count: int, seed: int, batches: tuple[int, ...],
            repeats: int, device: str, output: str, no_write: bool) -> None:
    """Frames/s of the exact student and of each fast path, and each fast path's PSNR against the exact one."""
    character = resolve_character(character_spec)
    if not character.has_student:
        raise click.BadParameter(f"{character_spec}: character {character.name!r} has no student weights",
                                 param_hint="--character")
    poses, poses_text = _load_poses(poses_file, count, seed)
    dev = resolve_device(device)
    load_before = os.getloadavg()
    paths = _paths(character, dev)
    _measure(paths, poses, list(batches), repeats, dev)
    load_after = os.getloadavg()
    body = "\n\n".join(part for part in [
        f"Character `{character.name}`, {poses_text}, device {dev}, {torch.get_num_threads()} torch threads. "
        f"Time of `render_raw` (the networks, no RGBA8 conversion) per frame: median of {repeats} calls per "
        "path and batch size, the paths interleaved in one run; CPU time counts every thread of the process.",
        _speed_table(paths, list(batches)),
        "Quality of each fast path against the exact path's output 0 over every pose "
        "(PSNR with data range 2; Frame bytes: the RGBA8 pixels `render` returns):",
        _quality_table(paths),
        _verdict(paths, list(batches)),
        _onnx_ratio(paths, list(batches)),
        f"Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} on "
        f"{os.cpu_count()} cores. The CPU is shared with other jobs, so the wall-clock figures vary "
        "from run to run; the CPU-time columns are steadier.",
    ] if part)
    click.echo(body)
    if not no_write:
        path = write_section(output, "student", "Student renderer: exact and fast paths", body)
        click.echo(f"\nwrote {path}")
    for path in paths:
        path.session.close()
