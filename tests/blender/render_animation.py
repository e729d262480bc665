"""``blender -b FILE -o OUT -a`` for Blender as a Python module (the ``bpy`` wheel has no command line, and
does not read the user's preferences, so the add-on is enabled and pointed at the daemon here):
``python tests/blender/render_animation.py -- FILE OUT PORT``."""

import sys

import bpy

blend, out, port = sys.argv[sys.argv.index("--") + 1:][:3]
module = "bl_ext.user_default.tha4_bridge"
bpy.ops.preferences.addon_enable(module=module)
prefs = bpy.context.preferences.addons[module].preferences
prefs.port, prefs.timeout = int(port), 120.0
bpy.ops.wm.open_mainfile(filepath=blend)
bpy.context.scene.render.filepath = out
bpy.ops.render.render(animation=True)
