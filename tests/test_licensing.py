"""Credits of a render: the character's licence from its character.yaml or its official manifest, and the
licence of the weights that made it (a student's: the teacher its character.yaml records)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from conftest import REPO
from tha4_sdk.character import CharacterError, load_character, write_character
from tha4_sdk.distill.run import student_weights
from tha4_sdk.distill.teacher import teacher_licence
from tha4_sdk.files import sha256_file
from tha4_sdk.licensing import UNKNOWN, LicenceError, bundle_licence, character_credit, credits_for, model_credit
from tha4_sdk.plugins import get

SAMPLE = ("Character by garun, commissioned by Pramook Khungurn (THA4 demo sample)", "CC-BY-NC-4.0",
          "https://creativecommons.org/licenses/by-nc/4.0/")
THA4 = ("THA4 models by Pramook Khungurn (talking-head-anime-4-demo)", "CC-BY-NC-4.0",
        "https://creativecommons.org/licenses/by-nc/4.0/")
THA3 = ("THA3 models by Pramook Khungurn (talking-head-anime-3-demo)", "CC-BY-4.0",
        "https://creativecommons.org/licenses/by/4.0/")


def fields(credit) -> tuple[str, str, str]:  # noqa: ANN001
    return credit.attribution, credit.license, credit.license_url


def test_official_sample_without_a_licence_is_recognised_by_its_image(lambda_00: Path) -> None:
    credit = character_credit(load_character(lambda_00))  # the bare official folder: no licence in it
    assert fields(credit) == SAMPLE
    assert credit.line() == f"Character lambda_00: {SAMPLE[0]}. Licence: {SAMPLE[1]} ({SAMPLE[2]})"


def test_character_yaml_says_it_and_an_unknown_image_says_so(lambda_00: Path, tmp_path: Path) -> None:
    shutil.copy(lambda_00 / "character.png", tmp_path / "character.png")
    write_character(tmp_path, name="mine", attribution="Drawn by me", license="CC-BY-4.0")
    credit = character_credit(load_character(tmp_path))
    assert (credit.work, credit.attribution, credit.license) == ("Character mine", "Drawn by me", "CC-BY-4.0")

    rgba = np.asarray(Image.open(lambda_00 / "character.png")).copy()
    rgba[300, 256, 0] ^= 1  # one pixel changed: no longer the official file
    Image.fromarray(rgba).save(tmp_path / "character.png")
    write_character(tmp_path, name="mine")
    credit = character_credit(load_character(tmp_path))
    assert credit.attribution == UNKNOWN and credit.license == UNKNOWN


def test_renderers_declare_their_weights_and_the_model_credit_follows(lambda_00: Path) -> None:
    character = load_character(lambda_00)
    assert {name: get("renderer", name).learned_weights for name in ("student", "onnx", "teacher", "tha3", "solid")} \
        == {"student": "student", "onnx": "student", "teacher": "teacher", "tha3": "tha3", "solid": None}
    assert fields(model_credit(character, "teacher")) == THA4
    assert fields(model_credit(character, "tha3")) == THA3
    assert model_credit(character, "solid") is None  # a test pattern has no weights
    for renderer in ("student", "onnx"):  # the official sample's student, known by its weights' SHA-256
        credit = model_credit(character, renderer)
        assert fields(credit) == THA4
        assert credit.work == f"Model ({renderer} renderer; the official lambda_00 student, distilled from 'teacher')"
    assert [c.work for c in credits_for(character, "solid")] == ["Character lambda_00"]


def test_a_tha3_distilled_package_records_its_teacher_and_owes_tha3(tha3_distilled: Path) -> None:
    data = yaml.safe_load((tha3_distilled / "character.yaml").read_text())
    assert data["teacher"] == bundle_licence("tha3", "model").as_dict()
    assert data["teacher"]["license"] == "CC-BY-4.0" and data["teacher"]["commercial_use"] is True
    character = load_character(tha3_distilled)
    for renderer in ("student", "onnx"):
        character_line, model = credits_for(character, renderer)
        assert fields(character_line) == SAMPLE  # the image is still the official sample's
        assert fields(model) == THA3
        assert model.work == f"Model ({renderer} renderer; student distilled from 'tha3', as its character.yaml " \
                             "records)"
    assert fields(model_credit(character, "teacher")) == THA4  # the teacher renderer runs THA4 on any image


def test_a_student_without_a_record_is_credited_to_tha4_and_says_so(lambda_00: Path, tmp_path: Path) -> None:
    shutil.copy(lambda_00 / "character.png", tmp_path / "character.png")
    for name, weights in student_weights(lambda_00).items():
        torch.save(weights, tmp_path / f"{name}.pt")
    assert sha256_file(tmp_path / "face.pt") != sha256_file(lambda_00 / "face_morpher.pt")  # not the official file
    write_character(tmp_path, name="mine", face_morpher="face.pt", body_morpher="body.pt")
    credit = model_credit(load_character(tmp_path), "student")
    assert fields(credit) == THA4
    assert "no teacher in its character.yaml, taken as distilled from 'teacher'" in credit.work


def test_distillation_records_the_licence_its_teacher_owes(tha3_distilled: Path, lambda_00: Path,
                                                           tmp_path: Path) -> None:
    assert teacher_licence("tha3") == teacher_licence(f"tha3:{tmp_path}") == bundle_licence("tha3")
    assert teacher_licence("tha4") == teacher_licence(f"tha4:{tmp_path}") == bundle_licence("teacher")
    assert teacher_licence(f"student:{tha3_distilled}") == bundle_licence("tha3")  # THA3's, passed on
    assert teacher_licence(f"student:{lambda_00}") == bundle_licence("teacher")
    with pytest.raises(CharacterError, match="unknown teacher 'tha5'"):
        teacher_licence("tha5")


def test_bad_teacher_records_are_refused_with_what_to_do(tha3_distilled: Path, tmp_path: Path) -> None:
    shutil.copytree(tha3_distilled, tmp_path / "pkg")
    path = tmp_path / "pkg" / "character.yaml"
    data = yaml.safe_load(path.read_text())
    for teacher, error, message in [
        ("tha3", CharacterError, "'teacher' must be a mapping"),
        ({**data["teacher"], "license": "WTFPL"}, LicenceError, "unknown licence 'WTFPL'"),
        ({k: v for k, v in data["teacher"].items() if k != "attribution"}, LicenceError, "lacks attribution"),
    ]:
        path.write_text(yaml.safe_dump({**data, "teacher": teacher}))
        with pytest.raises(error, match=message):
            credits_for(load_character(tmp_path / "pkg"), "student")


def test_the_licensing_pages_example_prints_what_it_shows(tha3_distilled: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    page = (REPO / "docs" / "licensing.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"^```python\n(.*?)^```", page, re.S | re.M)
    (shown,) = re.findall(r"^```text\n(.*?)^```", page, re.S | re.M)
    shutil.copytree(tha3_distilled, tmp_path / "my_character")
    path = tmp_path / "my_character" / "character.yaml"
    path.write_text(path.read_text().replace("name: lambda_tha3", "name: my_character"))
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/licensing.md", "exec"), {"__name__": "__doc_example__"})
    assert capsys.readouterr().out == shown
