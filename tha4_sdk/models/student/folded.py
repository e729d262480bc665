"""The student's folded levels: the two networks' SIREN levels rewritten with the same outputs, exactly up to
float rounding, in a form that is cheap to evaluate.

Every SIREN level is a per-pixel MLP whose first layer sees ``[features, x, y, pose]``. Rewritten as

* pose terms: constant over the pixels → one bias per frame;
* position terms: x varies along columns, y along rows → a column vector and a row vector, added;
* upsampled features (body levels 1, 2): the first layer is linear in them and bilinear weights sum to 1,
  so the linear map runs at the previous level's (4× smaller) resolution, before the upsample;
* the position terms of levels 1 and 2 are added there too (the upsample reproduces them exactly
  except on the outermost rows and columns, which get a fixed correction), so the first layer is
  one upsample into a buffer;
* ω0 = 30 folded into the weights; every layer an (in × out) matrix for pixels × channels (NHWC) data.

The fast render path (`tha4_sdk.render.student_fast`), the fast trainer (`tha4_sdk.distill.fast`), the
native runner (`native_runner`) and the ONNX graph (`onnx_graph`) all evaluate these levels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from tha4_sdk.models.student.body_morpher import LEVELS, POSE_SIZE, StudentBodyMorpher
from tha4_sdk.models.student.face_morpher import FACE_SIZE, StudentFaceMorpher
from tha4_sdk.models.student.native_runner import NativeLevel, NativeRunner
from tha4_sdk.models.student.poser import StudentPoser
from tha4_sdk.models.student.siren import OMEGA_0
from tha4_sdk.models.warp import identity_grid


def _matrix(conv: nn.Conv2d, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A 1×1 conv as (in × out weight, bias), both multiplied by ``scale``."""
    return (conv.weight[:, :, 0, 0] * scale).t().contiguous(), conv.bias * scale


