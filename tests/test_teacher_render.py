"""The teacher end to end: weight files, loading errors, the renderer plugin, and the end-to-end golden.

One folder of the five weight files, filled with deterministic weights, is written per module; the
renderer loads it exactly as it would load the official files.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from teacher_golden import THREADS, assert_matches_golden, torch_threads
from click.testing import CliRunner

from tha4_sdk import hub, plugins
from tha4_sdk.cli import main
from tha4_sdk.character import Character
from tha4_sdk.frame import Frame
from tha4_sdk.image import tensor_to_rgba8
from tha4_sdk.models.teacher.poser import NETWORKS, TeacherOutputs, TeacherPoser, weight_files
from tha4_sdk.models.weights import WeightFileError, load_weights_together
from tha4_sdk.render.base import open_renderer
from tha4_sdk.render.teacher import TeacherRenderer, TeacherSession, TeacherWeightsMissing


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory: pytest.TempPathFactory, deterministic_weights: Any) -> Path:
    """The five files as the official release has them: each network's own state dict, torch.save'd."""
    folder = tmp_path_factory.mktemp("teacher_weights")
    poser = TeacherPoser()
    for name in NETWORKS:
        sd = getattr(poser, name).state_dict()
        deterministic_weights.fill_state_dict(sd)
        torch.save(sd, folder / f"{name}.pt")
    return folder


@pytest.fixture(scope="module")
def session(weights_dir: Path, lambda_00: Path) -> TeacherSession:
    """The renderer plugin, opened by name on lambda_00's image (any image will do for the teacher)."""
    return open_renderer("teacher", Character.from_image(lambda_00 / "character.png"), device="cpu",
                         weights=weights_dir)


@pytest.fixture(scope="module")
def poses(reference: Path) -> np.ndarray:
    return np.load(reference / "conformance" / "poses.npy")


@pytest.fixture(scope="module")
def outputs(session: TeacherSession, poses: np.ndarray) -> dict[int, TeacherOutputs]:
    """All named outputs for poses.npy rows 0 and 5, one pose per call (as the golden was made)."""
    return {row: session.outputs(poses[row]) for row in (0, 5)}


def _folder_with(folder: Path, weights_dir: Path, replace: dict[str, bytes | Path | None]) -> Path:
    """A new weights folder linking to the good files, with some replaced (bytes or a file) or left out (None)."""
    folder.mkdir()
    for name, path in weight_files(weights_dir).items():
        new = replace.get(name, path)
        if isinstance(new, bytes):
            (folder / path.name).write_bytes(new)
        elif new is not None:
            os.symlink(new, folder / path.name)
    return folder


def test_renderer_is_a_discoverable_plugin() -> None:
    assert plugins.renderers()["teacher"] is TeacherRenderer


@pytest.fixture(scope="module")
def golden(reference: Path) -> dict[int, dict[str, Any]]:
    """The end-to-end golden computed in float64 (reference README: the same on every CPU and thread count)."""
    return {g["pose_index"]: g for g in json.loads(
        (reference / "conformance" / "teacher_end_to_end_golden_float64.json").read_text())}


@pytest.fixture(scope="module")
def session64(weights_dir: Path, lambda_00: Path) -> TeacherSession:
    """The renderer plugin asked for float64: every weight, input and operation in float64."""
    return open_renderer("teacher", Character.from_image(lambda_00 / "character.png"), device="cpu",
                         weights=weights_dir, dtype="float64")


@pytest.mark.slow
def test_float64_end_to_end_matches_the_float64_golden(session64: TeacherSession, poses: np.ndarray,
                                                       golden: dict[int, dict[str, Any]]) -> None:
    """Exact conformance of the whole pipeline at 2 threads (pose 0 runs at 1 thread through the CLI below).
    Measured: final_image within 1.5e-7 × std, face_morphed_full within 1.3e-10 × std at 1 and 2 threads."""
    with torch_threads(2):
        out = session64.outputs(poses[5])
    assert len(out.to_list()) == golden[5]["num_outputs"] == 33
    assert all(t.dtype == torch.float64 for t in out.to_list())
    assert_matches_golden(out.face_morphed_full, golden[5]["face_morphed_full"], 1e-6, "pose 5 face_morphed_full")
    assert_matches_golden(out.final_image, golden[5]["final_image"], 1e-6, "pose 5 final_image")


