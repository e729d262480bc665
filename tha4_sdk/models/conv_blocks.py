"""Convolution layers shared by the teacher networks: standard or depthwise-separable, with their key layout.

A *separable* convolution is a depthwise ``k×k`` convolution (one filter per channel, no bias) followed
by a pointwise ``1×1`` convolution that mixes channels and carries the bias. THA3's ``separable_*``
variants use it everywhere THA4 and THA3's ``standard_*`` variants use a plain convolution.

`conv_layers` returns the layers of one convolution as a list, so that a conv–norm–activation block can
hold them flat (keys ``0.weight``, ``1.weight``, ``2.weight`` …, as the official blocks do) and a residual
path can hold them nested (`conv`, keys ``0.0.weight``, ``0.1.weight``).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tha4_sdk.models import separable_native

Kind = Literal["conv3", "conv7", "down", "up"]


class InstanceNorm(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d(channels, affine=True)`` (same keys), fast on channels-last CPU tensors.

    PyTorch's instance norm reads a channels-last tensor about 3× slower than a contiguous one (measured at
    32×512×512 on a Xeon core: 113 ms against 36 ms), which cancelled what channels-last gains in the
    convolutions. A channels-last image is an (H·W) × C matrix, whose per-column statistics are exactly what
    ``batch_norm`` computes in one fast pass (27 ms): the same normalisation, up to float rounding.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4 or x.is_contiguous() or \
                not x.is_contiguous(memory_format=torch.channels_last):
            return super().forward(x)
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: channels-last memory
        out = torch.cat([F.batch_norm(r, None, None, self.weight, self.bias, training=True, eps=self.eps)
                         for r in rows]) if n > 1 else F.batch_norm(rows[0], None, None, self.weight, self.bias,
                                                                    training=True, eps=self.eps)
        return out.view(n, h, w, c).permute(0, 3, 1, 2)


def conv_layers(kind: Kind, in_channels: int, out_channels: int, *, separable: bool = False,
                bias: bool = False) -> list[nn.Module]:
    """One convolution: ``conv3``/``conv7`` (same size), ``down`` (4×4, stride 2), ``up`` (transposed 4×4, ×2)."""
    k, stride, pad = {"conv3": (3, 1, 1), "conv7": (7, 1, 3), "down": (4, 2, 1), "up": (4, 2, 1)}[kind]
    layer = nn.ConvTranspose2d if kind == "up" else nn.Conv2d
    if not separable:
        return [layer(in_channels, out_channels, kernel_size=k, stride=stride, padding=pad, bias=bias)]
    return [layer(in_channels, in_channels, kernel_size=k, stride=stride, padding=pad, bias=False, groups=in_channels),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=bias)]


def conv(kind: Kind, in_channels: int, out_channels: int, *, separable: bool = False,
         bias: bool = False) -> nn.Module:
    """`conv_layers` as one module: the bare convolution, or ``Sequential(depthwise, pointwise)``."""
    layers = conv_layers(kind, in_channels, out_channels, separable=separable, bias=bias)
    return layers[0] if len(layers) == 1 else nn.Sequential(*layers)


#: an input in parts: ``(tensor, half)``, ``half`` meaning the nearest 2× upsample of the tensor
Parts = Sequence[tuple[torch.Tensor, bool]]


class ConvNormAct(nn.Sequential):
    """Convolution (no bias) → InstanceNorm(affine) → activation, flat (keys ``0.weight``, ``1.weight`` …).

    A separable block (depthwise, then 1×1) with a (Leaky)ReLU on channels-last float32 CPU tensors runs fused
    (`tha4_sdk.models.separable_native`); `forward_parts` takes its input as the channel concatenation of
    parts, one of them possibly half resolution, so that an upsampling block never builds the upsampled or
    concatenated tensor on that path.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        #: the activation's slope when the fused kernel can compute this block (its layers never change), else None
        self.fused_slope = (_slope(layers[3]) if len(layers) == 4 and _is_separable(layers[0], layers[1])
                            and isinstance(layers[2], InstanceNorm) else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_parts([(x, False)])

    def forward_parts(self, parts: Parts) -> torch.Tensor:
        """The block on ``cat([upsample(t) if half else t for t, half in parts], dim=1)``."""
        if self.fused_slope is not None and (self[0].stride == (1, 1) or not any(half for _, half in parts)) \
                and separable_native.usable(*(t for t, _ in parts)):
            return _fused(self[0], self[1], self[2], self.fused_slope, parts)
        xs = [F.interpolate(t, scale_factor=2, mode="nearest") if half else t for t, half in parts]
        return super().forward(xs[0] if len(xs) == 1 else torch.cat(xs, dim=1))


def conv_norm_act(kind: Kind, in_channels: int, out_channels: int, activation: nn.Module, *,
                  separable: bool = False) -> ConvNormAct:
    """Convolution (no bias) → InstanceNorm(affine) → ``activation``, flat in one `ConvNormAct`."""
    return ConvNormAct(*conv_layers(kind, in_channels, out_channels, separable=separable),
                       InstanceNorm(out_channels), activation)


class ResnetBlock(nn.Module):
    """``x + IN(conv3(act(IN(conv3(x)))))``, no activation after the sum (key prefix ``resnet_path``).

    Separable, on `separable_native.usable` inputs, each half runs fused (the second with a slope-1 activation:
    none)."""

    def __init__(self, channels: int, activation: nn.Module | None = None, *, separable: bool = False) -> None:
        super().__init__()
        self.resnet_path = nn.Sequential(
            conv("conv3", channels, channels, separable=separable), InstanceNorm(channels),
            activation if activation is not None else nn.ReLU(),
            conv("conv3", channels, channels, separable=separable), InstanceNorm(channels))
        first, _, act, second, _ = self.resnet_path
        #: the first half's activation slope when the fused kernel can compute both halves, else None
        self.fused_slope = _slope(act) if separable and all(_is_separable(*c) for c in (first, second)) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused_slope is not None and separable_native.usable(x):
            first, norm1, _, second, norm2 = self.resnet_path
            y = _fused(*first, norm1, self.fused_slope, [(x, False)])
            return x + _fused(*second, norm2, 1.0, [(y, False)])
        return x + self.resnet_path(x)


def _slope(activation: nn.Module) -> float | None:
    """The negative slope of a (Leaky)ReLU, else None."""
    if isinstance(activation, nn.LeakyReLU):
        return float(activation.negative_slope)
    return 0.0 if isinstance(activation, nn.ReLU) else None


def _is_separable(dw: nn.Module, pw: nn.Module) -> bool:
    """A depthwise k×k convolution without bias, with plain zero padding, then a 1×1 one without bias."""
    return (isinstance(dw, nn.Conv2d) and dw.kernel_size[0] == dw.kernel_size[1]
            and dw.stride[0] == dw.stride[1] and isinstance(dw.padding, tuple)
            and dw.padding[0] == dw.padding[1] and dw.padding_mode == "zeros" and dw.dilation == (1, 1)
            and dw.groups == dw.in_channels == dw.out_channels and dw.bias is None
            and isinstance(pw, nn.Conv2d) and pw.kernel_size == (1, 1) and pw.groups == 1 and pw.bias is None)


def _fused(dw: nn.Module, pw: nn.Module, norm: nn.Module, slope: float, parts: Parts) -> torch.Tensor:
    """The fused kernel on ``parts`` with these layers' weights."""
    return separable_native.conv_norm_leaky(parts, dw.weight, dw.stride[0], dw.padding[0], pw.weight, norm.weight,
                                            norm.bias, norm.eps, slope)
