"""Timeline files: errors at file:line:column, and what the tracks evaluate to."""

from __future__ import annotations

import math
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from tha4_sdk import plugins
from tha4_sdk.easing import CURVES
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.presets import PRESETS
from tha4_sdk.source import PoseSource
from tha4_plugins.timeline.yaml_document import DocumentError
from tha4_plugins.timeline import SCHEMA, TimelineSource, load_timeline, parse_timeline
from tha4_plugins.timeline.source import EXAMPLES
from conftest import REPO


def write(tmp_path: Path, text: str, name: str = "scene.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path: Path) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        load_timeline(path)
    return info.value


def poses(text: str, times: list[float], **kwargs: object) -> list[dict[str, float]]:
    with TimelineSource(parse_timeline(textwrap.dedent(text), **kwargs)) as source:  # type: ignore[arg-type]
        return [source.pose_at(t).to_dict() for t in times]


# --- errors --------------------------------------------------------------------------------------------------

def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, """
        duration: 2
        tracks:
          - param: head_x
            keys: [{t: 0, value: 0}, {t: 1, value: 0.5]
        """)
    err = error_of(path)
    assert (err.first.file, err.first.line) == (str(path), 4)
    assert err.first.column == 47  # the "]" that should have been "}"
    assert str(err).startswith(f"{path}:4:47: YAML syntax error: while parsing a flow mapping")
    assert "(opened at line 4, column 30): expected ',' or '}', but got ']'" in str(err)


def test_unknown_parameter_names_line_column_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, """
        duration: 2
        tracks:
          - param: head_x
            keys: [{t: 0, value: 0}]
          - param: head_z
            keys: [{t: 0, value: 0.3}]
        """)
    err = error_of(path)
    assert (err.first.line, err.first.column) == (5, 12)
    assert str(err) == (f"{path}:5:12: tracks[1].param: unknown pose parameter 'head_z'; "
                        "did you mean head_y, head_x?")


@pytest.mark.parametrize("text, line, column, message", [
    ("tracks:\n  - param: head_x\n    keys: [{t: 0, value: 1.5}]\n", 3, 26,
     "tracks[0].keys[0].value: 1.5 is outside the range [-1, 1] of head_x"),
    ("duration: 1\ntracks:\n  - param: head_x\n    kees: []\n", 4, 5,
     "tracks[0].kees: unknown key 'kees'; did you mean 'keys'?"),
    ("tracks:\n  - preset: smiel\n    keys: [{t: 1}]\n", 2, 13, "tracks[0].preset: unknown preset 'smiel'. Did you mean smile"),
    ("tracks:\n  - param: head_x\n    keys:\n      - {t: 2, value: 0}\n      - {t: 1, value: 0}\n", 5, 9,
     "tracks[0].keys[1]: keys must be in time order: this key at 1 s comes before the previous key ends at 2 s"),
    ("tracks:\n  - param: head_x\n    keys: [{t: 0, value: 0, hold: 2}, {t: 1, value: 1}]\n", 3, 39,
     "keys must be in time order"),
    ("tracks:\n  - param: head_x\n    keys: [{beat: 2, value: 0}]\n", 3, 13, "keys given in beats need `bpm`"),
    ("tracks:\n  - param: head_x\n    keys: [{t: 1}]\n", 3, 12, "tracks[0].keys[0]: missing `value`"),
    ("tracks:\n  - preset: smile\n    keys: [{t: 1, value: 1}]\n", 3, 19, "keys take `weight`, not `value`"),
    ("tracks:\n  - param: head_x\n    preset: smile\n    keys: [{t: 1, value: 1}]\n", 2, 5,
     "tracks[0]: gives both 'param' and 'preset'; use one"),
    ("tracks:\n  - keys: [{t: 1, value: 1}]\n", 2, 5, "tracks[0]: needs one of 'param', 'preset'"),
    ("tracks:\n  - param: head_x\n    ease: bouncy\n    keys: [{t: 1, value: 1}]\n", 3, 11,
     "tracks[0].ease: unknown easing 'bouncy'"),
    ("duration: -1\n", 1, 11, "duration: -1 must be greater than 0"),
    ("duration: 1\ntracks:\n  - param: head_x\n    keys: []\n", 4, 11, "tracks[0].keys: needs at least 1 item"),
    ("duration: 1\nduration: 2\n", 2, 1, "duration: duplicate key 'duration'"),
    ("tracks: []\n", 1, 1, "cannot tell how long the timeline is"),
    ("duration: 1\nfilters: [idel]\n", 2, 11, "no pose filter named 'idel'"),
    ("duration: 1\nfilters: [{name: idle, blink_interval: 0.1}]\n", 2, 11, "blink_interval must be at least 1"),
    ("duration: 1\nfilters: [{name: idle, colour: red}]\n", 2, 24,
     "filters[0].colour: the idle filter has no option 'colour'; its options are seed, blink, blink_interval"),
    ("duration: 1\nfilters: [{name: idle, sead: 2}]\n", 2, 24, "no option 'sead'; did you mean 'seed'?"),
    ("duration: 1\npresets:\n  mine: {smile: 1, mouht_aaa: 1}\n", 3, 20,
     "presets.mine.mouht_aaa: 'mouht_aaa' is neither a preset nor a pose parameter. Did you mean mouth_aaa"),
    ("duration: 1\npresets:\n  a: {b: 1}\n  b: {a: 1}\n", 4, 7, "presets.b.a: preset 'b' uses itself through 'a'"),
    ("duration: 1\naudio: {file: missing.wav}\n", 2, 15, "audio.file: "),
    ("duration: 1\ninclude: [nowhere.yaml]\n", 2, 11, "included file 'nowhere.yaml' not found"),
    ("- just\n- a list\n", 1, 1, "(top level): expected mapping, got list"),
])
def test_errors_point_at_the_offending_node(tmp_path: Path, text: str, line: int, column: int, message: str) -> None:
    err = error_of(write(tmp_path, text))
    found = [p for p in err.problems if message in p.message]
    assert found, str(err)
    assert (found[0].line, found[0].column) == (line, column), str(err)


