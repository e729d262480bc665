"""Safe loading of official weight files: ``weights_only`` unpickling, strict keys and shapes, clear errors."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import nn

from tha4_sdk.errors import Tha4Error


class WeightFileError(Tha4Error, ValueError):
    """A weight file that is missing, corrupt, unsafe, or does not fit its network."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``torch.save``'d state dict with ``weights_only=True`` (no code from the file ever runs)."""
    path = Path(path)
    if not path.is_file():
        raise WeightFileError(f"{path}: weight file not found")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise WeightFileError(
            f"{path}: refused to load: the file holds more than plain tensors (weights_only=True rejected it: "
            f"{str(e).splitlines()[0]}). Only load weight files from sources you trust."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, IndexError, KeyError, ValueError) as e:
        # arbitrary bytes make the weights-only unpickler fail in many ways (e.g. IndexError on an empty stack)
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise WeightFileError(f"{path}: not a readable PyTorch weight file ({detail})") from None
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightFileError(f"{path}: expected a state dict of tensors, got {type(sd).__name__}")
    return dict(sd)


def check_state_dict(module: nn.Module, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise naming ``source`` and the first bad key if ``sd`` does not match ``module`` exactly."""
    expected = module.state_dict()
    if sd and expected and not set(sd) & set(expected):
        raise WeightFileError(
            f"{source}: holds a different network (expected keys like {next(iter(expected))!r}, "
            f"found keys like {next(iter(sd))!r}); check which file goes where"
        )
    for key, ref in expected.items():
        if key not in sd:
            raise WeightFileError(f"{source}: missing key {key!r} (expected shape {list(ref.shape)})")
        got = sd[key]
        if tuple(got.shape) != tuple(ref.shape):
            raise WeightFileError(f"{source}: key {key!r} has shape {list(got.shape)}, expected {list(ref.shape)}")
        if not got.is_floating_point():
            raise WeightFileError(f"{source}: key {key!r} has dtype {got.dtype}, expected a float tensor")
        if not torch.isfinite(got).all():
            raise WeightFileError(f"{source}: key {key!r} contains NaN or infinity")
    extra = [k for k in sd if k not in expected]
    if extra:
        raise WeightFileError(f"{source}: unexpected key {extra[0]!r}")


def load_weights(module: nn.Module, path: str | Path) -> nn.Module:
    """Load ``path`` into ``module`` strictly; the module is left untouched when anything is wrong."""
    load_weights_together([(module, path)])
    return module


def load_weights_together(pairs: Sequence[tuple[nn.Module, str | Path]], *, assign: bool = False) -> None:
    """Load several files into several modules, all or nothing: every file is read and checked first.

    A missing file is reported together with the other missing ones. ``assign=True`` adopts the file's
    tensors instead of copying them (for modules built on the ``meta`` device).
    """
    missing = [str(path) for _, path in pairs if not Path(path).is_file()]
    if missing:
        raise WeightFileError(f"{missing[0]}: weight file not found" if len(missing) == 1
                              else f"weight files not found: {', '.join(missing)}")
    checked = []
    for module, path in pairs:
        sd = read_state_dict(path)
        check_state_dict(module, sd, str(path))
        checked.append((module, sd))
    for module, sd in checked:
        module.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True, assign=assign)
