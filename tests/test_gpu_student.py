"""The student on CUDA (runs only where a GPU is present; e.g. the lent H100)."""

import json

import numpy as np
import pytest
import torch

from tha4_sdk.character import load_character
from tha4_sdk.render import open_renderer

pytestmark = pytest.mark.gpu


def test_student_on_cuda_matches_the_official_goldens(reference, lambda_00):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    session = open_renderer("student", load_character(lambda_00), device="cuda")
    poses = np.load(reference / "conformance" / "poses.npy")
    golden = json.loads((reference / "conformance" / "student_golden_lambda_00.json").read_text())
    out = session.render_raw(torch.from_numpy(poses).cuda()).cpu()
    for p in range(len(poses)):
        ref = golden[p]["body_morpher"][0]
        got = out[p].flatten()[ref["sample_index"]].numpy()
        assert np.abs(got - np.asarray(ref["sample_value"], np.float32)).max() < 1e-3
    frames = session.render([])
    assert frames == []
