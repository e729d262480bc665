## The add-on's entry in Project Settings › Plugins. Tha4Character registers itself (class_name), so
## enabling the plugin adds nothing else to the editor.
@tool
extends EditorPlugin
