"""Distillation jobs: a queue that runs one ``python -m tha4_sdk.distill JOB.json`` subprocess at a time.

The distiller's contract (`tha4_sdk.distill.job`, docs/distillation.md): it runs the job file
``WORK/JOB/job.json`` (written by `tha4_sdk.distill.job.write_job`), prints one JSON record per line
(``event``: start, phase, progress, checkpoint, eval, done, stopped, error …), continues from the output's
checkpoint when there is one, and on SIGTERM saves a checkpoint and exits with `CHECKPOINT_EXIT`. The runner
sends its stdout to ``WORK/JOB/progress.jsonl`` (a file, not a pipe, so a distiller outlives a daemon crash
long enough to checkpoint) and follows that file. The distiller runs under `tha4_sdk.daemon.launch`, in its
own process group, and is asked to stop (once) when the daemon dies; a restarted daemon re-queues the jobs
it finds ``running`` and launches them again, continuing from their checkpoints.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tha4_sdk.daemon.jobstore import JobStore
from tha4_sdk.daemon.protocol import ProtocolError
from tha4_sdk.distill.job import EXIT_STOPPED, write_job

log = logging.getLogger(__name__)
DISTILL_COMMAND = (sys.executable, "-m", "tha4_sdk.distill")
JOB_FILE = "job.json"
CHECKPOINT_EXIT = EXIT_STOPPED  # the distiller's exit status after SIGTERM: checkpoint written
GRACE_S = 120.0  # how long a SIGTERMed distiller may take to checkpoint before SIGKILL
MAX_ATTEMPTS = 5
POLL_S = 0.2
Publish = Callable[[str, dict[str, Any]], None]


def distill_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The distillation settings (`tha4_sdk.distill.run.DistillConfig` fields) of a job spec."""
    planned = {"examples": spec["examples"], "time_budget_s": spec.get("time_budget")}  # one of them, or neither
    return {"image": spec["image"], "face_mask": spec["face_mask"], "teacher": spec["teacher_arg"],
            "output": spec["output_dir"], **{name: value for name, value in planned.items() if value is not None}}


