## Keeps one character streaming from the tha4 daemon, driven by poll() from the game loop (no threads):
## connect → hello → character.load → pose.set → stream.start → frames. A closed connection, a daemon
## that stays silent for 3 heartbeats or a request without a reply makes it back off (0.1 s doubling to
## 2 s) and start over, reloading the character and re-sending the whole pose (docs/protocol.md §9).
## Shared GDScript only (see msgpack.gd).
extends RefCounted

## "connecting", "loading", "streaming", "waiting" (to reconnect) or "stopped".
signal state_changed(state)
## The newest frame of a poll: its FRAME-HEADER (Dictionary) and RGBA8 pixels, top row first.
signal frame_received(header, pixels)
## Something went wrong; the client carries on (reconnecting when it must).
signal error_reported(message)
## A daemon event other than frames and heartbeats: job.queued/started/progress/finished, session.*.
signal daemon_event(kind, data)
## The reply to a request() call: ok, and the result (ok) or the error map {code, message, …}.
signal reply_received(id, ok, result)
## set_expression() was applied: the preset and the parameters it set (name → value).
signal expression_set(preset, params)
## An attachment (play_timeline, attach_idle, say) is attached: its handle and the daemon's source id.
signal attached(handle, source)

const Msgpack = preload("msgpack.gd")
const ZmtpPeer = preload("zmtp_peer.gd")
const PROTOCOL := 1
const REQUEST_TIMEOUT_MS := 10000
const LOAD_TIMEOUT_MS := 300000
const MIN_BACKOFF_MS := 100
const MAX_BACKOFF_MS := 2000

var host := "127.0.0.1"
var port := 47000
## A name in the daemon's character store, or an absolute folder under one of its --allow-root folders.
var character := ""
var renderer := "student"
var fps := 30.0
## [] for the native 512×512, or [width, height].
var size := []
var client_name := "godot"

var state := "stopped"
## The daemon session now streaming (a new one after each reconnection), or "".
var session := ""
## The daemon's hello result (frame_port, heartbeat_s, parameters, limits, …) of the current connection.
var hello := {}
var frames_received := 0
## How many times the stream was (re)established.
var connections := 0

var _control = null
var _frames = null
var _pose := {}
var _changed := {}
var _reset_pending := false
var _pose_in_flight := false
var _pending := {}  # request id → {"op", "deadline", "timeout" (ms), "user"}
var _next_id := 1
var _retry_at := 0
var _backoff_ms := MIN_BACKOFF_MS
var _last_heard := 0
var _previous_session := ""
var _commands := []  # typed calls waiting to be sent, in order: {"op", "args", "handle"}
var _command_in_flight := 0  # the request id of the one sent, or 0
var _attachments := {}  # handle → {"source", "args", "keep", "id"}
var _next_handle := 1


## Start connecting (poll() does the work).
func start() -> void:
	_backoff_ms = MIN_BACKOFF_MS
	_retry_at = 0
	_set_state("waiting")


## Unload the session (best effort) and close the connections.
func stop() -> void:
	if session != "" and _control != null:
		_send("character.unload", {"session": session}, false, false)
	_disconnect()
	_set_state("stopped")


## Change pose parameters by name (the others keep their values; ``reset`` first returns all to rest).
## Sent at once when streaming, else with the whole pose once the character is loaded. Values beyond a
## parameter's range are clamped; unknown names are dropped with an error.
func set_pose(params: Dictionary, reset := false) -> void:
	if reset:
		_pose.clear()
		_changed.clear()
		_reset_pending = true
	for name in params:
		var value = params[name]
		var number: bool = typeof(value) == TYPE_INT or typeof(value) == TYPE_FLOAT
		if typeof(name) != TYPE_STRING or not number or is_nan(value) or is_inf(value):
			var problem := "set_pose: %s = %s is not a parameter name with a finite number"
			emit_signal("error_reported", problem % [str(name), str(value)])
			continue
		if hello.has("parameters") and not name in hello["parameters"]:
			emit_signal("error_reported", "set_pose: unknown pose parameter '%s'" % name)
			continue
		_pose[name] = float(value)
		_changed[name] = float(value)


## Set the parameters an expression preset moves ("smile", "surprised", "blink", "aaa"…) to their values ×
## weight (0…1); the others keep theirs. expression_set follows; the values are kept like set_pose's.
func set_expression(preset: String, weight := 1.0) -> void:
	_commands.append({"op": "expression.set", "args": {"preset": preset, "weight": float(weight)}, "handle": 0})


