"""The five teacher networks against the official state-dict manifest and per-network goldens (CPU float32).

Deterministic weights (``fill_state_dict``) stand in for the official ones: equal key names and shapes
give equal numbers, so any output difference is an architecture difference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from torch import nn

from teacher_golden import assert_matches_golden
from tha4_sdk.models.teacher.body_morpher import BodyMorpher
from tha4_sdk.models.teacher.eyebrow_decomposer import EyebrowDecomposer
from tha4_sdk.models.teacher.eyebrow_morphing_combiner import EyebrowMorphingCombiner
from tha4_sdk.models.teacher.face_morpher import FaceMorpher
from tha4_sdk.models.teacher.poser import NETWORKS, TeacherPoser
from tha4_sdk.models.teacher.upscaler import Upscaler

CLASSES: dict[str, type[nn.Module]] = {
    "eyebrow_decomposer": EyebrowDecomposer, "eyebrow_morphing_combiner": EyebrowMorphingCombiner,
    "face_morpher": FaceMorpher, "body_morpher": BodyMorpher, "upscaler": Upscaler,
}

# The golden inputs (reference README): (seed, shape, low, high) per positional argument.
INPUTS: dict[str, list[tuple[int, tuple[int, ...], float, float]]] = {
    "eyebrow_decomposer": [(1, (1, 4, 128, 128), -1, 1)],
    "eyebrow_morphing_combiner": [(2, (1, 4, 128, 128), -1, 1), (3, (1, 4, 128, 128), -1, 1), (4, (1, 12), 0, 1)],
    "face_morpher": [(5, (1, 4, 192, 192), -1, 1), (6, (1, 27), 0, 1)],
    "body_morpher": [(7, (1, 4, 256, 256), -1, 1), (8, (1, 6), -1, 1)],
    "upscaler": [(9, (1, 4, 512, 512), -1, 1), (10, (1, 4, 512, 512), -1, 1), (11, (1, 2, 512, 512), -0.05, 0.05),
                 (12, (1, 6), -1, 1)],
}


@pytest.fixture(scope="module")
def manifest(reference: Path) -> dict[str, Any]:
    return json.loads((reference / "conformance" / "teacher_state_dict_manifest.json").read_text())


@pytest.fixture(scope="module")
def golden(reference: Path) -> dict[str, Any]:
    return json.loads((reference / "conformance" / "teacher_network_golden.json").read_text())


@pytest.fixture(scope="module")
def networks(deterministic_weights: Any) -> dict[str, nn.Module]:
    """Each network once, strictly loaded with deterministic weights, eval mode."""
    built = {}
    for name, cls in CLASSES.items():
        net = cls()
        sd = net.state_dict()
        deterministic_weights.fill_state_dict(sd)
        net.load_state_dict(sd, strict=True)
        built[name] = net.eval().requires_grad_(False)
    return built


@pytest.mark.parametrize("name", NETWORKS)
def test_state_dict_equals_manifest(name: str, manifest: dict[str, Any]) -> None:
    with torch.device("meta"):
        sd = CLASSES[name]().state_dict()
    assert {k: list(v.shape) for k, v in sd.items()} == {k: v["shape"] for k, v in manifest[name].items()}
    assert all(v.dtype == torch.float32 for v in sd.values())


def test_poser_holds_the_five_networks_under_their_file_names() -> None:
    with torch.device("meta"):
        poser = TeacherPoser()
    assert [name for name, _ in poser.named_children()] == list(NETWORKS)


@pytest.mark.parametrize("name", NETWORKS)
def test_network_matches_golden(name: str, networks: dict[str, nn.Module], golden: dict[str, Any],
                                deterministic_weights: Any) -> None:
    make: Callable[..., torch.Tensor] = deterministic_weights.deterministic_input
    args = [make(seed, shape, low, high) for seed, shape, low, high in INPUTS[name]]
    with torch.inference_mode():
        outputs = networks[name](*args)
    expected = golden[name]["outputs"]
    assert len(outputs) == len(expected)
    for index, (out, want) in enumerate(zip(outputs, expected)):
        assert_matches_golden(out, want, 1e-3, f"{name} output {index}")
