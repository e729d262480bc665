"""Where tha4-sdk keeps its files: ``THA4_HOME`` (default: the user's cache directory) and the character store."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def home_dir() -> Path:
    """``$THA4_HOME``, or the platform's user cache directory for ``tha4``."""
    env = os.environ.get("THA4_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("tha4"))


def characters_dir() -> Path:
    """The character store: one folder per character package, addressed by name."""
    return home_dir() / "characters"