## Play a YAML timeline file (docs/timeline.md; a path the daemon can read) once. Returns a handle for detach().
func play_timeline(path: String) -> int:
	return attach("timeline", {"timeline": path}, false)


## Idle life (blinking, breathing, slight head motion), attached again after a reconnection. Returns a handle.
func attach_idle(random_seed := 0) -> int:
	return attach("idle", {"seed": random_seed}, true)


## Lip-sync the mouth to a WAV/FLAC file the daemon can read. Returns a handle.
func say(audio_file: String) -> int:
	return attach("audio", {"input": audio_file}, false)


## Attach any pose-source or filter plugin with its arguments; ``keep``: again after a reconnection.
func attach(source: String, args: Dictionary, keep: bool) -> int:
	var handle := _next_handle
	_next_handle += 1
	_attachments[handle] = {"source": source, "args": args, "keep": keep, "id": ""}
	_commands.append({"op": "source.attach", "args": {"source": source, "args": args}, "handle": handle})
	return handle


## Remove an attachment made by play_timeline, attach_idle, say or attach.
func detach(handle: int) -> void:
	if _attachments.has(handle):
		_attachments[handle]["keep"] = false
		_commands.append({"op": "source.detach", "args": {}, "handle": handle})


## Queue a distillation job training a student for the character into the daemon's store as `output`
## (distill.start): with `time_budget` > 0, seconds the job plans itself to end within (protocol 1.3, at
## least 60), else `examples` (0: the official schedule). Its JOB-INFO comes as reply_received, then job events.
func distill(output: String, examples := 0, teacher := "tha4", time_budget := 0.0) -> int:
	return request("distill.start", distill_args(character, output, examples, teacher, time_budget))


## The args of distill.start as distill() sends them.
static func distill_args(of: String, output: String, examples: int, teacher: String, time_budget: float) -> Dictionary:
	var args := {"character": of, "output": output, "teacher": teacher}
	if examples > 0:
		args["examples"] = examples
	if time_budget > 0.0:
		args["time_budget"] = float(time_budget)
	return args


## One line for a JOB-INFO: output, state, examples done, and (protocol 1.3) the ETA and the latest PSNR.
static func job_summary(job: Dictionary) -> String:
	var text := "%s: %s" % [job.get("output", "?"), job.get("state", "?")]
	var progress = job.get("progress")
	if progress is Dictionary and progress.get("total", 0) > 0:
		text += " %s %d/%d" % [progress.get("phase", ""), progress.get("examples", 0), progress["total"]]
	if job.get("eta_s") != null:
		text += ", %d s left" % int(job["eta_s"])
	var psnr = job.get("psnr")
	if psnr is Dictionary:
		text += ", PSNR %.1f dB (%s)" % [psnr["psnr_db"], psnr["phase"]]
	if job.get("error") != null:
		text += " (%s)" % job["error"]
	return text


## Send any request (docs/protocol.md §6); its reply comes as reply_received(id, …). -1 when not connected.
func request(op: String, args: Dictionary) -> int:
	if _control == null:
		emit_signal("error_reported", "%s: not connected to the daemon" % op)
		return -1
	return _send(op, args, true, false)


## Do the client's work: call once per game frame.
func poll() -> void:
	if state == "stopped":
		return
	var now := Time.get_ticks_msec()
	if state == "waiting":
		if now >= _retry_at:
			_connect()
		return
	if _control.poll() == ZmtpPeer.CLOSED:
		_fail(_control.error)
		return
	var message = _control.take_message()
	while message != null and state != "waiting":
		_on_reply(message[0])
		if _control == null:  # stop() from a signal handler
			return
		message = _control.take_message()
	if _frames != null and state != "waiting":
		if _frames.poll() == ZmtpPeer.CLOSED:
			_fail(_frames.error)
			return
		_read_published()
	if state == "waiting":
		return
	for id in _pending.keys():
		if now <= _pending[id]["deadline"]:
			continue
		var sent: Dictionary = _pending[id]
		var problem := "no reply to %s from %s:%d within %d s" % [sent["op"], host, port, sent["timeout"] / 1000]
		if sent["user"]:  # a slow request of the game's own: its answer, not the connection, failed
			_pending.erase(id)
			emit_signal("reply_received", id, false, {"code": "timeout", "message": problem})
		else:
			_fail(problem + " (is `tha4 serve` running?)")
			return
	if _frames != null and now - _last_heard > 3000 * float(hello.get("heartbeat_s", 1.0)):
		_fail("no heartbeat from the daemon for %d ms" % (now - _last_heard))
		return
	if state == "streaming":
		_send_pose_changes()
		_send_next_command()


