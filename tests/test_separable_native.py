"""The fused separable blocks (`tha4_sdk.models.separable_native`) compute what the PyTorch operators compute,
on every path the networks take them, and step aside where they cannot run."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tha4_sdk.models import separable_native
from tha4_sdk.models.conv_blocks import ConvNormAct, ResnetBlock, conv_norm_act

CL = torch.channels_last


def _randomised(module: nn.Module, seed: int) -> nn.Module:
    """Weights away from the initialisation (norm affine maps included), so that every term matters."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * (0.5 if p.dim() > 1 else 1.0))
    return module.eval()


def _input(*shape: int, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return (torch.randn(*shape) * 2 + 0.5).contiguous(memory_format=CL)


def _plain(block: ConvNormAct, x: torch.Tensor) -> torch.Tensor:
    """The block as PyTorch's own operators compute it (contiguous layout: never fused)."""
    return nn.Sequential.forward(block, x.contiguous())


@pytest.fixture(autouse=True)
def _kernels_built() -> None:
    assert separable_native.kernels() is not None, "the test machine has a C compiler and PyTorch's sgemm"


@pytest.mark.parametrize(("kind", "activation", "size"), [
    ("conv3", nn.LeakyReLU(0.1), 24), ("down", nn.LeakyReLU(0.1), 24), ("conv7", nn.ReLU(), 20)])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_fused_block_equals_the_operators(kind: str, activation: nn.Module, size: int, threads: int) -> None:
    block = _randomised(conv_norm_act(kind, 12, 20, activation, separable=True), 1)  # type: ignore[arg-type]
    x = _input(2, 12, size, size, seed=2)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            got, want = block(x), _plain(block, x)
    finally:
        torch.set_num_threads(before)
    assert got.is_contiguous(memory_format=CL) and got.shape == want.shape
    torch.testing.assert_close(got, want, atol=2e-4, rtol=0)


def test_an_upsampling_block_reads_its_parts_where_they_are() -> None:
    block = _randomised(conv_norm_act("conv3", 8 + 6, 10, nn.LeakyReLU(0.1), separable=True), 3)
    low, skip = _input(1, 8, 9, 7, seed=4), _input(1, 6, 18, 14, seed=5)
    with torch.inference_mode():
        got = block.forward_parts([(low, True), (skip, False)])
        want = _plain(block, torch.cat([F.interpolate(low, scale_factor=2, mode="nearest"), skip], dim=1))
    assert got.shape == (1, 10, 18, 14)
    torch.testing.assert_close(got, want, atol=2e-4, rtol=0)


def test_a_resnet_block_fuses_both_halves() -> None:
    block = _randomised(ResnetBlock(16, nn.LeakyReLU(0.1), separable=True), 6)
    x = _input(1, 16, 12, 12, seed=7)
    with torch.inference_mode():
        got, want = block(x), x.contiguous() + block.resnet_path(x.contiguous())
    torch.testing.assert_close(got, want, atol=2e-4, rtol=0)


def test_other_inputs_take_the_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    block = _randomised(conv_norm_act("conv3", 4, 6, nn.LeakyReLU(0.1), separable=True), 8)
    x = _input(1, 4, 8, 8, seed=9)
    calls: list[int] = []
    real = separable_native.conv_norm_leaky
    monkeypatch.setattr(separable_native, "conv_norm_leaky", lambda *a, **k: calls.append(1) or real(*a, **k))
    with torch.inference_mode():
        block(x)
        assert calls == [1]
        block(x.contiguous())  # contiguous layout: the official operators, bit for bit
        copy.deepcopy(block).double()(x.double())  # float64
        standard = _randomised(conv_norm_act("conv3", 4, 6, nn.LeakyReLU(0.1)), 8)
        standard(x)  # a plain (not separable) convolution
    block(x)  # gradients wanted (not inference)
    assert calls == [1] and not separable_native.usable(x)


def test_without_the_kernels_the_operators_run(monkeypatch: pytest.MonkeyPatch) -> None:
    block = _randomised(conv_norm_act("conv3", 4, 6, nn.LeakyReLU(0.1), separable=True), 10)
    x = _input(1, 4, 8, 8, seed=11)
    monkeypatch.setenv("THA4_NATIVE", "0")
    separable_native.kernels.cache_clear()
    try:
        with torch.inference_mode():
            assert not separable_native.usable(x)
            torch.testing.assert_close(block(x), _plain(block, x), atol=1e-5, rtol=0)
    finally:
        monkeypatch.delenv("THA4_NATIVE")
        separable_native.kernels.cache_clear()
