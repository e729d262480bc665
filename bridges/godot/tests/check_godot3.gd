# Test driver for the Godot add-on's protocol code, run by tests/test_bridge_godot.py in godot3-server
# (Godot 3 syntax: it drives the Godot 3 port of msgpack.gd, zmtp_peer.gd and tha4_client.gd that
# tha4_sdk/bench/engine_drivers.py makes). The job is a JSON file named by the THA4_CHECK environment variable:
#
#   {"mode": "codec", "hex": […], "distill": {id, args}, "job_event": hex}   hex of the protocol-doc envelopes
#        encoded here and of the distill.start request of Client.distill_args(*args); then for each input hex
#        "decoded <hex re-encoded>" or "error <message>"; then "summary <Client.job_summary of the event's job>"
#   {"mode": "stream", host, port, character, renderer, fps, pose, extra, sessions, frames, out}
#        stream until `frames` frames showing `pose` came from each of `sessions` sessions (a daemon restart
#        makes a new one); the last one, turned into an Image as Tha4Character does → out.rgba + out.json.
#        `extra`: more parameters set with `pose` but not looked for in the frames
#   {"mode": "typed", host, port, character, timeline, speech}   the typed calls, one after the other, each
#        waiting for a frame that shows it: set_expression, play_timeline, detach, attach_idle, say; prints
#        "step NAME" for each, the expression_set / attached signals, and at the end "sources [names]" of the
#        session (a breathing-only idle filter is attached with keep before the connection is up)
#   {"mode": "distill", host, port, character}   distill() with a 300 s time budget (the job then cancelled),
#        distill_args with examples and a budget, and distill() with a 30 s budget: "distill WHAT OK RESULT" each
#   {"mode": "bench", host, port, character, seconds}   frames/s received from a max-rate stream, and made
#        into Images (the newest of each poll, as Tha4Character shows them), and main-loop iterations/s, as JSON
extends SceneTree

const Client = preload("res://addons/tha4_bridge/tha4_client.gd")
const Msgpack = preload("res://addons/tha4_bridge/msgpack.gd")

var job := {}
var client
var seen := {}
var deadline := 0
var bench_start := 0
var bench_first := 0
var shown := 0
var iterations := 0
var bench_iterations := 0
var step := 0
var handles := {}
var distills := {}  # request id → what it asked (distill mode)


func _init():
	var file = File.new()
	file.open(OS.get_environment("THA4_CHECK"), File.READ)
	job = JSON.parse(file.get_as_text()).result
	file.close()
	if job["mode"] == "codec":
		codec()
		quit(0)
		return
	Engine.target_fps = 0
	client = Client.new()
	client.host = job["host"]
	client.port = int(job["port"])
	client.character = job["character"]
	client.renderer = job.get("renderer", "solid")
	client.fps = float(job.get("fps", 1000))
	client.client_name = "godot-test"
	client.connect("frame_received", self, "_on_frame")
	client.connect("state_changed", self, "_on_state")
	client.connect("reply_received", self, "_on_reply")
	client.connect("error_reported", self, "_on_event", ["error"])
	client.connect("expression_set", self, "_on_expression")
	client.connect("attached", self, "_on_attached")
	client.set_pose(job.get("pose", {}))
	client.set_pose(job.get("extra", {}))
	if job["mode"] == "typed":
		client.attach("idle", {"seed": 1, "head": false, "blink": false}, true)  # breathing only
	client.start()
	deadline = OS.get_ticks_msec() + 120000


func _idle(_delta):
	if client == null:
		return false
	client.poll()
	iterations += 1
	var now = OS.get_ticks_msec()
	if job["mode"] == "bench" and bench_start > 0 and now - bench_start >= 1000 * float(job["seconds"]):
		var frames = client.frames_received - bench_first
		var seconds = (now - bench_start) / 1000.0
		print(to_json({"frames": frames, "seconds": seconds, "fps": frames / seconds, "shown_fps": shown / seconds,
			"loop_hz": (iterations - bench_iterations) / seconds}))
		client.stop()
		quit(0)
	elif now > deadline:
		printerr("timed out; frames showing the pose per session: ", to_json(seen))
		quit(1)
	return false


func _on_event(message, kind):
	print("event ", kind, ": ", message)


func _on_state(state):
	print("event state: ", state)
	if state == "streaming" and client.connections == 1:
		print("request ", client.request("sessions.list", {}))
		if job["mode"] == "distill":
			var teacher = "student:" + job["character"]
			distills[client.distill("godot_budgeted", 0, teacher, 300.0)] = "budget"
			var both = Client.distill_args(job["character"], "godot_both", 1000, teacher, 600.0)
			distills[client.request("distill.start", both)] = "both"
			distills[client.distill("godot_short", 0, teacher, 30.0)] = "short"


