## A THA4 character rendered by the tha4 daemon (`tha4 serve`), shown as this TextureRect's texture.
## Set host/port/character in the Inspector, pose it with set_pose({"head_x": 0.3, "mouth_aaa": 1.0}),
## and it keeps streaming across daemon restarts. Call nothing per frame: _process polls the connection.
@icon("res://addons/tha4_bridge/icon.svg")
class_name Tha4Character
extends TextureRect

## A new frame is shown (``texture`` is updated in place; header: seq, t, w, h, pose…).
signal frame_received(texture: ImageTexture, header: Dictionary)
## The connection's state: "connecting", "loading", "streaming", "waiting" (to reconnect), "stopped".
signal connection_changed(state: String)
## Something went wrong (daemon not running, bad pose value, render error…); the node keeps trying.
signal error(message: String)
## A distillation job's progress (job: JOB-INFO of docs/protocol.md §6) and its other events.
signal job_progress(job: Dictionary)
signal job_event(kind: String, job: Dictionary)
## The reply to request(): ok and the result (or the error map {code, message}).
signal reply_received(id: int, ok: bool, result: Dictionary)
## set_expression() was applied: the preset and the parameters it set.
signal expression_set(preset: String, params: Dictionary)
## play_timeline(), attach_idle() or say() is attached: its handle and the daemon's source id.
signal attached(handle: int, source: String)

const Tha4Client = preload("tha4_client.gd")

@export var host := "127.0.0.1"
@export var port := 47000
## A name in the daemon's character store, or an absolute folder under one of its --allow-root folders.
@export var character := "lambda_00"
## Renderer plugin: "student" (fast, needs the character's student weights), "teacher", …
@export var renderer := "student"
@export_range(1.0, 120.0) var fps := 30.0
## Frame size in pixels; (0, 0) keeps the native 512×512.
@export var frame_size := Vector2i.ZERO
## Connect when the node enters the tree.
@export var autostart := true

var client: Tha4Client
var _image_texture: ImageTexture


func _ready() -> void:
	if autostart:
		start()


func _exit_tree() -> void:
	stop()


func _process(_delta: float) -> void:
	if client != null:
		client.poll()


## Connect to the daemon and stream the character (again, with the current properties).
func start() -> void:
	stop()
	client = Tha4Client.new()
	client.host = host
	client.port = port
	client.character = character
	client.renderer = renderer
	client.fps = fps
	client.size = [frame_size.x, frame_size.y] if frame_size.x > 0 and frame_size.y > 0 else []
	client.client_name = "godot"
	client.frame_received.connect(_on_frame)
	client.state_changed.connect(func(state): connection_changed.emit(state))
	client.error_reported.connect(func(message): error.emit(message))
	client.daemon_event.connect(_on_daemon_event)
	client.reply_received.connect(func(id, ok, result): reply_received.emit(id, ok, result))
	client.expression_set.connect(func(preset, params): expression_set.emit(preset, params))
	client.attached.connect(func(handle, source): attached.emit(handle, source))
	client.start()


## Unload the character and disconnect.
func stop() -> void:
	if client != null:
		client.stop()
		client = null


## Change pose parameters by name (docs/pose.md); the others keep their values. With reset, all others
## return to rest first. Works before the connection is up: the pose is sent once the character loads.
func set_pose(params: Dictionary, reset := false) -> void:
	if client == null:
		start()
	client.set_pose(params, reset)


## Set an expression preset ("smile", "surprised", "blink", "aaa"…) at a weight in [0, 1]: the parameters it
## moves change, the others keep their values.
func set_expression(preset: String, weight := 1.0) -> void:
	_live().set_expression(preset, weight)


## Play a YAML timeline (docs/timeline.md) once: an absolute path the daemon can read. Returns a handle.
func play_timeline(path: String) -> int:
	return _live().play_timeline(ProjectSettings.globalize_path(path))


## Idle life (blinking, breathing, slight head motion) until detach(). Returns a handle.
func attach_idle(random_seed := 0) -> int:
	return _live().attach_idle(random_seed)


## Lip-sync the mouth to a WAV/FLAC file (a path) or an AudioStreamWAV (saved to a temporary WAV file the
## daemon reads). Play the sound yourself at the same moment. Returns a handle.
func say(audio: Variant) -> int:
	if audio is AudioStreamWAV:
		var path := OS.get_user_data_dir().path_join("tha4_say_%d.wav" % Time.get_ticks_usec())
		var saved: Error = audio.save_to_wav(path)
		if saved != OK:
			error.emit("say: cannot write %s (%s)" % [path, error_string(saved)])
			return -1
		return _live().say(path)
	return _live().say(ProjectSettings.globalize_path(str(audio)))


## Remove a timeline, idle life or saying.
func detach(handle: int) -> void:
	_live().detach(handle)


func _live() -> Tha4Client:
	if client == null:
		start()
	return client


## Queue a distillation job training a student for this character into the daemon's store as `output`:
## `time_budget` > 0 is the seconds the job plans itself to end within (at least 60), else `examples` (0: the
## official schedule). Follow it with job_progress: its JOB-INFO has eta_s (seconds until the job is over, or
## null) and psnr ({phase, psnr_db} of the latest evaluation, or null);
## Tha4Character.Tha4Client.job_summary(job) makes it one line.
func distill(output: String, examples := 0, teacher := "tha4", time_budget := 0.0) -> int:
	return _live().distill(output, examples, teacher, time_budget)


## Send any daemon request (docs/protocol.md §6, e.g. "distill.start"); the reply comes as reply_received.
func request(op: String, args: Dictionary = {}) -> int:
	return client.request(op, args) if client != null else -1


func _on_frame(header: Dictionary, pixels: PackedByteArray) -> void:
	var image := Image.create_from_data(int(header["w"]), int(header["h"]), false, Image.FORMAT_RGBA8, pixels)
	if _image_texture == null or _image_texture.get_size() != Vector2(image.get_size()):
		_image_texture = ImageTexture.create_from_image(image)
		texture = _image_texture
	else:
		_image_texture.update(image)
	frame_received.emit(_image_texture, header)


func _on_daemon_event(kind: String, data: Dictionary) -> void:
	if not kind.begins_with("job."):
		return
	var job: Dictionary = data.get("job", {})
	if kind == "job.progress":
		job_progress.emit(job)
	job_event.emit(kind, job)
