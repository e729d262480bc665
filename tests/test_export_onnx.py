"""`tha4 export onnx` and the onnx renderer: the exported graphs on real onnxruntime against the exact student."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from tha4_sdk.character import Character, CharacterError, load_character, load_image_rgba
from tha4_sdk.cli import main
from tha4_sdk.export.onnx import export_onnx
from tha4_sdk.image import rgba8_to_tensor, srgb_to_linear, tensor_to_rgba8
from tha4_sdk.metrics import psnr
from tha4_sdk.models.student.onnx_graph import OPSET, OnnxGraphError, build_graph
from tha4_sdk.pose import PARAMETER_NAMES
from tha4_sdk.presets import PRESETS
from tha4_sdk.render.base import open_renderer
from tha4_sdk.render.onnx import OnnxSession, providers_for
from tha4_sdk.render.student import StudentSession

GOAL_DB = 60.0
SAMPLE_ATTRIBUTION = "Character by garun, commissioned by Pramook Khungurn (THA4 demo sample)"
SIZE_GOAL = 3_300_000  # bytes: 2.9 MB of weights and image, and the fast graph's 11 000 nodes (its bands)


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=["lambda_00", "lambda_01"])
def conformance(request: pytest.FixtureRequest, reference: Path):
    """A character, every conformance pose, and the exact student's output 0 for each."""
    character = load_character(reference / "characters" / request.param)
    poses = np.load(reference / "conformance" / "poses.npy").astype(np.float32)
    with StudentSession(character, torch.device("cpu"), torch.float32) as exact:  # 4 at a time: memory
        expected = np.concatenate([exact.render_raw(torch.from_numpy(poses[i:i + 4])).numpy()
                                   for i in range(0, len(poses), 4)])
    return character, poses, expected


def assert_frames_close(got: np.ndarray, want: np.ndarray) -> None:
    """RGBA8 frames: nearly every byte identical; the rest are colours of nearly transparent pixels, where
    un-premultiplying divides a float rounding difference by a tiny alpha (the fast path behaves the same; its
    benchmark measures these fractions; conformance pose 7 of lambda_00 has 99.87% identical)."""
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert (diff == 0).mean() >= 0.998 and (diff <= 1).mean() >= 0.9995, ((diff == 0).mean(), (diff <= 1).mean())


def assert_psnr(expected: np.ndarray, got: np.ndarray, label: str) -> list[float]:
    values = [psnr(e, g, data_range=2.0) for e, g in zip(expected, got)]
    assert min(values) >= GOAL_DB, f"{label}: {[round(v, 1) for v in values]}"
    return values


@pytest.mark.slow
@pytest.mark.parametrize("graph", ["fast", "exact"])
def test_graph_matches_exact_student_on_every_conformance_pose_batched_and_unbatched(conformance, graph: str) -> None:
    character, poses, expected = conformance
    s = session(build_graph(character, graph, rgba8=False))
    # batches of 4 (each frame holds ~0.4 GB of activations in the exact graph: 12 at once is 5 GB)
    batched = np.concatenate([s.run(["image"], {"pose": poses[i:i + 4]})[0] for i in range(0, len(poses), 4)])
    assert batched.shape == expected.shape and batched.dtype == np.float32
    values = assert_psnr(expected, batched, f"{character.name} {graph} batched")
    unbatched = np.concatenate([s.run(["image"], {"pose": poses[i:i + 1]})[0] for i in range(len(poses))])
    assert_psnr(expected, unbatched, f"{character.name} {graph} unbatched")
    print(f"{character.name} {graph}: batched min {min(values):.1f} dB, "
          f"unbatched min {min(psnr(e, g, data_range=2.0) for e, g in zip(expected, unbatched)):.1f} dB")