func _on_reply(id, ok, result):
	print("reply ", id, " ", ok, " ", to_json(result))
	if job["mode"] == "distill" and distills.has(id):
		print("distill ", distills[id], " ", ok, " ", to_json(result))
		if distills[id] == "budget" and ok:
			distills[client.request("distill.cancel", {"job": result["job"]["job"]})] = "cancel"
		distills.erase(id)
		if distills.empty():
			client.stop()
			quit(0)
	if job["mode"] == "typed" and step == 6:
		for info in result["sessions"]:
			if info["session"] == client.session:
				var names = []
				for source in info["sources"]:
					names.append(source["name"])
				names.sort()
				print("sources ", to_json(names))
		client.stop()
		quit(0)


func _on_expression(preset, params):
	print("expression ", preset, " ", to_json(params))


func _on_attached(handle, source):
	print("attached ", handle, " ", source)


func param(header, name):
	return header["pose"][client.hello["parameters"].find(name)]


# Each typed call, once the frames show the one before.
func typed_step(header):
	if step == 0:
		client.set_expression("surprised", 0.5)
	elif step == 1 and abs(param(header, "eye_surprised_left") - 0.5) < 1e-6:
		handles["timeline"] = client.play_timeline(job["timeline"])
	elif step == 2 and abs(param(header, "head_x") - 0.75) < 1e-6:
		client.detach(handles["timeline"])
	elif step == 3 and param(header, "head_x") == 0.0:
		handles["idle"] = client.attach_idle(7)
	elif step == 4 and param(header, "breathing") > 0.0:
		client.detach(handles["idle"])
		client.say(job["speech"])
	elif step == 5 and param(header, "mouth_aaa") > 0.3:
		print("step say")
		client.request("sessions.list", {})
		step = 6
		return
	else:
		return
	print("step ", ["start", "expression", "timeline", "detach", "idle"][step])
	step += 1


func _on_frame(header, pixels):
	if job["mode"] == "distill":  # the replies are what it looks at
		return
	if job["mode"] == "typed":
		typed_step(header)
		return
	if job["mode"] == "bench":
		if bench_start == 0:
			bench_start = OS.get_ticks_msec()
			bench_first = client.frames_received
			bench_iterations = iterations
		else:
			var image = Image.new()  # what Tha4Character does with each frame it shows
			image.create_from_data(int(header["w"]), int(header["h"]), false, Image.FORMAT_RGBA8, pixels)
			shown += 1
		return
	var description = describe(header, pixels)
	print("frame ", to_json(description))
	if not shows(header, job["pose"]):
		return
	seen[header["session"]] = seen.get(header["session"], 0) + 1
	if seen.size() >= int(job["sessions"]) and seen[header["session"]] >= int(job["frames"]):
		var image = Image.new()
		image.create_from_data(int(header["w"]), int(header["h"]), false, Image.FORMAT_RGBA8, pixels)
		write(job["out"] + ".rgba", image.get_data())
		var file = File.new()
		file.open(job["out"] + ".json", File.WRITE)
		file.store_string(to_json(description))
		file.close()
		print("connections ", client.connections)
		client.stop()
		quit(0)


func shows(header, pose):
	if not header.has("pose"):
		return false
	var names = client.hello["parameters"]
	for name in pose:
		if abs(header["pose"][names.find(name)] - pose[name]) > 1e-6:
			return false
	return true


func describe(header, pixels):
	return {"session": header["session"], "character": header["character"], "seq": header["seq"],
		"w": header["w"], "h": header["h"], "bytes": pixels.size(), "pose": header.get("pose"),
		"first_pixel": [pixels[0], pixels[1], pixels[2], pixels[3]]}


func write(path, bytes):
	var file = File.new()
	file.open(path, File.WRITE)
	file.store_buffer(bytes)
	file.close()


func codec():
	var hello = {"v": 1, "id": 1, "op": "hello", "args": {"client": "godot"}}
	var pose = {"v": 1, "id": 3, "op": "pose.set",
		"args": {"session": "s0123abcd", "params": {"head_x": 0.5, "mouth_aaa": 1.0}}}
	print("encoded ", Msgpack.encode(hello).hex_encode())
	print("encoded ", Msgpack.encode(pose).hex_encode())
	var d = job["distill"]
	var args = Client.distill_args(d["args"][0], d["args"][1], int(d["args"][2]), d["args"][3], float(d["args"][4]))
	print("encoded ", Msgpack.encode({"v": 1, "id": int(d["id"]), "op": "distill.start", "args": args}).hex_encode())
	for text in job["hex"]:
		var decoded = Msgpack.decode(hex_bytes(text))
		if decoded["ok"]:
			print("decoded ", Msgpack.encode(decoded["value"]).hex_encode())
		else:
			print("error ", decoded["error"])
	var event = Msgpack.decode(hex_bytes(job["job_event"]))["value"]
	print("summary ", Client.job_summary(event["data"]["job"]))


func hex_bytes(text):
	var bytes = PoolByteArray()
	for i in range(0, text.length(), 2):
		bytes.append(("0x" + text.substr(i, 2)).hex_to_int())
	return bytes
