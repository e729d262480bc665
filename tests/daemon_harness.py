"""Helpers for the daemon tests: a character store, a real daemon in a subprocess (the bridge benchmarks' own,
with the controls the tests need) or in a thread."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from teacher_golden import torch_threads

from tha4_sdk.bench import daemon_process
from tha4_sdk.daemon.server import Daemon, DaemonConfig
from tha4_sdk.pose import Pose
from tha4_sdk.render.base import RenderSession


class DaemonProcess(daemon_process.DaemonProcess):
    """``tha4 serve`` in a subprocess, signalled and waited for by the tests that stop or kill it."""

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)


@functools.cache
def daemon_thread_count() -> int:
    """The torch thread count a daemon subprocess renders with: a fresh process's (float32 student frames depend
    on it, and a test process's own count may have been changed by the tests before)."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], check=True,
                         capture_output=True, text=True, timeout=120)
    return int(out.stdout.split()[-1])


def reference_rgba(session: RenderSession, pose: Pose) -> np.ndarray:
    """``session``'s frame for ``pose`` rendered here as a daemon subprocess renders it (its thread count)."""
    with torch_threads(daemon_thread_count()):
        return session.render(pose)[0].rgba


#: the share of a float32 student frame's values another process may render differently (docs/daemon.md,
#: "Frames are the student renderer's frames": up to 346 of 2^20 seen; another pose changes several percent)
OTHER_PROCESS_SHARE = 1e-3


def assert_same_frame(got: np.ndarray, expected: np.ndarray) -> None:
    """``got``, a frame another process rendered, is ``expected`` (this process's render of the same pose): equal
    but for the few values float32 rounding may change from one process to another."""
    assert got.shape == expected.shape and got.dtype == expected.dtype, (got.shape, got.dtype)
    differ = np.count_nonzero(got != expected)
    assert differ <= OTHER_PROCESS_SHARE * got.size, f"{differ} of {got.size} values differ"


def make_store(folder: Path, *characters: Path) -> Path:
    """A character store holding links to ``characters`` (the reference data stays untouched)."""
    folder.mkdir(parents=True, exist_ok=True)
    for character in characters:
        (folder / character.name).symlink_to(character, target_is_directory=True)
    return folder


@contextmanager
def daemon_thread(**config: Any) -> Iterator[Daemon]:
    """A daemon running in a thread of this process (for tests that register plugins in-process)."""
    daemon = Daemon(DaemonConfig(port=0, **config))
    ready = threading.Event()
    thread = threading.Thread(target=daemon.run, kwargs={"on_ready": lambda d: ready.set()}, daemon=True)
    thread.start()
    assert ready.wait(60), "the daemon thread did not start"
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(60)
        assert not thread.is_alive(), "the daemon thread did not stop"
