"""THA3 eyebrow morphing combiner: THA4's network (teacher/eyebrow_morphing_combiner.py), standard or separable.

THA4 kept THA3's ``standard`` combiner unchanged; the ``separable`` variants use a depthwise-separable trunk.
"""

from __future__ import annotations

from tha4_sdk.models.teacher.eyebrow_morphing_combiner import EYEBROW_POSE_SIZE, EyebrowMorphingCombiner

__all__ = ["EYEBROW_POSE_SIZE", "EyebrowMorphingCombiner", "eyebrow_morphing_combiner"]


def eyebrow_morphing_combiner(separable: bool) -> EyebrowMorphingCombiner:
    """``(background_layer, eyebrow_layer, pose[N,12])`` → ``[eyebrow_image, combine_alpha,
    eyebrow_image_no_combine_alpha, morphed, morphed_alpha, morphed_color, warped, grid_change]``."""
    return EyebrowMorphingCombiner(separable=separable)
