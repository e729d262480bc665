## The ZMTP 3.1 subset of docs/protocol.md §2 over StreamPeerTCP, without blocking: the NULL greeting,
## READY, and the framing a DEALER (control channel) or SUB (frame channel) needs. Call poll() often
## (every game frame); it reads what has arrived and never waits. Messages sent before the handshake is
## done are queued. Shared GDScript only (see msgpack.gd).
extends RefCounted

enum {CONNECTING, HANDSHAKE, OPEN, CLOSED}
enum {STEP_GREETING, STEP_FLAGS, STEP_SIZE, STEP_BODY}

const MORE := 1
const LONG := 2
const COMMAND := 4
## Largest frame accepted from the daemon (a 2048×2048 RGBA frame is 16 MiB).
const MAX_FRAME_BYTES := 64 * 1024 * 1024

var status := CLOSED
## Why the connection closed ("" while it is fine).
var error := ""

var _tcp := StreamPeerTCP.new()
var _address := ""
var _socket_type := ""
var _outbox := []
var _messages := []
var _message := []
# The step being read: _want bytes go into _part (a StreamPeerBuffer sized for them).
var _step := STEP_GREETING
var _want := 0
var _part := StreamPeerBuffer.new()
var _flags := 0


## Connect to host:port as ``socket_type`` ("DEALER" or "SUB").
func open(host: String, port: int, socket_type: String) -> void:
	_socket_type = socket_type
	_address = "%s:%d" % [host, port]
	_part.big_endian = true
	var err := _tcp.connect_to_host(host, port)
	if err != OK:
		_close("cannot connect to %s (error %d)" % [_address, err])
		return
	status = CONNECTING


## Send a message made of ``frames`` (PackedByteArrays); queued until the handshake is done.
func send(frames: Array) -> void:
	if status == OPEN:
		_write_message(frames)
	elif status != CLOSED:
		_outbox.append(frames)


## Subscribe (SUB side) to topics starting with ``prefix`` (§2.5).
func subscribe(prefix: String) -> void:
	var body := PackedByteArray([1])
	body.append_array(prefix.to_utf8_buffer())
	send([body])


## The next received message (an Array of PackedByteArray frames), or null.
func take_message():
	if _messages.size() == 0:
		return null
	return _messages.pop_front()


## Read whatever has arrived; returns the status (CONNECTING, HANDSHAKE, OPEN or CLOSED).
func poll() -> int:
	if status == CLOSED:
		return status
	_tcp.poll()
	var tcp_status := _tcp.get_status()
	if status == CONNECTING:
		if tcp_status == StreamPeerTCP.STATUS_CONNECTING:
			return status
		if tcp_status != StreamPeerTCP.STATUS_CONNECTED:
			_close("no connection to %s (is `tha4 serve` running there?)" % _address)
			return status
		_tcp.set_no_delay(true)
		_put(_greeting())
		status = HANDSHAKE
		_expect(STEP_GREETING, 64)
	if status != CLOSED and tcp_status != StreamPeerTCP.STATUS_CONNECTED:
		_close("the daemon closed the connection")
	_read_available()
	return status


func close() -> void:
	_close("closed")


func _close(reason: String) -> void:
	if status != CLOSED:
		error = reason
	status = CLOSED
	_tcp.disconnect_from_host()
	_outbox.clear()


## Read only what had arrived when called, so a fast sender cannot keep one poll() going.
func _read_available() -> void:
	var available := _tcp.get_available_bytes()
	while status != CLOSED:
		if _part.get_position() == _want:
			_complete_step()
			continue
		if available <= 0:
			return
		var take := _want - _part.get_position()
		if available < take:
			take = available
		var got: Array = _tcp.get_partial_data(take)
		if got[0] != OK:
			_close("connection lost (error %d)" % got[0])
			return
		_part.put_data(got[1])
		available -= take


