"""The base of the renderers that run a set of official networks from a weights folder on any character image
(the THA4 teacher, THA3).

`NetworkRenderer` holds the weights folder, its presence check and the poser loaded on first use (and shared
by the renderer's sessions); `NetworkSession` holds one character image, its pose-independent eyebrow
decomposition (computed once), the precision (float32/float64 exact, half precision under autocast) and the
memory format, and returns every output of the networks, named. A subclass says only what differs: how its
poser loads, how its image is read, how one call runs.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, Mapping, Protocol, TypeVar

import torch

from tha4_sdk.character import Character, Fit
from tha4_sdk.device import FULL_PRECISION, precision_autocast
from tha4_sdk.memory import retain_freed_memory
from tha4_sdk.models.weights import WeightFileError
from tha4_sdk.render.base import PoseLike, Renderer, RendererOption, RenderSession, pose_batch


class NamedOutputs(Protocol):
    """A poser's outputs, named; the rendered image is ``final_image``."""

    final_image: torch.Tensor


#: the networks (a `torch.nn.Module` with ``decompose(image)``, the pose-independent eyebrow decomposition)
PoserT = TypeVar("PoserT", bound=torch.nn.Module)
OutputsT = TypeVar("OutputsT", bound=NamedOutputs)


#: how a renderer is told where its weights are
RENDERER_WEIGHTS_OPTION = "the renderer option weights=DIR"


def require_weight_files(files: Mapping[str, Path], error: type[WeightFileError], what: str, install: str,
                         elsewhere: str = RENDERER_WEIGHTS_OPTION) -> None:
    """Raise ``error`` when any of ``files`` is absent, saying which and what to do: run ``install`` (a command
    in backquotes and what it installs) or name another folder through ``elsewhere``."""
    missing = [path.name for path in files.values() if not path.is_file()]
    if missing:
        folder = next(iter(files.values())).parent
        raise error(f"{what} weights not found in {folder} (missing {', '.join(missing)}). Run {install}, or give "
                    f"{elsewhere}, a folder that holds "
                    + ", ".join(path.name for path in files.values()) + ".")


class NetworkSession(RenderSession, Generic[PoserT, OutputsT]):
    """One character image on a poser; the pose-independent eyebrow decomposition is computed once."""

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype, poser: PoserT,
                 *, fit: Fit = "reject", channels_last: bool = False, compile: bool = False) -> None:
        super().__init__(character, device, dtype)
        if device.type == "cpu":
            retain_freed_memory()  # each frame's activations reuse the last frame's pages (tha4_sdk.memory)
        self.poser = poser
        #: the dtype of weights and inputs: float64 when asked for, else float32 (half precision is autocast)
        self.compute_dtype = dtype if dtype in FULL_PRECISION else torch.float32
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.image = (self.read_image(character, fit).unsqueeze(0).to(device, self.compute_dtype)
                      .contiguous(memory_format=self.memory_format))
        self._forward = torch.compile(poser) if compile else poser
        with torch.inference_mode(), self._autocast():
            self.decomposition = poser.decompose(self.image)

    @staticmethod
    @abstractmethod
    def read_image(character: Character, fit: Fit) -> torch.Tensor:
        """The character's image as the poser takes it: 4×512×512 in [-1, 1]."""

    @abstractmethod
    def run(self, poses: torch.Tensor) -> OutputsT:
        """The outputs for N×45 poses on the device in the compute dtype (called under the session's autocast)."""

    def _autocast(self) -> contextlib.AbstractContextManager:
        return precision_autocast(self.device, self.dtype)

    @torch.inference_mode()
    def outputs(self, poses: PoseLike | torch.Tensor) -> OutputsT:
        """Every output, named, for a pose, a list of poses or N×45 values (docs/teacher.md, docs/tha3.md)."""
        if not isinstance(poses, torch.Tensor):
            poses = torch.tensor(pose_batch(poses))
        with self._autocast():
            return self.run(poses.to(self.device, self.compute_dtype))

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        return self.outputs(poses).final_image

    def close(self) -> None:
        del self.image, self.decomposition, self._forward


class NetworkRenderer(Renderer, Generic[PoserT]):
    """A renderer of official networks whose weight files lie in one folder, loaded once and shared by its
    sessions. ``dtype``: float32 (default) or float64 compute every operation in that dtype; float16/bfloat16
    run under autocast with float32 weights and float32 warps."""

    options: ClassVar[tuple[RendererOption, ...]] = (
        RendererOption("weights", Path, None, "folder with the five official .pt files (default: the folder "
                                              "`tha4 models fetch` fills)"),
        RendererOption("fit", str, "reject", "what to do with a character image that is not 512×512",
                       choices=("reject", "resize", "pad")),
        RendererOption("channels_last", bool, False, "channels-last memory format (docs/tha3.md, speed)"),
        RendererOption("compile", bool, False, "wrap the networks in torch.compile"),
    )
    #: the session class `open` returns
    session_type: ClassVar[type[NetworkSession]]

    weights: Path
    fit: Fit
    channels_last: bool
    compile: bool

    def __init__(self, device: str | torch.device = "auto", dtype: str | torch.dtype = "float32",
                 **options: Any) -> None:
        super().__init__(device, dtype, **options)
        self.weights = Path(self.weights) if self.weights is not None else self.default_weights_dir()
        self._poser: PoserT | None = None

    @abstractmethod
    def default_weights_dir(self) -> Path:
        """Where the weights are when no ``weights`` folder is given: the cache ``tha4 models fetch`` fills."""

    @abstractmethod
    def check_weights(self) -> None:
        """Raise a `WeightFileError` saying what to do when a weight file is missing from ``self.weights``."""

    @abstractmethod
    def load_poser(self) -> PoserT:
        """The networks with the weights of ``self.weights``, on the CPU in float32."""

    @property
    def poser(self) -> PoserT:
        """The networks, loaded (and moved to the device) on first use."""
        if self._poser is None:
            self.check_weights()
            poser = self.load_poser().to(self.device)
            if self.dtype == torch.float64:
                poser = poser.double()
            if self.channels_last:
                poser = poser.to(memory_format=torch.channels_last)
            self._poser = poser
        return self._poser

    def session_options(self) -> dict[str, Any]:
        """The keyword arguments of `session_type` besides character, device, dtype and poser."""
        return {"fit": self.fit, "channels_last": self.channels_last, "compile": self.compile}

    def open(self, character: Character) -> NetworkSession:
        return self.session_type(character, self.device, self.dtype, self.poser, **self.session_options())
