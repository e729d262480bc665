"""The official THA3 system (Khungurn 2022): five networks, one module each, and the five-step poser.

Variants: ``separable_float`` / ``separable_half`` (depthwise-separable convolutions) and ``standard_float``
/ ``standard_half``; a variant's two precisions share one architecture (see `poser.VARIANTS`).
"""
