"""The student as one self-contained ONNX graph: ``pose`` [N, 45] → ``image`` [N, 4, 512, 512].

Four graphs compute the same frames (docs/onnx.md):

* ``fast``: the student's folded levels (`tha4_sdk.models.student.folded`): pose terms folded into one bias
  per frame, position terms as a row plus a column vector, the first layer of body levels 1 and 2 applied
  before the 2× upsample, ω0 and the sine's 1/2π folded into the weights, pixels × channels (NHWC) matrix
  products; the sine a range reduction plus a polynomial from elementwise operators (`_Builder.sine`); the
  pixels in bands of rows that stay in a CPU core's cache (onnxruntime, and the web player's WebAssembly).
* ``unbanded``: the same without bands, a twentieth of the nodes (GPUs without float16).
* ``fp16``: the same for GPUs: the matrix products in float16 (the sines' range reduction stays float32),
  no bands.
* ``exact``: the official networks written out as they are: position grid and pose image concatenated,
  1×1 convolutions, sin(30·x), bilinear resize, NCHW.

All paste the face patch, warp the image (GridSample's bilinear sampling with border padding, written with
GatherElements) and blend like the official student. The character image is stored as its RGBA8 pixels (1 MiB)
and turned into the network's linear premultiplied [-1, 1] tensor in the graph, bit-identically to
`tha4_sdk.image.rgba8_to_tensor` (a 256-entry lookup table for sRGB → linear). A second output ``rgba8`` (uint8
[N, 512, 512, 4], straight-alpha sRGB) is `tha4_sdk.image.tensor_to_rgba8` in the graph, ready for a texture
upload. Every operator is one that Unity Sentis and onnxruntime-web's WebGPU provider list (docs/onnx.md).
"""

from __future__ import annotations

import dataclasses
import math
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

