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


def start_args(character: str, output: str, teacher: str, examples: int, budget_min: int) -> dict[str, Any]:
    """``distill.start``'s arguments from the panel: a time budget of ``budget_min`` minutes (``time_budget``,
    protocol 1.3) or, at 0, ``examples``."""
    planned = {"time_budget": budget_min * 60.0} if budget_min > 0 else {"examples": examples}
    return {"character": character, "output": output.strip(), "teacher": teacher.strip() or "tha4", **planned}


def summary(info: dict[str, Any]) -> str:
    """One line for the panel: output, state, the distiller's latest progress record, the ETA and the latest
    PSNR (a 1.2 daemon's JOB-INFO has neither: the progress record's ETA, of the network training, instead)."""
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
    eta = info["eta_s"] if "eta_s" in info else progress.get("eta_s")
    if isinstance(eta, (int, float)) and info.get("state") == "running":
        text += f", {_duration(eta)} left"
    psnr = info.get("psnr")
    if isinstance(psnr, dict) and isinstance(psnr.get("psnr_db"), (int, float)):
        text += f", PSNR {psnr['psnr_db']:.1f} dB ({psnr.get('phase', '?')})"
    if info.get("error"):
        text += f" — {info['error']}"
    return text


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
