"""The ``onnx`` renderer plugin: the character's exported student graph on onnxruntime.

The graph is built from the character's student weights when the session opens
(`tha4_sdk.models.student.onnx_graph`), or read from a ``character.onnx`` given as ``model``. Execution
providers: CPU always; with ``device="auto"`` CUDA, DirectML or CoreML first when the installed onnxruntime
has them. Needs ``pip install 'tha4-sdk[onnx]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from tha4_sdk.character import Character, CharacterError
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.render.base import Renderer, RendererOption, RenderOptionError, RenderSession

#: accelerated providers tried first with ``device="auto"``, in this order
ACCELERATED = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider")
#: frames per onnxruntime run: each frame holds ~0.4 GB of activations (exact graph; ~0.3 GB fast)
MAX_BATCH = 4


def _ort():  # noqa: ANN202
    try:
        import onnxruntime
    except ImportError:
        raise RenderOptionError("the onnx renderer needs onnxruntime: pip install 'tha4-sdk[onnx]'") from None
    return onnxruntime


def providers_for(device: str, available: list[str]) -> list[Any]:
    """The provider list for a device name (``auto``, ``cpu``, ``cuda``, ``cuda:N``) given what is installed."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "auto":
        return [p for p in ACCELERATED if p in available] + ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise RenderOptionError(f"device {device!r}: this onnxruntime has no CUDA provider (it has "
                                    f"{', '.join(available)}); install onnxruntime-gpu or use device='cpu'")
        index = int(device.partition(":")[2] or 0)
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    raise RenderOptionError(f"unknown device {device!r} for the onnx renderer; use auto, cpu, cuda or cuda:N")


class OnnxSession(RenderSession):
    """One onnxruntime session on the character's graph; ``render_raw`` returns its ``image`` output."""

    def __init__(self, character: Character, model: bytes, providers: list[Any], threads: int | None) -> None:
        super().__init__(character, torch.device("cpu"), torch.float32)
        ort = _ort()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(model, options, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise CharacterError(f"onnxruntime could not load the graph of {character.name!r}: {e}") from None

    @property
    def providers(self) -> list[str]:
        """The providers onnxruntime actually uses, most preferred first."""
        return self.session.get_providers()

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        pose = np.ascontiguousarray(poses.detach().cpu().numpy(), dtype=np.float32)
        if pose.ndim == 1:
            pose = pose[None]
        chunks = [self.session.run(["image"], {"pose": pose[i:i + MAX_BATCH]})[0]
                  for i in range(0, len(pose), MAX_BATCH)]
        return torch.from_numpy(np.concatenate(chunks) if len(chunks) > 1 else chunks[0])

    def close(self) -> None:
        del self.session


class OnnxRenderer(Renderer):
    """The student as an ONNX graph on onnxruntime (CPU; CUDA, DirectML or CoreML providers when installed)."""

    name: ClassVar[str] = "onnx"
    learned_weights: ClassVar[str | None] = "student"
    options: ClassVar[tuple[RendererOption, ...]] = (
        RendererOption("graph", str, "fast", "which graph to build from the student weights",
                       choices=("fast", "exact")),
        RendererOption("model", Path, None, "a character.onnx to run instead (written by `tha4 export onnx`)"),
        RendererOption("threads", int, None, "onnxruntime's intra-op threads (default: its own choice)"),
    )

    graph: str
    model: str | Path | None
    threads: int | None

    def __init__(self, device: str = "auto", dtype: str | torch.dtype = "float32", **options: Any) -> None:
        if str(dtype) not in ("float32", "torch.float32", "fp32"):
            raise RenderOptionError("the onnx renderer runs the float32 graph only")
        super().__init__("cpu", torch.float32, **options)  # the device picks execution providers (`providers_for`)
        self.device_name = str(device)

    def open(self, character: Character) -> RenderSession:
        if self.model is not None:
            path = Path(self.model)
            if not path.is_file():
                raise CharacterError(f"{path}: ONNX model not found (write one with `tha4 export onnx`)")
            model = path.read_bytes()
        else:
            from tha4_sdk.models.student.onnx_graph import build_graph

            model = build_graph(character, self.graph, rgba8=False).SerializeToString()
        providers = providers_for(self.device_name, _ort().get_available_providers())
        return OnnxSession(character, model, providers, self.threads)


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [OnnxRenderer]
