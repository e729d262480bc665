"""Comparing a teacher output with a conformance-golden summary (shape, sampled values, statistics)."""

from __future__ import annotations

from typing import Any

import torch


def assert_matches_golden(output: torch.Tensor, golden: dict[str, Any], factor: float, what: str) -> None:
    """``output`` (batch 1) equals the golden within ``factor`` × the golden's std at every sampled index,
    and in mean, std, min and max."""
    assert list(output.shape) == golden["shape"], f"{what}: shape {list(output.shape)} != {golden['shape']}"
    tol = factor * golden["std"]
    flat = output[0].detach().double().flatten()
    got = flat[torch.tensor(golden["sample_index"])]
    want = torch.tensor(golden["sample_value"], dtype=torch.float64)
    worst = int((got - want).abs().argmax())
    assert (got - want).abs().max() <= tol, (
        f"{what}: sample {golden['sample_index'][worst]} is {got[worst].item():.6g}, golden {want[worst].item():.6g} "
        f"(tolerance {tol:.3g})")
    stats = {"mean": flat.mean(), "std": flat.std(), "min": flat.min(), "max": flat.max()}
    for name, value in stats.items():
        assert abs(value.item() - golden[name]) <= tol, f"{what}: {name} {value.item():.6g} != {golden[name]:.6g}"
