"""Comparing a teacher output with a conformance-golden summary (shape, sampled values, statistics), and
running a comparison at a given torch thread count."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

#: the thread counts every float64 conformance test runs at (results must not depend on them)
THREADS = (1, 2)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(count)``; the previous count is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


STATS = ("mean", "std", "min", "max")


def golden_deviation(output: torch.Tensor, golden: dict[str, Any], stats: tuple[str, ...] = STATS,
                     samples: bool = True) -> tuple[float, str]:
    """The largest |output − golden| over the sampled indices (unless ``samples`` is False) and ``stats``, in
    units of the golden's std, and where it is (for the failure message)."""
    assert list(output.shape) == golden["shape"], f"shape {list(output.shape)} != {golden['shape']}"
    flat = output[0].detach().double().flatten()
    found = []
    if samples:
        got = flat[torch.tensor(golden["sample_index"])]
        want = torch.tensor(golden["sample_value"], dtype=torch.float64)
        diff = (got - want).abs()
        worst = int(diff.argmax())
        found.append((diff[worst].item(), f"sample {golden['sample_index'][worst]} is {got[worst].item():.9g}, "
                                          f"golden {want[worst].item():.9g}"))
    values = {"mean": flat.mean(), "std": flat.std(), "min": flat.min(), "max": flat.max(),
              "abs_mean": flat.abs().mean()}
    for name in stats:
        value = values[name].item()
        found.append((abs(value - golden[name]), f"{name} {value:.9g}, golden {golden[name]:.9g}"))
    size, where = max(found)
    return size / golden["std"], where


def assert_matches_golden(output: torch.Tensor, golden: dict[str, Any], factor: float, what: str,
                          stats: tuple[str, ...] = STATS, samples: bool = True) -> None:
    """``output`` (batch 1) equals the golden within ``factor`` × the golden's std at every sampled index
    (unless ``samples`` is False) and in ``stats``."""
    deviation, where = golden_deviation(output, golden, stats, samples)
    assert deviation <= factor, f"{what}: {where} ({deviation:.3g} × std, tolerance {factor:g} × std)"
