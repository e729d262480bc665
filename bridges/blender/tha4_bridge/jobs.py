"""Distillation jobs as the add-on shows them: kept up to date from ``job.*`` events (docs/protocol.md §8)."""

from __future__ import annotations

from typing import Any

FINISHED = ("done", "failed", "cancelled")


def apply_event(jobs: dict[str, dict[str, Any]], kind: str, data: dict[str, Any]) -> bool:
    """Record the JOB-INFO of a ``job.*`` event; returns whether it was one."""
    info = data.get("job")
    if not kind.startswith("job.") or not isinstance(info, dict) or "job" not in info:
        return False
    jobs[str(info["job"])] = info
    return True


def summary(info: dict[str, Any]) -> str:
    """One line for the panel: output, state, and the distiller's latest progress record."""
    text = f"{info.get('output', '?')}: {info.get('state', '?')}"
    if info.get("state") == "queued" and info.get("queue_position") is not None:
        text += f" (#{info['queue_position'] + 1} in the queue)"
    progress = info.get("progress") or {}
    done, total = progress.get("examples"), progress.get("total")
    if isinstance(done, (int, float)) and isinstance(total, (int, float)) and total > 0:
        phase = f"{progress['phase']} " if progress.get("phase") else ""
        text += f" — {phase}{int(done):,}/{int(total):,} ({100.0 * done / total:.0f}%)"
    if isinstance(progress.get("loss"), (int, float)):
        text += f", loss {progress['loss']:.4g}"
    if isinstance(progress.get("eta_s"), (int, float)) and info.get("state") == "running":
        text += f", {_duration(progress['eta_s'])} left"
    if info.get("error"):
        text += f" — {info['error']}"
    return text


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
