"""Weight files are loaded safely: code-carrying pickles, wrong shapes and corrupt files are refused clearly."""

import os
import shutil

import pytest
import torch

from tha4_sdk.models.student.poser import StudentPoser
from tha4_sdk.models.weights import WeightFileError, load_weights, read_state_dict


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_carrying_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "face_morpher.pt"
    torch.save({"siren.last_linear.bias": torch.zeros(4), "x": Payload(marker)}, evil)
    with pytest.raises(WeightFileError, match=r"face_morpher\.pt: refused to load"):
        read_state_dict(evil)
    assert not marker.exists()


def test_wrong_shape_names_file_and_key(tmp_path, lambda_00):
    sd = torch.load(lambda_00 / "body_morpher.pt", weights_only=True, map_location="cpu")
    sd["siren_layers.1.0.linear.weight"] = torch.zeros(180, 226, 1, 1)
    bad = tmp_path / "body_morpher.pt"
    torch.save(sd, bad)
    poser = StudentPoser()
    before = {k: v.clone() for k, v in poser.body_morpher.state_dict().items()}
    with pytest.raises(WeightFileError, match=r"body_morpher\.pt: key 'siren_layers\.1\.0\.linear\.weight' has shape "
                                               r"\[180, 226, 1, 1\], expected \[180, 227, 1, 1\]"):
        load_weights(poser.body_morpher, bad)
    after = poser.body_morpher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "nothing may be partially loaded"


def test_missing_and_unexpected_keys(tmp_path, lambda_00):
    sd = torch.load(lambda_00 / "face_morpher.pt", weights_only=True, map_location="cpu")
    missing = dict(sd)
    del missing["siren.sine_layers.3.linear.bias"]
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(WeightFileError, match="missing key 'siren.sine_layers.3.linear.bias'"):
        load_weights(StudentPoser().face_morpher, tmp_path / "missing.pt")
    with pytest.raises(WeightFileError, match="holds a different network"):
        load_weights(StudentPoser().face_morpher, lambda_00 / "body_morpher.pt")
    extra = dict(sd, **{"siren.extra.weight": torch.zeros(1)})
    torch.save(extra, tmp_path / "extra.pt")
    with pytest.raises(WeightFileError, match="unexpected key 'siren.extra.weight'"):
        load_weights(StudentPoser().face_morpher, tmp_path / "extra.pt")


def test_corrupt_truncated_and_absent_files(tmp_path, lambda_00):
    truncated = tmp_path / "face_morpher.pt"
    truncated.write_bytes((lambda_00 / "face_morpher.pt").read_bytes()[:5000])
    with pytest.raises(WeightFileError, match="not a readable PyTorch weight file"):
        read_state_dict(truncated)
    with pytest.raises(WeightFileError, match="weight file not found"):
        read_state_dict(tmp_path / "nope.pt")
    shutil.copy(lambda_00 / "face_mask.png", tmp_path / "mask.pt")
    with pytest.raises(WeightFileError, match="mask.pt"):
        read_state_dict(tmp_path / "mask.pt")


def test_nan_weights_are_refused(tmp_path, lambda_00):
    sd = torch.load(lambda_00 / "face_morpher.pt", weights_only=True, map_location="cpu")
    sd["siren.last_linear.bias"][0] = float("nan")
    torch.save(sd, tmp_path / "nan.pt")
    with pytest.raises(WeightFileError, match="NaN or infinity"):
        load_weights(StudentPoser().face_morpher, tmp_path / "nan.pt")


def test_official_files_load_with_the_exact_manifest(reference, lambda_00):
    import json

    manifest = json.loads((reference / "conformance" / "student_state_dict_manifest.json").read_text())
    poser = StudentPoser.from_files(lambda_00 / "face_morpher.pt", lambda_00 / "body_morpher.pt")
    for net in ("face_morpher", "body_morpher"):
        sd = getattr(poser, net).state_dict()
        assert {k: list(v.shape) for k, v in sd.items()} == {k: v["shape"] for k, v in manifest[net].items()}
