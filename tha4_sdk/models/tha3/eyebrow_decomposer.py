"""THA3 eyebrow decomposer: THA4's network (teacher/eyebrow_decomposer.py) on a standard or separable trunk.

THA4 kept THA3's ``standard`` eyebrow decomposer unchanged; the ``separable`` variants swap every trunk
convolution for a depthwise-separable one (same heads, same outputs, same key names plus the split layers).
"""

from __future__ import annotations

from tha4_sdk.models.teacher.eyebrow_decomposer import EYEBROW_SIZE, EyebrowDecomposer

__all__ = ["EYEBROW_SIZE", "EyebrowDecomposer", "eyebrow_decomposer"]


def eyebrow_decomposer(separable: bool) -> EyebrowDecomposer:
    """``image [N,4,128,128]`` → ``[eyebrow_layer, eyebrow_alpha, eyebrow_color, background_layer,
    background_alpha, background_color]``."""
    return EyebrowDecomposer(separable=separable)
