"""The student renderer reproduces the official student's outputs (goldens from the official code)."""

import json

import numpy as np
import pytest
import torch

from tha4_sdk.character import load_character
from tha4_sdk.render.student import StudentSession

OUTPUT_NAMES = ["blended", "alpha", "color_change", "warped", "grid_change", "face"]


@pytest.fixture(scope="module", params=["lambda_00", "lambda_01"])
def case(request, reference):
    name = request.param
    session = StudentSession(load_character(reference / "characters" / name), torch.device("cpu"), torch.float32)
    golden = json.loads((reference / "conformance" / f"student_golden_{name}.json").read_text())
    poses = np.load(reference / "conformance" / "poses.npy")
    outputs = []
    for start in range(0, len(poses), 4):
        batch = session.outputs(torch.from_numpy(poses[start:start + 4]))
        outputs += [[o[i] for o in batch] for i in range(batch[0].shape[0])]
    return name, golden, outputs


def test_every_output_matches_golden_samples_and_stats(case, reference):
    name, golden, outputs = case
    assert len(golden) == len(outputs) == 12
    for p, (entry, outs) in enumerate(zip(golden, outputs)):
        for out, ref, label in zip(outs, entry["body_morpher"] + [entry["face_morpher"]], OUTPUT_NAMES):
            assert list(out.shape) == ref["shape"][1:], (name, p, label)
            got = out.flatten()[ref["sample_index"]].numpy()
            err = np.abs(got - np.asarray(ref["sample_value"], np.float32)).max()
            assert err <= 1e-4, f"{name} pose {p} {label}: max |diff| {err}"
            assert float(out.mean()) == pytest.approx(ref["mean"], abs=1e-4)
            assert float(out.min()) == pytest.approx(ref["min"], abs=1e-4)
            assert float(out.max()) == pytest.approx(ref["max"], abs=1e-4)


def test_full_frames_match_official_arrays(case, reference):
    name, golden, outputs = case
    for p in range(3):
        full = np.load(reference / "conformance" / golden[p]["full_output_file"])
        assert np.abs(outputs[p][0].numpy() - full).max() <= 1e-4
