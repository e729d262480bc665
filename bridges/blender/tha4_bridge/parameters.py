"""The 45 THA4 pose parameters in official order, grouped as the official poser shows them.

Blender's Python cannot import tha4_sdk, so the add-on carries this table; tests/test_bridge_blender.py checks
it against tha4_sdk.pose.PARAMETERS (names, order, groups, categories, ranges).
"""

from __future__ import annotations

from typing import NamedTuple


class Parameter(NamedTuple):
    name: str
    group: str      # the poser's row: a morph (``eyebrow_troubled``) or a single parameter (``head_x``)
    category: str   # the poser's panel
    low: float
    high: float


# (category, panel label, [(group, sided)], low, high), in official order
_LAYOUT = (
    ("eyebrow", "Eyebrow", [(f"eyebrow_{g}", True) for g in
                            ("troubled", "angry", "lowered", "raised", "happy", "serious")], 0.0, 1.0),
    ("eye", "Eye", [(f"eye_{g}", True) for g in
                    ("wink", "happy_wink", "surprised", "relaxed", "unimpressed", "raised_lower_eyelid")], 0.0, 1.0),
    ("iris_morph", "Iris Morph", [("iris_small", True)], 0.0, 1.0),
    ("mouth", "Mouth", [(f"mouth_{g}", False) for g in ("aaa", "iii", "uuu", "eee", "ooo", "delta")]
     + [("mouth_lowered_corner", True), ("mouth_raised_corner", True), ("mouth_smirk", False)], 0.0, 1.0),
    ("iris_rotation", "Iris Rotation", [("iris_rotation_x", False), ("iris_rotation_y", False)], -1.0, 1.0),
    ("face_rotation", "Face Rotation", [("head_x", False), ("head_y", False), ("neck_z", False)], -1.0, 1.0),
    ("body_rotation", "Body Rotation", [("body_y", False), ("body_z", False)], -1.0, 1.0),
    ("breathing", "Breathing", [("breathing", False)], 0.0, 1.0),
)

PARAMETERS: tuple[Parameter, ...] = tuple(
    Parameter(group + suffix, group, category, low, high)
    for category, _, groups, low, high in _LAYOUT
    for group, sided in groups
    for suffix in (("_left", "_right") if sided else ("",))
)
NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)


def _row_label(group: str, category: str) -> str:
    """The group name without its category's first word (``eyebrow_troubled`` → ``Troubled``)."""
    prefix = category.split("_")[0] + "_"
    return (group[len(prefix):] if group.startswith(prefix) else group).replace("_", " ").capitalize()


PANELS: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = tuple(
    (category, label, tuple((_row_label(group, category), tuple(p.name for p in PARAMETERS if p.group == group))
                            for group, _ in groups))
    for category, label, groups, _, _ in _LAYOUT
)
"""(category, panel label, rows): each row is (label, names): one parameter, or a morph's left and right."""
assert len(PARAMETERS) == 45
