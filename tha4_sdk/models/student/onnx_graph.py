"""The student as one self-contained ONNX graph: ``pose`` [N, 45] → ``image`` [N, 4, 512, 512].

Two graphs compute the same frames (docs/onnx.md):

* ``fast``: the student's folded levels (`tha4_sdk.models.student.folded`): pose terms folded into one bias
  per frame, position terms as a row plus a column vector, the first layer of body levels 1 and 2 applied
  before the 2× upsample, ω0 folded into the weights, pixels × channels (NHWC) matrix products.
* ``exact``: the official networks written out as they are: position grid and pose image concatenated,
  1×1 convolutions, sin(30·x), bilinear resize, NCHW.

Both paste the face patch, warp the image (GridSample, bilinear, border padding) and blend like the official
student. The character image is stored as its RGBA8 pixels (1 MiB) and turned into the network's linear
premultiplied [-1, 1] tensor in the graph, bit-identically to `tha4_sdk.image.rgba8_to_tensor` (a 256-entry
lookup table for sRGB → linear). A second output ``rgba8`` (uint8 [N, 512, 512, 4], straight-alpha sRGB) is
`tha4_sdk.image.tensor_to_rgba8` in the graph, ready for a texture upload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch

import tha4_sdk
from tha4_sdk.character import Character, CharacterError, load_image_rgba
from tha4_sdk.errors import Tha4Error
from tha4_sdk.image import IMAGE_SIZE, srgb_to_linear
from tha4_sdk.models.student.body_morpher import LEVELS, POSE_SIZE
from tha4_sdk.models.student.face_morpher import FACE_POSE_SIZE, FACE_SIZE
from tha4_sdk.models.student.folded import Level, Terms, fold_levels, pixel_coords
from tha4_sdk.models.student.poser import FACE_LEFT, FACE_TOP, StudentPoser
from tha4_sdk.models.student.siren import OMEGA_0

#: ONNX opset of the graphs (GridSample needs ≥ 16)
OPSET = 17
#: the graphs there are; the first is the default
GRAPHS = ("fast", "exact")


class OnnxGraphError(Tha4Error):
    """A graph that cannot be built (the onnx package missing, an unknown graph name)."""


def _onnx():  # noqa: ANN202
    try:
        import onnx
    except ImportError:
        raise OnnxGraphError("ONNX graphs need the onnx package: pip install 'tha4-sdk[onnx]'") from None
    return onnx


def _array(t: torch.Tensor | np.ndarray) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


@dataclass
class _Builder:
    """Collects nodes and initializers; every ``op`` returns its (fresh) output name."""

    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    count: int = 0

    def _name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, value: Any, dtype: Any = np.float32, stem: str = "c") -> str:
        onnx = _onnx()
        name = self._name(stem)
        self.initializers.append(onnx.numpy_helper.from_array(np.asarray(_array(value) if isinstance(
            value, torch.Tensor) else value, dtype=dtype), name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64, "i")

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attrs: Any) -> str:
        onnx = _onnx()
        out = output or self._name(op_type.lower())
        self.nodes.append(onnx.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def sin_layer(self, x: str, w: str, b: str) -> str:
        """sin(x @ w + b) over the last axis."""
        return self.op("Sin", self.op("Add", self.op("MatMul", x, w), b))


def _image(g: _Builder, rgba: np.ndarray) -> str:
    """The 1×4×512×512 network input from the stored RGBA8 pixels (the official loader's arithmetic)."""
    pixels = g.const(rgba, np.uint8, "character_rgba8")
    lut = g.const(srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0), stem="srgb_to_linear")
    rgb = g.op("Gather", lut, g.op("Cast", g.op("Slice", pixels, g.ints(0), g.ints(3), g.ints(2)), to=6))
    alpha = g.op("Div", g.op("Cast", g.op("Slice", pixels, g.ints(3), g.ints(4), g.ints(2)), to=1),
                 g.const(255.0))
    hwc = g.op("Concat", g.op("Mul", rgb, alpha), alpha, axis=2)
    hwc = g.op("Sub", g.op("Mul", hwc, g.const(2.0)), g.const(1.0))
    return g.op("Unsqueeze", g.op("Transpose", hwc, perm=[2, 0, 1]), g.ints(0))


