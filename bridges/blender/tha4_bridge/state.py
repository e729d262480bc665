"""What the running add-on holds outside the .blend file: the daemon link, the jobs, the characters being created,
the frames shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .link import DaemonLink


@dataclass
class Runtime:
    link: DaemonLink | None = None
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    creations: dict[str, dict[str, Any]] = field(default_factory=dict)  # ours, by id (creations.py)
    frames: dict[str, dict[str, Any]] = field(default_factory=dict)  # character key → FRAME-HEADER shown
    frames_shown: int = 0
    presets: dict[str, dict[str, float]] | None = None  # the daemon's (presets.list), else the add-on's own
    rendering: bool = False              # between render_pre and render_complete / render_cancel
    message: str = ""                    # the latest problem worth showing in the panel


runtime = Runtime()
