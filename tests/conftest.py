"""Shared fixtures. The conformance data lives outside the repo, found through THA4_REFERENCE_DIR
(default: ../shared/reference beside the checkout). Tests that need it FAIL when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    return Path(os.environ.get("THA4_REFERENCE_DIR", REPO.parent / "shared" / "reference")).resolve()


@pytest.fixture(scope="session")
def reference() -> Path:
    ref = reference_dir()
    if not (ref / "conformance").is_dir():
        pytest.fail(f"reference data not found at {ref}: set THA4_REFERENCE_DIR to the shared/reference folder")
    return ref


@pytest.fixture(scope="session")
def lambda_00(reference: Path) -> Path:
    return reference / "characters" / "lambda_00"


@pytest.fixture(scope="session")
def lambda_01(reference: Path) -> Path:
    return reference / "characters" / "lambda_01"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own empty THA4_HOME so nothing leaks into the user's cache."""
    monkeypatch.setenv("THA4_HOME", str(tmp_path_factory.mktemp("tha4_home")))


@pytest.fixture(scope="session")
def deterministic_weights(reference: Path):
    """The reference folder's ``deterministic_weights`` module (fill_state_dict, deterministic_input)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("deterministic_weights",
                                                  reference / "conformance" / "deterministic_weights.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