def _paste(g: _Builder, image: str, face: str) -> str:
    """``image`` with the N×4×128×128 ``face`` written over the face box (a plain overwrite)."""
    bottom, right = IMAGE_SIZE - FACE_TOP - FACE_SIZE, IMAGE_SIZE - FACE_LEFT - FACE_SIZE
    pads = g.ints(0, 0, FACE_TOP, FACE_LEFT, 0, 0, bottom, right)
    ones = g.op("ConstantOfShape", g.ints(1, 1, FACE_SIZE, FACE_SIZE),
                value=_onnx().helper.make_tensor("one", 1, [1], [1.0]))
    mask = g.op("Cast", g.op("Pad", ones, pads), to=9)
    return g.op("Where", mask, g.op("Pad", face, pads), image)


def _base_grid(g: _Builder) -> str:
    """The identity sampling grid 1×512×512×2 (x per column, y per row), built from 2×512 values."""
    x, y = pixel_coords(IMAGE_SIZE)
    s = IMAGE_SIZE
    shape = g.ints(1, s, s, 1)
    return g.op("Concat", g.op("Expand", g.const(x.reshape(1, 1, s, 1)), shape),
                g.op("Expand", g.const(y.reshape(1, s, 1, 1)), shape), axis=3)


def _warp(g: _Builder, image: str, grid_change_nhwc: str) -> str:
    grid = g.op("Add", _base_grid(g), grid_change_nhwc)
    return g.op("GridSample", image, grid, mode="bilinear", padding_mode="border", align_corners=0)


def _rgba8(g: _Builder, nhwc: str) -> str:
    """`tensor_to_rgba8` of an N×H×W×4 tensor: clamp, un-premultiply, linear → sRGB, ×255, round."""
    v = g.op("Clip", g.op("Mul", g.op("Add", nhwc, g.const(1.0)), g.const(0.5)), g.const(0.0), g.const(1.0))
    alpha = g.op("Slice", v, g.ints(3), g.ints(4), g.ints(3))
    keep = g.op("GreaterOrEqual", alpha, g.const(1e-5))
    safe = g.op("Where", keep, alpha, g.const(1.0))
    rgb = g.op("Where", keep, g.op("Div", g.op("Slice", v, g.ints(0), g.ints(3), g.ints(3)), safe), g.const(0.0))
    rgb = g.op("Clip", rgb, g.const(0.0), g.const(1.0))
    curve = g.op("Sub", g.op("Mul", g.const(1.055), g.op("Pow", rgb, g.const(1.0 / 2.4))), g.const(0.055))
    srgb = g.op("Where", g.op("LessOrEqual", rgb, g.const(0.003130804953560372)),
                g.op("Mul", rgb, g.const(12.92)), curve)
    out = g.op("Round", g.op("Mul", g.op("Concat", srgb, alpha, axis=3), g.const(255.0)))
    return g.op("Cast", out, to=2, output="rgba8")


def _position(g: _Builder, terms: Terms, size: int) -> tuple[str, str]:
    """The terms' column (1×S×C) and row (S×1×C) parts, computed in the graph from S + 3·C values exactly as
    `Terms.of` computes them (``x·w_x`` and ``y·w_y + bias``)."""
    x, y = pixel_coords(size)
    w_x, w_y, bias = terms.factors
    col = g.op("Unsqueeze", g.op("Mul", g.const(x[:, None]), g.const(w_x[None])), g.ints(0))
    row = g.op("Unsqueeze", g.op("Add", g.op("Mul", g.const(y[:, None]), g.const(w_y[None])), g.const(bias)),
               g.ints(1))
    return col, row


def _terms(g: _Builder, pose: str, terms: Terms, size: int) -> tuple[str, str]:
    """(N×S×1×C, 1×S×C): the pose term (one bias per frame) plus the per-row part, and the per-column part."""
    col, row = _position(g, terms, size)
    bias = g.op("Unsqueeze", g.op("MatMul", pose, g.const(terms.pose_w)), g.ints(1, 2))
    return g.op("Add", bias, row), col