def eta_and_psnr(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What JOB-INFO reads off the distiller's records (the latest of each): ``ends_at``, the Unix time the job
    is over (a ``progress`` record's ``job_eta_s`` with a time budget, else its ``eta_s``: the current network's)
    and ``psnr``, ``{phase, psnr_db}`` of an ``eval`` record (``full`` from the ``done`` record)."""
    fields: dict[str, Any] = {}
    for record in records:
        event = record.get("event")
        if event == "progress":
            eta = record.get("job_eta_s", record.get("eta_s"))
            fields["ends_at"] = None if eta is None else record.get("t", time.time()) + eta
        elif event == "eval" and record.get("psnr_db") is not None:
            fields["psnr"] = {"phase": record.get("phase"), "psnr_db": record["psnr_db"]}
        elif event == "done" and isinstance(record.get("psnr"), dict) and "full" in record["psnr"]:
            fields["psnr"] = {"phase": "full", "psnr_db": record["psnr"]["full"]}
    return fields


class ProgressFile:
    """Reads the complete JSON lines appended to a file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                log.debug("ignoring a non-JSON progress line: %r", line[:200])
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


class JobManager:
    """Queues, runs, cancels and resumes distillation jobs; publishes ``job.*`` events."""

    def __init__(self, store: JobStore, work_dir: Path, publish: Publish) -> None:
        self.store = store
        self.work_dir = Path(work_dir)
        self._publish = publish
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        self._current: str | None = None
        self._terminated_at: float | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)

    # --- API (any thread) --------------------------------------------------------------------------------
    def start(self) -> None:
        """Re-queue what a previous daemon left running, then start working through the queue."""
        for job_id, state, pid in self.store.interrupted():
            _wait_for_exit(pid, GRACE_S)
            if state == "cancelling":
                self.store.update(job_id, state="cancelled", finished=time.time(), pid=None)
            else:
                log.info("job %s was interrupted; it will resume from its last checkpoint", job_id)
                self.store.update(job_id, state="queued", pid=None)
        self._thread.start()

    def submit(self, spec: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            if self.store.output_in_use(spec["output"]):
                raise ProtocolError("conflict", f"another job is already writing {spec['output']!r}")
            info = self.store.add(spec)
            self._cond.notify_all()
        self._publish("job.queued", {"job": info})
        return info

    def status(self, job_id: str) -> dict[str, Any]:
        info = self.store.get(job_id)
        if info is None:
            raise ProtocolError("not_found", f"no job {job_id!r}")
        return info

    def list(self) -> list[dict[str, Any]]:
        return self.store.list()

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self._cond:
            state = self.status(job_id)["state"]
            if state == "queued":
                self.store.update(job_id, state="cancelled", finished=time.time())
                self._publish("job.finished", {"job": self.status(job_id)})
            elif state == "running":
                self.store.update(job_id, state="cancelling")
                if self._current == job_id:
                    self._terminate()
            elif state != "cancelling":
                raise ProtocolError("conflict", f"job {job_id} is already {state}")
            self._cond.notify_all()
        return self.status(job_id)

    def stop(self) -> None:
        """Checkpoint and stop a running job (it stays queued for the next start), then end the runner."""
        with self._cond:
            self._stopping = True
            if self._proc is not None:
                self._terminate()
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    # --- runner thread -----------------------------------------------------------------------------------
    def _terminate(self) -> None:
        if self._proc is not None and self._terminated_at is None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            self._terminated_at = time.monotonic()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (job := self.store.next_queued()) is None:
                    self._cond.wait()
                if self._stopping:
                    return
                proc, progress = self._launch(job)
            self._supervise(job["job"], proc, progress)

    def _launch(self, job: dict[str, Any]) -> tuple[subprocess.Popen[bytes], ProgressFile]:
        job_id, attempts = job["job"], job["attempts"]
        folder = self.work_dir / job_id
        folder.mkdir(parents=True, exist_ok=True)
        progress = ProgressFile(folder / "progress.jsonl")
        argv = [*DISTILL_COMMAND, str(write_job(folder / JOB_FILE, **distill_settings(self.store.spec(job_id))))]
        launcher = [sys.executable, "-m", "tha4_sdk.daemon.launch", str(os.getpid()), "--"]
        log.info("job %s: %s", job_id, " ".join(argv))
        with (folder / "progress.jsonl").open("ab") as out, (folder / "stderr.log").open("ab") as err:
            proc = subprocess.Popen([*launcher, *argv], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    cwd=folder, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        self._proc, self._current, self._terminated_at = proc, job_id, None
        self.store.update(job_id, state="running", started=time.time(), attempts=attempts + 1, pid=proc.pid,
                          error=None, ends_at=None)
        self._publish("job.started", {"job": self.status(job_id)})
        return proc, progress

    def _supervise(self, job_id: str, proc: subprocess.Popen[bytes], progress: ProgressFile) -> None:
        while True:
            done = proc.poll() is not None
            records = progress.read()
            if records:  # JOB-INFO.progress: the latest value of every field the distiller reported
                merged = self.status(job_id)["progress"] or {}
                for record in records:
                    merged.update(record)
                self.store.update(job_id, progress=merged, **eta_and_psnr(records))
                self._publish("job.progress", {"job": self.status(job_id)})
            if done:
                break
            with self._cond:
                if self._terminated_at is not None and time.monotonic() - self._terminated_at > GRACE_S:
                    log.warning("job %s did not stop %.0f s after SIGTERM; killing it", job_id, GRACE_S)
                    _kill_group(proc.pid)
                self._cond.wait(POLL_S)
        with self._cond:
            self._proc = self._current = None
            self._finish(job_id, proc.returncode)

    def _finish(self, job_id: str, returncode: int) -> None:
        info = self.status(job_id)
        now = time.time()
        if returncode == 0:
            record = info["progress"] or {}
            output = record.get("output") or self.store.spec(job_id)["output_dir"]
            self.store.update(job_id, state="done", finished=now, pid=None, output=str(output))
        elif info["state"] == "cancelling":
            self.store.update(job_id, state="cancelled", finished=now, pid=None)
        elif self._stopping or (returncode == CHECKPOINT_EXIT and info["attempts"] < MAX_ATTEMPTS):
            log.info("job %s stopped at a checkpoint; it stays queued", job_id)
            self.store.update(job_id, state="queued", pid=None)
            self._publish("job.queued", {"job": self.status(job_id)})
            return
        else:
            record = info["progress"] or {}
            reason = record.get("message") if record.get("event") == "error" else None
            self.store.update(job_id, state="failed", finished=now, pid=None, error=f"distiller exited with status "
                              f"{returncode}: {reason or _tail(self.work_dir / job_id / 'stderr.log')}")
        self._publish("job.finished", {"job": self.status(job_id)})


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no error output)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no error output)"


def _wait_for_exit(pid: int | None, timeout: float) -> None:
    """Wait for a distiller left over from a dead daemon (it checkpoints on the SIGTERM it got), then kill it."""
    if pid is None or not _is_distiller(pid):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _is_distiller(pid):
        time.sleep(POLL_S)
    if _is_distiller(pid):
        _kill_group(pid)


def _kill_group(pid: int) -> None:
    """SIGKILL a job's launcher and everything it started (its own process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _is_distiller(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        if cmdline.exists():
            return b"tha4_sdk" in cmdline.read_bytes()
        os.kill(pid, 0)
        return True
    except (OSError, PermissionError):
        return False
