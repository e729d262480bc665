"""The native level runner (``native_runner.c``): the student's folded levels (`folded`) in C, built for this
CPU on first use.

Built and loaded by `tha4_sdk.models.c_kernels` (the system C compiler, PyTorch's own ``sgemm``); where that
cannot be had, or with ``THA4_NATIVE=0``, `load` returns None and the fast render path runs the same
arithmetic as PyTorch ops.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch

from tha4_sdk.models import c_kernels

SOURCE = Path(__file__).with_suffix(".c")
#: activations per tile buffer (at least one row): 512 KiB of float32, so a tile's two buffers stay in a 2 MiB
#: L2 cache; two rows per tile at every student level. Measured on a 2-core Xeon: 16–256 Ki values within
#: 5% of each other per level, the 512² level 10% slower at one row per tile
TILE_VALUES = 128 * 1024

_P, _I = ctypes.c_void_p, ctypes.c_int


def _pointer(t: torch.Tensor | None) -> int | None:
    """The data pointer of a contiguous float32 CPU tensor (None for None): the C code's only layout."""
    if t is None:
        return None
    if t.dtype != torch.float32 or t.device.type != "cpu" or not t.is_contiguous():
        raise ValueError(f"the native runner takes contiguous float32 CPU tensors, got {t.dtype} on {t.device}"
                         f" (contiguous: {t.is_contiguous()})")
    return t.data_ptr()


class NativeRunner:
    """Calls into the compiled library; every tensor argument is contiguous float32 on the CPU."""

    def __init__(self, library: ctypes.CDLL, sgemm: int, set_local_threads: ctypes._CFuncPtr | None) -> None:
        self._lib, self._sgemm, self._set_local_threads = library, sgemm, set_local_threads
        library.tha4_sin.argtypes, library.tha4_sin.restype = [_P, ctypes.c_ssize_t], None
        library.tha4_level.argtypes = [_P, _I, _I, _I, _I, _P, _P, _P, _P, _P, _I, _P, _P, _P, _P, _I, _P, _P, _P,
                                       _P, _I]
        library.tha4_level.restype = _I
        library.tha4_compose.argtypes = [_P, _P, _P, _P, _I, _I, _I, _P, _P, _P, _P, _P]
        library.tha4_compose.restype = None

    def single_threaded(self) -> None:
        """Make the BLAS run on the calling thread only (call it once in each worker thread)."""
        if self._set_local_threads is not None:
            self._set_local_threads(1)

    def sin_(self, y: torch.Tensor) -> torch.Tensor:
        """``y = sin(y)`` with the runner's polynomial sine (for tests)."""
        self._lib.tha4_sin(_pointer(y), y.numel())
        return y

    def compose(self, rows: tuple[int, int], head: torch.Tensor, image: torch.Tensor, base: tuple[torch.Tensor, torch.Tensor],
                outputs: list[torch.Tensor]) -> None:
        """Rows ``rows`` of one frame's body outputs (blended, alpha, colour, warped, grid change: C × S × S each)
        from its S × S × 7 ``head`` and 4 × S × S ``image``; ``base``: the identity grid's x per column, y per row."""
        self._lib.tha4_compose(_pointer(head), _pointer(image), _pointer(base[0]), _pointer(base[1]), head.shape[0],
                               rows[0], rows[1], *(_pointer(o) for o in outputs))

    def prepare(self, *, hidden: list[tuple[torch.Tensor, torch.Tensor]], out_w: torch.Tensor,
                col_terms: torch.Tensor | None = None, edges: tuple[torch.Tensor, torch.Tensor] | None = None,
                out_b: torch.Tensor | None = None, out_col_terms: torch.Tensor | None = None,
                tile_values: int = TILE_VALUES) -> "NativeLevel":
        """A level's constant arguments (weights, per-column terms, border corrections), checked once."""
        return NativeLevel(self, hidden, out_w, col_terms, edges, out_b, out_col_terms, tile_values)


class NativeLevel:
    """One SIREN level ready for ``tha4_level`` calls: see that function in the C file for the arguments."""

    def __init__(self, runner: NativeRunner, hidden: list[tuple[torch.Tensor, torch.Tensor]], out_w: torch.Tensor,
                 col_terms: torch.Tensor | None, edges: tuple[torch.Tensor, torch.Tensor] | None,
                 out_b: torch.Tensor | None, out_col_terms: torch.Tensor | None, tile_values: int) -> None:
        self._keep = (hidden, out_w, col_terms, edges, out_b, out_col_terms)  # the pointers below stay valid
        self._lib, self._sgemm = runner._lib, runner._sgemm
        self._c0, self._out_c, self._tile_values = hidden[0][0].shape[0], out_w.shape[1], tile_values
        self._count = len(hidden)
        self._weights = (_P * len(hidden))(*(_pointer(w) for w, _ in hidden))
        self._biases = (_P * len(hidden))(*(_pointer(b) for _, b in hidden))
        self._widths = (_I * len(hidden))(*(w.shape[1] for w, _ in hidden))
        self._col, self._out_w, self._out_b = _pointer(col_terms), _pointer(out_w), _pointer(out_b)
        self._edges = (_pointer(edges[0]), _pointer(edges[1])) if edges else (None, None)
        self._out_col = _pointer(out_col_terms)

    def run(self, rows: tuple[int, int], out: torch.Tensor, *, row_terms: torch.Tensor | None = None,
            feat: torch.Tensor | None = None, out_row_terms: torch.Tensor | None = None) -> None:
        """Rows ``rows`` of one frame's output ``out`` (S × S × out_c), from its S × c0 ``row_terms`` (first
        level) or its (S/2)² × c0 ``feat`` (upsampling levels), plus the next level's S × out_c ``out_row_terms``."""
        status = self._lib.tha4_level(
            self._sgemm, out.shape[0], self._c0, rows[0], rows[1], _pointer(row_terms), self._col, _pointer(feat),
            *self._edges, self._count, self._weights, self._biases, self._widths, self._out_w, self._out_c,
            self._out_b, _pointer(out_row_terms), self._out_col, _pointer(out), self._tile_values)
        if status:
            raise MemoryError("the native student runner could not allocate its tile buffers")


def build(compiler: str, folder: Path) -> Path:
    """Compile ``native_runner.c`` into ``folder`` (atomically; reused when already there); its path."""
    return c_kernels.build(SOURCE, compiler, folder)


@functools.lru_cache(maxsize=1)
def load() -> NativeRunner | None:
    """The runner for this CPU, built on first use; None (with one warning) where it cannot be had."""
    kernels = c_kernels.load_kernels(SOURCE, "the fast student path's native runner")
    return None if kernels is None else NativeRunner(kernels.library, kernels.sgemm, kernels.set_local_threads)
