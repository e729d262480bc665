"""The live preview: each character's streamed frames go into its Image datablock, shown on its plane.

`tick` is the add-on's timer: it drains the frame channel, shows the newest frame of each character,
keeps the job list current, follows the characters being made from pictures (progress in the status bar; the
new character added and loaded when it is written), and lets the link reconnect. (Timers do not run in
``blender -b``; scripts there call `tick` themselves.)
"""

from __future__ import annotations

from typing import Any

import bpy

from . import creations, jobs, pixels, pose_sync
from .link import DaemonError, DaemonLink
from .state import runtime

STREAM_INTERVAL_S = 1.0 / 60.0
IDLE_INTERVAL_S = 0.25


def character_image(obj: bpy.types.Object, width: int = 512, height: int = 512) -> bpy.types.Image:
    """The character's Image (created on first use as "THA4 <object>", resized to the frame size)."""
    image = obj.tha4.image
    if image is None:
        image = bpy.data.images.new(f"THA4 {obj.name}", width, height, alpha=True)
        image.alpha_mode = "STRAIGHT"
        obj.tha4.image = image
    elif tuple(image.size) != (width, height):
        image.scale(width, height)
    return image


def fill_image(image: bpy.types.Image, header: dict[str, Any], payload: bytes | bytearray) -> None:
    """Put an ``rgba8`` frame of the image's size into an Image."""
    if header.get("format") != "rgba8":
        raise ValueError(f"images show rgba8 frames, got {header.get('format')!r}")
    image.pixels.foreach_set(pixels.to_blender(payload, int(header["w"]), int(header["h"])))
    image.update()


def show_frame(obj: bpy.types.Object, header: dict[str, Any], payload: bytes | bytearray) -> None:
    """Put an ``rgba8`` frame into the character's image."""
    fill_image(character_image(obj, int(header["w"]), int(header["h"])), header, payload)
    runtime.frames[obj.name_full] = header
    runtime.frames_shown += 1


def add_character(scene: bpy.types.Scene, collection: bpy.types.Collection, view_layer: bpy.types.ViewLayer,
                  character: str, renderer: str) -> bpy.types.Object:
    """A new character object (a plane showing its image) for ``character``, selected and made active."""
    obj = add_plane(scene, collection, "THA4 Character")
    obj.tha4.enabled = True
    obj.tha4.character, obj.tha4.renderer = character, renderer
    for other in view_layer.objects.selected:
        other.select_set(False)
    obj.select_set(True)
    view_layer.objects.active = obj
    return obj


def load_and_show(link: DaemonLink, obj: bpy.types.Object, settings: bpy.types.PropertyGroup) -> dict[str, Any]:
    """Load the object's character and fill its image (streamed when Live Preview is on); its SESSION-INFO."""
    info = pose_sync.load(link, obj)
    character_image(obj, int(info["width"]), int(info["height"]))
    if settings.live:
        link.start_stream(settings.fps, key=pose_sync.key(obj))
    else:
        show_frame(obj, *link.render(key=pose_sync.key(obj)))
    return info


def tick() -> float | None:
    """Timer callback: handle what the daemon published; returns the delay until the next call."""
    link = runtime.link
    if link is None:
        return None
    if runtime.rendering:  # the render thread is using the link (render_frames)
        return IDLE_INTERVAL_S
    for key in [k for k in link.characters if k not in bpy.data.objects]:  # its object was deleted
        try:
            link.unload(key)
        except DaemonError:
            link.characters.pop(key, None)
    newest: dict[str, Any] = {}
    changed = False
    for message in link.tick():
        if message.kind == "frame":
            key = link.key_of(message.data.get("session"))
            if key is not None and message.buffers:
                newest[key] = message
        elif jobs.apply_event(runtime.jobs, message.kind, message.data):
            changed = True
        elif creations.apply_event(runtime.creations, message.kind, message.data):
            _follow_creation(link, runtime.creations[str(message.data["creation"])])
            changed = True
        elif message.kind == "session.error" and link.key_of(message.data.get("session")) is not None:
            runtime.message = f"{message.data.get('code')}: {message.data.get('message')}"
            changed = True
    for key, message in newest.items():
        obj = bpy.data.objects.get(key)
        if obj is not None:
            show_frame(obj, message.data, message.buffers[0])
            changed = True
    if changed or not link.connected:
        _redraw()
    streaming = any(w.stream is not None for w in link.characters.values())
    return STREAM_INTERVAL_S if streaming else IDLE_INTERVAL_S


def _follow_creation(link: DaemonLink, info: dict[str, Any]) -> None:
    """Show a creation's progress (the progress indicator, the status bar); once written, add its character and
    load it."""
    context = bpy.context
    workspace = getattr(context, "workspace", None)  # none without a window (blender -b)
    if info["state"] == "running":
        context.window_manager.progress_update(round(100 * creations.fraction(info)))
        if workspace is not None:
            workspace.status_text_set(creations.summary(info))
        return
    context.window_manager.progress_end()
    if workspace is not None:
        workspace.status_text_set(None)
    if info["state"] == "failed":
        runtime.message = creations.summary(info)
        return
    try:
        obj = add_character(context.scene, context.scene.collection, context.view_layer, info["character"],
                            info["renderer"])
        load_and_show(link, obj, context.scene.tha4)
    except DaemonError as e:
        runtime.message = f"{info['character']} was created but cannot be loaded: {e}"


def start_timer() -> None:
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=0.0, persistent=True)


def _redraw() -> None:
    for window in getattr(bpy.context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "IMAGE_EDITOR"):
                area.tag_redraw()


def add_plane(scene: bpy.types.Scene, collection: bpy.types.Collection, name: str) -> bpy.types.Object:
    """A 1×1 upright plane (facing −Y, the front view) at the 3D cursor, with a material showing its image."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(-0.5, 0.0, -0.5), (0.5, 0.0, -0.5), (0.5, 0.0, 0.5), (-0.5, 0.0, 0.5)], [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, coord in zip(uv.data, ((0, 0), (1, 0), (1, 1), (0, 1))):
        loop.uv = coord
    obj = bpy.data.objects.new(name, mesh)
    obj.location = scene.cursor.location
    collection.objects.link(obj)
    mesh.materials.append(_material(character_image(obj), name))
    return obj


def _material(image: bpy.types.Image, name: str) -> bpy.types.Material:
    """Unlit: emission of the image's colour, transparent where its alpha is."""
    material = bpy.data.materials.new(name)
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
