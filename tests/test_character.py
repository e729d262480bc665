"""Character packages and image validation."""

import shutil

import numpy as np
import pytest
from PIL import Image

from tha4_sdk.character import (Character, CharacterError, load_character, load_face_mask, load_image_rgba,
                                write_character)


def test_official_character_model_yaml_is_read_unchanged(lambda_00):
    ch = load_character(lambda_00)
    assert ch.name == "lambda_00" and ch.has_student
    assert ch.image_path.name == "character.png" and ch.face_mask_path.name == "face_mask.png"
    img = ch.image_tensor()
    assert img.shape == (4, 512, 512) and float(img.min()) == -1.0


def test_our_character_yaml_round_trip(tmp_path, lambda_00):
    for f in ("character.png", "face_mask.png", "face_morpher.pt", "body_morpher.pt"):
        shutil.copy(lambda_00 / f, tmp_path / f)
    write_character(tmp_path, name="Lambda", face_mask="face_mask.png", face_morpher="face_morpher.pt",
                    body_morpher="body_morpher.pt", attribution="garun", license="CC-BY-NC-4.0")
    ch = load_character(tmp_path)
    assert (ch.name, ch.attribution, ch.license, ch.has_student) == ("Lambda", "garun", "CC-BY-NC-4.0", True)
    official = load_character(tmp_path / "character_model.yaml")
    assert official.face_morpher_path == ch.face_morpher_path


def test_package_paths_cannot_escape_the_folder(tmp_path, lambda_00):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "character.yaml").write_text(f"name: x\nimage: ../{'x' * 3}.png\n")
    (tmp_path / "xxx.png").write_bytes(b"")
    with pytest.raises(CharacterError, match="outside the character folder"):
        load_character(tmp_path / "pkg")
    (tmp_path / "pkg" / "character.yaml").write_text("name: [unclosed\n")
    with pytest.raises(CharacterError, match="invalid YAML"):
        load_character(tmp_path / "pkg")
    with pytest.raises(CharacterError, match="no character.yaml or character_model.yaml"):
        load_character(tmp_path)


def save(tmp_path, arr, mode="RGBA", name="img.png"):
    path = tmp_path / name
    Image.fromarray(arr, mode).save(path)
    return path


def test_image_validation(tmp_path, lambda_00):
    rgba = np.asarray(Image.open(lambda_00 / "character.png"))
    assert load_image_rgba(lambda_00 / "character.png").shape == (512, 512, 4)
    with pytest.raises(CharacterError, match="no alpha channel"):
        load_image_rgba(save(tmp_path, rgba[..., :3].copy(), "RGB"))
    opaque = rgba.copy()
    opaque[..., 3] = 255
    with pytest.raises(CharacterError, match="background must be transparent"):
        load_image_rgba(save(tmp_path, opaque))
    corner = rgba.copy()
    corner[0, 0, 3] = 200
    with pytest.raises(CharacterError, match="corners are not transparent"):
        load_image_rgba(save(tmp_path, corner))
    small = save(tmp_path, rgba[::2, ::2].copy(), name="small.png")
    with pytest.raises(CharacterError, match="is 256×256; THA4 needs 512×512"):
        load_image_rgba(small)
    with pytest.warns(UserWarning, match="padd"):
        padded = load_image_rgba(small, fit="pad")
    assert padded.shape == (512, 512, 4) and padded[:128, :, 3].max() == 0
    np.testing.assert_array_equal(padded[128:384, 128:384], rgba[::2, ::2])
    with pytest.warns(UserWarning, match="resized"):
        assert load_image_rgba(small, fit="resize").shape == (512, 512, 4)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(CharacterError, match="not a readable image"):
        load_image_rgba(tmp_path / "junk.png")


def test_face_mask_validation(tmp_path, lambda_00):
    mask = load_face_mask(lambda_00 / "face_mask.png")
    assert mask.shape == (512, 512) and 0 < mask.sum() < 512 * 512 // 10
    ys, xs = np.nonzero(mask)
    assert 80 <= ys.min() and ys.max() < 208 and 192 <= xs.min() and xs.max() < 320, "mask sits in the face box"
    gray = np.full((512, 512, 3), 128, np.uint8)
    with pytest.raises(CharacterError, match="black \\(0\\) and white \\(255\\) only"):
        load_face_mask(save(tmp_path, gray, "RGB"))
    with pytest.raises(CharacterError, match="all black"):
        load_face_mask(save(tmp_path, np.zeros((512, 512, 3), np.uint8), "RGB"))
    with pytest.raises(CharacterError, match="has no face mask"):
        Character.from_image(lambda_00 / "character.png").face_mask()
