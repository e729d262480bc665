"""The fast training path: the student networks' forward pass re-arranged as the fast render path does it.

The same outputs as `StudentFaceMorpher.forward` / `StudentBodyMorpher.forward`, up to float rounding,
differentiable in the module's own parameters (so the optimizer, checkpoints and weight files are the
plain trainer's). The rearrangements are the student's folded levels (`tha4_sdk.models.student.folded`:
`face_level`, `body_levels` build them from the live weights, every step):

* pose terms are constant over the pixels → one bias per frame; position terms → a row vector plus a
  column vector; ω0 = 30 folded into the weights;
* the first layer of the upsampled levels (1, 2) runs at the previous level's resolution, before the
  upsample (exact: bilinear weights sum to 1), with a fixed correction on the border rows and columns;
* pixels × channels (NHWC) matrices: every 1×1 conv is one ``addmm``, the bias inside the GEMM;
* each sine is fused with the additions before it in one autograd function that keeps cos(z) for the
  backward pass in place of z (no extra buffer), and the next level's terms are added in place.

`face_forward_at` / `body_forward_at` compute the outputs at chosen pixels only, for training on a sample of
them (`tha4_sdk.distill.pixels`). Under bf16 autocast the backward passes multiply in the gradient's dtype.

Nothing here depends on the device: the same code trains on the CPU and on CUDA.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from tha4_sdk.models.student.body_morpher import StudentBodyMorpher, compose_body_outputs
from tha4_sdk.models.student.face_morpher import StudentFaceMorpher
from tha4_sdk.models.student.folded import Level, body_levels, face_level, pixel_coords


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` in ``a``'s dtype: a backward pass under bf16 autocast gets bf16 gradients, while the weights saved
    for it are the float32 parameters (autocast casts them only inside the forward's own matmuls)."""
    return torch.mm(a, b.to(a.dtype))


class _SineOfSum(torch.autograd.Function):
    """``sin(a + b)`` (broadcast), keeping cos of the sum for the backward pass."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        z = a + b
        y = torch.sin(z)
        ctx.save_for_backward(z.cos_())
        ctx.shapes = a.shape, b.shape
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (c,) = ctx.saved_tensors
        gz = g * c
        return gz.sum_to_size(ctx.shapes[0]), gz.sum_to_size(ctx.shapes[1])


class _SineWithEdges(torch.autograd.Function):
    """``sin(z + border corrections)`` on an N×S×S×C upsampled pre-activation (`Level.edges`)."""

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, edge_rows: torch.Tensor, edge_cols: torch.Tensor) -> torch.Tensor:
        z = z.clone()
        z[:, 0] += edge_rows[0]
        z[:, -1] += edge_rows[1]
        z[:, :, 0] += edge_cols[0]
        z[:, :, -1] += edge_cols[1]
        y = torch.sin(z)
        ctx.save_for_backward(z.cos_())
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        (c,) = ctx.saved_tensors
        gz = g * c
        rows = torch.stack([gz[:, 0].sum((0, 1)), gz[:, -1].sum((0, 1))])
        cols = torch.stack([gz[:, :, 0].sum((0, 1)), gz[:, :, -1].sum((0, 1))])
        return gz, rows, cols


class _SineLinear(torch.autograd.Function):
    """``sin(x @ w + b)``, the bias in the GEMM, keeping cos of the pre-activation for the backward pass."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        z = torch.addmm(b, x, w)
        y = torch.sin(z)
        ctx.save_for_backward(x, w, z.cos_())
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        x, w, c = ctx.saved_tensors
        gz = g * c
        gx = _mm(gz, w.t()) if ctx.needs_input_grad[0] else None
        return gx, _mm(x.t(), gz), gz.sum(0)


class _LinearPlusTerms(torch.autograd.Function):
    """``x @ w`` as N×S×S×C plus a per-frame row term (N×S×C) and a column term (S×C), added in place."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        n, s = rows.shape[0], rows.shape[1]
        out = torch.mm(x, w).view(n, s, s, w.shape[1])
        out += rows[:, :, None, :]
        out += cols
        ctx.save_for_backward(x, w)
        return out

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x, w = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        return _mm(g2, w.t()), _mm(x.t(), g2), g.sum(2), g.sum((0, 1))


def _hidden(level: Level, x: torch.Tensor) -> torch.Tensor:
    """The level's hidden sine layers on pixels × channels rows ``x`` (the first layer's output)."""
    for w, b in level.hidden:
        x = _SineLinear.apply(x, w, b)
    return x


def _run_level(level: Level, pose: torch.Tensor, feat: torch.Tensor | None) -> torch.Tensor:
    """N × S × S × out (NHWC): the level's head output, or the next level's first-layer pre-activation."""
    n, s = pose.shape[0], level.size
    if feat is None:
        if level.terms is None:
            raise RuntimeError("a level without an input feature map needs its pose terms")
        x = _SineOfSum.apply(level.terms.rows(pose)[:, :, None, :], level.terms.col)
    else:
        if level.edges is None:
            raise RuntimeError("a level fed by the previous level needs its edge corrections")
        up = F.interpolate(feat.permute(0, 3, 1, 2), size=(s, s), mode="bilinear", align_corners=False)
        x = _SineWithEdges.apply(up.permute(0, 2, 3, 1), *level.edges)
    x = _hidden(level, x.reshape(n * s * s, -1))
    if level.out_terms is not None:
        return _LinearPlusTerms.apply(x, level.out_w, level.out_terms.rows(pose), level.out_terms.col)
    return _head(level, x).view(n, s, s, -1)


def _head(level: Level, x: torch.Tensor) -> torch.Tensor:
    """The last level's output map on pixels × channels rows."""
    if level.out_b is None:
        raise RuntimeError("the last level needs its output bias")
    return torch.addmm(level.out_b, x, level.out_w)