#: ONNX opset of the graphs
OPSET = 17
#: the fast graphs' sine, sin(2π·q) ≈ q·P(q²) for |q| ≤ ¼: P's coefficients (odd degree 7, fitted for the
#: smallest maximum error, 5.9e-7 in exact arithmetic)
SINE_COEFFICIENTS = (6.283164024353027, -41.33714294433594, 81.34076690673828, -70.99341583251953)
#: bound on |`_Builder.sine`(u) − sin(2π(u − ¼))| for every float32 |u| < 2²²: the fit's 5.9e-7, Horner's rule's
#: float32 rounding (8 roundings: γ₈·Σ|c_k|·¼^(2k+1) ≤ 1.1e-6) and q's rounding (2π·(2⁻²⁵ + 2⁻²⁶) ≤ 2.9e-7);
#: docs/onnx.md
SINE_ERROR_BOUND = 2.0e-6
#: the fast graphs' sines take their argument z as u = z·TURN + PHASE (turns, a quarter turn ahead), folded
#: into the weights that compute it
TURN, PHASE = 1.0 / (2.0 * math.pi), 0.25
#: the fast graph's bands: at most this many activation values per band and layer (1 MiB of float32, half a
#: core's L2 cache on the 2-core Xeon the benchmarks ran on)
BAND_VALUES = 1 << 18
_FLOAT, _FLOAT16 = 1, 10  # onnx.TensorProto element types
#: the graphs there are; the first is the default
GRAPHS = ("fast", "unbanded", "fp16", "exact")
#: the folded graphs: (activations per band, 0 for none; float16 products)
_FOLDED = {"fast": (BAND_VALUES, False), "unbanded": (0, False), "fp16": (0, True)}


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
    """Collects nodes and initializers; every ``op`` returns its (fresh) output name. Small constants (a few
    values: scalars, shapes, slice bounds) are stored once however often they are asked for."""

    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    count: int = 0
    small: dict = field(default_factory=dict)  # (dtype, shape, bytes) → initializer name

    def _name(self, stem: str) -> str:
        """A fresh name: the stem's first letter and a hexadecimal count (names are most of the nodes' bytes)."""
        self.count += 1
        return f"{stem[0]}{self.count:x}"

    def const(self, value: Any, dtype: Any = np.float32, stem: str = "c") -> str:
        array = np.asarray(_array(value), dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 8 else None
        if key in self.small:
            return self.small[key]
        name = self._name(stem)
        self.initializers.append(_onnx().numpy_helper.from_array(array, name))
        if key is not None:
            self.small[key] = name
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64, "i")

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attrs: Any) -> str:
        onnx = _onnx()
        out = output or self._name(op_type.lower())
        self.nodes.append(onnx.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def sine(self, u: str) -> str:
        """sin(z) of u = z·TURN + PHASE from elementwise operators every runtime has, threads and vectorises:
        h = u − floor(u) − ½ ∈ [−½, ½), sin(z) = −cos(2πu) = cos(2πh) = sin(2πq) with q = ¼ − |h| ∈ [−¼, ¼],
        then q·P(q²) by Horner's rule."""
        h = self.op("Sub", self.op("Sub", u, self.op("Floor", u)), self.const(0.5))
        q = self.op("Sub", self.const(0.25), self.op("Abs", h))
        q2 = self.op("Mul", q, q)
        p = self.const(SINE_COEFFICIENTS[-1])
        for c in reversed(SINE_COEFFICIENTS[:-1]):
            p = self.op("Add", self.op("Mul", p, q2), self.const(c))
        return self.op("Mul", p, q)


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
    ones = g.op("Expand", g.const(1.0), g.ints(1, 1, FACE_SIZE, FACE_SIZE))
    mask = g.op("Cast", g.op("Pad", ones, pads), to=9)
    return g.op("Where", mask, g.op("Pad", face, pads), image)


def _warp(g: _Builder, image: str, grid_change: str) -> str:
    """``image`` (N×4×512×512) sampled at the identity grid plus ``grid_change`` (N×512×512×2, x then y):
    GridSample's bilinear sampling with border padding and ``align_corners=0``, written with Gather-style
    operators that every runtime supports (four GatherElements of the neighbours and their weights).

    With align_corners=0 the identity grid's pixel j samples column j exactly, so the source column is
    j + Δx·W/2 (rows likewise), clamped to the image (border padding)."""
    s = IMAGE_SIZE
    index = np.arange(s, dtype=np.float32)
    columns, rows = g.const(index.reshape(1, 1, s)), g.const(index.reshape(1, s, 1))

    def source(axis: int, pixels: str) -> tuple[str, str, str]:
        """(first neighbour, second neighbour, weight of the second) along x (axis 0) or y (axis 1)."""
        change = g.op("Squeeze", g.op("Slice", grid_change, g.ints(axis), g.ints(axis + 1), g.ints(3)), g.ints(3))
        at = g.op("Clip", g.op("Add", g.op("Mul", change, g.const(s / 2.0)), pixels), g.const(0.0), g.const(s - 1.0))
        first = g.op("Floor", at)
        second = g.op("Clip", g.op("Add", first, g.const(1.0)), g.const(0.0), g.const(s - 1.0))
        return first, second, g.op("Sub", at, first)

    x0, x1, wx = source(0, columns)
    y0, y1, wy = source(1, rows)
    flat = g.op("Reshape", image, g.ints(0, 4, s * s))
    shape = g.op("Shape", flat)

    def at(y: str, x: str) -> str:
        index = g.op("Cast", g.op("Add", g.op("Mul", y, g.const(float(s))), x), to=6)  # int32 y·W + x
        index = g.op("Expand", g.op("Reshape", index, g.ints(0, 1, s * s)), shape)
        return g.op("GatherElements", flat, index, axis=2)

    def lerp(a: str, b: str, w: str) -> str:
        return g.op("Add", a, g.op("Mul", g.op("Sub", b, a), g.op("Reshape", w, g.ints(0, 1, s * s))))

    top, bottom = lerp(at(y0, x0), at(y0, x1), wx), lerp(at(y1, x0), at(y1, x1), wx)
    return g.op("Reshape", lerp(top, bottom, wy), g.ints(0, 4, s, s))


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
    out = g.op("Floor", g.op("Add", g.op("Mul", g.op("Concat", srgb, alpha, axis=3), g.const(255.0)), g.const(0.5)))
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


def _turns(t: torch.Tensor, phase: float = 0.0) -> torch.Tensor:
    """``t·TURN + phase``, rounded once to float32."""
    return (t.double() * TURN + phase).float()


def _terms_in_turns(terms: Terms | None) -> Terms | None:
    if terms is None:
        return None
    w_x, w_y, bias = terms.factors
    return Terms(_turns(terms.col), _turns(terms.row, PHASE), _turns(terms.pose_w),
                 (_turns(w_x), _turns(w_y), _turns(bias, PHASE)))


def _in_turns(level: Level) -> Level:
    """``level`` with every sine's argument z computed as u = z·TURN + PHASE (what `_Builder.sine` takes): the
    weights feeding a sine scaled, the phase in their biases (an upsampled level's comes through the previous
    level's ``out_terms``: the bilinear weights sum to 1)."""
    feeds_sine = level.out_b is None
    return dataclasses.replace(
        level, terms=_terms_in_turns(level.terms),
        edges=level.edges and (_turns(level.edges[0]), _turns(level.edges[1])),
        hidden=[(_turns(w), _turns(b, PHASE)) for w, b in level.hidden],
        out_w=_turns(level.out_w) if feeds_sine else level.out_w, out_terms=_terms_in_turns(level.out_terms))


def _band_rows(level: Level, band_values: int) -> int:
    """Rows per band: the largest power of two whose widest activation holds at most ``band_values`` values
    (every row at once when ``band_values`` is 0)."""
    widest = max([w.shape[0] for w, _ in level.hidden] + [level.out_w.shape[0]])
    rows = level.size
    while band_values and rows > 1 and rows * level.size * widest > band_values:
        rows //= 2
    return rows


def _fast_level(g: _Builder, level: Level, pose: str, pre: str, band_values: int, fp16: bool) -> str:
    """Sine of ``pre`` (N×S×S×C, in turns), the hidden sine layers, then the output map (+ head bias, or + the
    next level's terms at this resolution); returns N×S×S×out. ``fp16``: the matrix products in float16 (their
    inputs cast, their outputs cast back), everything else float32.

    The pixels go through the layers in bands of rows (`_band_rows`), each band's chain of operators
    independent of the others, so that a band's activations stay in the core's cache from one operator to the
    next (the native runner's tiles; a runtime running independent operators in parallel can run bands at once).
    """
    s, width = level.size, level.out_w.shape[1]
    weight_type = np.float16 if fp16 else np.float32
    layers = [(g.const(w, weight_type), g.const(b)) for w, b in level.hidden]
    layers.append((g.const(level.out_w, weight_type), None if level.out_b is None else g.const(level.out_b)))

    def product(x: str, w: str, b: str | None) -> str:
        if fp16:
            y = g.op("Cast", g.op("MatMul", g.op("Cast", x, to=_FLOAT16), w), to=_FLOAT)
            return y if b is None else g.op("Add", y, b)
        return g.op("MatMul", x, w) if b is None else g.op("Gemm", x, w, b)

    rows = _band_rows(level, band_values)
    bands = []
    for r0 in range(0, s, rows):
        band = pre if rows == s else g.op("Slice", pre, g.ints(r0), g.ints(r0 + rows), g.ints(1))
        x = g.op("Reshape", g.sine(band), g.ints(-1, level.hidden[0][0].shape[0]))
        for w, b in layers[:-1]:
            x = g.sine(product(x, w, b))
        bands.append(g.op("Reshape", product(x, *layers[-1]), g.ints(-1, rows, s, width)))
    out = bands[0] if len(bands) == 1 else g.op("Concat", *bands, axis=1)
    if level.out_terms is None:
        return out
    rows_terms, cols = _terms(g, pose, level.out_terms, s)
    return g.op("Add", g.op("Add", out, rows_terms), cols)


def _upsampled(g: _Builder, level: Level, feat: str) -> str:
    """2× bilinear upsample of the previous level's output (NHWC) plus the border corrections. The Resize runs
    on NCHW: onnxruntime-web's WebGPU Resize computes a wrong result for NHWC scales ``[1, 2, 2, 1]``."""
    nchw = g.op("Transpose", feat, perm=[0, 3, 1, 2])
    up = g.op("Transpose", g.op("Resize", nchw, "", g.const([1.0, 1.0, 2.0, 2.0]), mode="linear",
                                coordinate_transformation_mode="half_pixel"), perm=[0, 2, 3, 1])
    edge_rows, edge_cols = level.edges
    s, c = level.size, edge_rows.shape[1]
    zeros = g.op("Expand", g.const(0.0), g.ints(s - 2, 1, c))
    rows = g.op("Concat", g.const(edge_rows[0:1, None]), zeros, g.const(edge_rows[1:2, None]), axis=0)
    cols = g.op("Concat", g.const(edge_cols[0:1, None]), zeros, g.const(edge_cols[1:2, None]), axis=0)
    cols = g.op("Reshape", cols, g.ints(1, s, c))
    return g.op("Add", g.op("Add", up, rows), cols)


def _fast_graph(g: _Builder, poser: StudentPoser, pose: str, image: str, band_values: int, fp16: bool) -> str:
    """The folded levels (`_fast_level`); returns the blended image N×512×512×4 (NHWC)."""
    face_level, body = fold_levels(poser)
    face_level, body = _in_turns(face_level), [_in_turns(level) for level in body]
    face_pose = g.op("Slice", pose, g.ints(0), g.ints(FACE_POSE_SIZE), g.ints(1))

    def first(level: Level, p: str) -> str:
        rows, cols = _terms(g, p, level.terms, level.size)
        return g.op("Add", rows, cols)

    face = g.op("Transpose", _fast_level(g, face_level, face_pose, first(face_level, face_pose), band_values, fp16),
                perm=[0, 3, 1, 2])
    feat = _fast_level(g, body[0], pose, first(body[0], pose), band_values, fp16)
    for level in body[1:]:
        feat = _fast_level(g, level, pose, _upsampled(g, level, feat), band_values, fp16)
    pasted = _paste(g, image, face)
    grid_change = g.op("Slice", feat, g.ints(0), g.ints(2), g.ints(3))
    alpha = g.op("Slice", feat, g.ints(2), g.ints(3), g.ints(3))
    color = g.op("Slice", feat, g.ints(3), g.ints(7), g.ints(3))
    return _blend(g, g.op("Transpose", _warp(g, pasted, grid_change), perm=[0, 2, 3, 1]), alpha, color)


def _blend(g: _Builder, warped: str, alpha: str, color: str, output: str | None = None) -> str:
    """The official blend: (1 − alpha)·warped + alpha·color."""
    return g.op("Add", g.op("Mul", g.op("Sub", g.const(1.0), alpha), warped), g.op("Mul", alpha, color),
                output=output)


def _exact_graph(g: _Builder, poser: StudentPoser, pose: str, image: str, output: str) -> str:
    """The official networks as written (NCHW); returns the blended image N×4×512×512 as ``output``."""
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
    return _blend(g, _warp(g, _paste(g, image, face), grid_change), alpha, color, output)


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
        if graph in _FOLDED:
            nhwc = _fast_graph(g, poser, "pose", image, *_FOLDED[graph])
            g.op("Transpose", nhwc, perm=[0, 3, 1, 2], output="image")
        else:
            _exact_graph(g, poser, "pose", image, output="image")
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
