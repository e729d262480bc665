"""What the running add-on holds outside the .blend file: the daemon link, the jobs, the preview's frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .link import DaemonLink


@dataclass
class Runtime:
    link: DaemonLink | None = None
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    frame: dict[str, Any] | None = None   # the FRAME-HEADER of the frame the preview image shows
    frames_shown: int = 0
    message: str = ""                    # the latest problem worth showing in the panel


runtime = Runtime()
