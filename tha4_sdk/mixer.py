"""The mixer: layers several pose sources (timeline, lip-sync, webcam, …) into one pose per instant.

Composition rules (docs/mixer.md):

* Start from the base pose (rest unless given).
* Apply each layer in order, only to the parameters it names (all 45 when it names none),
  with its weight ``w`` in [0, 1]:

  - ``override``: ``out = (1 − w)·out + w·value`` (w = 1 replaces; smaller w cross-fades)
  - ``add``: ``out = out + w·value`` (expressions stack)
  - ``max``: ``out = max(out, w·value)`` (whichever opens the mouth or closes the eye more)

* A layer whose source has nothing yet (``pose_at`` returns None) or whose time has not
  started contributes nothing.
* Clamp every parameter to its range, then run the filters in order (e.g. idle blinking).

A layer's source or a filter that raises stops the mix by default. With an ``on_error`` policy the
mixer instead leaves the failing layer or filter out from then on and tells the policy which one
failed and why; the daemon's sessions mix this way, so one broken plugin cannot stop a stream.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Collection, Literal, Sequence

import numpy as np

from tha4_sdk.pose import HIGHS, LOWS, POSE_SIZE, Pose, PoseError, parameter
from tha4_sdk.source import PoseFilter, PoseSource

Mode = Literal["override", "add", "max"]
#: what a mixer does with a layer or filter that raises (see the module docstring)
ErrorPolicy = Callable[["Layer | PoseFilter", Exception], None]
MODES: tuple[str, ...] = ("override", "add", "max")


def parameter_mask(params: Collection[str] | None) -> np.ndarray:
    """A 45-bool mask of the named parameters (every parameter for None)."""
    if params is None:
        return np.ones(POSE_SIZE, bool)
    mask = np.zeros(POSE_SIZE, bool)
    for name in params:
        mask[parameter(name).index] = True
    return mask


def combine(current: np.ndarray, values: np.ndarray, mask: np.ndarray, mode: str, weight: float = 1.0) -> np.ndarray:
    """One layer's contribution: ``values`` applied over ``current`` where ``mask`` is set (see module rules)."""
    w = np.float32(weight)
    if mode == "override":
        layered = current + (values - current) * w
    elif mode == "add":
        layered = current + values * w
    elif mode == "max":
        layered = np.maximum(current, values * w)
    else:
        raise PoseError(f"unknown mix mode {mode!r}; choose one of {', '.join(MODES)}")
    return np.where(mask, layered, current).astype(np.float32)


@dataclass
class Layer:
    """A source placed in the mix: how it combines, over which parameters, with what weight and timing."""

    source: PoseSource
    mode: Mode = "override"
    params: Collection[str] | None = None
    weight: float = 1.0
    #: seconds into the mix when the layer begins (its own clock starts at 0 then)
    start: float = 0.0
    #: the layer's clock wraps every ``loop`` seconds (None: no wrapping)
    loop: float | None = None
    mask: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise PoseError(f"unknown mix mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if not (0.0 <= self.weight <= 1.0):
            raise PoseError(f"layer weight must be in [0, 1], got {self.weight}")
        if self.loop is not None and not (self.loop > 0 and math.isfinite(self.loop)):
            raise PoseError(f"layer loop must be a positive number of seconds, got {self.loop}")
        self.mask = parameter_mask(self.params)

    def local_time(self, t: float) -> float | None:
        """The layer's own clock at mix time ``t``, or None before it starts."""
        local = t - self.start
        if local < 0.0:
            return None
        return local % self.loop if self.loop else local


class Mixer(PoseSource):
    """Several pose sources layered into one (see the module docstring for the rules), then filtered."""

    name: ClassVar[str] = "mixer"

    def __init__(self, layers: Sequence[Layer], filters: Sequence[PoseFilter] = (), base: Pose | None = None,
                 on_error: ErrorPolicy | None = None) -> None:
        self.layers = list(layers)
        self.filters = list(filters)
        self.base = base or Pose.rest()
        self.on_error = on_error
        ends = [None if layer.loop or layer.source.duration is None else layer.start + layer.source.duration
                for layer in self.layers]
        self.duration = None if None in ends or not ends else max(ends)  # type: ignore[type-var]
        self._started: list[PoseSource] = []

    def start(self) -> None:
        for f in self.filters:
            f.reset()
        try:
            for layer in self.layers:
                layer.source.start()
                self._started.append(layer.source)
        except BaseException:
            self.stop()
            raise

    def mix(self, t: float) -> Pose:
        """The layered pose at ``t`` before filters."""
        vec = self.base.array.copy()
        for layer in tuple(self.layers):  # a copy: a layer may be added or dropped meanwhile
            local = layer.local_time(t)
            try:
                pose = None if local is None else layer.source.pose_at(local)
            except Exception as e:
                self._failed(layer, e)
                continue
            if pose is not None:
                vec = combine(vec, pose.array, layer.mask, layer.mode, layer.weight)
        return Pose(np.clip(vec, LOWS, HIGHS))

    def pose_at(self, t: float) -> Pose:
        pose = self.mix(t)
        for f in tuple(self.filters):
            try:
                pose = f.apply(pose, t)
            except Exception as e:
                self._failed(f, e)
        return pose

    def _failed(self, item: Layer | PoseFilter, error: Exception) -> None:
        """Apply the error policy: re-raise without one, else drop ``item`` from the mix and report it."""
        if self.on_error is None:
            raise error
        with contextlib.suppress(ValueError):  # already removed by someone else
            (self.layers if isinstance(item, Layer) else self.filters).remove(item)  # type: ignore[arg-type]
        self.on_error(item, error)

    def stop(self) -> None:
        errors = []
        while self._started:
            try:
                self._started.pop().stop()
            except Exception as e:  # keep stopping the others, then report
                errors.append(e)
        if errors:
            raise errors[0]
