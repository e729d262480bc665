"""The pluggy hook specifications every tha4-sdk plugin implements (project name ``tha4_sdk``).

The built-in plugins use these same hooks: the library's renderers are listed in
`tha4_sdk.plugins.BUILTIN_PLUGINS`, the ``tha4`` command adds its command groups with
`tha4_sdk.plugins.add_builtin`, and those in ``tha4_plugins`` and every third-party plugin register
through the ``tha4_sdk`` entry-point group. Each hook is documented in docs/plugin_hooks.md, and a test keeps
that page and these signatures in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

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
def tha4_register_commands(cli: click.Group) -> None:
    """Add commands to ``cli``, the ``tha4`` root group (``cli.add_command(...)``); built-ins are called first."""
