"""Image conventions: the official loader, and renderer output → straight-alpha sRGB frames."""

import numpy as np
import pytest
import torch
from PIL import Image

from tha4_sdk.frame import Frame, FrameError
from tha4_sdk.image import rgba8_to_tensor, tensor_to_rgba8


def test_loader_matches_the_official_formula(lambda_00):
    rgba = np.asarray(Image.open(lambda_00 / "character.png"))
    t = rgba8_to_tensor(rgba)
    y, x = 300, 256
    v = rgba[y, x].astype(np.float64) / 255
    lin = np.where(v[:3] <= 0.04045, v[:3] / 12.92, ((v[:3] + 0.055) / 1.055) ** 2.4) * v[3]
    np.testing.assert_allclose(t[:, y, x].numpy(), np.append(lin, v[3]) * 2 - 1, atol=1e-6)
    assert (t[:, 0, 0] == -1).all(), "transparent background is (-1, -1, -1, -1)"


def test_round_trip_of_opaque_and_semi_transparent_pixels(lambda_00):
    rgba = np.asarray(Image.open(lambda_00 / "character.png"))
    back = tensor_to_rgba8(rgba8_to_tensor(rgba)).numpy()
    visible = rgba[..., 3] >= 16
    assert np.array_equal(back[..., 3], rgba[..., 3])
    diff = np.abs(back[visible][:, :3].astype(int) - rgba[visible][:, :3])
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99, "straight-alpha colour survives the round trip"
    assert (back[~(rgba[..., 3] > 0)] == 0).all()


def test_out_of_range_values_are_clamped():
    x = torch.tensor([[-1.2, 1.3], [0.0, 0.0], [0.0, 0.0], [1.5, -2.0]]).reshape(4, 1, 2)
    px = tensor_to_rgba8(x).numpy()
    assert px.shape == (1, 2, 4) and px[0, 0, 3] == 255 and px[0, 1].tolist() == [0, 0, 0, 0]
    assert px[0, 0, 0] == 0 and px[0, 0, 1] == 255 * 0 + round(255 * (1.055 * 0.5 ** (1 / 2.4) - 0.055))


def test_frame_bytes_round_trip_and_validation():
    rgba = np.random.default_rng(0).integers(0, 256, (8, 6, 4), dtype=np.uint8)
    f = Frame(rgba, character="c", seq=3)
    g = Frame.from_bytes(f.to_bytes(), 6, 8, character="c", seq=3)
    assert np.array_equal(g.to_numpy(), rgba) and (g.width, g.height) == (6, 8)
    assert np.array_equal(np.asarray(Image.open(__import__("io").BytesIO(f.to_png()))), rgba)
    with pytest.raises(FrameError, match="expected 192 bytes"):
        Frame.from_bytes(b"\0" * 10, 6, 8)
    with pytest.raises(FrameError, match="H×W×4 uint8"):
        Frame(np.zeros((4, 4, 3), np.uint8))
