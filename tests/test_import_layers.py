"""The layers of the code, as import-linter contracts (pyproject.toml, ``[tool.importlinter]``).

The real tree keeps every contract; a copy of it with one forbidden import added (even one inside a
function) breaks the contract that forbids it, so the check cannot pass by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tha4_sdk

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages under ``root`` (its pyproject.toml), not the installed ones."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "plugins")])}
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
                           "--no-cache", "--no-logo", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_tree_keeps_every_layer_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_the_library_contract_names_every_library_room() -> None:
    """A new top-level module or package of tha4_sdk must be placed in the layers (or it goes unchecked)."""
    rooms = {f"tha4_sdk.{p.stem}" for p in Path(tha4_sdk.__file__).parent.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    library = next(c for c in CONTRACTS if c["name"].startswith("The library never imports"))
    assert rooms - {"tha4_sdk.cli", "tha4_sdk.bench"} == set(library["source_modules"])


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info")
    shutil.copytree(REPO / "tha4_sdk", root / "tha4_sdk", ignore=ignore)
    shutil.copytree(REPO / "plugins" / "tha4_plugins", root / "plugins" / "tha4_plugins", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root)
    return root


@pytest.mark.parametrize("module, statement, contract", [
    ("tha4_sdk/mixer.py", "import tha4_plugins.idle", "The core never imports the plugins package"),
    ("plugins/tha4_plugins/sliders/cli.py", "from tha4_sdk.cli.render import open_session",
     "Plugins never import a command-line module or a benchmark"),
    ("tha4_sdk/pose.py", "from tha4_sdk.bench import report", "The library never imports the command line"),
    ("tha4_sdk/render/base.py", "from tha4_sdk.daemon import protocol", "Rooms from the command line down"),
    ("tha4_sdk/render/onnx.py", "from tha4_sdk.export import onnx", "Rooms from the command line down"),
    ("tha4_sdk/distill/fast.py", "from tha4_sdk.export import onnx", "Rooms from the command line down"),
    ("tha4_sdk/export/onnx.py", "from tha4_sdk.distill import fast", "Rooms from the command line down"),
    ("tha4_sdk/plugins.py", "from tha4_sdk.render import base", "Rooms from the command line down"),
])
def test_a_forbidden_import_breaks_its_contract(copy: Path, module: str, statement: str, contract: str) -> None:
    path = copy / module
    original = path.read_text()
    path.write_text(original + f"\n\ndef _added() -> None:\n    {statement}  # noqa: F401\n")
    try:
        result = lint_imports(copy)
    finally:
        path.write_text(original)
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert any(line.startswith(contract) for line in broken), result.stdout
    importer = module.removeprefix("plugins/").removesuffix(".py").replace("/", ".")
    assert importer in result.stdout  # the report names the offending module
