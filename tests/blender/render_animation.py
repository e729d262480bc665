"""``blender -b FILE -o OUT -a`` for Blender as a Python module (the ``bpy`` wheel has no command line):
``python tests/blender/render_animation.py -- FILE OUT``."""

import sys

import bpy

blend, out = sys.argv[sys.argv.index("--") + 1:][:2]
bpy.ops.wm.open_mainfile(filepath=blend)
bpy.context.scene.render.filepath = out
bpy.ops.render.render(animation=True)
