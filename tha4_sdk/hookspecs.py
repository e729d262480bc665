"""The pluggy hook specifications every tha4-sdk plugin implements (project name ``tha4_sdk``).

The built-in plugins use these same hooks: those inside ``tha4_sdk`` are listed in
`tha4_sdk.plugins.BUILTIN_PLUGINS`, those in ``tha4_plugins`` and every third-party plugin register
through the ``tha4_sdk`` entry-point group. Each hook is documented in docs/plugin_hooks.md, and a test keeps
that page and these signatures in step.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("tha4_sdk")
hookimpl = pluggy.HookimplMarker("tha4_sdk")


@hookspec
def tha4_renderers() -> list[Any]:
    """Return renderer classes (subclasses of `tha4_sdk.render.Renderer`), each with a unique ``name``."""


@hookspec
def tha4_pose_sources() -> list[Any]:
    """Return pose-source classes (subclasses of `tha4_sdk.source.PoseSource`), each with a unique ``name``."""


@hookspec
def tha4_pose_filters() -> list[Any]:
    """Return pose-filter classes (subclasses of `tha4_sdk.source.PoseFilter`), e.g. idle blinking."""


@hookspec
def tha4_frame_sinks() -> list[Any]:
    """Return frame-sink classes (subclasses of `tha4_sdk.sink.FrameSink`), each naming the file suffixes it writes."""


@hookspec
def tha4_cli_commands() -> list[Any]:
    """Return `click.Command` objects to add to the ``tha4`` command line."""
