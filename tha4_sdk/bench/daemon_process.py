"""Start `tha4 serve` as a child process and learn its ports: the daemon the bridge benchmarks measure against."""

from __future__ import annotations

import re
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tha4_sdk.client import Client

READY_LINE = re.compile(r"listening on tcp://\S+:(\d+) \(frames on port (\d+)\)")


class DaemonProcess:
    """``tha4 serve --port 0 …`` in a subprocess (ephemeral loopback ports unless ``args`` say otherwise)."""

    def __init__(self, store: Path, state_dir: Path, *args: str, startup_s: float = 120.0) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log = state_dir / "daemon.log"
        cmd = [sys.executable, "-m", "tha4_sdk.cli", "serve", "--port", "0", "--characters", str(store),
               "--state-dir", str(state_dir), "-v", *args]
        with self.log.open("a") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        match = READY_LINE.search(self._read_line(startup_s))
        if not match:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"the daemon did not start; its log:\n{self.log.read_text()}")
        self.port, self.frame_port = int(match[1]), int(match[2])

    def _read_line(self, timeout: float) -> str:
        if self.proc.stdout is None:
            raise RuntimeError("the daemon's stdout is not a pipe")
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            return self.proc.stdout.readline() if sel.select(timeout) else ""

    def client(self, **kwargs: Any) -> Client:
        return Client(port=self.port, **kwargs)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (clean shutdown), SIGKILL if it does not end within ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return code

    def __enter__(self) -> "DaemonProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
