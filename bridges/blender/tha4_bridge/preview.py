"""The live preview: streamed frames go into an Image datablock, shown on a plane's material.

`tick` is the add-on's timer: it drains the frame channel, shows the newest frame of the add-on's session,
keeps the job list current, and lets the link reconnect. (Timers do not run in ``blender -b``; scripts there
call `tick` themselves.)
"""

from __future__ import annotations

from typing import Any

import bpy

from . import jobs, pixels
from .state import runtime

IMAGE_NAME = "THA4 Preview"
PLANE_NAME = "THA4 Preview"
STREAM_INTERVAL_S = 1.0 / 60.0
IDLE_INTERVAL_S = 0.25


def preview_image(width: int = 512, height: int = 512) -> bpy.types.Image:
    """The preview Image (created on first use, resized to the frame size)."""
    image = bpy.data.images.get(IMAGE_NAME)
    if image is None:
        image = bpy.data.images.new(IMAGE_NAME, width, height, alpha=True)
        image.alpha_mode = "STRAIGHT"
    elif tuple(image.size) != (width, height):
        image.scale(width, height)
    return image


def show_frame(header: dict[str, Any], payload: bytes | bytearray) -> None:
    """Put an ``rgba8`` frame into the preview image."""
    width, height = int(header["w"]), int(header["h"])
    if header.get("format") != "rgba8":
        raise ValueError(f"the preview shows rgba8 frames, got {header.get('format')!r}")
    image = preview_image(width, height)
    image.pixels.foreach_set(pixels.to_blender(payload, width, height))
    image.update()
    runtime.frame = header
    runtime.frames_shown += 1


def tick() -> float | None:
    """Timer callback: handle what the daemon published; returns the delay until the next call."""
    link = runtime.link
    if link is None:
        return None
    newest = None
    changed = False
    for message in link.tick():
        if message.kind == "frame":
            if message.data.get("session") == link.session and message.buffers:
                newest = message
        elif jobs.apply_event(runtime.jobs, message.kind, message.data):
            changed = True
        elif message.kind == "session.error" and message.data.get("session") == link.session:
            runtime.message = f"{message.data.get('code')}: {message.data.get('message')}"
            changed = True
    if newest is not None:
        show_frame(newest.data, newest.buffers[0])
        changed = True
    if changed or not link.connected:
        _redraw()
    streaming = link.wanted is not None and link.wanted.stream is not None
    return STREAM_INTERVAL_S if streaming else IDLE_INTERVAL_S


def start_timer() -> None:
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=0.0, persistent=True)


def _redraw() -> None:
    for window in getattr(bpy.context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "IMAGE_EDITOR"):
                area.tag_redraw()


def add_plane(context: bpy.types.Context) -> bpy.types.Object:
    """A 1×1 upright plane (facing −Y, the front view) whose material shows the preview image."""
    image = preview_image()
    mesh = bpy.data.meshes.new(PLANE_NAME)
    mesh.from_pydata([(-0.5, 0.0, -0.5), (0.5, 0.0, -0.5), (0.5, 0.0, 0.5), (-0.5, 0.0, 0.5)], [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, coord in zip(uv.data, ((0, 0), (1, 0), (1, 1), (0, 1))):
        loop.uv = coord
    mesh.materials.append(_material(image))
    obj = bpy.data.objects.new(PLANE_NAME, mesh)
    obj.location = context.scene.cursor.location
    context.collection.objects.link(obj)
    return obj


def _material(image: bpy.types.Image) -> bpy.types.Material:
    """Unlit: emission of the image's colour, transparent where its alpha is."""
    material = bpy.data.materials.new(PLANE_NAME)
    material.use_nodes = True
    if hasattr(material, "surface_render_method"):  # Blender 4.2+
        material.surface_render_method = "BLENDED"
    else:
        material.blend_method = "BLEND"
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    texture.interpolation = "Closest"
    emission = nodes.new("ShaderNodeEmission")
    transparent = nodes.new("ShaderNodeBsdfTransparent")
    mix = nodes.new("ShaderNodeMixShader")
    output = nodes.new("ShaderNodeOutputMaterial")
    links.new(texture.outputs["Color"], emission.inputs["Color"])
    links.new(texture.outputs["Alpha"], mix.inputs["Fac"])
    links.new(transparent.outputs["BSDF"], mix.inputs[1])
    links.new(emission.outputs["Emission"], mix.inputs[2])
    links.new(mix.outputs["Shader"], output.inputs["Surface"])
    for i, node in enumerate((texture, emission, mix, output)):
        node.location = (300 * i - 600, 0)
    transparent.location = (-300, 200)
    return material
