"""`tha4 export renpy` with the official lambda_00 student, checked in Debian's real Ren'Py 8.0.

One export (two expressions and one timeline with a voice line, 256×256, fast path) is shared by
the tests: its files, `renpy PROJECT lint`, and the game run under Xvfb whose script takes
screenshots of the expressions, of the movie while it plays and of the speaking animation.

Mesa's software GL (llvmpipe) under Xvfb draws textures slightly soft (measured: a one-pixel line
comes out as 21 % / 58 % / 21 % of it), so single pixels at sharp edges differ by up to ~100 levels
from an exact composite while the mean stays well under 1: comparisons use means over the sprite,
and each check also shows that the right picture at the right place matches better than the wrong
ones (another expression, another frame, the sprite moved by a pixel).
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from media import tone_wav
from renpy_harness import SCREEN, background, composite, lint, read_rgb, run_game
from tha4_plugins.video_export import from_side_mask, read_video_rgba
from tha4_sdk.cli import main

TAG, SIZE, FPS = "lambda", 256, 8
#: where Ren'Py's default `show` (at center: xalign 0.5, yalign 1.0) puts a SIZE×SIZE sprite
CENTER = ((SCREEN[0] - SIZE) // 2, SCREEN[1] - SIZE)
TURN = """\
# from the second frame on she looks far to one side, surprised, and at the end turns back, while a tone
# plays: only the movie ever shows that look (its first and last frames, the stills, do not), and it lasts
# most of the 3 s, so that even a slow software-rendered Ren'Py on a busy machine catches it
duration: 3
fps: 24
audio: {file: tone.wav, offset: 0.25}
tracks:
  - param: head_y
    keys: [{t: 0, value: 0, ease: step}, {t: 0.125, value: 1.0, hold: 2.3}, {t: 3, value: 0}]
  - preset: surprised
    keys: [{t: 0, weight: 0, ease: step}, {t: 0.125, weight: 1, hold: 2.3}, {t: 3, weight: 0}]
"""


def run_cli(*args: object):  # noqa: ANN201
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path) -> Path:
    root = tmp_path_factory.mktemp("renpy_project")
    scenes = tmp_path_factory.mktemp("scenes")
    tone_wav(scenes / "tone.wav", 1.0, loud=(0.1, 0.9))
    (scenes / "turn.yaml").write_text(TURN)
    result = run_cli("export", "renpy", lambda_00, "-o", root / "game", "--tag", TAG, "--expressions", "smile,wink",
                     "--timeline", scenes / "turn.yaml", "--fast", "--device", "cpu", "--size", SIZE, "--fps", FPS)
    assert result.exit_code == 0, result.output
    assert "wrote 2 expressions and 1 movies" in result.output
    return root


def sprite(project: Path, name: str) -> np.ndarray:
    with Image.open(project / "game" / "tha4" / TAG / f"{name}.png") as image:
        return np.asarray(image.convert("RGBA"))


def movie_frames(project: Path) -> list[np.ndarray]:
    return [from_side_mask(f) for f in read_video_rgba(project / "game" / "tha4" / TAG / "turn.sidemask.webm")]


def box_error(shot: np.ndarray, picture: np.ndarray, x: int, y: int, where: np.ndarray | None = None) -> float:
    """Mean absolute difference, over the sprite's box (or the pixels ``where`` in it), between a screenshot
    and ``picture`` composited over the background at (x, y)."""
    h, w = picture.shape[:2]
    error = np.abs(shot - composite(background(), picture, x, y))[y:y + h, x:x + w]
    return float(error.mean() if where is None else error[where].mean())


def differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where two sprites differ by more than 40 levels in some channel (e.g. the eyes of two expressions)."""
    return np.abs(a.astype(int) - b).max(axis=2) > 40


