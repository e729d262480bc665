## The add-on's demo: a Tha4Character and its typed calls on keys, its signals in a label.
## Keys: 1 smile, 2 surprised, 0 neutral, I idle life on/off, T play res://demo/nod.yaml, S say res://demo/line.wav
## (put any WAV there). The head follows the mouse.
extends Control

var idle := -1
var lines: Array[String] = []

@onready var lam: Tha4Character = $Tha4Character
@onready var status: Label = $Status


func _ready() -> void:
	lam.connection_changed.connect(func(state): show_line("connection: " + state))
	lam.error.connect(func(message): show_line("error: " + message))
	lam.expression_set.connect(func(preset, params): show_line("expression %s: %d parameters" % [preset, params.size()]))
	lam.attached.connect(func(handle, source): show_line("attached #%d as %s" % [handle, source]))
	lam.job_progress.connect(func(job): show_line("job %s: %s" % [job.get("output"), job.get("state")]))
	lam.frame_received.connect(func(_texture, header): status.tooltip_text = "frame %d" % header["seq"])


func _unhandled_key_input(event: InputEvent) -> void:
	if not event.is_pressed():
		return
	match event.keycode:
		KEY_1:
			lam.set_expression("smile", 0.8)
		KEY_2:
			lam.set_expression("surprised", 0.8)
		KEY_0:
			lam.set_expression("neutral")
		KEY_I:
			if idle < 0:
				idle = lam.attach_idle()
			else:
				lam.detach(idle)
				idle = -1
		KEY_T:
			lam.play_timeline("res://demo/nod.yaml")
		KEY_S:
			if FileAccess.file_exists("res://demo/line.wav"):
				lam.say("res://demo/line.wav")
			else:
				show_line("put a WAV file at res://demo/line.wav to try lip-sync")


func _process(_delta: float) -> void:
	var mouse := get_local_mouse_position() / Vector2(512, 512) * 2.0 - Vector2.ONE
	lam.set_pose({"head_y": clampf(mouse.x, -1.0, 1.0), "head_x": clampf(-mouse.y, -1.0, 1.0)})


func show_line(text: String) -> void:
	lines.append(text)
	if lines.size() > 12:
		lines.pop_front()
	status.text = "\n".join(lines)