def test_errors_in_an_included_file_name_that_file(tmp_path: Path) -> None:
    write(tmp_path, "presets:\n  grin: {mouth_raised_corner_left: 2}\n", "lib.yaml")
    err = error_of(write(tmp_path, "duration: 1\ninclude: [lib.yaml]\n"))
    assert err.first.file == str((tmp_path / "lib.yaml").resolve())
    assert (err.first.line, err.first.column) == (2, 36)
    assert "outside the range [0, 1]" in err.first.message


def test_include_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "include: [b.yaml]\n", "a.yaml")
    write(tmp_path, "include: [a.yaml]\n", "b.yaml")
    err = error_of(write(tmp_path, "duration: 1\ninclude: [a.yaml]\n"))
    assert "includes itself" in str(err)


def test_several_schema_errors_are_all_listed(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "fps: fast\nloop: maybe\ntracks: []\n"))
    assert [(p.line, p.message) for p in err.problems] == [
        (1, "fps: expected number, got string 'fast'"), (2, "loop: expected boolean, got string 'maybe'")]


# --- schema ----------------------------------------------------------------------------------------------------

def test_shipped_schema_matches_the_code() -> None:
    from tha4_sdk.easing import EASINGS
    from tha4_sdk.mixer import MODES
    from tha4_sdk.pose import PARAMETER_NAMES

    defs = SCHEMA["$defs"]
    assert defs["parameter"]["enum"] == list(PARAMETER_NAMES)
    assert defs["ease"]["enum"] == list(EASINGS)
    assert defs["track"]["properties"]["mode"]["enum"] == list(MODES)


def test_example_timelines_are_valid() -> None:
    for path in EXAMPLES.glob("*.yaml"):
        assert load_timeline(path).length > 0


# --- evaluation ------------------------------------------------------------------------------------------------

#: docs/timeline.md's easing table worked out by hand at u = 1/4, 1/2, 3/4, 1: linear u; ease-in u³;
#: ease-out 1 − (1 − u)³; ease-in-out 4u³ below ½, else 1 − (2 − 2u)³ / 2
DOCUMENTED_EASINGS = {"linear": [0.25, 0.5, 0.75, 1.0], "ease-in": [1 / 64, 1 / 8, 27 / 64, 1.0],
                      "ease-out": [37 / 64, 7 / 8, 63 / 64, 1.0], "ease-in-out": [1 / 16, 1 / 2, 15 / 16, 1.0]}


