"""Renderers: (character, poses) → frames. Each renderer is a plugin; see `tha4_sdk.render.base`."""

from tha4_sdk.render.base import Renderer, RendererOption, RenderSession, open_renderer

__all__ = ["Renderer", "RendererOption", "RenderSession", "open_renderer"]