@pytest.mark.slow
def test_cli_float64_raw_output_matches_the_float64_golden(tmp_path: Path, lambda_00: Path, weights_dir: Path,
                                                           golden: dict[int, dict[str, Any]]) -> None:
    """`tha4 render IMAGE --renderer teacher --dtype float64 -o out.npy` in the rest pose (= poses.npy row 0),
    at 1 thread: a float64 .npy within 1e-6 × std of the golden final image."""
    args = ["render", str(lambda_00 / "character.png"), "--renderer", "teacher", "--weights", str(weights_dir),
            "--device", "cpu", "--dtype", "float64", "-o", str(tmp_path / "rest.npy")]
    with torch_threads(1):
        result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    got = np.load(tmp_path / "rest.npy")
    assert got.dtype == np.float64
    assert_matches_golden(torch.from_numpy(got)[None], golden[0]["final_image"], 1e-6, "pose 0 final_image")


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("row", [0, 5])
def test_float64_face_pipeline_matches_the_float64_golden(session64: TeacherSession, poses: np.ndarray,
                                                          golden: dict[int, dict[str, Any]], row: int,
                                                          threads: int) -> None:
    """Steps 1–4 (eyebrows and face) of the float64 pipeline alone: face_morphed_full, both poses, 1 and 2 threads."""
    pose = torch.from_numpy(poses[[row]]).double()
    with torch_threads(threads), torch.inference_mode():
        face = session64.poser.morph_face(session64.image, pose, session64.decomposition)
    face_morphed_full = face.face_morphed_full
    assert face_morphed_full.dtype == torch.float64
    assert_matches_golden(face_morphed_full, golden[row]["face_morphed_full"], 1e-6,
                          f"pose {row} face_morphed_full ({threads} threads)")


@pytest.mark.parametrize("row", [0, 5])
def test_float32_end_to_end_agrees_with_the_float64_golden(outputs: dict[int, TeacherOutputs],
                                                           golden: dict[int, dict[str, Any]], row: int) -> None:
    """float32, on any CPU. With deterministic random weights the chained warps make float32 chaotic: single
    pixels of final_image differ from float64 by up to 2.5 × std (measured; another CPU's float32 differs as
    much from this one's), so only its statistics are compared (measured within 3.2e-4 × std). The face
    pipeline is not chaotic: face_morphed_full within 1.6e-2 × std (measured, 1 and 2 threads)."""
    out = outputs[row]
    assert out.final_image.dtype == torch.float32
    assert_matches_golden(out.face_morphed_full, golden[row]["face_morphed_full"], 1e-1,
                          f"pose {row} float32 face_morphed_full")
    assert_matches_golden(out.final_image, golden[row]["final_image"], 1e-2, f"pose {row} float32 final_image",
                          stats=("mean", "std", "abs_mean"), samples=False)


def test_outputs_are_named_in_official_order(session: TeacherSession, outputs: dict[int, TeacherOutputs]) -> None:
    out = outputs[5]
    shapes = {name: tuple(t.shape[1:]) for name, t in zip(out.__dataclass_fields__, out.to_list())}
    assert TeacherOutputs.index("final_image") == 0 and TeacherOutputs.index("face_morphed_full") == 5
    assert TeacherOutputs.index("face_crop_image") == 11
    assert shapes["body_grid_change"] == (2, 512, 512) and shapes["body_alpha"] == (1, 512, 512)
    assert shapes["half_body_image"] == (4, 256, 256) and shapes["face_crop_image"] == (4, 192, 192)
    assert shapes["eyebrow_image_no_combine_alpha"] == (4, 128, 128)
    # the face crop is pasted back unchanged into the full image; outside it the input image is untouched
    assert torch.equal(out.face_morphed_full[:, :, 32:224, 160:352], out.face_crop_image)
    outside = out.face_morphed_full.clone()
    outside[:, :, 32:224, 160:352] = session.image[:, :, 32:224, 160:352]
    assert torch.equal(outside, session.image)
    # the body outputs recombine into the final image
    blend = out.body_direct * out.body_alpha + out.body_warped * (1 - out.body_alpha)
    assert torch.equal(blend, out.final_image)