def _fast_level(g: _Builder, level: Level, pose: str, pre: str) -> str:
    """Sine of ``pre`` (N×S×S×C), the hidden sine layers as 2-D Gemms with their bias, then the output map
    (+ head bias, or + the next level's terms at this resolution); returns N×S×S×out."""
    s = level.size
    x = g.op("Reshape", g.op("Sin", pre), g.ints(-1, level.hidden[0][0].shape[0]))
    for w, b in level.hidden:
        x = g.op("Sin", g.op("Gemm", x, g.const(w), g.const(b)))
    width = level.out_w.shape[1]
    if level.out_b is not None:
        return g.op("Reshape", g.op("Gemm", x, g.const(level.out_w), g.const(level.out_b)), g.ints(-1, s, s, width))
    out = g.op("Reshape", g.op("MatMul", x, g.const(level.out_w)), g.ints(-1, s, s, width))
    rows, cols = _terms(g, pose, level.out_terms, s)
    return g.op("Add", g.op("Add", out, rows), cols)


def _upsampled(g: _Builder, level: Level, feat: str) -> str:
    """2× bilinear upsample (NHWC) of the previous level's output plus the border corrections."""
    up = g.op("Resize", feat, "", g.const([1.0, 2.0, 2.0, 1.0]), mode="linear",
              coordinate_transformation_mode="half_pixel")
    edge_rows, edge_cols = level.edges
    s, c = level.size, edge_rows.shape[1]
    zeros = g.op("ConstantOfShape", g.ints(s - 2, 1, c), value=_onnx().helper.make_tensor("zero", 1, [1], [0.0]))
    rows = g.op("Concat", g.const(edge_rows[0:1, None]), zeros, g.const(edge_rows[1:2, None]), axis=0)
    cols = g.op("Concat", g.const(edge_cols[0:1, None]), zeros, g.const(edge_cols[1:2, None]), axis=0)
    cols = g.op("Reshape", cols, g.ints(1, s, c))
    return g.op("Add", g.op("Add", up, rows), cols)


def _fast_graph(g: _Builder, poser: StudentPoser, pose: str, image: str) -> str:
    """The folded levels; returns the blended image N×512×512×4 (NHWC)."""
    face_level, body = fold_levels(poser)
    face_pose = g.op("Slice", pose, g.ints(0), g.ints(FACE_POSE_SIZE), g.ints(1))

    def first(level: Level, p: str) -> str:
        rows, cols = _terms(g, p, level.terms, level.size)
        return g.op("Add", rows, cols)

    face = g.op("Transpose", _fast_level(g, face_level, face_pose, first(face_level, face_pose)), perm=[0, 3, 1, 2])
    feat = _fast_level(g, body[0], pose, first(body[0], pose))
    for level in body[1:]:
        feat = _fast_level(g, level, pose, _upsampled(g, level, feat))
    pasted = _paste(g, image, face)
    grid_change = g.op("Slice", feat, g.ints(0), g.ints(2), g.ints(3))
    alpha = g.op("Slice", feat, g.ints(2), g.ints(3), g.ints(3))
    color = g.op("Slice", feat, g.ints(3), g.ints(7), g.ints(3))
    warped = g.op("Transpose", _warp(g, pasted, grid_change), perm=[0, 2, 3, 1])
    return g.op("Add", g.op("Mul", g.op("Sub", g.const(1.0), alpha), warped), g.op("Mul", alpha, color))