def face_forward(module: StudentFaceMorpher, pose: torch.Tensor) -> torch.Tensor:
    """``module(pose)`` (N×39 → N×4×128×128) on the fast path."""
    return _run_level(face_level(module), pose, None).permute(0, 3, 1, 2)


def body_forward(module: StudentBodyMorpher, image: torch.Tensor, pose: torch.Tensor) -> list[torch.Tensor]:
    """``module(image, pose)`` (the five official outputs) on the fast path."""
    first, *rest = body_levels(module)
    feat = _run_level(first, pose, None)
    for level in rest:
        feat = _run_level(level, pose, feat)
    return compose_body_outputs(image, feat.permute(0, 3, 1, 2))


def face_forward_at(module: StudentFaceMorpher, pose: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """N×4×M: ``face_forward`` at each example's flat ``pixels`` (N×M, `tha4_sdk.distill.pixels`) only."""
    level = face_level(module)
    if level.terms is None:
        raise RuntimeError("the face level needs its pose terms")
    n, m = pixels.shape
    rows, cols = pixels.div(level.size, rounding_mode="floor"), pixels % level.size
    x = _SineOfSum.apply(level.terms.rows(pose)[torch.arange(n, device=pose.device)[:, None], rows],
                         level.terms.col[cols])
    return _head(level, _hidden(level, x.reshape(n * m, -1))).view(n, m, -1).permute(0, 2, 1)


def _first_layer_at(level: Level, feat: torch.Tensor, base: torch.Tensor, rows: torch.Tensor,
                    cols: torch.Tensor) -> torch.Tensor:
    """N×M×C: the upsampled level's first sine layer at pixels (``rows``, ``cols``: N×M; ``base``: their identity
    grid, N×1×M×2) from the previous level's N×S/2×S/2×C pre-activation ``feat``, plus the border corrections.

    The 2× bilinear upsample (align_corners=False) at a pixel is ``grid_sample`` of the half-resolution map at the
    pixel's centre, border-padded: the same source position, clamped at the edges as ``F.interpolate`` clamps it."""
    if level.edges is None:
        raise RuntimeError("a level fed by the previous level needs its edge corrections")
    s = level.size
    up = F.grid_sample(feat.permute(0, 3, 1, 2), base, mode="bilinear", padding_mode="border", align_corners=False)

    def border(corrections: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The first/last row (or column) correction where ``index`` is on that border, else zero."""
        padded = torch.cat([corrections, corrections.new_zeros(1, corrections.shape[1])])
        return padded[torch.where(index == 0, 0, torch.where(index == s - 1, 1, 2))]

    return _SineOfSum.apply(up[:, :, 0].transpose(1, 2), border(level.edges[0], rows) + border(level.edges[1], cols))


def body_forward_at(module: StudentBodyMorpher, image: torch.Tensor, pose: torch.Tensor,
                    pixels: torch.Tensor) -> list[torch.Tensor]:
    """The five official outputs at each example's flat ``pixels`` (N×M) of the 512×512 image, each N×C×M.

    Levels 0 and 1 run in full (128², 256²); the 512 level only at the pixels: its first layer sampled bilinearly
    from the 256 grid at those pixels, hidden layers and head on those rows, the warp at those pixels only."""
    *coarse, last = body_levels(module)
    feat = None
    for level in coarse:
        feat = _run_level(level, pose, feat)
    if feat is None:
        raise RuntimeError("the body morpher has no levels")
    n, m = pixels.shape
    rows, cols = pixels.div(last.size, rounding_mode="floor"), pixels % last.size
    xs, ys = (t.to(feat.device) for t in pixel_coords(last.size, feat.dtype))
    base = torch.stack([xs[cols], ys[rows]], -1)[:, None]  # N×1×M×2: the identity grid at the pixels
    x = _first_layer_at(last, feat, base, rows, cols)
    y = _head(last, _hidden(last, x.reshape(n * m, -1))).view(n, 1, m, -1).permute(0, 3, 1, 2)
    return [t.flatten(2) for t in compose_body_outputs(image, y, base)]
