## MessagePack subset of docs/protocol.md §3: what the tha4 daemon sends and what a bridge sends to it.
## Values: null, bool, int, float, String, Array, Dictionary (String keys); bin decodes to PackedByteArray.
## The tests run this file in Godot 3 after a token-for-token port (tha4_sdk/bench/engine_drivers.py): keep to
## GDScript both versions share.
extends RefCounted

const MAX_DEPTH := 32


## Encode a value; an empty PackedByteArray (and an error pushed) for a value that cannot be encoded.
static func encode(value) -> PackedByteArray:
	var out := StreamPeerBuffer.new()
	out.big_endian = true
	if not _write(out, value, 0):
		return PackedByteArray()
	return out.data_array


## Decode one value filling ``bytes``: {"ok": bool, "value": the value, "error": why not ("" when ok)}.
static func decode(bytes: PackedByteArray) -> Dictionary:
	var buf := StreamPeerBuffer.new()
	buf.big_endian = true
	buf.data_array = bytes
	var state := {"error": ""}
	var value = _read(buf, state, 0)
	if state["error"] == "" and buf.get_position() != buf.get_size():
		state["error"] = "%d bytes after the value" % (buf.get_size() - buf.get_position())
	return {"ok": state["error"] == "", "value": value, "error": state["error"]}


# ---- encoder ----------------------------------------------------------------------------------------
static func _write(out: StreamPeerBuffer, value, depth: int) -> bool:
	if depth > MAX_DEPTH:
		push_error("MessagePack: nested deeper than %d levels" % MAX_DEPTH)
		return false
	match typeof(value):
		TYPE_NIL:
			out.put_u8(0xc0)
		TYPE_BOOL:
			out.put_u8(0xc3 if value else 0xc2)
		TYPE_INT:
			_write_int(out, value)
		TYPE_FLOAT:
			out.put_u8(0xcb)
			out.put_double(value)
		TYPE_STRING:
			_write_string(out, value)
		TYPE_ARRAY:
			_write_header(out, value.size(), 0x90, 0xdc)
			for item in value:
				if not _write(out, item, depth + 1):
					return false
		TYPE_DICTIONARY:
			_write_header(out, value.size(), 0x80, 0xde)
			for key in value:
				if typeof(key) != TYPE_STRING:
					push_error("MessagePack: map keys must be strings, got %s" % str(key))
					return false
				_write_string(out, key)
				if not _write(out, value[key], depth + 1):
					return false
		_:
			push_error("MessagePack: cannot encode %s" % str(value))
			return false
	return true


## Fix form below 16, else the 16-bit (code) or 32-bit (code + 1) form: arrays and maps.
static func _write_header(out: StreamPeerBuffer, count: int, fix_code: int, code16: int) -> void:
	if count < 16:
		out.put_u8(fix_code | count)
	elif count <= 0xffff:
		out.put_u8(code16)
		out.put_u16(count)
	else:
		out.put_u8(code16 + 1)
		out.put_u32(count)


static func _write_string(out: StreamPeerBuffer, text: String) -> void:
	var utf8 := text.to_utf8_buffer()
	var n := utf8.size()
	if n < 32:
		out.put_u8(0xa0 | n)
	elif n <= 0xff:
		out.put_u8(0xd9)
		out.put_u8(n)
	elif n <= 0xffff:
		out.put_u8(0xda)
		out.put_u16(n)
	else:
		out.put_u8(0xdb)
		out.put_u32(n)
	out.put_data(utf8)


static func _write_int(out: StreamPeerBuffer, n: int) -> void:
	if n >= 0:
		if n <= 0x7f:
			out.put_u8(n)
		elif n <= 0xff:
			out.put_u8(0xcc)
			out.put_u8(n)
		elif n <= 0xffff:
			out.put_u8(0xcd)
			out.put_u16(n)
		elif n <= 0xffffffff:
			out.put_u8(0xce)
			out.put_u32(n)
		else:
			out.put_u8(0xcf)
			out.put_u64(n)
	elif n >= -32:
		out.put_u8(n & 0xff)
	elif n >= -128:
		out.put_u8(0xd0)
		out.put_8(n)
	elif n >= -32768:
		out.put_u8(0xd1)
		out.put_16(n)
	elif n >= -2147483648:
		out.put_u8(0xd2)
		out.put_32(n)
	else:
		out.put_u8(0xd3)
		out.put_64(n)


