"""The wire format: msgpack frames carrying protocol messages, version 1.

Every frame is one msgpack map: `{"v": 1, "type": ..., <fields>}`; commands
sent to the ROUTER socket may add `"rid"` (an int or a string of up to 128
characters) that the reply echoes, so a client can pipeline requests.  Replies are
`{"v": 1, "rid": ..., "ok": true, "data": {...}}` or
`{"v": 1, "rid": ..., "ok": false, "error": {"code": ..., "message": ..., "field": ...}}`.

Work per frame is bounded.  The server first walks a frame's structure in
compiled code that does not hold the GIL (protocol/census.py: `check`) and
refuses it at its first excess over the limits below: more keys than any
message has fields (MAX_KEYS), more values than a full `emitters` batch
holds (MAX_VALUES), deeper nesting than any message has (MAX_DEPTH), or a
string longer than any name (MAX_STRING_BYTES).  Then `decode` goes straight
from msgpack into the message structs (protocol/messages.py) with msgspec,
which validates in C as it reads and stops at the first problem.  So the GIL
is held for at most MAX_VALUES objects' worth of decoding, whatever arrives.
A frame larger than MAX_FRAME_BYTES,
bytes that are not msgpack, a map nested too deep for the decoder, a missing
or unsupported version, an unknown type or a field of the wrong type each
raise WireError with a stable code and the field it concerns.  Nothing in a
frame is ever executed, and no field is used as a path except
`load_scene.file`, which must stay inside the loaded scene's folder.

Control side (the server's network thread, and the client).
"""

from __future__ import annotations

from typing import Any

import msgpack
import msgspec

from gamemix.protocol.messages import KINDS, MAX_BATCH, MESSAGES, PROTOCOL_VERSION, AnyMessage, Message, explain, kind_of

MAX_FRAME_BYTES = 4 << 20          # 4 MiB: an `upload_sound` of a million samples; a full `emitters` batch is ~60 KiB
MAX_KEYS = 1 + max(len(cls.__struct_fields__) for cls in MESSAGES)   # every field of the widest message, and `type`
MAX_VALUES = 13 * MAX_BATCH + 2 * MAX_KEYS + 8  # a full `emitters` batch: an id and three vectors of 4 values each
MAX_DEPTH = 3                      # a frame's map, a batch's list, a pose
MAX_STRING_BYTES = 512             # a name of 128 characters in UTF-8


class WireError(Exception):
    """A frame that cannot be used; `code` is stable, `field` names the culprit if known."""

    def __init__(self, code: str, message: str, field: str | None = None, rid: Any = None):
        self.code, self.message, self.field, self.rid = code, message, field, rid
        super().__init__(f"{code}: {message}")


class _Envelope(msgspec.Struct):
    """What every frame carries, read leniently (other keys skipped) to explain a refusal."""

    v: Any = None
    type: Any = None
    rid: Any = None


_DECODER = msgspec.msgpack.Decoder(AnyMessage)
_ENVELOPE = msgspec.msgpack.Decoder(_Envelope)


def encode(obj: dict) -> bytes:
    """One frame from a dict (adds the version)."""
    return msgpack.packb({"v": PROTOCOL_VERSION, **obj}, use_bin_type=True)


def encode_message(message: Message) -> bytes:
    """One frame from a message struct (its envelope's version set)."""
    return msgspec.msgpack.encode(msgspec.structs.replace(message, v=PROTOCOL_VERSION))


def decode_map(frame: bytes) -> dict:
    """Bytes to a map (replies and published frames, read by clients).  Raises WireError."""
    _check_size(frame)
    try:
        obj = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise WireError("bad_frame", f"not a msgpack frame: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise WireError("bad_frame", "a frame must be a msgpack map")
    v = obj.get("v")
    if type(v) is not int or v != PROTOCOL_VERSION:     # true == 1 and 1.0 == 1 in Python: not versions
        raise WireError("bad_version", f"protocol version {obj.get('v')!r} is not supported "
                                       f"(this side speaks {PROTOCOL_VERSION})", "v", obj.get("rid"))
    return obj


def decode(frame: bytes, allowed: frozenset[str] | set[str] | None = None) -> tuple[Message, Any]:
    """Bytes to (message, rid).  `allowed`: the kinds this socket takes.  Raises WireError."""
    _check_size(frame)
    try:
        message = _DECODER.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        raise _refusal(frame, exc, allowed) from None
    if message.v != PROTOCOL_VERSION:
        raise _version_error(message.v, message.rid)
    if allowed is not None and kind_of(message) not in allowed:
        raise _type_error(kind_of(message), allowed, message.rid)
    return message, message.rid


def _check_size(frame: bytes) -> None:
    if len(frame) > MAX_FRAME_BYTES:
        raise WireError("too_large", f"frame of {len(frame)} bytes exceeds the limit of {MAX_FRAME_BYTES}")


def _version_error(v, rid) -> WireError:
    return WireError("bad_version", f"protocol version {v!r} is not supported (this server speaks "
                                    f"{PROTOCOL_VERSION}; `v` must be the integer {PROTOCOL_VERSION})", "v", rid)


def _type_error(kind, allowed, rid) -> WireError:
    known = sorted(allowed if allowed is not None else KINDS)
    return WireError("unknown_type", f"unknown message type {kind!r} (known: {', '.join(known)})", "type", rid)


def _refusal(frame: bytes, exc: Exception, allowed) -> WireError:
    """Why a frame was refused, in order: not a frame, its version, its type, then the field at fault."""
    if isinstance(exc, RecursionError):
        return WireError("bad_frame", "nested too deeply")
    try:
        env = _ENVELOPE.decode(frame)
    except RecursionError:
        return WireError("bad_frame", "nested too deeply")
    except (msgspec.ValidationError, msgspec.DecodeError):
        return WireError("bad_frame", "a frame must be a msgpack map with string keys")
    rid = env.rid if good_rid(env.rid) else None
    if type(env.v) is not int or env.v != PROTOCOL_VERSION:
        return _version_error(env.v, rid)
    if not isinstance(env.type, str) or env.type not in KINDS or (allowed is not None and env.type not in allowed):
        return _type_error(env.type if isinstance(env.type, str) else env.type, allowed, rid)
    problem, field, detail = explain(exc)
    if problem == "unknown_field":
        detail = f"unknown field of {env.type!r} messages"
    return WireError("unknown_field" if problem == "unknown_field" else "bad_value",
                     f"{field}: {detail}" if field else detail, field or None, rid)


def good_rid(rid) -> bool:
    return rid is None or type(rid) is int or (type(rid) is str and len(rid) <= 128)


def ok(rid: Any, data: dict | None = None) -> bytes:
    """A success reply frame."""
    return encode({"rid": rid, "ok": True, "data": data or {}})


_OK_HEAD = b"\x84" + msgpack.packb("v") + msgpack.packb(PROTOCOL_VERSION) + msgpack.packb("rid")
_OK_DATA = msgpack.packb("ok") + msgpack.packb(True) + msgpack.packb("data")


def ok_encoded(rid: Any, data: bytes) -> bytes:
    """A success reply frame around `data` already encoded (a map): the same bytes `ok` makes, with
    the data encoded once for many replies."""
    return _OK_HEAD + msgpack.packb(rid, use_bin_type=True) + _OK_DATA + data


def error(rid: Any, code: str, message: str, field: str | None = None) -> bytes:
    """An error reply frame."""
    return encode({"rid": rid, "ok": False, "error": {"code": code, "message": message, "field": field}})
