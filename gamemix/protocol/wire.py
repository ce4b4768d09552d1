"""The wire format: msgpack frames carrying protocol messages, version 1.

Every frame is one msgpack map: `{"v": 1, "type": ..., <fields>}`; commands
sent to the ROUTER socket may add `"rid"` (any value; an int is usual) that the reply echoes, so
a client can pipeline requests.  Replies are
`{"v": 1, "rid": ..., "ok": true, "data": {...}}` or
`{"v": 1, "rid": ..., "ok": false, "error": {"code": ..., "message": ..., "field": ...}}`.

Decoding is defensive: a frame larger than MAX_FRAME_BYTES, bytes that are
not msgpack, a map nested too deep, a missing or unsupported version, an
unknown type or a field of the wrong type each raise WireError with a stable
code and the field it concerns.  Nothing in a frame is ever executed, and no
field is used as a path except `load_scene.file`, which must stay inside the
loaded scene's folder.

Control side (the server's network thread).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Optional, Union

import msgpack
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, RootModel, TypeAdapter, ValidationError, create_model

from gamemix.protocol import messages as protocol
from gamemix.scene.located_yaml import dotted

WIRE_VERSION = 1
MAX_FRAME_BYTES = 4 << 20          # 4 MiB: a full `emitters` batch (65,536 ids) is about 2.4 MiB
MAX_DEPTH = 8


class WireError(Exception):
    """A frame that cannot be used; `code` is stable, `field` names the culprit if known."""

    def __init__(self, code: str, message: str, field: str | None = None, rid: Any = None):
        self.code, self.message, self.field, self.rid = code, message, field, rid
        super().__init__(f"{code}: {message}")


class Ping(protocol.Message):
    """Liveness check; the reply carries the protocol version and the server's block index."""

    type: Literal["ping"] = "ping"


class Query(protocol.Message):
    """Ask for the mixer's state: voices, buses, snapshots, parameters, instances."""

    type: Literal["query"] = "query"


class LoadScene(protocol.Message):
    """Reload the scene (or another scene file inside its folder), keeping what still exists."""

    type: Literal["load_scene"] = "load_scene"
    file: Optional[protocol.Name] = None


SERVER_COMMANDS = (Ping, Query, LoadScene)
COMMAND_TYPES = {cls.model_fields["type"].default: cls for cls in protocol.MESSAGE_CLASSES + SERVER_COMMANDS}
# stream messages: fire-and-forget on PULL; poses coalesce (newest wins), the rest keep their order
STREAM_TYPES = {"emitter", "emitters", "listener", "set_parameter", "event", "play", "stop",
                "snapshot_start", "snapshot_stop", "snapshot_intensity", "bus_volume", "bus_mute"}


def encode(obj: dict) -> bytes:
    """One frame from a dict (adds the version)."""
    return msgpack.packb({"v": WIRE_VERSION, **obj}, use_bin_type=True)


def _depth(obj: Any) -> int:
    """Levels of maps and lists below `obj` (a scalar in the frame's map is at level 1), counted
    up to MAX_DEPTH + 1.  Layer by layer, so a long list of numbers costs one type test each."""
    level, layer = 0, [obj] if type(obj) in (dict, list) else []
    while layer and level <= MAX_DEPTH:
        below = []
        any_child = False
        for node in layer:
            children = node.values() if type(node) is dict else node
            if children:
                any_child = True
                below.extend(c for c in children if type(c) in (dict, list))
        if not any_child:
            break
        level += 1
        layer = below
    return level


def _check_nesting(obj: dict) -> None:
    if _depth(obj) > MAX_DEPTH:
        raise WireError("bad_frame", f"nested deeper than {MAX_DEPTH} levels", rid=obj.get("rid"))


