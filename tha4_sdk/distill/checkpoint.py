"""Crash-safe checkpoints (written with `tha4_sdk.files.atomic_write`) and the RNG state of the process.

A checkpoint is a plain ``torch.save`` mapping of tensors, numbers, strings, lists and dicts, read
back with ``weights_only=True``. Killing the process at any moment leaves either the previous or
the new checkpoint in place, never a torn one.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tha4_sdk.errors import Tha4Error
from tha4_sdk.files import atomic_write


class CheckpointError(Tha4Error, RuntimeError):
    """A checkpoint that cannot be read or does not belong to this run."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"{path}: unreadable checkpoint ({str(e).splitlines()[0]})") from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path}: not a tha4 distillation checkpoint")
    return state


def rng_state() -> dict[str, Any]:
    """The global RNG states of torch (CPU and every CUDA device), numpy and Python's random."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": _numpy_state_to_plain(np.random.get_state(legacy=False)),
        "python": random.getstate(),
    }


def _numpy_state_to_plain(state: dict[str, Any]) -> dict[str, Any]:
    """numpy's global MT19937 state with its key array as a list (``weights_only`` reads no arrays)."""
    return {**state, "state": {**state["state"], "key": state["state"]["key"].tolist()}}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {**numpy_state["state"], "key": np.array(numpy_state["state"]["key"], np.uint32)}
    np.random.set_state(numpy_state)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