def _exact_graph(g: _Builder, poser: StudentPoser, pose: str, image: str) -> str:
    """The official networks as written (NCHW); returns the blended image N×4×512×512."""
    batch = g.op("Shape", pose, start=0, end=1)

    def grid(size: int) -> str:
        x, y = pixel_coords(size)
        shape = g.op("Concat", batch, g.ints(1, size, size), axis=0)
        return g.op("Concat", g.op("Expand", g.const(x.reshape(1, 1, 1, size)), shape),
                    g.op("Expand", g.const(y.reshape(1, 1, size, 1)), shape), axis=1)

    def pose_image(p: str, size: int) -> str:
        return g.op("Expand", g.op("Unsqueeze", p, g.ints(2, 3)), g.ints(1, 1, size, size))

    def conv(x: str, layer: torch.nn.Conv2d) -> str:
        return g.op("Conv", x, g.const(layer.weight), g.const(layer.bias), kernel_shape=[1, 1])

    def sine(x: str, layer: torch.nn.Conv2d) -> str:
        return g.op("Sin", g.op("Mul", g.const(OMEGA_0), conv(x, layer)))

    face_pose = g.op("Slice", pose, g.ints(0), g.ints(FACE_POSE_SIZE), g.ints(1))
    x = g.op("Concat", grid(FACE_SIZE), pose_image(face_pose, FACE_SIZE), axis=1)
    siren = poser.face_morpher.siren
    for layer in siren.sine_layers:
        x = sine(x, layer.linear)
    face = conv(x, siren.last_linear)
    body = poser.body_morpher
    feat: str | None = None
    for level, (size, _) in enumerate(LEVELS):
        parts = [grid(size), pose_image(pose, size)]
        if feat is not None:
            parts.insert(0, g.op("Resize", feat, "", g.const([1.0, 1.0, 2.0, 2.0]), mode="linear",
                                 coordinate_transformation_mode="half_pixel"))
        feat = g.op("Concat", *parts, axis=1)
        for layer in body.siren_layers[level]:
            feat = sine(feat, layer.linear)
    if feat is None:
        raise RuntimeError("the body morpher has no levels")
    head = conv(feat, body.last_linear)
    grid_change = g.op("Transpose", g.op("Slice", head, g.ints(0), g.ints(2), g.ints(1)), perm=[0, 2, 3, 1])
    alpha = g.op("Slice", head, g.ints(2), g.ints(3), g.ints(1))
    color = g.op("Slice", head, g.ints(3), g.ints(7), g.ints(1))
    warped = _warp(g, _paste(g, image, face), grid_change)
    return g.op("Add", g.op("Mul", g.op("Sub", g.const(1.0), alpha), warped), g.op("Mul", alpha, color))


def build_graph(character: Character, graph: str = GRAPHS[0], *, rgba8: bool = True,
                properties: Mapping[str, str] | None = None):  # noqa: ANN201
    """The character's student as a checked ``onnx.ModelProto`` (``graph``: one of `GRAPHS`; see the module doc),
    its metadata the character's name, the graph's, and ``properties``."""
    onnx = _onnx()
    if graph not in GRAPHS:
        raise OnnxGraphError(f"unknown graph {graph!r}; choose one of {', '.join(GRAPHS)}")
    if not character.has_student:
        raise CharacterError(f"character {character.name!r} has no student weights to build an ONNX graph from; "
                             "distill one with `tha4 distill` first")
    poser = StudentPoser.from_files(*character.student_files())
    g = _Builder()
    image = _image(g, load_image_rgba(character.image_path))
    with torch.inference_mode():
        if graph == "fast":
            nhwc = _fast_graph(g, poser, "pose", image)
            g.op("Transpose", nhwc, perm=[0, 3, 1, 2], output="image")
        else:
            g.op("Identity", _exact_graph(g, poser, "pose", image), output="image")
            nhwc = g.op("Transpose", "image", perm=[0, 2, 3, 1]) if rgba8 else ""
        if rgba8:
            _rgba8(g, nhwc)
    h = onnx.helper
    outputs = [h.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["N", 4, IMAGE_SIZE, IMAGE_SIZE])]
    if rgba8:
        outputs.append(h.make_tensor_value_info("rgba8", onnx.TensorProto.UINT8, ["N", IMAGE_SIZE, IMAGE_SIZE, 4]))
    body = h.make_graph(g.nodes, f"tha4_student_{graph}",
                        [h.make_tensor_value_info("pose", onnx.TensorProto.FLOAT, ["N", POSE_SIZE])],
                        outputs, g.initializers)
    model = h.make_model(body, opset_imports=[h.make_opsetid("", OPSET)], producer_name="tha4-sdk",
                         producer_version=tha4_sdk.__version__,
                         doc_string=f"THA4 student of {character.name} ({graph} graph): pose [N,45] → image "
                                    "[N,4,512,512] (linear premultiplied RGBA in [-1,1], unclamped)"
                                    + ("; rgba8 [N,512,512,4] straight-alpha sRGB" if rgba8 else ""))
    model.ir_version = 8  # readable by onnxruntime ≥ 1.10
    h.set_model_props(model, {"tha4.character": character.name, "tha4.graph": graph, **(properties or {})})
    onnx.checker.check_model(model)
    return model