def test_graph_interface_size_and_compact_image(lambda_00: Path, tmp_path: Path) -> None:
    character = load_character(lambda_00)
    files = export_onnx(character, tmp_path, graphs=("fast", "exact"))
    assert [f.name for f in files] == ["character.onnx", "character_exact.onnx", "character.json"]
    for path in files[:2]:
        assert path.stat().st_size <= SIZE_GOAL, path
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == OPSET >= 17
        (pose,) = model.graph.input
        dims = [d.dim_param or d.dim_value for d in pose.type.tensor_type.shape.dim]
        assert pose.name == "pose" and dims == ["N", 45] and pose.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        outputs = {o.name: ([d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim],
                            o.type.tensor_type.elem_type) for o in model.graph.output}
        assert outputs == {"image": (["N", 4, 512, 512], onnx.TensorProto.FLOAT),
                           "rgba8": (["N", 512, 512, 4], onnx.TensorProto.UINT8)}
        images = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.UINT8]
        assert [list(i.dims) for i in images] == [[512, 512, 4]]  # the character image, as its RGBA8 pixels
        assert onnx.numpy_helper.to_array(images[0]).tobytes() == load_image_rgba(character.image_path).tobytes()
    # the graph's sRGB → linear lookup table reproduces the official loader bit for bit
    rgba = load_image_rgba(character.image_path)
    lut = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    hwc = np.concatenate([lut[rgba[..., :3]] * alpha, alpha], axis=-1) * 2.0 - 1.0
    assert np.array_equal(hwc.transpose(2, 0, 1), rgba8_to_tensor(rgba).numpy())
    info = json.loads(files[2].read_text())
    assert [p["name"] for p in info["parameters"]] == list(PARAMETER_NAMES)
    assert sorted(n for g in info["groups"] for n in g["parameters"]) == sorted(PARAMETER_NAMES)
    assert [p["name"] for p in info["presets"]] == list(PRESETS)
    assert info["graphs"]["fast"]["file"] == "character.onnx" and info["exported_by"].startswith("tha4-sdk ")
    # the official sample (a bare folder): its character credit from its image's manifest, THA4's model credit
    assert (info["license"], info["attribution"]) == ("CC-BY-NC-4.0", SAMPLE_ATTRIBUTION)
    assert [(c["work"], c["license"]) for c in info["credits"]] == [
        ("Character lambda_00", "CC-BY-NC-4.0"),
        ("Model (onnx renderer; the official lambda_00 student, distilled from 'teacher')", "CC-BY-NC-4.0")]
    assert info["credits"][1]["attribution"] == "THA4 models by Pramook Khungurn (talking-head-anime-4-demo)"
    props = {p.key: p.value for p in onnx.load(str(files[0])).metadata_props}
    assert props["tha4.credits"] == "\n".join(c["line"] for c in info["credits"])


def test_a_tha3_distilled_student_exports_tha3s_credit(tha3_distilled: Path, tmp_path: Path) -> None:
    files = export_onnx(load_character(tha3_distilled), tmp_path)
    info = json.loads(files[-1].read_text())
    (character, model) = info["credits"]
    assert (character["license"], character["attribution"]) == ("CC-BY-NC-4.0", SAMPLE_ATTRIBUTION)
    assert model == {"work": "Model (onnx renderer; student distilled from 'tha3', as its character.yaml records)",
                     "attribution": "THA3 models by Pramook Khungurn (talking-head-anime-3-demo)",
                     "license": "CC-BY-4.0", "license_url": "https://creativecommons.org/licenses/by/4.0/",
                     "line": "Model (onnx renderer; student distilled from 'tha3', as its character.yaml records): "
                             "THA3 models by Pramook Khungurn (talking-head-anime-3-demo). Licence: CC-BY-4.0 "
                             "(https://creativecommons.org/licenses/by/4.0/)"}
    props = {p.key: p.value for p in onnx.load(str(files[0])).metadata_props}
    assert "CC-BY-4.0" in props["tha4.credits"] and "THA4 models" not in props["tha4.credits"]


def test_dynamic_batch_and_rgba8_output(conformance) -> None:
    character, poses, expected = conformance
    s = session(build_graph(character, "fast"))
    image, rgba8 = s.run(["image", "rgba8"], {"pose": poses[[0, 5, 9]]})
    assert rgba8.shape == (3, 512, 512, 4) and rgba8.dtype == np.uint8
    assert_psnr(expected[[0, 5, 9]], image, "rows 0, 5, 9")
    assert_frames_close(rgba8, tensor_to_rgba8(torch.from_numpy(image)).numpy())  # the same conversion


