"""A real wheel (``pip wheel``) installed in a fresh virtual environment, used from outside the checkout.

What a user who runs ``pip install tha4-sdk`` gets: the sample characters' manifests, the plugins and the
license travel inside the wheel, and ``tha4 demo --from DIR`` renders lambda_00 from an offline folder.
No network: the build uses the installed setuptools (no build isolation), the venv borrows the dependencies of
the Python running the tests (its site folders, listed in a ``.pth`` file: ``--system-site-packages`` would borrow
the base interpreter's, which has none when the tests run from a virtual environment), and the character files
come from the reference folder.
"""

from __future__ import annotations

import os
import site
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (f"{' '.join(cmd)} exited {done.returncode}:\n"
                                  f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def borrow_dependencies(env: Path) -> None:
    """Let the venv at ``env`` import this Python's dependencies, after its own packages.

    The folders go in a ``.pth`` file, so the ``.pth`` files inside them (this checkout's editable install) are
    not run: ``tha4_sdk`` comes from the wheel, everything else from here.
    """
    borrowed = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    (own,) = (env / "lib").glob("python3*/site-packages")
    (own / "borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv's bin folder, with the wheel built from a copy of the sources installed into it."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy, so the build leaves nothing behind in the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build",
                                                                   "dist", ".pytest_cache", ".hypothesis"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"),
         str(source)], cwd=tmp)
    wheels = list((tmp / "dist").glob("tha4_sdk-*.whl"))
    assert len(wheels) == 1, wheels
    venv.create(tmp / "venv", with_pip=False)
    bin_dir = tmp / "venv" / "bin"
    borrow_dependencies(tmp / "venv")
    run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q", "--no-deps",
         "--no-index", str(wheels[0])], cwd=tmp)
    return bin_dir


def test_the_wheel_carries_the_manifests_plugins_and_license(installed: Path) -> None:
    wheel = next((installed.parent.parent / "dist").glob("tha4_sdk-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"tha4_sdk/sample_characters/lambda_00.yaml", "tha4_sdk/sample_characters/lambda_01.yaml",
            "tha4_sdk/models/teacher/sources.yaml", "tha4_plugins/sliders/static/index.html",
            "tha4_sdk/models/student/native_runner.c"} <= names  # the student's C runner, built on first use
    player = {f"tha4_sdk/export/web/{n}" for n in ("index.html", "player.js", "render_worker.js", "timeline.js",
                                                   "player.css", "onnxruntime-web.yaml")}
    assert player <= names, player - names  # the web player's assets and its pinned runtime
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names), names


@pytest.mark.slow
def test_tha4_demo_from_an_offline_folder_outside_the_checkout(installed: Path, tmp_path: Path,
                                                               lambda_00: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(THA4_HOME=str(tmp_path / "home"), PATH=f"{installed}{os.pathsep}{env.get('PATH', '')}")
    where = run([str(installed / "python"), "-c", "import tha4_sdk, tha4_plugins; print(tha4_sdk.__file__); "
                 "print(tha4_plugins.__file__)"], cwd=tmp_path, env=env)
    assert all(Path(line).is_relative_to(installed.parent) for line in where.split()), where
    listed = run([str(installed / "tha4"), "characters", "list"], cwd=tmp_path, env=env)
    assert "lambda_00" in listed and "lambda_01" in listed, listed
    out = run([str(installed / "tha4"), "demo", "--from", str(lambda_00), "--fps", "4", "--device", "cpu",
               "-o", str(tmp_path / "demo")], cwd=tmp_path, env=env)
    assert "wrote 12 frames" in out, out
    assert (tmp_path / "demo" / "demo.apng").stat().st_size > 10_000
    assert len(list((tmp_path / "demo" / "frames").glob("frame_*.png"))) == 12
    assert (tmp_path / "home" / "characters" / "lambda_00" / "character.yaml").is_file()
