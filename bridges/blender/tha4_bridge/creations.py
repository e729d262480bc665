"""Characters the add-on asked the daemon to make from pictures (``character.create``), kept up to date from the
``character.*`` events (docs/protocol.md §8). Pure Python (no ``bpy``)."""

from __future__ import annotations

from typing import Any

#: the event that ends a creation → the state it leaves
ENDS = {"character.created": "created", "character.failed": "failed"}


def started(creations: dict[str, dict[str, Any]], reply: dict[str, Any], renderer: str) -> dict[str, Any]:
    """Record a creation from the daemon's reply (CREATION-INFO); ``renderer`` will show the new character."""
    creations[str(reply["creation"])] = info = {**reply, "state": "running", "stage": "", "done": 0, "total": 0,
                                                "renderer": renderer, "error": None}
    return info


def apply_event(creations: dict[str, dict[str, Any]], kind: str, data: dict[str, Any]) -> bool:
    """Update one of our creations from a ``character.*`` event; returns whether it was one (others' are ignored)."""
    info = creations.get(str(data.get("creation")))
    if info is None or not kind.startswith("character."):
        return False
    if kind == "character.progress":
        info.update(stage=str(data.get("stage", "")), done=int(data.get("done", 0)), total=int(data.get("total", 0)))
    elif kind in ENDS:
        info.update(data, state=ENDS[kind])
        if kind == "character.failed":
            info["error"] = f"{data.get('message', '')} ({data.get('code', 'internal')})"
    else:
        return False
    return True


def fraction(info: dict[str, Any]) -> float:
    """How far the creation is, 0 to 1."""
    if info["state"] == "created":
        return 1.0
    return info["done"] / info["total"] if info["total"] else 0.0


def summary(info: dict[str, Any]) -> str:
    """One line for the panel and the status bar."""
    text = f"{info.get('character', '?')}: "
    if info["state"] == "running":
        step = f"{info['stage']} {info['done']}/{info['total']}" if info["total"] else "starting the teacher"
        return text + f"creating — {step} ({100.0 * fraction(info):.0f}%)"
    if info["state"] == "failed":
        return text + f"failed — {info['error']}"
    warnings = info.get("warnings") or []
    return text + "created" + (f" — {'; '.join(warnings)}" if warnings else "")
