"""Running Debian's real Ren'Py 8.0 from tests: ``renpy PROJECT lint`` and a game under Xvfb.

Ren'Py 8.0 was made for Python 3.9; on this Python 3.11 it needs the `compile` shim in
tests/renpy/sitecustomize.py, put on PYTHONPATH here. Saves, caches and preferences stay in the
project (HOME points into it); sound goes to SDL's dummy driver.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHIM = Path(__file__).resolve().parent / "renpy"
SCREEN = (800, 600)


def renpy_command() -> str:
    found = shutil.which("renpy") or ("/usr/games/renpy" if Path("/usr/games/renpy").is_file() else None)
    if found is None:
        pytest.fail("Ren'Py not found: apt-get install -y renpy xvfb xauth (bash .ci/install does)")
    return found


def _env(project: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(project), "PYTHONPATH": str(SHIM), "SDL_AUDIODRIVER": "dummy"}


def lint(project: Path, timeout: float = 120) -> tuple[list[str], str]:
    """Run ``renpy PROJECT lint``; return the problems it lists (one string each) and the whole report."""
    result = subprocess.run([renpy_command(), str(project), "lint"], env=_env(project), capture_output=True,
                            text=True, timeout=timeout)
    report = result.stdout
    assert result.returncode == 0 and "lint report" in report, f"lint did not run:\n{report}\n{result.stderr}"
    head = report.split("Statistics:", 1)[0].splitlines()[1:]  # Ren'Py lists problems before its statistics
    return [line for line in head if line.strip()], report


def run_game(project: Path, timeout: float = 150) -> None:
    """Run the game under Xvfb until its script quits; fail with Ren'Py's traceback if it raised."""
    if shutil.which("xvfb-run") is None:
        pytest.fail("xvfb-run not found: apt-get install -y xvfb xauth (bash .ci/install does)")
    traceback = project / "game" / "traceback.txt"
    traceback.unlink(missing_ok=True)
    game = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1024x768x24", renpy_command(), str(project)],
                            env=_env(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = game.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(game.pid, signal.SIGKILL)  # Xvfb and a stuck Ren'Py (which ignores SIGTERM) with it
        output, _ = game.communicate()
        pytest.fail(f"Ren'Py did not quit within {timeout} s:\n{output[-3000:]}")
    error = traceback.read_text(encoding="utf-8-sig") if traceback.is_file() else ""
    assert game.returncode == 0 and not error, f"Ren'Py failed:\n{error}\n{output[-3000:]}"


def background(size: tuple[int, int] = SCREEN) -> np.ndarray:
    """A scene background with colour everywhere different: red across, green down, some blue."""
    w, h = size
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, w).astype(np.uint8)[None, :]
    rgb[..., 1] = np.linspace(0, 255, h).astype(np.uint8)[:, None]
    rgb[..., 2] = 90
    return rgb


def composite(back: np.ndarray, sprite: np.ndarray, x: int, y: int) -> np.ndarray:
    """``sprite`` (straight-alpha RGBA8) alpha-composited over ``back`` (RGB) at (x, y), as float RGB."""
    out = back.astype(np.float64)
    alpha = sprite[..., 3:].astype(np.float64) / 255.0
    h, w = sprite.shape[:2]
    out[y:y + h, x:x + w] = sprite[..., :3] * alpha + out[y:y + h, x:x + w] * (1.0 - alpha)
    return out


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.float64)