func _connect() -> void:
	_control = ZmtpPeer.new()
	_control.open(host, port, "DEALER")
	_set_state("connecting")
	_send("hello", {"client": client_name}, false, false)


func _send(op: String, args: Dictionary, user: bool, slow: bool) -> int:
	var id := _next_id
	_next_id += 1
	var timeout: int = LOAD_TIMEOUT_MS if slow else REQUEST_TIMEOUT_MS
	_pending[id] = {"op": op, "deadline": Time.get_ticks_msec() + timeout, "timeout": timeout, "user": user}
	_control.send([Msgpack.encode({"v": PROTOCOL, "id": id, "op": op, "args": args})])
	return id


func _send_pose_changes() -> void:
	if _pose_in_flight or (_changed.size() == 0 and not _reset_pending):
		return
	var args := {"session": session, "params": _changed.duplicate(), "reset": _reset_pending, "clamp": true}
	_send("pose.set", args, false, false)
	_changed.clear()
	_reset_pending = false
	_pose_in_flight = true


func _send_next_command() -> void:
	while _command_in_flight == 0 and _commands.size() > 0:
		var command: Dictionary = _commands[0]
		var args: Dictionary = command["args"].duplicate()
		args["session"] = session
		if command["op"] == "source.detach":
			var attachment: Dictionary = _attachments[command["handle"]]
			if attachment["id"] == "":  # never attached (or lost with a daemon restart): nothing to do
				_attachments.erase(command["handle"])
				_commands.pop_front()
				continue
			args["source"] = attachment["id"]
		_command_in_flight = _send(command["op"], args, false, command["op"] == "source.attach")  # may read a file


func _on_command_reply(ok: bool, result: Dictionary) -> void:
	var command: Dictionary = _commands.pop_front()
	_command_in_flight = 0
	if not ok:
		emit_signal("error_reported", "%s: %s: %s" % [command["op"], str(result.get("code")), str(result.get("message"))])
		return
	if command["op"] == "expression.set":
		var params: Dictionary = result.get("params", {})
		for name in params:
			_pose[name] = float(params[name])
			_changed.erase(name)
		emit_signal("expression_set", command["args"]["preset"], params)
	elif command["op"] == "source.attach":
		_attachments[command["handle"]]["id"] = str(result.get("source", ""))
		emit_signal("attached", command["handle"], _attachments[command["handle"]]["id"])
	else:
		_attachments.erase(command["handle"])


func _on_reply(bytes: PackedByteArray) -> void:
	var decoded: Dictionary = Msgpack.decode(bytes)
	var envelope = decoded["value"]
	if not decoded["ok"] or typeof(envelope) != TYPE_DICTIONARY:
		_fail("a reply that is not a MessagePack map: " + decoded["error"])
		return
	var id = envelope.get("id")
	if typeof(id) != TYPE_INT or not _pending.has(id):
		return  # a late reply to a request of an earlier connection
	var sent: Dictionary = _pending[id]
	_pending.erase(id)
	var ok: bool = envelope.get("ok", false) == true
	var result = envelope.get("result", {}) if ok else envelope.get("error", {})
	if typeof(result) != TYPE_DICTIONARY:
		result = {}
	if sent["user"]:
		emit_signal("reply_received", id, ok, result)
		return
	var op: String = sent["op"]
	var session_lost: bool = not ok and str(result.get("message", "")).begins_with("no session")
	if id == _command_in_flight and not session_lost:
		_on_command_reply(ok, result)  # a lost session is handled below: reload, then send the command again
		return
	if not ok:
		var text := "%s: %s: %s" % [op, str(result.get("code", "internal")), str(result.get("message", ""))]
		if op == "pose.set" and result.get("code") != "not_found":
			_pose_in_flight = false
			emit_signal("error_reported", text)  # a bad value: report it, keep streaming
		elif op != "character.unload":
			_fail(text)
		return
	if op == "hello":
		_on_hello(result)
	elif op == "character.load":
		_on_loaded(result)
	elif op == "pose.set":
		_pose_in_flight = false
	elif op == "stream.start":
		connections += 1
		_backoff_ms = MIN_BACKOFF_MS
		_set_state("streaming")


