"""The fast student path: the student's folded levels (`tha4_sdk.models.student.folded`), same six outputs.

How the levels run:

* pixels × channels (NHWC) layout, ``mm`` into reused buffers, in-place bias add and ``sin_``;
* on the CPU the pixels go through a whole level in tiles of a few thousand, so every intermediate
  stays in cache, and the tiles are shared out to single-threaded workers (one per torch thread);
* on the CPU, where a C compiler is available, the native runner
  (`tha4_sdk.models.student.native_runner`) does a band of rows per call: small cache-sized tiles, bias +
  sine fused into one pass with a polynomial sine, the upsample fused with the first layer's sine, no
  Python between the layers.

All of it is exact up to float rounding. The face paste and the final warp are the official
operations in float32. ``dtype`` float16/bfloat16 runs only the matmuls in that precision (the
sines stay float32); on this CPU they are not faster, float16 is for CUDA.
"""

from __future__ import annotations

import functools
import math
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch

from tha4_sdk.character import Character
from tha4_sdk.models.student.body_morpher import LEVELS, compose_body_outputs
from tha4_sdk.models.student.face_morpher import FACE_POSE_SIZE
from tha4_sdk.models.student.folded import Level, fold_levels, pixel_coords
from tha4_sdk.models.student.native_runner import NativeRunner, load as load_native
from tha4_sdk.models.student.poser import StudentPoser, paste_face
from tha4_sdk.render.base import RenderOptionError, RenderSession

#: activation values per tile on the CPU (5.6 MiB of float32; 32 rows of every level of the student),
#: the fastest of 1/4×…4× this on a 2-core Xeon (L2 2 MiB/core)
CPU_TILE_VALUES = 16384 * 90