def pixel_coords(size: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The position grid's x (per column) and y (per row) values, exactly as the networks see them."""
    grid = identity_grid(1, size, size, device=torch.device("cpu"), dtype=dtype)[0]  # S × S × (x, y)
    return grid[0, :, 0], grid[:, 0, 1]


@dataclass
class Terms:
    """A first sine layer's position, bias and pose terms at one resolution (everything but the features)."""

    col: torch.Tensor  # S × C: x(j) · w_x
    row: torch.Tensor  # S × C: y(i) · w_y + bias
    pose_w: torch.Tensor  # P × C
    factors: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (w_x, w_y, bias), C each: what col and row are made of

    @classmethod
    def of(cls, w: torch.Tensor, b: torch.Tensor, features: int, size: int) -> "Terms":
        """Terms of the first layer (in × out weight ``w``, rows ``[features…, x, y, pose…]``) on an S×S grid."""
        x, y = (t.to(w.device) for t in pixel_coords(size, w.dtype))
        return cls(x[:, None] * w[features], y[:, None] * w[features + 1] + b, w[features + 2:].contiguous(),
                   (w[features], w[features + 1], b))

    def rows(self, pose: torch.Tensor) -> torch.Tensor:
        """N × S × C: the per-row part for N poses (the pose term is constant over the pixels)."""
        return (pose @ self.pose_w)[:, None, :] + self.row

    def to(self, device: torch.device) -> "Terms":
        return Terms(self.col.to(device), self.row.to(device), self.pose_w.to(device),
                     tuple(f.to(device) for f in self.factors))  # type: ignore[arg-type]


@dataclass
class Level:
    """One coordinate-MLP level: first sine layer, hidden sine layers, a final linear map.

    The first layer's pre-activation is ``terms`` alone (face, body level 0) or the 2× bilinear upsample of
    the previous level's output plus ``edges``: the previous level adds this level's terms at its own,
    half resolution (exact in the interior: the upsampled coordinates equal the fine ones there), and
    ``edges`` fixes the outermost rows and columns. The output is ``x @ out_w`` plus ``out_b`` (the head)
    or the next level's ``out_terms``.
    """

    size: int
    terms: Terms | None
    edges: tuple[torch.Tensor, torch.Tensor] | None  # (first/last row, first/last column) corrections, 2 × C each
    hidden: list[tuple[torch.Tensor, torch.Tensor]]  # (in × out weight, bias), ω0 folded in
    out_w: torch.Tensor
    out_b: torch.Tensor | None = None
    out_terms: Terms | None = None
    native: NativeLevel | None = None  # the same level prepared for the native runner (float32, CPU)

    def to(self, device: torch.device, dtype: torch.dtype) -> "Level":
        """Everything feeding the sines stays float32; the matmul weights take ``dtype``."""
        return Level(
            size=self.size, terms=self.terms and self.terms.to(device),
            edges=self.edges and (self.edges[0].to(device), self.edges[1].to(device)),
            hidden=[(w.to(device, dtype), b.to(device)) for w, b in self.hidden],
            out_w=self.out_w.to(device, dtype), out_b=None if self.out_b is None else self.out_b.to(device),
            out_terms=self.out_terms and self.out_terms.to(device),
        )

    def prepared(self, runner: NativeRunner) -> "Level":
        """This level with its `NativeLevel` for ``runner``."""
        return dataclasses.replace(self, native=runner.prepare(
            hidden=self.hidden, out_w=self.out_w, col_terms=self.terms and self.terms.col, edges=self.edges,
            out_b=self.out_b, out_col_terms=self.out_terms and self.out_terms.col))


def _edges(w: torch.Tensor, features: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What upsampling the half-resolution position terms misses on the border rows and columns."""
    (xf, yf), (xc, yc) = ((t.to(w.device) for t in pixel_coords(s, w.dtype)) for s in (size, size // 2))
    ends = [0, -1]
    return (yf[ends] - yc[ends])[:, None] * w[features + 1], (xf[ends] - xc[ends])[:, None] * w[features]


def fold_levels(poser: StudentPoser) -> tuple[Level, list[Level]]:
    """The face morpher (one level) and the body morpher (three levels) rewritten as `Level`s."""
    return face_level(poser.face_morpher), body_levels(poser.body_morpher)


def face_level(face_morpher: StudentFaceMorpher) -> Level:
    """The face morpher as one `Level` (differentiable in its weights: the training fast path uses it too)."""
    siren = face_morpher.siren
    face_layers = [layer.linear for layer in siren.sine_layers]
    w, b = _matrix(face_layers[0], OMEGA_0)
    head_w, head_b = _matrix(siren.last_linear, 1.0)
    return Level(FACE_SIZE, terms=Terms.of(w, b, 0, FACE_SIZE), edges=None,
                  hidden=[_matrix(c, OMEGA_0) for c in face_layers[1:]], out_w=head_w, out_b=head_b)


def body_levels(body_morpher: StudentBodyMorpher) -> list[Level]:
    """The body morpher as three `Level`s (differentiable in its weights, like `face_level`)."""
    layers = [[layer.linear for layer in seq] for seq in body_morpher.siren_layers]
    firsts = [_matrix(seq[0], OMEGA_0) for seq in layers]
    features = [seq[0].in_channels - 2 - POSE_SIZE for seq in layers]
    body = []
    for k, (size, _) in enumerate(LEVELS):
        w, b = firsts[k]
        hidden = [_matrix(c, OMEGA_0) for c in layers[k][1:]]
        if k + 1 < len(LEVELS):  # end with the next level's first layer, applied here at half its resolution
            w_next, b_next = firsts[k + 1]
            out: dict = dict(out_w=w_next[:features[k + 1]].contiguous(),
                             out_terms=Terms.of(w_next, b_next, features[k + 1], size))
        else:
            head_w, head_b = _matrix(body_morpher.last_linear, 1.0)
            out = dict(out_w=head_w, out_b=head_b)
        body.append(Level(size, terms=None if k else Terms.of(w, b, 0, size),
                           edges=_edges(w, features[k], size) if k else None, hidden=hidden, **out))
    return body