func _on_hello(result: Dictionary) -> void:
	if not PROTOCOL in result.get("protocols", []):
		_fail("the daemon does not speak protocol %d (it speaks %s)" % [PROTOCOL, str(result.get("protocols"))])
		return
	hello = result
	for name in _pose.keys():
		if not name in result.get("parameters", []):
			_pose.erase(name)
			_changed.erase(name)
			emit_signal("error_reported", "set_pose: unknown pose parameter '%s'" % name)
	_frames = ZmtpPeer.new()
	_frames.open(host, int(result["frame_port"]), "SUB")
	_frames.subscribe("event.")
	_last_heard = Time.get_ticks_msec()
	if _previous_session != "":  # a session the daemon kept after we lost the connection
		_send("character.unload", {"session": _previous_session}, false, false)
	_send("character.load", {"character": character, "renderer": renderer}, false, true)
	_set_state("loading")


func _on_loaded(result: Dictionary) -> void:
	session = str(result.get("session", ""))
	_previous_session = session
	_frames.subscribe("frame." + session)
	_send("pose.set", {"session": session, "params": _pose.duplicate(), "reset": true, "clamp": true}, false, false)
	_changed.clear()
	for handle in _attachments:  # idle life again; one-shots (a timeline, a saying) ended with the old session
		var attachment: Dictionary = _attachments[handle]
		if attachment["keep"] and attachment["id"] != "":  # attached before (those still queued come later)
			_commands.push_front({"op": "source.attach", "args": {"source": attachment["source"],
				"args": attachment["args"]}, "handle": handle})
		attachment["id"] = ""
	_reset_pending = false
	_pose_in_flight = true
	var args := {"session": session, "fps": float(fps), "format": "rgba8"}
	if size.size() == 2:
		args["size"] = size
	_send("stream.start", args, false, false)


func _read_published() -> void:
	var newest = null
	var message = _frames.take_message()
	while message != null:
		_last_heard = Time.get_ticks_msec()
		var decoded: Dictionary = {"ok": false, "error": "no envelope"}
		if message.size() >= 2:
			decoded = Msgpack.decode(message[1])
		if not decoded["ok"] or typeof(decoded["value"]) != TYPE_DICTIONARY:
			_fail("a published message that is not a MessagePack map: " + decoded["error"])
			return
		var envelope: Dictionary = decoded["value"]
		var kind = envelope.get("event")
		var data = envelope.get("data")
		if typeof(data) != TYPE_DICTIONARY:
			data = {}
		var ours: bool = session != "" and data.get("session") == session
		if kind == "frame" and ours and message.size() >= 3:
			frames_received += 1
			newest = [data, message[2]]
		elif kind == "session.unloaded" and ours:
			_fail("session %s was unloaded" % session)
			return
		elif kind == "session.error" and ours:
			emit_signal("error_reported", str(data.get("message", "")))
		elif typeof(kind) == TYPE_STRING and kind != "heartbeat" and kind != "frame":
			emit_signal("daemon_event", kind, data)
		if _frames == null:  # stop() from a signal handler
			return
		message = _frames.take_message()
	if newest != null:
		var header: Dictionary = newest[0]
		var pixels: PackedByteArray = newest[1]
		if header.get("format") != "rgba8" or pixels.size() != int(header.get("w", 0)) * int(header.get("h", 0)) * 4:
			emit_signal("error_reported", "a frame whose size does not match its header")
		else:
			emit_signal("frame_received", header, pixels)


func _fail(message: String) -> void:
	emit_signal("error_reported", message)
	_disconnect()
	_retry_at = Time.get_ticks_msec() + _backoff_ms
	_backoff_ms = _backoff_ms * 2
	if _backoff_ms > MAX_BACKOFF_MS:
		_backoff_ms = MAX_BACKOFF_MS
	_set_state("waiting")


func _disconnect() -> void:
	if _control != null:
		_control.close()
	if _frames != null:
		_frames.close()
	_control = null
	_frames = null
	_pending.clear()
	_pose_in_flight = false
	_command_in_flight = 0
	session = ""
	hello = {}


func _set_state(new_state: String) -> void:
	if new_state != state:
		state = new_state
		emit_signal("state_changed", state)