def test_easing_curves_are_the_documented_formulas() -> None:
    assert set(CURVES) == {*DOCUMENTED_EASINGS, "step"}
    for ease, values in DOCUMENTED_EASINGS.items():
        assert [CURVES[ease](u) for u in (0.25, 0.5, 0.75, 1.0)] == pytest.approx(values, abs=1e-12), ease
        assert CURVES[ease](0.0) == 0.0
    assert CURVES["step"](0.5) == 0.0
    table = (REPO / "docs" / "timeline.md").read_text(encoding="utf-8")
    for row in ("| `ease-in` | `u³`", "| `ease-out` | `1 − (1 − u)³`",
                "| `ease-in-out` | `4u³` for u < ½, else `1 − (2 − 2u)³ / 2`"):
        assert row in table, f"docs/timeline.md no longer documents {row!r}: update DOCUMENTED_EASINGS with it"


def test_easings_shape_the_motion_between_keys() -> None:
    for ease, values in DOCUMENTED_EASINGS.items():
        text = f"tracks:\n  - param: head_y\n    ease: {ease}\n    keys: [{{t: 1, value: 0}}, {{t: 3, value: 0.8}}]\n"
        got = [p["head_y"] for p in poses(text, [0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 9.0])]
        want = [0.0, 0.0] + [0.8 * v for v in values] + [0.8]
        np.testing.assert_allclose(got, want, atol=1e-6)
    step = poses("tracks:\n  - param: head_y\n    keys: [{t: 0, value: 0.2, ease: step}, {t: 1, value: 0.6}]\n",
                 [0.0, 0.5, 0.999, 1.0])
    np.testing.assert_allclose([p["head_y"] for p in step], [0.2, 0.2, 0.2, 0.6], atol=1e-6)


def test_cubic_passes_through_keys_smoothly_without_overshoot() -> None:
    text = ("tracks:\n  - param: head_x\n    ease: cubic\n"
            "    keys: [{t: 0, value: 0}, {t: 1, value: 0.5}, {t: 2, value: 0.6}, {t: 3, value: -0.4}]\n")
    times = list(np.linspace(0, 3, 301))
    got = np.array([p["head_x"] for p in poses(text, times)])
    np.testing.assert_allclose(got[[0, 100, 200, 300]], [0, 0.5, 0.6, -0.4], atol=1e-6)
    assert got[:201].min() >= -1e-6 and got[:201].max() <= 0.6 + 1e-6  # monotone between keys
    assert np.all(np.diff(got[:201]) >= -1e-6)  # rising through 0..0.5..0.6
    slope = np.diff(got)
    assert np.abs(np.diff(slope)).max() < 0.01  # no kinks: the slope changes gradually