@pytest.mark.slow
def test_export_writes_sprites_movie_voice_and_script(project: Path) -> None:
    folder = project / "game" / "tha4" / TAG
    stills = {p.name: np.asarray(Image.open(p)) for p in folder.glob("*.png")}
    assert set(stills) == {"smile.png", "smile_talk1.png", "smile_talk2.png", "wink.png", "wink_talk1.png",
                           "wink_talk2.png", "turn_start.png", "turn_end.png"}
    assert {a.shape for a in stills.values()} == {(SIZE, SIZE, 4)}  # one size and anchor: no jumps
    smile, wink = stills["smile.png"].astype(int), stills["wink.png"].astype(int)
    assert np.abs(smile - wink).max() > 100 and np.abs(smile[..., 3] - wink[..., 3]).mean() < 1
    assert np.abs(stills["smile_talk2.png"].astype(int) - smile).max() > 100  # the open mouth shows

    frames = movie_frames(project)
    assert len(frames) == 24 and frames[0].shape == (SIZE, SIZE, 4)
    # the first and last frames are the start and end stills (up to VP9's loss); half-way she has turned
    assert changed(frames[0], stills["turn_start.png"]) < 0.003 and changed(frames[-1], stills["turn_end.png"]) < 0.003
    assert changed(frames[12], stills["turn_start.png"]) > 0.01
    with av.open(str(folder / "turn.sidemask.webm")) as movie:
        assert (movie.streams.video[0].width, movie.streams.video[0].height) == (2 * SIZE, SIZE)
        assert movie.streams.audio[0].codec_context.name == "opus"
    with av.open(str(folder / "turn.opus")) as voice:
        assert voice.streams.audio[0].codec_context.name == "opus"
        # the movie's own sound track, copied: 0.25 s of lead-in silence, then the 1 s line
        assert float(voice.duration) / 1e6 == pytest.approx(1.25, abs=0.03)

    script = (project / "game" / f"tha4_{TAG}.rpy").read_text()
    for line in (f'image {TAG} smile = ConditionSwitch("tha4_{TAG}_talking"',
                 f'image {TAG} turn = Movie(play="tha4/{TAG}/turn.sidemask.webm", side_mask=True',
                 f'define audio.{TAG}_turn = "tha4/{TAG}/turn.opus"', f"def tha4_{TAG}_speaking(event"):
        assert line in script
    credit = "Character lambda_00: Character by garun, commissioned by Pramook Khungurn (THA4 demo sample). " \
             "Licence: CC-BY-NC-4.0 (https://creativecommons.org/licenses/by-nc/4.0/)"
    assert f"#   {credit}" in script  # read from the official manifest: the reference folder has no licence
    about = re.search(rf"define -10 tha4_{TAG}_about = \"(.*)\"", script)
    assert about and credit in about.group(1) and "THA4 models by Pramook Khungurn" in about.group(1)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels of two straight-alpha frames whose colour over black differs by more than 40 levels."""
    pa = a[..., :3] * (a[..., 3:] / 255.0)
    pb = b[..., :3] * (b[..., 3:] / 255.0)
    return float((np.abs(pa - pb).max(axis=2) > 40).mean())


@pytest.mark.slow
def test_generated_project_passes_renpy_lint(project: Path) -> None:
    problems, report = lint(project)
    assert problems == [], report
    assert "5 images" in report  # smile, wink, their two speaking animations, the movie: lint read the script


SHOTS_SCRIPT = """\
define config.save_directory = None
define config.screen_width = {w}
define config.screen_height = {h}
image bg tha4test = "bg.png"
define l = Character("Lambda", image="{tag}", callback=tha4_{tag}_speaking, what_slow_cps=12)

init python:
    import time
    shot_count = [0]

    def shoot(name):
        renpy.screenshot("{shots}/" + name + ".png")

    def shoot_next(prefix):
        shot_count[0] += 1
        shoot("%s%02d" % (prefix, shot_count[0]))

screen tha4_shooter(prefix):
    timer 0.1 repeat True action Function(shoot_next, prefix)

label start:
    scene bg tha4test
    show {tag} smile
    $ renpy.pause(0.4, hard=True)
    $ shoot("smile")
    show {tag} wink
    $ renpy.pause(0.4, hard=True)
    $ shoot("wink")
    show {tag} turn
    $ shown = time.time()
    while time.time() - shown < {movie_seconds} + 1.0:
        $ renpy.pause(0.25, hard=True)
        $ shoot("movie%02d" % int(10 * (time.time() - shown)))
    $ shoot("movie_ended")
    show {tag} smile at top
    $ shot_count[0] = 0
    show screen tha4_shooter("talk")
    l "Hello! How are you?{{w=0.3}}{{nw}}"
    hide screen tha4_shooter
    $ renpy.pause(0.4, hard=True)
    $ shoot("quiet")
    $ renpy.quit()
