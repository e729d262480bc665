"""The exported graphs' own math on real onnxruntime: the polynomial sine within its bound on the largest
arguments the fast graph meets, every graph against the exact student on poses across the whole parameter range
(the iris and head limits included), and every graph's operators against the lists Unity Sentis and
onnxruntime-web's WebGPU provider publish (tests/data/runtime_operators.yaml)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import yaml

from tha4_sdk.character import load_character
from tha4_sdk.metrics import psnr
from tha4_sdk.models.student.onnx_graph import GRAPHS, SINE_ERROR_BOUND, _Builder, build_graph
from tha4_sdk.pose import HIGHS, LOWS, PARAMETER_NAMES, random_poses
from tha4_sdk.render.student import StudentSession

OPERATORS = yaml.safe_load((Path(__file__).parent / "data" / "runtime_operators.yaml").read_text(encoding="utf-8"))
#: lowest PSNR (dB, data range 2) of each graph against the exact PyTorch student on any limit pose
MIN_PSNR = {"fast": 90.0, "unbanded": 90.0, "fp16": 45.0, "exact": 90.0}


def limit_poses() -> np.ndarray:
    """Every parameter at its low, then at its high; the iris and head rotations at each of their corners with
    every morph at 1, the neck and body turned too; two seeded random poses."""
    index = {name: PARAMETER_NAMES.index(name) for name in
             ("iris_rotation_x", "iris_rotation_y", "head_x", "head_y", "neck_z", "body_y", "body_z")}
    poses = [LOWS.copy(), HIGHS.copy()]
    for sx, sy in itertools.product((-1.0, 1.0), repeat=2):
        pose = HIGHS.copy()
        for name, value in (("iris_rotation_x", sx), ("iris_rotation_y", sy), ("head_x", sx), ("head_y", sy),
                            ("neck_z", sx * sy), ("body_y", -sx), ("body_z", -sy)):
            pose[index[name]] = value
        poses.append(pose)
    return np.concatenate([np.stack(poses), random_poses(2, seed=26)]).astype(np.float32)


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def sine_session() -> ort.InferenceSession:
    """`_Builder.sine` alone: u [n] → sine [n]."""
    g = _Builder()
    g.sine("u")
    g.nodes[-1].output[0] = "sine"
    h = onnx.helper
    graph = h.make_graph(g.nodes, "sine", [h.make_tensor_value_info("u", onnx.TensorProto.FLOAT, ["n"])],
                         [h.make_tensor_value_info("sine", onnx.TensorProto.FLOAT, ["n"])], g.initializers)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    return session(model)


def sine_arguments(model: onnx.ModelProto) -> list[str]:
    """The fast graph's sine arguments u: the inputs of the Floors that start a sine (not the warp's)."""
    producer = {out: node.op_type for node in model.graph.node for out in node.output}
    return [n.input[0] for n in model.graph.node if n.op_type == "Floor" and producer.get(n.input[0]) != "Clip"]


def test_sine_stays_within_its_bound_on_the_largest_arguments_the_fast_graph_meets(lambda_00: Path) -> None:
    model = build_graph(load_character(lambda_00), "fast", rgba8=False)
    arguments = sine_arguments(model)
    assert len(arguments) > 100  # every sine layer of every band
    model.graph.output.extend(onnx.helper.make_tensor_value_info(a, onnx.TensorProto.FLOAT, None) for a in arguments)
    s = session(model)
    largest, kept = 0.0, []
    for pose in limit_poses():
        for u in s.run(arguments, {"pose": pose[None]}):
            u = u.ravel()
            top = np.abs(u).max()
            largest = max(largest, float(top))
            kept += [u[np.abs(u) >= 0.5 * top], u[::997]]  # each layer's largest arguments and a spread of the rest
    u = np.concatenate(kept + [np.linspace(-largest, largest, 1 << 22, dtype=np.float32)])
    got = sine_session().run(["sine"], {"u": u})[0].astype(np.float64)
    error = np.abs(got - np.sin(2.0 * np.pi * (u.astype(np.float64) - 0.25)))
    print(f"largest sine argument {largest:.1f} turns ({2 * np.pi * largest:.0f} rad); "
          f"largest error {error.max():.2e} (bound {SINE_ERROR_BOUND:.1e})")
    assert 1.0 < largest < 2.0 ** 22  # the graph's sines do see several turns; the bound holds below 2²²
    assert error.max() <= SINE_ERROR_BOUND


@pytest.fixture(scope="module", params=["lambda_00", "lambda_01"])
def limits(request: pytest.FixtureRequest, reference: Path):
    """A character, the limit poses, and the exact student's output 0 for each."""
    character = load_character(reference / "characters" / request.param)
    poses = limit_poses()
    with StudentSession(character, torch.device("cpu"), torch.float32) as exact:
        expected = np.concatenate([exact.render_raw(torch.from_numpy(poses[i:i + 4])).numpy()
                                   for i in range(0, len(poses), 4)])
    return character, poses, expected


@pytest.mark.slow
@pytest.mark.parametrize("graph", GRAPHS)
def test_every_graph_matches_the_exact_student_across_the_parameter_range(limits, graph: str) -> None:
    character, poses, expected = limits
    s = session(build_graph(character, graph, rgba8=False))
    got = np.concatenate([s.run(["image"], {"pose": poses[i:i + 1]})[0] for i in range(len(poses))])
    values = [psnr(e, o, data_range=2.0) for e, o in zip(expected, got)]
    print(f"{character.name} {graph}: PSNR min {min(values):.1f} dB, per pose {[round(v, 1) for v in values]}")
    assert min(values) >= MIN_PSNR[graph], values


@pytest.mark.parametrize("runtime", sorted(OPERATORS))
def test_every_graph_uses_only_operators_the_runtime_publishes(lambda_00: Path, runtime: str) -> None:
    published = OPERATORS[runtime]
    assert published["source"].startswith("https://") and published["read"]
    character = load_character(lambda_00)
    for graph in GRAPHS:
        model = build_graph(character, graph)
        assert {o.domain for o in model.opset_import} == {""}  # the standard domain only
        used = {node.op_type for node in model.graph.node}
        assert used - set(published["operators"]) == set(), f"{graph} graph: not in {published['runtime']}'s list"
