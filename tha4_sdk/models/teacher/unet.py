"""Family B: the conditional U-Net with attention used by the body morpher and the upscaler (§7).

Residual blocks carry a time embedding (the teacher always passes t = 0) and a pose embedding as
scale/shift pairs; resampling happens inside residual blocks (avgpool 2× down, nearest 2× up);
8-head self-attention runs at the deepest level and in the middle.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

EMBED_CHANNELS = 256
HEADS = 8
COND_CHANNELS = 6
Resample = Literal["none", "up", "down"]


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels), channels, eps=1e-5)


def conv3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=True)


def _resample(x: torch.Tensor, mode: Resample) -> torch.Tensor:
    if mode == "up":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    if mode == "down":
        return F.avg_pool2d(x, kernel_size=2, stride=2)
    return x


def timestep_embedding(t: torch.Tensor, channels: int) -> torch.Tensor:
    """Sinusoidal embedding of N×1 times: ``[cos(t·f_k), sin(t·f_k)]``, ``f_k = exp(−ln(10⁴)·k/(half−1))``.

    Computed in ``t``'s dtype, at least float32 (float64 stays float64; half precision is raised to float32).
    """
    half = channels // 2
    dtype = torch.promote_types(t.dtype, torch.float32)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=dtype) / (half - 1))
    args = t.to(dtype) * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class SinusoidalEmbedding(nn.Module):
    """Position 0 of ``time_embed`` (no parameters)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return timestep_embedding(t, self.channels)


