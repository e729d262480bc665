"""Run a job's command so that it is told exactly once when to stop: ``python -m tha4_sdk.daemon.launch DAEMON_PID
-- CMD ARGS…``.

This small parent forwards the first SIGTERM or SIGINT it gets to the command, once, then waits for it and
exits with its status (128 + N when the command died of signal N). It gets SIGTERM itself when the daemon
dies (Linux ``PR_SET_PDEATHSIG``) — the kernel sends that again as each of the daemon's threads exits, which
would make a command that treats a second signal as "stop now" skip its checkpoint; forwarding once avoids
that. Elsewhere, the next daemon waits for a leftover job (`jobs._wait_for_exit`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m tha4_sdk.daemon.launch DAEMON_PID -- COMMAND [ARGS…]")
    daemon_pid, command = int(argv[0]), argv[2:]
    child: subprocess.Popen[bytes] | None = None
    asked = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal asked
        if not asked and child is not None:
            child.send_signal(signal.SIGTERM)
        asked = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != daemon_pid:  # the daemon died before the signal was armed
        sys.exit(f"daemon {daemon_pid} is gone; not starting {command[0]}")
    child = subprocess.Popen(command)
    if asked:  # a stop request arrived while the command was starting
        child.send_signal(signal.SIGTERM)
    code = child.wait()
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main(sys.argv[1:])
