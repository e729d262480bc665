"""Helpers for the daemon tests: a character store, and a real daemon in a subprocess or a thread."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tha4_sdk.client import Client
from tha4_sdk.daemon.server import Daemon, DaemonConfig

READY_LINE = re.compile(r"listening on tcp://\S+:(\d+) \(frames on port (\d+)\)")


def make_store(folder: Path, *characters: Path) -> Path:
    """A character store holding links to ``characters`` (the reference data stays untouched)."""
    folder.mkdir(parents=True, exist_ok=True)
    for character in characters:
        (folder / character.name).symlink_to(character, target_is_directory=True)
    return folder


class DaemonProcess:
    """`tha4 serve` (as ``python -m tha4_sdk.cli serve``) on ephemeral loopback ports."""

    def __init__(self, store: Path, state_dir: Path, *args: str, startup_s: float = 90.0) -> None:
        self.log = state_dir / f"daemon-{os.getpid()}-{id(self)}.log"
        state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "tha4_sdk.cli", "serve", "--port", "0", "--characters", str(store),
               "--state-dir", str(state_dir), "-v", *args]
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        line = self._read_line(startup_s)
        match = READY_LINE.search(line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"daemon did not start: {line!r}\n{self.log.read_text()}")
        self.port, self.frame_port = int(match[1]), int(match[2])

    def _read_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return ""
        return self.proc.stdout.readline()

    def client(self, **kwargs: Any) -> Client:
        return Client(port=self.port, **kwargs)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()

    def __enter__(self) -> "DaemonProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc.stdout:
            self.proc.stdout.close()


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
