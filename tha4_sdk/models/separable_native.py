"""The separable networks' blocks fused on the CPU (``separable_native.c``), for channels-last float32.

One block, depthwise k×k → 1×1 → instance norm (affine) → LeakyReLU, costs PyTorch a full pass over memory per
operator, and THA3's upsampling blocks two more (the nearest upsample and the concatenation with the
encoder's feature). These passes, not the arithmetic, are most of THA3's time on a CPU. The fused kernel
reads the block's sources once, where they are (the half-resolution source through nearest indexing), keeps
the depthwise result in cache for the 1×1 product, and gathers the normalisation statistics on the way; a
second pass normalises in place. The rows of each image are shared between one worker thread per PyTorch
thread. Results equal the PyTorch operators' up to float rounding (the statistics are summed in double).
"""

from __future__ import annotations

import ctypes
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from tha4_sdk.models import native

SOURCE = Path(__file__).with_suffix(".c")
#: depthwise results per tile buffer (at least one row): 256 KiB of float32, which stays in a core's L2 cache
TILE_VALUES = 64 * 1024

_P, _I = ctypes.c_void_p, ctypes.c_int


@functools.lru_cache(maxsize=1)
def kernels() -> native.Kernels | None:
    """The kernels for this CPU, built on first use; None where they cannot be had (or ``THA4_NATIVE=0``)."""
    loaded = native.load_kernels(SOURCE, "the separable blocks' native kernels")
    if loaded is not None:
        lib = loaded.library
        lib.tha4_sep_band.argtypes = [_P, _I, _I, _P, _I, _I, _P, _I, _P, _I, _I, _I, _P, _I, _I, _I, _I, _P, _P,
                                      _P]
        lib.tha4_sep_band.restype = _I
        lib.tha4_norm_leaky.argtypes = [_P, ctypes.c_ssize_t, _I, _P, _P, ctypes.c_float]
        lib.tha4_norm_leaky.restype = None
    return loaded


@functools.lru_cache(maxsize=4)
def _workers(count: int) -> ThreadPoolExecutor:
    """``count`` worker threads whose BLAS calls stay on their own thread."""
    loaded = kernels()
    assert loaded is not None
    return ThreadPoolExecutor(count, thread_name_prefix="tha4-separable", initializer=loaded.single_threaded)


def _bands(size: int, count: int) -> list[tuple[int, int]]:
    edges = [size * k // count for k in range(count + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the fused path can take these inputs: float32 channels-last CPU tensors, no gradients wanted."""
    return (not torch.is_grad_enabled() and all(
        t.device.type == "cpu" and t.dtype == torch.float32 and t.dim() == 4 and not t.is_contiguous()
        and t.is_contiguous(memory_format=torch.channels_last) for t in tensors) and kernels() is not None)


def conv_norm_leaky(sources: Sequence[tuple[torch.Tensor, bool]], depthwise: torch.Tensor, stride: int, pad: int,
                    pointwise: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float,
                    slope: float) -> torch.Tensor:
    """LeakyReLU(InstanceNorm(conv1×1(depthwise_k×k(cat(sources))))) for `usable` sources.

    ``sources``: one or two ``(tensor, half)`` pairs; only the first may be ``half`` (half the resolution, read
    as its nearest 2× upsample). ``depthwise``: C×1×k×k, applied with ``stride`` and zero padding ``pad``;
    ``pointwise``: O×C×1×1; ``weight``/``bias``: the norm's affine map (O each). Returns N×O×H'×W',
    channels-last.
    """
    loaded = kernels()
    assert loaded is not None and 1 <= len(sources) <= 2 and not any(half for _, half in sources[1:])
    first, half = sources[0]
    n, c0 = first.shape[:2]
    h, w = (first.shape[2] * 2, first.shape[3] * 2) if half else first.shape[2:]
    second = sources[1][0] if len(sources) > 1 else None
    c1 = second.shape[1] if second is not None else 0
    if second is not None and (second.shape[0] != n or tuple(second.shape[2:]) != (h, w)):
        raise ValueError(f"sources of {tuple(first.shape)} (half: {half}) and {tuple(second.shape)} do not line up")
    cin, cout, k = c0 + c1, pointwise.shape[0], depthwise.shape[-1]
    if depthwise.shape != (cin, 1, k, k) or pointwise.shape != (cout, cin, 1, 1):
        raise ValueError(f"weights {tuple(depthwise.shape)}, {tuple(pointwise.shape)} do not fit {cin} channels")
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    dw = depthwise.detach().reshape(cin, k * k).t().contiguous()
    pw = pointwise.detach().reshape(cout, cin).t().contiguous()
    out = torch.empty((n, cout, oh, ow), memory_format=torch.channels_last)
    count = max(1, min(torch.get_num_threads(), oh))
    pool = _workers(count)
    rows = max(1, TILE_VALUES // (ow * cin))
    pixels = oh * ow
    gamma, beta = weight.detach().double().numpy(), bias.detach().double().numpy()
    for i in range(n):
        stats = torch.zeros(2, count, cout, dtype=torch.float64)
        image = out[i]
        src0, src1 = first[i], second[i] if second is not None else None

        def band(job: tuple[int, tuple[int, int]]) -> int:
            slot, (y0, y1) = job
            return loaded.library.tha4_sep_band(
                loaded.sgemm, h, w, src0.data_ptr(), c0, int(half), None if src1 is None else src1.data_ptr(), c1,
                dw.data_ptr(), k, stride, pad, pw.data_ptr(), cout, y0, y1, rows, image.data_ptr(),
                stats[0, slot].data_ptr(), stats[1, slot].data_ptr())

        if any(pool.map(band, enumerate(_bands(oh, count)))):
            raise MemoryError("the separable blocks' native kernel could not allocate its tile buffer")
        total, squares = stats.numpy().sum(1)  # numpy: a few hundred values, not worth PyTorch's dispatch
        mean = total / pixels
        scale64 = gamma / np.sqrt(np.maximum(squares / pixels - mean * mean, 0.0) + eps)
        scale = torch.from_numpy(scale64.astype(np.float32))
        shift = torch.from_numpy((beta - mean * scale64).astype(np.float32))

        def normalise(span: tuple[int, int]) -> None:
            start = image.data_ptr() + span[0] * ow * cout * 4
            loaded.library.tha4_norm_leaky(start, (span[1] - span[0]) * ow, cout, scale.data_ptr(),
                                           shift.data_ptr(), slope)

        list(pool.map(normalise, _bands(oh, count)))
    return out
