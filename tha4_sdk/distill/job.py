"""A distillation run as a process: stop signals, outcome records, exit status, and the job file.

`run_as_process` is what ``tha4 distill`` and the daemon's jobs share: SIGTERM or SIGINT asks for a
checkpoint (a second one ends the process at once); `distill` records how the run ends (``stopped``,
``error``) and raises, and the caller turns a `Tha4Error` into its ``exit_status``: 1 failed;
`EXIT_STOPPED` stopped after writing a checkpoint. ``python -m tha4_sdk.distill JOB.json`` runs the job a daemon wrote with
`write_job` (docs/daemon.md): `DistillConfig` fields, always resumed, progress as JSON lines on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Any

from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.run import DistillConfig, DistillError, distill
from tha4_sdk.distill.trainer import StopFlag, Stopped
from tha4_sdk.files import atomic_write

EXIT_STOPPED = Stopped.exit_status
#: the `DistillConfig` fields a job file gives as paths
PATH_FIELDS = frozenset(f.name for f in dataclasses.fields(DistillConfig) if "Path" in str(f.type))
USAGE = "usage: python -m tha4_sdk.distill JOB.json  (the command line is `tha4 distill`)"


def run_as_process(config: DistillConfig, *, resume: bool, progress: Progress) -> Path:
    """Run `distill` in this process until it is done (return the package folder), fails or is stopped by a
    signal (`Stopped`)."""
    stop = StopFlag()

    def on_signal(signum: int, _frame: object) -> None:
        stop.request()
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return distill(config, resume=resume, progress=progress, stop=stop)


def write_job(path: Path, **fields: Any) -> Path:
    """Write the job file ``path`` for a run of `DistillConfig` ``fields`` (paths as strings)."""
    return atomic_write(path, lambda f: f.write(json.dumps(fields, indent=1, default=str).encode()))


def read_job(path: Path) -> DistillConfig:
    """The `DistillConfig` of the job file ``path`` (a `DistillError` names what is wrong with it)."""
    try:
        fields = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DistillError(f"cannot read the job file {path}: {e}") from None
    if not isinstance(fields, dict):
        raise DistillError(f"{path}: a job file is a JSON object of distillation settings")
    known = {f.name for f in dataclasses.fields(DistillConfig)}
    if unknown := sorted(set(fields) - known):
        raise DistillError(f"{path}: unknown job settings {', '.join(unknown)}")
    try:
        return DistillConfig(**{k: Path(v) if k in PATH_FIELDS and v is not None else v for k, v in fields.items()})
    except TypeError as e:
        raise DistillError(f"{path}: {e}") from None


def main(argv: list[str]) -> int:
    """``python -m tha4_sdk.distill JOB.json``: run the job, resuming its checkpoint, with JSON-line progress."""
    if len(argv) != 1 or argv[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    progress = Progress(json_lines=True)
    try:
        config = read_job(Path(argv[0]))
    except DistillError as e:
        progress.event("error", message=str(e))
        raise
    run_as_process(config, resume=True, progress=progress)
    return 0
