"""Credits of a render: the character's licence from its character.yaml or its official manifest, the model's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tha4_sdk.character import load_character, write_character
from tha4_sdk.credits import UNKNOWN, character_credit, credits_for, model_credit

SAMPLE = ("Character by garun, commissioned by Pramook Khungurn (THA4 demo sample)", "CC-BY-NC-4.0",
          "https://creativecommons.org/licenses/by-nc/4.0/")


def test_official_sample_without_a_licence_is_recognised_by_its_image(lambda_00: Path) -> None:
    credit = character_credit(load_character(lambda_00))  # the bare official folder: no licence in it
    assert (credit.attribution, credit.license, credit.license_url) == SAMPLE
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


def test_model_credits_follow_the_renderer(lambda_00: Path) -> None:
    for renderer in ("student", "teacher"):  # the student is distilled from the THA4 models
        credit = model_credit(renderer)
        assert credit is not None and credit.license == "CC-BY-NC-4.0"
        assert credit.attribution == "THA4 models by Pramook Khungurn (talking-head-anime-4-demo)"
    tha3 = model_credit("tha3")
    assert tha3 is not None and tha3.license == "CC-BY-4.0" and "THA3 models by Pramook Khungurn" in tha3.attribution
    assert model_credit("solid") is None  # a test pattern has no weights
    assert [c.work for c in credits_for(load_character(lambda_00), "student")] == \
        ["Character lambda_00", "Model (student renderer)"]