class ResBlock(nn.Module):
    """Conditional residual block ``Ci → Co`` with optional 2× resampling (§7.2)."""

    def __init__(self, in_channels: int, out_channels: int, resample: Resample = "none") -> None:
        super().__init__()
        self.resample = resample
        self.norm0 = group_norm(in_channels)
        self.conv0 = conv3(in_channels, out_channels)
        self.cond0_layers = nn.Sequential(nn.SiLU(), nn.Linear(EMBED_CHANNELS, 2 * out_channels))
        self.norm1 = group_norm(out_channels)
        self.conv1 = conv3(out_channels, out_channels)
        self.cond1_layers = nn.Sequential(nn.SiLU(), nn.Linear(EMBED_CHANNELS, 2 * out_channels))
        self.skip = (nn.Identity() if in_channels == out_channels
                     else nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=True))

    def forward(self, x: torch.Tensor, temb: torch.Tensor, cemb: torch.Tensor) -> torch.Tensor:
        h = self.conv0(_resample(F.silu(self.norm0(x)), self.resample))
        h = self.norm1(h)
        for cond, emb in ((self.cond0_layers, temb), (self.cond1_layers, cemb)):
            scale, shift = cond(emb)[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        h = self.conv1(F.silu(h))
        return self.skip(_resample(x, self.resample)) + h


class AttentionBlock(nn.Module):
    """8-head self-attention over all pixels, q|k|v in blocks ("new" order), residual (§7.3)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, kernel_size=1, bias=True)
        self.conv = nn.Conv2d(channels, channels, kernel_size=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        d = c // HEADS
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3 * c, h * w).chunk(3, dim=1)
        scale = 1 / math.sqrt(math.sqrt(d))
        logits = torch.einsum("bct,bcs->bts", (q * scale).reshape(n * HEADS, d, h * w),
                              (k * scale).reshape(n * HEADS, d, h * w))
        # the softmax runs in at least float32 (half precision would lose the small weights); float64 stays float64
        weights = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1).to(logits.dtype)
        o = torch.einsum("bts,bcs->bct", weights, v.reshape(n * HEADS, d, h * w))
        return x + self.conv(o.reshape(n, c, h, w))


class AttentionAdapter(nn.Module):
    """Wraps an attention block in the middle stack (hence the ``.module.`` in its keys)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.module = AttentionBlock(channels)

    def forward(self, x: torch.Tensor, temb: torch.Tensor, cemb: torch.Tensor) -> torch.Tensor:
        return self.module(x)


class DownBlock(nn.Module):
    """One level of the down path: a res block, attention at the deepest level, then a 2× down res block."""

    def __init__(self, in_channels: int, channels: int, attention: bool, downsample: bool) -> None:
        super().__init__()
        self.res_blocks = nn.ModuleList([ResBlock(in_channels, channels)])
        self.attention_blocks = nn.ModuleList([AttentionBlock(channels)] if attention else [])
        self.downsample = ResBlock(channels, channels, "down") if downsample else None


class UpBlock(nn.Module):
    """One level of the up path: two res blocks eating skips (attention after each at the deepest level),
    then a 2× up res block."""

    def __init__(self, in_channels: int, skip_channels: tuple[int, int], channels: int, attention: bool,
                 upsample: bool) -> None:
        super().__init__()
        self.resnet_blocks = nn.ModuleList([ResBlock(in_channels + skip_channels[0], channels),
                                            ResBlock(channels + skip_channels[1], channels)])
        self.attention_blocks = nn.ModuleList([AttentionBlock(channels) for _ in range(2)] if attention else [])
        self.upsample = ResBlock(channels, channels, "up") if upsample else None


class ConditionalUNet(nn.Module):
    """``(x [N,4,H,W], t [N,1], pose [N,6], first_conv_addition?)`` → ``[N,7,H,W]``; attention only at the last
    level and in the middle (4 res blocks, 3 attention blocks)."""

    def __init__(self, model_channels: int, channel_multipliers: tuple[int, ...], in_channels: int = 4,
                 out_channels: int = 7, middle_res_blocks: int = 4) -> None:
        super().__init__()
        self.time_embed = nn.Sequential(SinusoidalEmbedding(model_channels),
                                        nn.Linear(model_channels, EMBED_CHANNELS), nn.SiLU(),
                                        nn.Linear(EMBED_CHANNELS, EMBED_CHANNELS))
        self.cond_embed = nn.Sequential(nn.Linear(COND_CHANNELS, EMBED_CHANNELS), nn.SiLU(),
                                        nn.Linear(EMBED_CHANNELS, EMBED_CHANNELS))
        self.first_conv = conv3(in_channels, model_channels)
        levels = [model_channels * m for m in channel_multipliers]
        last = len(levels) - 1
        skips = [model_channels]
        self.down_blocks = nn.ModuleList()
        for level, ch in enumerate(levels):
            self.down_blocks.append(DownBlock(skips[-1], ch, attention=level == last, downsample=level < last))
            skips += [ch] if level == last else [ch, ch]
        middle: list[nn.Module] = [ResBlock(levels[-1], levels[-1])]
        for _ in range(middle_res_blocks - 1):
            middle += [AttentionAdapter(levels[-1]), ResBlock(levels[-1], levels[-1])]
        self.middle_blocks = nn.ModuleList(middle)
        self.up_blocks = nn.ModuleList()
        ch = levels[-1]
        for level in range(last, -1, -1):
            pair = (skips.pop(), skips.pop())
            self.up_blocks.append(UpBlock(ch, pair, levels[level], attention=level == last, upsample=level > 0))
            ch = levels[level]
        self.last = nn.Sequential(group_norm(ch), nn.SiLU(), conv3(ch, out_channels))

    def forward(self, x: torch.Tensor, t: torch.Tensor, pose: torch.Tensor,
                first_conv_addition: torch.Tensor | None = None) -> torch.Tensor:
        temb, cemb = self.time_embed(t), self.cond_embed(pose)
        h = self.first_conv(x)
        if first_conv_addition is not None:
            h = h + first_conv_addition
        hs = [h]
        for down in self.down_blocks:
            h = down.res_blocks[0](hs[-1], temb, cemb)
            for attention in down.attention_blocks:
                h = attention(h)
            hs.append(h)
            if down.downsample is not None:
                h = down.downsample(h, temb, cemb)
                hs.append(h)
        for block in self.middle_blocks:
            h = block(h, temb, cemb)
        for up in self.up_blocks:
            for j, res in enumerate(up.resnet_blocks):
                h = res(torch.cat([h, hs.pop()], dim=1), temb, cemb)
                if len(up.attention_blocks):
                    h = up.attention_blocks[j](h)
            if up.upsample is not None:
                h = up.upsample(h, temb, cemb)
        return self.last(h)