def _mm(x: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = x @ w`` in float32, the product itself computed in ``w.dtype``."""
    if w.dtype == x.dtype:
        return torch.mm(x, w, out=out)
    return out.copy_(torch.mm(x.to(w.dtype), w))


def _single_threaded_workers(count: int, native: NativeRunner | None) -> ThreadPoolExecutor:
    """``count`` worker threads whose torch ops (and native BLAS calls) each run on one thread: the tiles
    are the parallelism.

    Independent tiles keep both cores busy without an OpenMP barrier per op, which matters when the
    cores are shared with other processes.
    """
    def single_threaded() -> None:
        torch.set_num_threads(1)
        if native is not None:
            native.single_threaded()

    saved = torch.get_num_threads()
    started = threading.Barrier(count)
    pool = ThreadPoolExecutor(count, thread_name_prefix="tha4-student", initializer=single_threaded)
    list(pool.map(lambda _: started.wait(), range(count)))  # start every worker now
    torch.set_num_threads(saved)  # the workers' setting also became the default of threads started later
    return pool


class _Runner:
    """Evaluates levels tile by tile (on worker threads), reusing float32 scratch buffers."""

    def __init__(self, tile_values: int, workers: int, native: NativeRunner | None) -> None:
        self.tile_values = tile_values  # 0: no tiles
        self.native = native
        self.workers = workers if tile_values or native else 1
        self._pool = _single_threaded_workers(workers, native) if self.workers > 1 else None
        self._local = threading.local()
        self._outputs: dict[int, torch.Tensor] = {}

    def _buffer(self, slot: int, numel: int, device: torch.device) -> torch.Tensor:
        """A scratch buffer of this thread."""
        scratch = self._local.__dict__.setdefault("scratch", {})
        buf = scratch.get(slot)
        if buf is None or buf.numel() < numel:
            buf = scratch[slot] = torch.empty(numel, device=device)
        return buf[:numel]

    def run(self, level: Level, pose: torch.Tensor, feat: torch.Tensor | None, *, keep: bool = True) -> torch.Tensor:
        """The level's output for N poses: N × S × S × out float32 (NHWC); ``keep=False`` reuses a buffer."""
        return self.run_together([(level, pose, feat, keep)])[0]

    def run_together(self, specs: list[tuple[Level, torch.Tensor, torch.Tensor | None, bool]]) -> list[torch.Tensor]:
        """Independent levels (level, pose, feat, keep) in one pass over the workers: no wait between them."""
        outs, jobs = [], []
        for level, pose, feat, keep in specs:
            out = self._output(level, pose, keep)
            own_rows = level.terms.rows(pose) if level.terms else None
            out_rows = level.out_terms.rows(pose) if level.out_terms else None
            make = self._native_jobs if self.native is not None else self._tile_jobs
            jobs += make(level, own_rows, feat, out_rows, out)
            outs.append(out)
        self.execute(jobs)
        return outs

    def execute(self, jobs: list[Callable[[], None]]) -> None:
        """Run independent jobs on the workers (or here, without workers) and wait for all of them."""
        if self._pool is None:
            for job in jobs:
                job()
        else:
            list(self._pool.map(lambda job: job(), jobs))

    def compose(self, native: NativeRunner, head: torch.Tensor, image: torch.Tensor,
                base: tuple[torch.Tensor, torch.Tensor]) -> list[torch.Tensor]:
        """The body morpher's five outputs from the N × S × S × 7 head, in bands on the workers."""
        n, s = head.shape[0], head.shape[1]
        outs = [torch.empty(n, c, s, s) for c in (4, 1, 4, 4, 2)]
        step = math.ceil(s / (8 * self.workers))
        self.execute([functools.partial(native.compose, (r0, min(s, r0 + step)), head[f], image[f], base,
                                        [o[f] for o in outs]) for f in range(n) for r0 in range(0, s, step)])
        return outs

    def _output(self, level: Level, pose: torch.Tensor, keep: bool) -> torch.Tensor:
        """A new N × S × S × out tensor, or (``keep=False``) this size's reused buffer."""
        shape = (pose.shape[0], level.size, level.size, level.out_w.shape[1])
        if keep:
            return torch.empty(shape, device=pose.device)
        buf = self._outputs.get(level.size)
        if buf is None or buf.numel() < math.prod(shape):
            buf = self._outputs[level.size] = torch.empty(math.prod(shape), device=pose.device)
        return buf[:math.prod(shape)].view(shape)

    def _tile_jobs(self, level: Level, own_rows: torch.Tensor | None, feat: torch.Tensor | None,
                   out_rows: torch.Tensor | None, out: torch.Tensor) -> list[Callable[[], None]]:
        """The level as PyTorch ops on tiles: bands of an even number of rows, at least two per worker."""
        n, s = out.shape[0], level.size
        if not self.tile_values:  # the whole batch at once
            frames, rows = n, s
        else:
            width = max(w.shape[0] for w, _ in level.hidden)
            tiles = max(math.ceil(width * s * s / self.tile_values), 2 * self.workers)
            frames, rows = 1, min(s, 2 * math.ceil(s / tiles / 2))

        def tile(f0: int, r0: int) -> None:
            f1, r1 = min(n, f0 + frames), min(s, r0 + rows)
            band = slice(f0, f1), slice(r0, r1)
            with torch.inference_mode():
                x = self._first(level, own_rows[band] if own_rows is not None else None,
                                feat[f0:f1] if feat is not None else None, r0, r1)
                self._rest(level, x, out[band], out_rows[band] if out_rows is not None else None)

        return [functools.partial(tile, f0, r0) for f0 in range(0, n, frames) for r0 in range(0, s, rows)]

    def _native_jobs(self, level: Level, own_rows: torch.Tensor | None, feat: torch.Tensor | None,
                     out_rows: torch.Tensor | None, out: torch.Tensor) -> list[Callable[[], None]]:
        """The level through the native runner: bands of rows (eight per worker and frame), one call each."""
        if level.native is None:
            raise RuntimeError("native jobs for a level not prepared for the native runner")
        n, s = out.shape[0], level.size
        step = math.ceil(s / (8 * self.workers))
        return [functools.partial(level.native.run, (r0, min(s, r0 + step)), out[f],
                                  row_terms=None if own_rows is None else own_rows[f],
                                  feat=None if feat is None else feat[f],
                                  out_row_terms=None if out_rows is None else out_rows[f])
                for f in range(n) for r0 in range(0, s, step)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def _first(self, level: Level, rows: torch.Tensor | None, feat: torch.Tensor | None,
               r0: int, r1: int) -> torch.Tensor:
        """Pixels × C activations of the first sine layer for rows ``r0:r1`` of some frames."""
        s, c = level.size, level.hidden[0][0].shape[0]
        if feat is None:
            if rows is None or level.terms is None:
                raise RuntimeError("a level without an input feature map needs its pose terms and rows")
            pre = self._buffer(0, rows.shape[0] * (r1 - r0) * s * c, rows.device).view(-1, r1 - r0, s, c)
            torch.add(rows[:, :, None, :], level.terms.col, out=pre)
        else:  # upsample the source rows these rows need, one more each side, then keep the wanted rows
            if level.edges is None:
                raise RuntimeError("a level fed by the previous level needs its edge corrections")
            h = feat.shape[1]
            a, b = max(r0 // 2 - 1, 0), min(r1 // 2 + 1, h)
            up = self._buffer(0, feat.shape[0] * 2 * (b - a) * s * c, feat.device).view(-1, 2 * (b - a), s, c)
            torch.ops.aten.upsample_bilinear2d.out(feat[:, a:b].permute(0, 3, 1, 2), [2 * (b - a), s], False,
                                                   None, None, out=up.permute(0, 3, 1, 2))
            pre = up[:, r0 - 2 * a:r1 - 2 * a]
            edge_rows, edge_cols = level.edges
            if r0 == 0:
                pre[:, 0] += edge_rows[0]
            if r1 == s:
                pre[:, -1] += edge_rows[1]
            pre[:, :, 0] += edge_cols[0]
            pre[:, :, -1] += edge_cols[1]
        return pre.view(-1, c).sin_()

    def _rest(self, level: Level, x: torch.Tensor, out: torch.Tensor, out_rows: torch.Tensor | None) -> None:
        """Hidden sine layers, then the output map (plus head bias or next level's terms) into ``out``."""
        px = x.shape[0]
        for k, (w, b) in enumerate(level.hidden):
            y = self._buffer(1 + k % 2, px * w.shape[1], x.device).view(px, w.shape[1])
            x = _mm(x, w, y).add_(b).sin_()
        _mm(x, level.out_w, out.view(px, -1))
        if level.out_b is not None:
            out.add_(level.out_b)
        if out_rows is not None and level.out_terms is not None:
            out.add_(out_rows[:, :, None, :]).add_(level.out_terms.col)


class FastStudentSession(RenderSession):
    """The student renderer's fast path: the six outputs of `StudentSession`, up to float rounding.

    ``dtype`` sets the matmul precision (float32: ≈110 dB PSNR vs the exact path; float16: ≈48 dB;
    bfloat16 loses too much, ≈32–40 dB). ``tile_values``: activation values per tile (default
    `CPU_TILE_VALUES` on the CPU; 0 = the whole batch at once, the default on CUDA); ``workers``: tiles
    run on this many single-threaded workers (default ``torch.get_num_threads()``; 1 = on the calling
    thread); ``native``: the native runner (default: used on the CPU in float32 when it can be built;
    False = PyTorch ops only; True = required). A session renders one call at a time (its buffers are
    reused).
    """

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype,
                 tile_values: int | None = None, workers: int | None = None, native: bool | None = None) -> None:
        super().__init__(character, device, dtype)
        if dtype == torch.bfloat16:
            warnings.warn("bfloat16 matmuls lose detail in the student (measured 32–40 dB PSNR against float32); "
                          "float16 keeps ≈48 dB", stacklevel=2)
        poser = StudentPoser.from_files(*character.student_files())
        face, body = fold_levels(poser)
        self.face, self.body = face.to(device, dtype), [level.to(device, dtype) for level in body]
        self.image = character.image_tensor().to(device).unsqueeze(0)
        if tile_values is None:
            tile_values = CPU_TILE_VALUES if device.type == "cpu" else 0
        runner = load_native() if device.type == "cpu" and dtype == torch.float32 and native is not False else None
        if native and runner is None:
            raise RenderOptionError("native=True, but the native student runner is unavailable here: it needs the "
                                    "CPU, float32, a C compiler and PyTorch's sgemm (see the warning, or THA4_NATIVE=0 "
                                    "being set)")
        self._native = runner
        x, y = pixel_coords(LEVELS[-1][0])  # the identity sampling grid's x per column, y per row
        self._base = x.contiguous(), y.contiguous()
        if runner is not None:
            self.face, self.body = self.face.prepared(runner), [level.prepared(runner) for level in self.body]
        self._runner = _Runner(tile_values, torch.get_num_threads() if workers is None else workers, runner)

    @property
    def native(self) -> bool:
        """Whether this session renders through the native runner."""
        return self._native is not None

    @torch.inference_mode()
    def outputs(self, poses: torch.Tensor) -> list[torch.Tensor]:
        """All six official outputs for N×45 poses (blended, alpha, colour, warped, grid, face), float32."""
        pose = poses.to(self.device, torch.float32)
        if pose.dim() == 1:
            pose = pose.unsqueeze(0)
        face, feat = self._runner.run_together([(self.face, pose[:, :FACE_POSE_SIZE], None, True),
                                                 (self.body[0], pose, None, False)])
        for k, level in enumerate(self.body[1:], start=1):
            feat = self._runner.run(level, pose, feat, keep=k + 1 == len(self.body))
        face = face.permute(0, 3, 1, 2).contiguous()
        if self._native is not None:  # warp and blend in bands on the workers, outputs written as planes
            return self._runner.compose(self._native, feat, paste_face(self.image, face), self._base) + [face]
        head = feat.permute(0, 3, 1, 2).contiguous()  # NCHW like the exact path's outputs
        return compose_body_outputs(paste_face(self.image, face), head) + [face]

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        return self.outputs(poses)[0]

    def close(self) -> None:
        self._runner.close()
        del self.face, self.body, self.image, self._runner