"""


@pytest.fixture(scope="module")
def shots(project: Path) -> Path:
    folder = project / "shots"
    folder.mkdir()
    Image.fromarray(background()).save(project / "game" / "bg.png")
    (project / "game" / "zz_screenshots.rpy").write_text(
        SHOTS_SCRIPT.format(w=SCREEN[0], h=SCREEN[1], tag=TAG, shots=folder.as_posix(), movie_seconds=3))
    run_game(project)
    return folder


@pytest.mark.slow
def test_renpy_shows_each_expression_over_the_scene(project: Path, shots: Path) -> None:
    smile, wink = sprite(project, "smile"), sprite(project, "wink")
    x, y = CENTER
    smile_shot, wink_shot = read_rgb(shots / "smile.png"), read_rgb(shots / "wink.png")
    assert box_error(smile_shot, smile, x, y) < 3.0 and box_error(wink_shot, wink, x, y) < 3.0
    outside = np.ones(SCREEN[::-1], bool)
    outside[y:, x:x + SIZE] = False
    assert np.abs(smile_shot - background())[outside].max() <= 2  # the rest of the scene is untouched
    # the right expression beats the other one where they differ, the right place every one-pixel shift
    eyes = differs(smile, wink)
    assert eyes.sum() > 50
    assert box_error(smile_shot, smile, x, y, eyes) < 0.5 * box_error(smile_shot, wink, x, y, eyes)
    assert box_error(wink_shot, wink, x, y, eyes) < 0.5 * box_error(wink_shot, smile, x, y, eyes)
    for dx, dy in ((1, 0), (-1, 0), (0, -1)):
        assert box_error(smile_shot, smile, x, y) < 0.8 * box_error(smile_shot, smile, x + dx, y + dy)
    assert np.abs(smile_shot - wink_shot).max() > 100  # two expressions look different on screen


@pytest.mark.slow
def test_renpy_plays_the_timeline_movie_with_the_background_through_it(project: Path, shots: Path) -> None:
    frames, (x, y) = movie_frames(project), CENTER
    playing = sorted(shots.glob("movie[0-9]*.png"))
    assert len(playing) >= 2
    matches = []
    for path in playing:
        shot = read_rgb(path)
        errors = [box_error(shot, f, x, y) for f in frames]
        matches.append((int(np.argmin(errors)), min(errors), shot))
    assert all(error < 3.0 for _, error, _ in matches), [(i, e) for i, e, _ in matches]
    middle = [(i, shot) for i, _, shot in matches if 1 <= i <= 19]  # the look that only the movie has
    assert middle, f"no screenshot shows the turned head: frames {[i for i, _, _ in matches]}"
    index, shot = middle[0]
    alpha = frames[index][..., 3]
    box = shot[y:y + SIZE, x:x + SIZE]
    scene = background()[y:y + SIZE, x:x + SIZE].astype(np.float64)
    clear = erode(alpha == 0, 2)  # away from the soft edges that the software GL blurs
    solid = erode(alpha == 255, 2)
    assert clear.sum() > 0.3 * SIZE * SIZE and solid.sum() > 0.1 * SIZE * SIZE
    assert np.abs(box - scene)[clear].max() <= 3  # transparent parts show the background
    assert np.abs(box - scene)[solid].mean() > 30  # opaque parts show her
    ended = read_rgb(shots / "movie_ended.png")  # after the movie, its last frame stays (image=…)
    assert box_error(ended, sprite(project, "turn_end"), x, y) < 3.0


def erode(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        mask = mask & np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
    return mask


@pytest.mark.slow
def test_renpy_flaps_the_mouth_while_the_line_is_shown(project: Path, shots: Path) -> None:
    still, talking = sprite(project, "smile"), [sprite(project, f"smile_talk{i}") for i in (1, 2)]
    x = (SCREEN[0] - SIZE) // 2  # `at top`: centred, at the top edge, above the text window
    mouth = np.abs(talking[1].astype(int) - still).max(axis=2) > 40
    assert 10 < mouth.sum() < 0.05 * SIZE * SIZE

    def nearest(path: Path) -> int:
        """0: the closed mouth, 1 or 2: a speaking frame, judged inside the mouth only."""
        shot = read_rgb(path)[:SIZE, x:x + SIZE]
        return int(np.argmin([np.abs(shot - composite(background(), p, x, 0)[:SIZE, x:x + SIZE])[mouth].mean()
                              for p in (still, *talking)]))

    during = [nearest(p) for p in sorted(shots.glob("talk*.png"))]
    assert len(during) >= 5 and {1, 2} & set(during), during
    assert nearest(shots / "quiet.png") == 0  # the text is all there: the mouth rests


def test_export_errors_say_what_to_change(lambda_00: Path, tmp_path: Path) -> None:
    game = tmp_path / "game"
    result = run_cli("export", "renpy", lambda_00, "-o", game, "--tag", "my-girl", "--fast", "--device", "cpu")
    assert result.exit_code == 1 and "tag 'my-girl' cannot be a Ren'Py image name" in result.output
    result = run_cli("export", "renpy", lambda_00, "-o", game, "--tag", "g", "--expressions", "smiel",
                     "--fast", "--device", "cpu")
    assert result.exit_code == 1 and "unknown preset 'smiel'" in result.output and "smile" in result.output
    clash = tmp_path / "smile.yaml"
    clash.write_text("duration: 1\n")
    result = run_cli("export", "renpy", lambda_00, "-o", game, "--tag", "g", "--expressions", "smile",
                     "--timeline", clash, "--fast", "--device", "cpu")
    assert result.exit_code == 1 and "both an expression and a timeline file name" in result.output
    assert not (game / "tha4_g.rpy").exists()


def test_tha4_render_writes_a_side_mask_movie_with_sound(lambda_00: Path, tmp_path: Path) -> None:
    tone_wav(tmp_path / "tone.wav", 0.5)
    scene = tmp_path / "nod.yaml"
    scene.write_text("duration: 0.5\naudio: {file: tone.wav}\ntracks:\n"
                     "  - param: head_x\n    keys: [{t: 0, value: -1}, {t: 0.5, value: 1}]\n")
    out = tmp_path / "nod.sidemask.webm"
    result = run_cli("render", lambda_00, "--renderer", "solid", "--timeline", scene, "-o", out, "--fps", 8,
                     "--size", 64)
    assert result.exit_code == 0 and "wrote 4 frames" in result.output, result.output
    frames = [from_side_mask(f) for f in read_video_rgba(out)]
    assert len(frames) == 4 and frames[0].shape == (64, 64, 4)
    assert (frames[0][..., 3] > 250).all()  # the solid pattern is opaque: white on the right half
    assert frames[0][..., 0].mean() + 60 < frames[-1][..., 0].mean()  # red follows head_x
    with av.open(str(out)) as movie:
        assert movie.streams.audio[0].codec_context.name == "opus"


def test_default_expressions_are_every_preset_and_the_timelines_own(lambda_00: Path, tmp_path: Path) -> None:
    from tha4_sdk.presets import PRESETS

    scene = tmp_path / "tease.yaml"
    scene.write_text("duration: 0.25\npresets:\n  cheeky: {smile: 1, mouth_smirk: 0.6}\n"
                     "tracks:\n  - preset: cheeky\n    keys: [{t: 0, weight: 0}, {t: 0.25, weight: 1}]\n")
    game = tmp_path / "game"
    result = run_cli("export", "renpy", lambda_00, "--renderer", "solid", "-o", game, "--tag", "t",
                     "--timeline", scene, "--size", 32, "--fps", 8)  # the solid test pattern: instant frames
    assert result.exit_code == 0, result.output
    script = (game / "tha4_t.rpy").read_text()
    for name in [*PRESETS, "cheeky"]:
        assert (game / "tha4" / "t" / f"{name}.png").is_file() and f"image t {name} = ConditionSwitch(" in script
    assert "image t tease = Movie(" in script and "define audio.t_tease" not in script  # no sound, no voice line
    assert "Model (" not in script  # a test pattern has no model to credit


def test_a_looping_timeline_is_refused_before_anything_is_rendered(lambda_00: Path, tmp_path: Path) -> None:
    scene = tmp_path / "sway.yaml"
    scene.write_text("duration: 1\nloop: true\ntracks:\n  - param: body_z\n    keys: [{t: 0, value: 0}, {t: 1, value: 0.1}]\n")
    result = run_cli("export", "renpy", lambda_00, "--renderer", "solid", "-o", tmp_path / "game", "--tag", "t",
                     "--timeline", scene)
    assert result.exit_code == 1 and "timeline 'sway' has no end" in result.output
    assert not (tmp_path / "game").exists()


@pytest.mark.slow
def test_a_tha3_distilled_student_credits_tha3_in_the_script_and_in_the_game(tha3_distilled: Path,
                                                                              tmp_path: Path) -> None:
    project = tmp_path / "project"
    result = run_cli("export", "renpy", tha3_distilled, "-o", project / "game", "--tag", "l3", "--expressions",
                     "smile", "--fast", "--device", "cpu", "--size", 64)
    assert result.exit_code == 0, result.output
    script = (project / "game" / "tha4_l3.rpy").read_text()
    character = "Character lambda_tha3: Character by garun, commissioned by Pramook Khungurn (THA4 demo sample). " \
                "Licence: CC-BY-NC-4.0 (https://creativecommons.org/licenses/by-nc/4.0/)"
    model = "Model (student renderer; student distilled from 'tha3', as its character.yaml records): THA3 models " \
            "by Pramook Khungurn (talking-head-anime-3-demo). Licence: CC-BY-4.0 " \
            "(https://creativecommons.org/licenses/by/4.0/)"
    assert f"#   {character}\n#   {model}\n" in script and "THA4 models" not in script
    about = project / "about.txt"  # what the game itself reads from tha4_l3_about, in Ren'Py
    (project / "game" / "script.rpy").write_text(
        f'label start:\n    $ open(r"{about}", "w", encoding="utf-8").write(tha4_l3_about)\n    $ renpy.quit()\n')
    run_game(project)
    assert about.read_text(encoding="utf-8") == f"Character animation made with tha4-sdk. {character} {model}"
