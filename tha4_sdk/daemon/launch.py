"""Start a command that dies with the daemon: ``python -m tha4_sdk.daemon.launch DAEMON_PID -- CMD ARGS…``.

On Linux the command gets SIGTERM when the daemon dies (``PR_SET_PDEATHSIG``), so a distiller saves a
checkpoint even when the daemon is killed; elsewhere the next daemon waits for it (`jobs._wait_for_exit`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m tha4_sdk.daemon.launch DAEMON_PID -- COMMAND [ARGS…]")
    daemon_pid, command = int(argv[0]), argv[2:]
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != daemon_pid:  # the daemon died before the signal was armed
        sys.exit(f"daemon {daemon_pid} is gone; not starting {command[0]}")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
