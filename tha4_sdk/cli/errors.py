"""Turning the SDK's own exceptions into one-line CLI errors (exit status 1)."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

T = TypeVar("T")


def guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn``; a user-facing error (bad input, missing file, failed fetch) becomes a ClickException."""
    from tha4_sdk.character import CharacterError
    from tha4_sdk.device import DeviceError
    from tha4_sdk.hub import FetchError
    from tha4_sdk.models.weights import WeightFileError
    from tha4_sdk.plugins import PluginError
    from tha4_sdk.pose import PoseError
    from tha4_sdk.audio_clip import AudioError
    from tha4_sdk.render.base import RenderOptionError
    from tha4_sdk.sink import SinkError
    from tha4_sdk.errors import Tha4Error
    from tha4_sdk.yaml_document import DocumentError

    try:
        return fn(*args, **kwargs)
    except (CharacterError, WeightFileError, PluginError, PoseError, FetchError, RenderOptionError,
            DeviceError, FileNotFoundError, DocumentError, SinkError, AudioError, Tha4Error) as e:
        raise click.ClickException(str(e)) from None