@pytest.mark.slow
def test_renders_frames_for_a_batch_of_poses(session: TeacherSession, poses: np.ndarray,
                                             outputs: dict[int, TeacherOutputs]) -> None:
    assert isinstance(session, TeacherSession) and session.image.shape == (1, 4, 512, 512)
    assert len(session.decomposition) == 6 and session.decomposition[0].shape == (1, 4, 128, 128)
    frames = session.render(poses[[0, 5]])
    assert [type(f) for f in frames] == [Frame, Frame]
    assert frames[0].rgba.shape == (512, 512, 4) and frames[0].seq + 1 == frames[1].seq
    assert frames[0].character == "character"
    # one image in a batch of poses renders what single poses render (up to float noise of the chained warps)
    for frame, row in zip(frames, (0, 5)):
        single = tensor_to_rgba8(outputs[row].final_image)[0].numpy().astype(np.int16)
        assert np.abs(single - frame.rgba.astype(np.int16)).mean() < 0.5
    assert np.abs(frames[0].rgba.astype(np.int16) - frames[1].rgba.astype(np.int16)).mean() > 5


def test_missing_weights_say_what_to_do(tmp_path: Path, lambda_00: Path) -> None:
    renderer = TeacherRenderer(device="cpu")  # default: the (empty) cache folder under THA4_HOME
    assert renderer.weights == Path(os.environ["THA4_HOME"]) / "models" / "teacher"
    with pytest.raises(TeacherWeightsMissing, match=r"`tha4 models fetch teacher --trust-unpinned`.*weights=DIR"):
        renderer.open(Character.from_image(lambda_00 / "character.png"))
    result = CliRunner().invoke(main, ["render", str(lambda_00 / "character.png"), "--renderer", "teacher",
                                       "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 1 and not (tmp_path / "out.png").exists()
    assert "Run `tha4 models fetch teacher --trust-unpinned`" in result.output and "--weights DIR" in result.output


@pytest.mark.slow
def test_cli_renders_raw_output(tmp_path: Path, lambda_00: Path, weights_dir: Path,
                                outputs: dict[int, TeacherOutputs]) -> None:
    """`tha4 render IMAGE --renderer teacher --weights DIR -o out.npy` in the rest pose (= poses.npy row 0)."""
    result = CliRunner().invoke(main, ["render", str(lambda_00 / "character.png"), "--renderer", "teacher",
                                       "--weights", str(weights_dir), "--device", "cpu", "-o", str(tmp_path / "r.npy")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    got = np.load(tmp_path / "r.npy")
    want = outputs[0].final_image[0].numpy()
    assert got.dtype == np.float32 and got.shape == (4, 512, 512)
    assert np.abs(got - want).max() <= 3e-2 * want.std()


def test_fetch_needs_explicit_trust_then_the_renderer_finds_the_files(tmp_path: Path, http_server: Any) -> None:
    """The teacher manifest (archive + five members, no published pins) through the hub, from a local mirror."""
    bundle = hub.bundle("teacher", "model")
    assert bundle.license == "CC-BY-NC-4.0" and bundle.files[0].sha256 is None
    assert sorted(bundle.files[0].outputs) == sorted(f"{n}.pt" for n in NETWORKS)
    served = tmp_path / "mirror" / "teacher"
    served.mkdir(parents=True)
    with zipfile.ZipFile(served / "tha4-models.zip", "w") as zf:
        for member in bundle.files[0].extract:
            zf.writestr(member.member, f"stand-in for {member.name}")
    url = http_server(tmp_path / "mirror")
    with pytest.raises(hub.FetchError, match="no published SHA-256.*trust_unpinned=True"):
        hub.fetch(bundle, mirror=url, progress=False)
    assert not (bundle.target / "upscaler.pt").exists()
    target = hub.fetch(bundle, mirror=url, progress=False, trust_unpinned=True)
    assert set(hub.read_pins(target)) == set(bundle.files[0].outputs)
    renderer = TeacherRenderer(device="cpu")
    assert renderer.weights == target
    with pytest.raises(WeightFileError, match=r"eyebrow_decomposer\.pt: not a readable PyTorch weight file"):
        renderer.poser  # found, read and refused: these stand-ins are not weights


def test_one_missing_file_is_named(tmp_path: Path, weights_dir: Path) -> None:
    folder = _folder_with(tmp_path / "w", weights_dir, {"face_morpher": None})
    with pytest.raises(WeightFileError, match="face_morpher.pt: weight file not found"):
        TeacherPoser.from_folder(folder)
    with pytest.raises(TeacherWeightsMissing, match=r"missing face_morpher\.pt\)"):
        TeacherRenderer(device="cpu", weights=folder).poser


def test_corrupt_file_is_named(tmp_path: Path, weights_dir: Path) -> None:
    truncated = (weights_dir / "eyebrow_decomposer.pt").read_bytes()[:100_000]
    folder = _folder_with(tmp_path / "w", weights_dir, {"eyebrow_decomposer": truncated})
    with pytest.raises(WeightFileError, match=r"eyebrow_decomposer\.pt: not a readable PyTorch weight file"):
        TeacherPoser.from_folder(folder)


def test_mismatched_file_names_file_and_first_bad_key(tmp_path: Path, weights_dir: Path) -> None:
    folder = _folder_with(tmp_path / "swapped", weights_dir, {"body_morpher": weights_dir / "upscaler.pt"})
    with pytest.raises(WeightFileError, match=r"body_morpher\.pt: key 'body\.time_embed\.1\.weight' has shape "
                                              r"\[256, 32\], expected \[256, 64\]"):
        TeacherPoser.from_folder(folder)
    sd = torch.load(weights_dir / "face_morpher.pt", weights_only=True)
    del sd["eye_alpha.0.bias"]
    torch.save(sd, tmp_path / "face_morpher_incomplete.pt")
    incomplete = {"face_morpher": tmp_path / "face_morpher_incomplete.pt"}
    folder = _folder_with(tmp_path / "incomplete", weights_dir, incomplete)
    with pytest.raises(WeightFileError, match=r"face_morpher\.pt: missing key 'eye_alpha\.0\.bias'"):
        TeacherPoser.from_folder(folder)


def test_nothing_is_loaded_unless_every_file_is_good(tmp_path: Path, weights_dir: Path) -> None:
    with torch.device("meta"):
        poser = TeacherPoser()
    poser.to_empty(device="cpu").requires_grad_(False)
    for p in poser.parameters():
        p.zero_()
    folder = _folder_with(tmp_path / "w", weights_dir, {"upscaler": b"not a weight file"})
    pairs = [(getattr(poser, name), path) for name, path in weight_files(folder).items()]
    with pytest.raises(WeightFileError, match="upscaler.pt"):
        load_weights_together(pairs)
    assert all(not p.any() for p in poser.parameters())  # the four good files were read but not loaded


class _RunsCode:
    """Unpickling this calls ``Path.touch`` on the marker: a stand-in for arbitrary code in a weight file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_pickle_that_carries_code_is_refused(tmp_path: Path, weights_dir: Path) -> None:
    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.pt"
    sd = {"body.downsample_blocks.0.0.weight": torch.zeros(1), "payload": _RunsCode(marker)}
    torch.save(sd, evil)
    with open(evil, "rb") as f:  # the file really does carry the call
        assert b"touch" in f.read()
    folder = _folder_with(tmp_path / "w", weights_dir, {"eyebrow_decomposer": evil})
    with pytest.raises(WeightFileError, match=r"eyebrow_decomposer\.pt: refused to load"):
        TeacherPoser.from_folder(folder)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(evil, weights_only=True)


@pytest.mark.slow
def test_distillation_teacher_gives_the_pipeline_outputs(weights_dir: Path, lambda_00: Path, poses: np.ndarray,
                                                         outputs: dict[int, TeacherOutputs],
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``--teacher tha4`` for distillation: the fetched weights, face crop and body targets of the same pipeline."""
    from tha4_sdk.distill.teacher import open_teacher
    from tha4_sdk.models.student.poser import crop_face

    monkeypatch.setenv("THA4_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    os.symlink(weights_dir, tmp_path / "models" / "teacher")
    teacher = open_teacher("tha4", Character.from_image(lambda_00 / "character.png").image_tensor(),
                           torch.device("cpu"))
    pose = torch.from_numpy(poses[[5]])
    assert torch.equal(teacher.face_targets(pose), crop_face(outputs[5].face_morphed_full))
    body = teacher.body_targets(pose)
    want = outputs[5]
    for got, expected in ((body.posed, want.final_image), (body.alpha, want.body_alpha),
                          (body.direct, want.body_direct), (body.warped, want.body_warped),
                          (body.grid_change, want.body_grid_change), (body.face_morphed, want.face_morphed_full)):
        assert torch.equal(got, expected)
