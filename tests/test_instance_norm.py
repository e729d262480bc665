"""`conv_blocks.InstanceNorm`: nn.InstanceNorm2d(affine) on every layout, its channels-last CPU path included."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tha4_sdk.models.conv_blocks import InstanceNorm


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_channels_last_path_equals_instance_norm(n: int, dtype: torch.dtype) -> None:
    torch.manual_seed(n)
    ours, reference = InstanceNorm(16).to(dtype), nn.InstanceNorm2d(16, affine=True).to(dtype)
    with torch.no_grad():
        for p in (ours.weight, ours.bias):
            p.normal_()
    reference.load_state_dict(ours.state_dict())  # same keys: the official files load into either
    x = (torch.randn(n, 16, 24, 40, dtype=dtype) * 3 + 1).contiguous(memory_format=torch.channels_last)
    got, want = ours(x), reference(x.contiguous())
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, want, atol=tolerance, rtol=0)
    # a contiguous input takes PyTorch's own path: bit-identical
    assert torch.equal(ours(x.contiguous()), want)