func _expect(step: int, n: int) -> void:
	_step = step
	_want = n
	_part.clear()
	_part.resize(n)
	_part.seek(0)


func _complete_step() -> void:
	_part.seek(0)
	if _step == STEP_GREETING:
		var theirs := _part.data_array
		_part.seek(12)
		if theirs[0] != 0xff or theirs[9] != 0x7f or theirs[10] != 3 or _part.get_utf8_string(4) != "NULL":
			_close("not a ZMTP 3 peer with the NULL mechanism (is this the tha4 daemon's port?)")
			return
		_write_frame(COMMAND, _ready_command())
		_expect(STEP_FLAGS, 1)
	elif _step == STEP_FLAGS:
		_flags = _part.get_u8()
		if (_flags & ~(MORE | LONG | COMMAND)) != 0:
			_close("bad ZMTP frame flags %d" % _flags)
			return
		_expect(STEP_SIZE, 8 if (_flags & LONG) != 0 else 1)
	elif _step == STEP_SIZE:
		var size: int = _part.get_u64() if (_flags & LONG) != 0 else _part.get_u8()
		if size < 0 or size > MAX_FRAME_BYTES:
			_close("a frame of %d bytes is larger than %d" % [size, MAX_FRAME_BYTES])
			return
		_expect(STEP_BODY, size)
	else:
		var body := _part.data_array
		_expect(STEP_FLAGS, 1)
		if (_flags & COMMAND) != 0:
			_on_command(body)
		elif status != OPEN:
			_close("a message before the daemon's READY")
		else:
			_message.append(body)
			if (_flags & MORE) == 0:
				_messages.append(_message)
				_message = []


func _on_command(body: PackedByteArray) -> void:
	if status == OPEN:
		return  # later commands carry nothing a client needs
	var reader := StreamPeerBuffer.new()
	reader.data_array = body
	var name := ""
	if body.size() > 0 and body[0] < body.size():
		name = reader.get_utf8_string(reader.get_u8())
	if name == "ERROR":
		var reason := ""
		if reader.get_available_bytes() > 0 and body[1 + body[0]] < reader.get_available_bytes():
			reason = reader.get_utf8_string(reader.get_u8())
		_close("the daemon refused the connection: " + reason)
	elif name != "READY":
		_close("expected the daemon's READY command, got " + name)
	else:
		status = OPEN
		for frames in _outbox:
			_write_message(frames)
		_outbox.clear()


func _greeting() -> PackedByteArray:
	var g := StreamPeerBuffer.new()
	g.put_u8(0xff)
	for _i in range(8):
		g.put_u8(0)
	g.put_u8(0x7f)
	g.put_u8(3)
	g.put_u8(1)
	g.put_data("NULL".to_utf8_buffer())
	for _i in range(64 - 16):
		g.put_u8(0)
	return g.data_array


## READY with one property, Socket-Type (§2.2).
func _ready_command() -> PackedByteArray:
	var c := StreamPeerBuffer.new()
	c.big_endian = true
	c.put_u8(5)
	c.put_data("READY".to_utf8_buffer())
	c.put_u8(11)
	c.put_data("Socket-Type".to_utf8_buffer())
	c.put_u32(_socket_type.length())
	c.put_data(_socket_type.to_utf8_buffer())
	return c.data_array


func _write_message(frames: Array) -> void:
	for i in range(frames.size()):
		_write_frame(MORE if i < frames.size() - 1 else 0, frames[i])


func _write_frame(flags: int, body: PackedByteArray) -> void:
	var header := StreamPeerBuffer.new()
	header.big_endian = true
	if body.size() > 255:
		header.put_u8(flags | LONG)
		header.put_u64(body.size())
	else:
		header.put_u8(flags)
		header.put_u8(body.size())
	_put(header.data_array)
	_put(body)


func _put(bytes: PackedByteArray) -> void:
	if status != CLOSED and _tcp.put_data(bytes) != OK:
		_close("connection lost while sending")