def test_onnx_renderer_plugin_and_cli(lambda_00: Path, tmp_path: Path, reference: Path) -> None:
    character = load_character(lambda_00)
    poses = np.load(reference / "conformance" / "poses.npy")[[3]]
    with open_renderer("onnx", character, device="cpu") as s:
        assert isinstance(s, OnnxSession) and s.providers == ["CPUExecutionProvider"]
        frame = s.render(poses)[0]
    with StudentSession(character, torch.device("cpu"), torch.float32) as exact:
        want = exact.render(poses)[0]
    assert_frames_close(frame.rgba, want.rgba)
    out = tmp_path / "model"
    result = CliRunner().invoke(main, ["export", "onnx", str(lambda_00), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "character.onnx" in result.output and (out / "character.json").is_file()
    png = tmp_path / "onnx.png"
    result = CliRunner().invoke(main, ["render", str(lambda_00), "--renderer", "onnx", "--pose", "mouth_aaa=1",
                                       "-o", str(png)], catch_exceptions=False)
    assert result.exit_code == 0 and png.is_file(), result.output
    with open_renderer("onnx", character, model=out / "character.onnx") as s:  # a written file, read back
        assert_frames_close(s.render(poses)[0].rgba, want.rgba)


def test_errors_say_what_to_do(tmp_path: Path, lambda_00: Path) -> None:
    result = CliRunner().invoke(main, ["export", "onnx", str(lambda_00 / "character.png"), "-o", str(tmp_path)])
    assert result.exit_code == 1 and "no student weights" in result.output
    with pytest.raises(CharacterError, match="no student weights.*tha4 distill"):
        build_graph(Character.from_image(lambda_00 / "character.png"))
    with pytest.raises(OnnxGraphError, match="unknown graph 'fastest'; choose one of fast, unbanded, fp16, exact"):
        build_graph(load_character(lambda_00), "fastest")
    with pytest.raises(CharacterError, match="tha4 export onnx"):
        open_renderer("onnx", load_character(lambda_00), model=tmp_path / "missing.onnx")
    assert providers_for("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert providers_for("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    with pytest.raises(ValueError, match="onnxruntime-gpu"):
        providers_for("cuda", ["CPUExecutionProvider"])


HARNESS = """
public static class Harness
{
    public static int Main(string[] args)
    {
        var names = System.IO.File.ReadAllLines(args[0]);
        var pose = Tha4Pose.FromValues(names, "mouth_aaa", 1.0, "head_x", -0.5);
        System.Console.WriteLine(string.Join(" ", pose));
        var bytes = System.IO.File.ReadAllBytes(args[1]);
        var image = new float[bytes.Length / 4];
        System.Buffer.BlockCopy(bytes, 0, image, 0, bytes.Length);
        System.IO.File.WriteAllBytes(args[2], Tha4Image.ToRgba8(image, 0, 512, false));
        System.IO.File.WriteAllBytes(args[3], Tha4Image.ToRgba8(image, 0, 512, true));
        return 0;
    }
}
"""


def test_docs_csharp_helpers_compile_and_match_the_graph_rgba8(lambda_00: Path, tmp_path: Path) -> None:
    """The plain C# of docs/onnx.md, built with mcs and run under Mono on onnxruntime's `image` output."""
    import re
    import subprocess

    from tha4_sdk.bench import engine_drivers

    (example,) = re.findall(r"```csharp\n(.*?)```", (Path(__file__).parents[1] / "docs" / "onnx.md").read_text(), re.S)
    source = tmp_path / "Tha4Export.cs"
    source.write_text(example + HARNESS)
    exe = tmp_path / "harness.exe"
    built = subprocess.run([engine_drivers.tool("mcs"), "-warnaserror+", f"-out:{exe}", str(source)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    character = load_character(lambda_00)
    pose = np.zeros((1, 45), np.float32)
    pose[0, PARAMETER_NAMES.index("mouth_aaa")], pose[0, PARAMETER_NAMES.index("head_x")] = 1.0, -0.5
    image, rgba8 = session(build_graph(character, "fast")).run(["image", "rgba8"], {"pose": pose})
    (tmp_path / "names.txt").write_text("\n".join(PARAMETER_NAMES))
    (tmp_path / "image.f32").write_bytes(image.astype("<f4").tobytes())
    ran = subprocess.run([engine_drivers.tool("mono"), str(exe), *(str(tmp_path / n) for n in (
        "names.txt", "image.f32", "top.rgba", "bottom.rgba"))], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert np.array_equal(np.array(ran.stdout.split(), dtype=np.float32), pose[0])
    top = np.frombuffer((tmp_path / "top.rgba").read_bytes(), np.uint8).reshape(512, 512, 4)
    bottom = np.frombuffer((tmp_path / "bottom.rgba").read_bytes(), np.uint8).reshape(512, 512, 4)
    assert_frames_close(top, rgba8[0])
    assert np.array_equal(bottom[::-1], top)


@pytest.mark.slow
def test_daemon_renders_with_the_onnx_renderer(lambda_00: Path, lambda_01: Path, reference: Path,
                                               tmp_path: Path) -> None:
    from daemon_harness import DaemonProcess, make_store

    from tha4_sdk.pose import Pose

    pose = Pose(np.load(reference / "conformance" / "poses.npy")[7])
    with StudentSession(load_character(lambda_00), torch.device("cpu"), torch.float32) as exact:
        want = exact.render(pose)[0].rgba
    with DaemonProcess(make_store(tmp_path / "store", lambda_00, lambda_01), tmp_path / "state") as daemon:
        with daemon.client(timeout=300.0) as client:
            character = client.load("lambda_00", renderer="onnx", device="cpu")
            assert character.info["renderer"] == "onnx"
            character.set_pose(reset=True, **pose.to_dict())
            assert_frames_close(character.render().to_numpy(), want)