def decode_map(frame: bytes, check_nesting: bool = True) -> dict:
    """Bytes to a checked map: size, msgpack, depth (unless the caller checks it), version.
    Raises WireError."""
    if len(frame) > MAX_FRAME_BYTES:
        raise WireError("too_large", f"frame of {len(frame)} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    try:
        obj = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise WireError("bad_frame", f"not a msgpack frame: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise WireError("bad_frame", "a frame must be a msgpack map")
    rid = obj.get("rid")
    if check_nesting:
        _check_nesting(obj)
    version = obj.get("v")
    if version != WIRE_VERSION:
        raise WireError("bad_version", f"protocol version {version!r} is not supported (this server speaks {WIRE_VERSION})",
                        "v", rid)
    return obj


def _fast_emitter(obj: dict):
    """The per-frame pose message, checked by hand (the same rules as protocol.Emitter, about
    10x cheaper than pydantic, which matters at 100,000 updates a second); None if not plain."""
    if not obj.keys() <= {"v", "rid", "type", "id", "position", "velocity"}:
        return None
    instance, position, velocity = obj.get("id"), obj.get("position"), obj.get("velocity")
    if type(instance) is not int or not 0 <= instance < 2 ** 63:
        return None
    vectors = (position,) if velocity is None else (position, velocity)
    for vec in vectors:
        if type(vec) is not list or len(vec) != 3:
            return None
        for x in vec:
            if type(x) not in (int, float) or not -1e7 <= x <= 1e7:   # NaN fails both comparisons
                return None
    return protocol.Emitter.model_construct(type="emitter", id=instance, position=tuple(position),
                                            velocity=None if velocity is None else tuple(velocity))


def _fast_emitters(obj: dict):
    """A batch of poses checked with NumPy (the rules of protocol.Emitters); None if not plain."""
    if not obj.keys() <= {"v", "rid", "type", "ids", "positions", "velocities"}:
        return None
    ids, positions, velocities = obj.get("ids"), obj.get("positions"), obj.get("velocities")
    if type(ids) is not list or type(positions) is not list or len(ids) != len(positions) or len(ids) > 65536:
        return None
    if velocities is not None and (type(velocities) is not list or len(velocities) != len(ids)):
        return None
    try:
        id_arr = np.asarray(ids)
        arrays = [np.asarray(v) for v in ((positions,) if velocities is None else (positions, velocities))]
    except (ValueError, TypeError, OverflowError):
        return None
    if len(ids) and (id_arr.dtype.kind not in "iu" or id_arr.min() < 0 or id_arr.max() >= 2 ** 63):
        return None
    for k, arr in enumerate(arrays):
        # numbers only (a string or an all-bool array makes another dtype; pydantic then names it)
        if len(ids) and arr.dtype.kind not in "iuf" or arr.shape not in ((len(ids), 3), (0,)):
            return None
        arrays[k] = arr = arr.astype(np.float64).reshape(len(ids), 3)
        if not (np.abs(arr) <= 1e7).all():    # NaN fails the comparison
            return None
    return protocol.Emitters.model_construct(type="emitters", ids=ids, positions=arrays[0],
                                             velocities=None if velocities is None else arrays[1])


FAST_PATHS = {"emitter": _fast_emitter, "emitters": _fast_emitters}


def decode(frame: bytes, allowed: set[str] | None = None):
    """Bytes to (message model, rid).  Raises WireError naming the bad field."""
    obj = decode_map(frame, check_nesting=False)
    kind = obj.get("type")
    # a list or map as `type` is unhashable: test for a string before any lookup
    # a fast path checks the whole structure itself, so no nesting walk; a nested rid goes the slow way
    if (isinstance(kind, str) and kind in FAST_PATHS and (allowed is None or kind in allowed)
            and type(obj.get("rid")) not in (dict, list)):
        fast = FAST_PATHS[kind](obj)
        if fast is not None:
            return fast, obj.get("rid")   # anything unusual falls through to pydantic for a precise error
    _check_nesting(obj)
    rid = obj.pop("rid", None)
    obj.pop("v", None)
    cls = COMMAND_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None or (allowed is not None and kind not in allowed):
        known = sorted(allowed) if allowed is not None else sorted(COMMAND_TYPES)
        raise WireError("unknown_type", f"unknown message type {kind!r} (known: {', '.join(known)})", "type", rid)
    try:
        return cls.model_validate(obj), rid
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = dotted(err["loc"])
        message = err["msg"].replace("Input should be", "must be")
        code = "unknown_field" if err["type"] == "extra_forbidden" else "bad_value"
        raise WireError(code, f"{field}: {message}" if field else message, field or None, rid) from None


def ok(rid: Any, data: dict | None = None) -> bytes:
    """A success reply frame."""
    return encode({"rid": rid, "ok": True, "data": data or {}})


def error(rid: Any, code: str, message: str, field: str | None = None) -> bytes:
    """An error reply frame."""
    return encode({"rid": rid, "ok": False, "error": {"code": code, "message": message, "field": field}})


# ---------------------------------------------------------------------------------------------
# Machine-readable schema of the frames (`gamemix schema --protocol`).  Generated from the models
# above; the reply and publish models below exist to describe what the server sends.

class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Frame):
    """Why a command was refused."""

    code: str = Field(description="stable error code (docs/protocol.md, 'Error codes')")
    message: str = Field(description="human-readable explanation")
    field: Optional[str] = Field(description="dotted path of the offending field, or null")


class OkReply(_Frame):
    """Reply to a command that was carried out (ROUTER socket)."""

    v: Literal[1] = Field(description="protocol version")
    rid: Any = Field(description="the request's `rid`, echoed; null if it had none")
    ok: Literal[True]
    data: dict[str, Any] = Field(description="command-specific result, {} if none (docs/protocol.md)")


class ErrorReply(_Frame):
    """Reply to a command that was refused (ROUTER socket); nothing changed."""

    v: Literal[1] = Field(description="protocol version")
    rid: Any = Field(description="the request's `rid`, echoed; null if it had none or the frame was unreadable")
    ok: Literal[False]
    error: ErrorBody


class BusLevel(_Frame):
    """One bus's post-fader levels, loudness (BS.1770-4) and processors' gain changes; null = not measured yet
    or silence.  The processor fields appear only on buses that have that processor."""

    peak_dbfs: Optional[float] = Field(description="sample peak of the last block, dBFS")
    rms_dbfs: Optional[float] = Field(description="RMS of the last block over all channels, dBFS")
    momentary_lufs: Optional[float] = Field(description="momentary loudness (400 ms), LUFS")
    short_term_lufs: Optional[float] = Field(description="short-term loudness (3 s), LUFS")
    integrated_lufs: Optional[float] = Field(description="integrated loudness since the start, LUFS")
    lra_lu: float = Field(description="loudness range (EBU Tech 3342), LU")
    max_momentary_lufs: Optional[float] = Field(description="highest momentary loudness since the start, LUFS")
    max_short_term_lufs: Optional[float] = Field(description="highest short-term loudness since the start, LUFS")
    true_peak_dbtp: Optional[float] = Field(description="highest true peak since the start, dBTP")
    sample_peak_dbfs: Optional[float] = Field(description="highest sample peak since the start, dBFS")
    sidechain_db: Optional[float] = Field(None, description="sidechain duck at the end of the last block, dB (<= 0)")
    compressor_gr_db: Optional[float] = Field(None, description="largest compressor gain change in the last block, "
                                                                 "dB (<= 0)")
    loudness_gain_db: Optional[float] = Field(None, description="gain the loudness target applies, dB")
    unmask_cut_db: Optional[dict[str, float]] = Field(None, description="unmasking cut per band centre (Hz), dB (<= 0)")
    limiter_gr_db: Optional[float] = Field(None, description="largest limiter gain change in the last block, dB (<= 0)")


class VoiceCounts(_Frame):
    real: int = Field(ge=0, description="voices rendered (playing or fading out)")
    virtual: int = Field(ge=0, description="voices tracked but not rendered")


class Telemetry(_Frame):
    """Published on the PUB socket every few blocks (about --telemetry-hz per second)."""

    v: Literal[1] = Field(description="protocol version")
    type: Literal["telemetry"]
    block: int = Field(ge=0, description="blocks rendered so far")
    time_s: float = Field(description="mixer time at the end of the last rendered block, seconds")
    buses: dict[str, BusLevel]
    voices: VoiceCounts
    snapshots: dict[str, float] = Field(description="weight of each active snapshot, percent")
    xruns: int = Field(ge=0, description="output underruns since start")
    cpu_load: float = Field(description="median render time per block / block period (1.0 = no headroom)")
    stream_drops: int = Field(ge=0, description="stream frames dropped, plus unknown ids in stream poses, since start")


class Reload(_Frame):
    """Published on the PUB socket after `--watch` reloaded (or failed to reload) the scene."""

    v: Literal[1] = Field(description="protocol version")
    type: Literal["reload"]
    ok: bool
    error: Optional[ErrorBody] = Field(description="why the edit was refused (the old scene keeps playing)")


def _request_frame(kind: str, cls: type[BaseModel]) -> type[BaseModel]:
    """A message model as it travels: its fields, `type` required, plus the envelope (`v`, optional `rid`)."""
    return create_model(
        cls.__name__, __base__=cls, __doc__=cls.__doc__, __module__=__name__,
        type=(Literal[kind], Field(description="message kind")),
        v=(Literal[1], Field(description="protocol version")),
        rid=(Any, Field(None, description="request id, echoed in the reply (ignored on the stream socket)")))


def protocol_schema() -> str:
    """JSON Schema (draft 2020-12) of every frame on the wire, generated from the pydantic models:
    `$defs.Request` (a union discriminated on `type`, one branch per entry of COMMAND_TYPES),
    `$defs.Reply` (`OkReply` / `ErrorReply`) and `$defs.Published` (`Telemetry` / `Reload`)."""
    frames = tuple(_request_frame(kind, cls) for kind, cls in COMMAND_TYPES.items())

    class Request(RootModel[Annotated[Union[frames], Field(discriminator="type")]]):
        """A frame a client sends: a command (ROUTER) or a stream message (PULL), told apart by `type`."""

    class Reply(RootModel[Union[OkReply, ErrorReply]]):
        """The one reply to each command, on the ROUTER socket."""

    class Published(RootModel[Annotated[Union[Telemetry, Reload], Field(discriminator="type")]]):
        """A frame the server publishes on the PUB socket."""

    schema = TypeAdapter(Union[Request, Reply, Published]).json_schema(ref_template="#/$defs/{model}")
    return json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"gamemix wire protocol, version {WIRE_VERSION}",
        "description": ("One msgpack map per ZeroMQ frame, shown here as JSON: requests (commands on the "
                        "ROUTER socket, streams on the PULL socket), replies, and published frames (PUB). "
                        "Not expressed here: `emitters` lists must have equal lengths, and the listener's "
                        "`forward` and `up` must not be zero or parallel. See docs/protocol.md."),
        **schema,
    }, indent=2)
