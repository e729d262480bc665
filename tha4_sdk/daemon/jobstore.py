"""The persistent job table (SQLite): distillation jobs and their state survive daemon restarts.

States: ``queued`` → ``running`` → ``done`` | ``failed`` | ``cancelled`` (via ``cancelling`` when a running job
is cancelled). A daemon that dies leaves jobs ``running``; `JobStore.interrupted` finds them at the next start.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

ACTIVE = ("queued", "running", "cancelling")
FINAL = ("done", "failed", "cancelled")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    progress TEXT,
    error TEXT,
    output TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    pid INTEGER
)
"""
#: columns added since the first job table (a table of an older daemon gets them when opened): ``ends_at``,
#: Unix time the running job (without a time budget: its current network) is expected to be over; ``psnr``,
#: JSON ``{phase, psnr_db}`` of the distiller's latest evaluation
_ADDED_COLUMNS = (("ends_at", "REAL"), ("psnr", "TEXT"))
_JSON_COLUMNS = ("progress", "psnr")
#: the job's request as JOB-INFO shows it (``time_budget``: protocol 1.3, absent from older jobs' specs)
_PUBLIC_SPEC = ("character", "output", "examples", "teacher", "time_budget")


class JobStore:
    """Thread-safe access to the job table in ``path``."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            present = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED_COLUMNS:
                if name not in present:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Queue a new job; ``spec`` holds what the runner needs (stored as JSON)."""
        job_id = "j" + secrets.token_hex(4)
        with self._lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            self._db.execute("INSERT INTO jobs (id, seq, state, spec, created) VALUES (?, ?, 'queued', ?, ?)",
                             (job_id, seq, json.dumps(spec), time.time()))
        return self.get(job_id)  # type: ignore[return-value]

    def update(self, job_id: str, **fields: Any) -> None:
        """Set columns (``progress`` and ``psnr`` may be dicts; they are stored as JSON)."""
        for name in _JSON_COLUMNS:
            if fields.get(name) is not None:
                fields[name] = json.dumps(fields[name])
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def spec(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT spec FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row["spec"])

    def get(self, job_id: str) -> dict[str, Any] | None:
        """JOB-INFO (docs/protocol.md §6) of one job, or None."""
        jobs = self._select("WHERE id = ?", (job_id,))
        return jobs[0] if jobs else None

    def list(self) -> list[dict[str, Any]]:
        return self._select("", ())

    def next_queued(self) -> dict[str, Any] | None:
        jobs = self._select("WHERE state = 'queued'", ())
        return jobs[0] if jobs else None

    def interrupted(self) -> list[tuple[str, str, int | None]]:
        """(id, state, pid) of the jobs a previous daemon left ``running`` or ``cancelling``."""
        with self._lock:
            rows = self._db.execute("SELECT id, state, pid FROM jobs WHERE state IN ('running', 'cancelling')")
            return [(r["id"], r["state"], r["pid"]) for r in rows]

    def output_in_use(self, output: str) -> bool:
        with self._lock:
            rows = self._db.execute(f"SELECT spec FROM jobs WHERE state IN {ACTIVE}").fetchall()
        return any(json.loads(r["spec"])["output"] == output for r in rows)

    def _select(self, where: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM jobs {where} ORDER BY seq", params).fetchall()
            queued = [r["id"] for r in self._db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq")]
        return [_info(row, queued) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _info(row: sqlite3.Row, queued: list[str]) -> dict[str, Any]:
    spec = json.loads(row["spec"])
    running = row["state"] == "running" and row["ends_at"] is not None
    return {
        "job": row["id"], "state": row["state"], **{k: spec.get(k) for k in _PUBLIC_SPEC},
        "progress": json.loads(row["progress"]) if row["progress"] else None,
        "eta_s": round(max(0.0, row["ends_at"] - time.time()), 1) if running else None,
        "psnr": json.loads(row["psnr"]) if row["psnr"] else None,
        "error": row["error"], "output_dir": row["output"], "created": row["created"], "started": row["started"],
        "finished": row["finished"], "attempts": row["attempts"],
        "queue_position": queued.index(row["id"]) if row["id"] in queued else None,
    }