# ---- decoder ----------------------------------------------------------------------------------------
static func _read(buf: StreamPeerBuffer, state: Dictionary, depth: int):
	if depth > MAX_DEPTH:
		return _fail(state, "nested deeper than %d levels" % MAX_DEPTH)
	if not _need(buf, state, 1):
		return null
	var b: int = buf.get_u8()
	if b <= 0x7f:
		return b
	if b >= 0xe0:
		return b - 256
	if b >= 0xa0 and b <= 0xbf:
		return _read_string(buf, state, b & 0x1f)
	if b >= 0x90 and b <= 0x9f:
		return _read_array(buf, state, b & 0x0f, depth)
	if b >= 0x80 and b <= 0x8f:
		return _read_map(buf, state, b & 0x0f, depth)
	match b:
		0xc0:
			return null
		0xc2:
			return false
		0xc3:
			return true
		0xc4:
			return _read_bin(buf, state, _read_length(buf, state, 1))
		0xc5:
			return _read_bin(buf, state, _read_length(buf, state, 2))
		0xc6:
			return _read_bin(buf, state, _read_length(buf, state, 4))
		0xca:
			if _need(buf, state, 4):
				return buf.get_float()
		0xcb:
			if _need(buf, state, 8):
				return buf.get_double()
		0xcc:
			return _read_length(buf, state, 1)
		0xcd:
			return _read_length(buf, state, 2)
		0xce:
			return _read_length(buf, state, 4)
		0xcf:
			if _need(buf, state, 8):
				return buf.get_u64()  # above 2^63 - 1 wraps negative: GDScript ints are signed 64-bit
		0xd0:
			if _need(buf, state, 1):
				return buf.get_8()
		0xd1:
			if _need(buf, state, 2):
				return buf.get_16()
		0xd2:
			if _need(buf, state, 4):
				return buf.get_32()
		0xd3:
			if _need(buf, state, 8):
				return buf.get_64()
		0xd9:
			return _read_string(buf, state, _read_length(buf, state, 1))
		0xda:
			return _read_string(buf, state, _read_length(buf, state, 2))
		0xdb:
			return _read_string(buf, state, _read_length(buf, state, 4))
		0xdc:
			return _read_array(buf, state, _read_length(buf, state, 2), depth)
		0xdd:
			return _read_array(buf, state, _read_length(buf, state, 4), depth)
		0xde:
			return _read_map(buf, state, _read_length(buf, state, 2), depth)
		0xdf:
			return _read_map(buf, state, _read_length(buf, state, 4), depth)
		_:
			return _fail(state, "unsupported type byte 0x%02x at %d" % [b, buf.get_position() - 1])
	return null  # a truncated number: _need recorded the error


static func _fail(state: Dictionary, message: String):
	if state["error"] == "":
		state["error"] = message
	return null


## True when ``n`` more bytes are there; records a truncation error otherwise.
static func _need(buf: StreamPeerBuffer, state: Dictionary, n: int) -> bool:
	if state["error"] != "":
		return false
	if n > buf.get_size() - buf.get_position():
		_fail(state, "truncated value at %d" % buf.get_position())
		return false
	return true


## An unsigned big-endian number of 1, 2 or 4 bytes (lengths and uint 8/16/32); -1 when truncated.
static func _read_length(buf: StreamPeerBuffer, state: Dictionary, size: int) -> int:
	if not _need(buf, state, size):
		return -1
	if size == 1:
		return buf.get_u8()
	if size == 2:
		return buf.get_u16()
	return buf.get_u32()


static func _read_string(buf: StreamPeerBuffer, state: Dictionary, n: int):
	if n < 0 or not _need(buf, state, n):
		return null
	return buf.get_utf8_string(n)


static func _read_bin(buf: StreamPeerBuffer, state: Dictionary, n: int):
	if n < 0 or not _need(buf, state, n):
		return null
	return buf.get_data(n)[1]


static func _read_array(buf: StreamPeerBuffer, state: Dictionary, n: int, depth: int):
	if n < 0 or not _need(buf, state, n):  # every item takes at least one byte
		return null
	var items := []
	for _i in range(n):
		items.append(_read(buf, state, depth + 1))
		if state["error"] != "":
			return null
	return items


static func _read_map(buf: StreamPeerBuffer, state: Dictionary, n: int, depth: int):
	if n < 0 or not _need(buf, state, 2 * n):
		return null
	var map := {}
	for _i in range(n):
		var key = _read(buf, state, depth + 1)
		if state["error"] == "" and typeof(key) != TYPE_STRING:
			return _fail(state, "a map key is not a string")
		var value = _read(buf, state, depth + 1)
		if state["error"] != "":
			return null
		map[key] = value
	return map
