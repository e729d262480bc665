"""Fresh student networks with the official training-time initialisation (docs/architecture.md §S1).

First sine layer: weights uniform in [-1/Ci, 1/Ci]; other sine layers: uniform in ±√(6/Ci)/30;
sine-layer biases keep PyTorch's default; the final plain 1×1 conv is Kaiming-normal (fan_in,
leaky_relu gain with a = 0) with the default bias. Construction is seeded, so a run (and a resumed
run) always starts from the same weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tha4_sdk.models.student.body_morpher import StudentBodyMorpher
from tha4_sdk.models.student.face_morpher import StudentFaceMorpher
from tha4_sdk.models.student.siren import OMEGA_0, SineLayer


@torch.no_grad()
def _init_siren(module: nn.Module, first: SineLayer, last: nn.Conv2d) -> None:
    for layer in module.modules():
        if isinstance(layer, SineLayer):
            fan_in = layer.linear.in_channels
            bound = 1.0 / fan_in if layer is first else math.sqrt(6.0 / fan_in) / OMEGA_0
            layer.linear.weight.uniform_(-bound, bound)
    nn.init.kaiming_normal_(last.weight, a=0.0, mode="fan_in", nonlinearity="leaky_relu")


def new_face_morpher(seed: int) -> StudentFaceMorpher:
    """An untrained face morpher, initialised from ``seed``."""
    torch.manual_seed(seed)
    net = StudentFaceMorpher()
    _init_siren(net, net.siren.sine_layers[0], net.siren.last_linear)
    return net


def new_body_morpher(seed: int) -> StudentBodyMorpher:
    """An untrained body morpher, initialised from ``seed`` (only level 0's first layer counts as first)."""
    torch.manual_seed(seed)
    net = StudentBodyMorpher()
    _init_siren(net, net.siren_layers[0][0], net.last_linear)
    return net