def test_hold_loop_offset_and_beats() -> None:
    hold = poses("tracks:\n  - param: head_y\n    keys: [{t: 0, value: 0}, {t: 1, value: 1, hold: 1}, {t: 3, value: 0}]\n",
                 [0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    np.testing.assert_allclose([p["head_y"] for p in hold], [0.5, 1, 1, 1, 0.5, 0], atol=1e-6)
    loop = poses("duration: 10\ntracks:\n  - param: head_y\n    loop: true\n    offset: 1\n"
                 "    keys: [{t: 0, value: 0}, {t: 1, value: 1}, {t: 2, value: 0}]\n", [0.5, 1.5, 2.0, 3.5, 7.5, 9.0])
    np.testing.assert_allclose([p["head_y"] for p in loop], [0, 0.5, 1, 0.5, 0.5, 0], atol=1e-6)
    twice = poses("duration: 10\ntracks:\n  - param: head_y\n    loop: 2\n"
                  "    keys: [{t: 0, value: 0}, {t: 1, value: 1}]\n", [0.5, 1.5, 2.5, 5.0])
    np.testing.assert_allclose([p["head_y"] for p in twice], [0.5, 0.5, 1.0, 1.0], atol=1e-6)
    beats = poses("bpm: 120\ntracks:\n  - param: head_y\n    keys: [{beat: 0, value: 0}, {beat: 4, value: 1}]\n",
                  [1.0, 2.0])
    np.testing.assert_allclose([p["head_y"] for p in beats], [0.5, 1.0], atol=1e-6)


def test_timeline_length_and_looping_playback() -> None:
    assert parse_timeline("tracks:\n  - param: head_y\n    keys: [{t: 0, value: 0}, {t: 2, value: 1, hold: 0.5}]\n"
                          ).length == 2.5
    text = "loop: true\ntracks:\n  - param: head_y\n    keys: [{t: 0, value: 0}, {t: 2, value: 1}]\n"
    source = TimelineSource(parse_timeline(text))
    assert source.duration is None  # a looping timeline plays forever
    with source:
        np.testing.assert_allclose([source.pose_at(t)["head_y"] for t in (1.0, 3.0, 5.5)], [0.5, 0.5, 0.75], atol=1e-6)


def test_preset_tracks_weigh_presets_and_modes_combine() -> None:
    text = """
        presets:
          cheeky: {smile: 1, mouth_smirk: 0.5}
        tracks:
          - preset: cheeky
            keys: [{t: 0, weight: 0}, {t: 1, weight: 1}]
          - preset: blink
            keys: [{t: 0, weight: 0.5}]
          - param: eye_wink_left
            mode: max
            keys: [{t: 0, value: 0.2}, {t: 1, value: 0.9}]
          - param: mouth_smirk
            mode: add
            keys: [{t: 0, value: 0.75}]
        """
    half, full = poses(text, [0.5, 1.0])
    smile = PRESETS["smile"].values
    assert half["mouth_raised_corner_left"] == pytest.approx(0.5 * smile["mouth_raised_corner_left"])
    assert full["mouth_raised_corner_left"] == pytest.approx(smile["mouth_raised_corner_left"])
    assert half["eye_wink_right"] == pytest.approx(0.5)               # blink preset at weight 0.5
    assert half["eye_wink_left"] == pytest.approx(0.55)               # max(0.5, 0.55)
    assert full["eye_wink_left"] == pytest.approx(0.9)
    assert half["mouth_smirk"] == pytest.approx(0.25 + 0.75)          # added
    assert full["mouth_smirk"] == pytest.approx(1.0)                  # 0.5 + 0.75 clamped to the range


def test_presets_from_included_files_can_be_reused(tmp_path: Path) -> None:
    write(tmp_path, "presets:\n  grin: {happy: 1, mouth_aaa: 0}\n", "lib.yaml")
    path = write(tmp_path, """
        include: [lib.yaml]
        presets:
          big_grin: {grin: 1, mouth_iii: 0.8}
        tracks:
          - preset: big_grin
            keys: [{t: 1}]
        """)
    pose = poses(path.read_text(), [1.0], base=tmp_path)[0]
    assert pose["eye_happy_wink_left"] == 1.0 and pose["mouth_aaa"] == 0.0 and pose["mouth_iii"] == pytest.approx(0.8)


def test_filters_run_after_the_tracks_and_are_repeatable() -> None:
    text = "duration: 30\nfilters: [{name: idle, seed: 3, head: false}]\n"
    first = poses(text, list(np.arange(0, 30, 0.05)))
    again = poses(text, list(np.arange(0, 30, 0.05)))
    assert first == again
    assert max(p["eye_wink_left"] for p in first) > 0.95   # it blinked
    assert max(p["breathing"] for p in first) > 0.95


# --- audio and lip-sync ----------------------------------------------------------------------------------------

def tone_wav(path: Path, seconds: float, loud: tuple[float, float], rate: int = 16000) -> Path:
    """A WAV that is silent except for a 220 Hz tone between loud[0] and loud[1] seconds."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.where((t >= loud[0]) & (t < loud[1]), 0.5 * np.sin(2 * math.pi * 220 * t), 0.0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


class LoudnessLipSync(PoseSource):
    """Test lip-sync: opens the mouth (aaa) with the loudness of a WAV file, and nudges the head to prove masking."""

    name = "test-loudness"

    def __init__(self, path: Path) -> None:
        with wave.open(str(path), "rb") as w:
            self.rate = w.getframerate()
            self.samples = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32767.0
        self.duration = len(self.samples) / self.rate

    def pose_at(self, t: float):  # noqa: ANN201
        from tha4_sdk.pose import Pose

        window = self.samples[int(t * self.rate):int((t + 0.02) * self.rate)]
        level = float(np.sqrt(np.mean(window ** 2)) * 2 * math.sqrt(2)) if len(window) else 0.0
        return Pose.from_dict({"mouth_aaa": min(1.0, level), "head_x": 0.9}, clamp=True)


class _TestPlugin:
    @staticmethod
    @hookimpl
    def tha4_pose_sources() -> list[type[PoseSource]]:
        return [LoudnessLipSync]


@pytest.fixture
def loudness_plugin():  # noqa: ANN201
    plugins.manager().register(_TestPlugin, name="test-loudness")
    yield
    plugins.manager().unregister(name="test-loudness")


def test_audio_track_layers_lipsync_mouth_shapes(tmp_path: Path, loudness_plugin: None) -> None:
    tone_wav(tmp_path / "line.wav", 2.0, loud=(0.5, 1.5))
    path = write(tmp_path, """
        audio: {file: line.wav, offset: 1.0, lipsync: test-loudness}
        tracks:
          - param: mouth_aaa
            keys: [{t: 0, value: 0.3}]
        """)
    timeline = load_timeline(path)
    assert timeline.length == pytest.approx(3.0)  # the audio ends at 1 + 2 s
    with TimelineSource(timeline) as source:
        before, silent, loud, after = (source.pose_at(t) for t in (0.4, 1.2, 2.0, 2.8))
    assert before["mouth_aaa"] == pytest.approx(0.3)          # audio not started: the track's value
    assert silent["mouth_aaa"] == pytest.approx(0.3)          # silence: max(track, 0)
    assert loud["mouth_aaa"] > 0.9                            # the tone opens the mouth
    assert after["mouth_aaa"] == pytest.approx(0.3)
    assert loud["head_x"] == 0.0                              # lip-sync only touches the mouth shapes


def test_missing_lipsync_plugin_warns_and_keeps_the_tracks(tmp_path: Path) -> None:
    tone_wav(tmp_path / "line.wav", 1.0, loud=(0, 1))
    timeline = load_timeline(write(tmp_path, "audio: {file: line.wav, lipsync: no-such-plugin}\n"))
    with pytest.warns(UserWarning, match="'no-such-plugin' pose-source plugin, which is not installed"):
        source = TimelineSource(timeline)
        source.start()
    assert source.pose_at(0.5)["mouth_aaa"] == 0.0
    source.stop()


def test_default_lipsync_uses_the_audio_plugin_on_speech(tmp_path: Path) -> None:
    from tha4_plugins.lipsync import synthesize_vowel, write_wav

    rate = 16_000
    speech = np.concatenate([synthesize_vowel("aaa", 0.6, sample_rate=rate), np.zeros(rate // 2, np.float32),
                             synthesize_vowel("iii", 0.6, sample_rate=rate)])
    write_wav(tmp_path / "vowels.wav", speech, rate)
    path = write(tmp_path, "audio: {file: vowels.wav, offset: 0.5}\ntracks:\n  - preset: smile\n    keys: [{t: 0}]\n")
    with TimelineSource(load_timeline(path)) as source:
        quiet, a, pause, i = (source.pose_at(t) for t in (0.3, 0.8, 1.35, 1.9))
    assert max(quiet[v] for v in ("mouth_aaa", "mouth_iii")) == 0.0
    assert a["mouth_aaa"] > 0.5 and a["mouth_aaa"] > a["mouth_iii"]
    assert i["mouth_iii"] > 0.5 and i["mouth_iii"] > i["mouth_aaa"]
    assert pause["mouth_aaa"] < 0.1 and pause["mouth_iii"] < 0.1
    assert a["mouth_raised_corner_left"] == pytest.approx(PRESETS["smile"].values["mouth_raised_corner_left"])  # kept
