"""Protocol messages, version 1: every kind a client sends, one msgspec Struct each, in one registry.

The same structs are decoded straight from msgpack frames (protocol/wire.py)
and converted from render scripts (scene/script.py), so a recorded game
session replays to the same samples.  Positions are metres in the game's world
frame (OpenAL convention: right-handed, +Y up); velocities m/s; times seconds;
levels dB.  Numbers are strict: a float field takes an int or a float, an int
field only an int, a bool field only a bool; NaN and infinities are refused
(every float has finite bounds, which NaN fails).

`KINDS` is the one list of message kinds: each struct's `tag` is its `type`
on the wire, and its class flags say where it may travel (`stream`: also on
the fire-and-forget socket; `mixer`: carried out by the mixer, and so allowed
in render scripts; the rest are the server's own commands).  The envelope
fields are part of every struct: `v` (the protocol version, required on the
wire), `rid` (a request id echoed in the reply) and `t` (the sender's clock
when it sent the frame, seconds since the Unix epoch: the server drops a
stream frame older than its age limit or sent before it started, instead of
playing it late).

Instance ids: a game names its instances with ids below 2^62 (`GameId`); the
ids from 2^62 up are the ones the mixer hands out, so the two never collide.

Control side; imports nothing of the mixer, so the protocol can be
reimplemented (bindings/c) without it.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, ClassVar, Literal, Optional, Union

import msgspec

PROTOCOL_VERSION = 1
MAX_BATCH = 1024            # ids in one `emitters` message (clients send more as several: each frame's
                            # decode then holds the GIL for a bounded time, protocol/wire.py)

_FMAX = sys.float_info.max
Finite = Annotated[float, msgspec.Meta(ge=-_FMAX, le=_FMAX, description="a finite number")]
Coordinate = Annotated[float, msgspec.Meta(ge=-1e7, le=1e7, description="metres (or m/s), within 1e7")]
Vec3 = tuple[Coordinate, Coordinate, Coordinate]
Seconds = Annotated[float, msgspec.Meta(ge=0.0, le=3600.0)]
Decibels = Annotated[float, msgspec.Meta(ge=-144.0, le=24.0)]
Semitones = Annotated[float, msgspec.Meta(ge=-48.0, le=48.0)]
Percent = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
AUTO_ID_BASE = 1 << 62      # the mixer's own ids start here; a game's are below
InstanceId = Annotated[int, msgspec.Meta(ge=0, le=2 ** 63 - 1, description="an instance, the game's or the mixer's")]
GameId = Annotated[int, msgspec.Meta(ge=0, lt=AUTO_ID_BASE, description="an id the game chooses: below 2^62")]
Clock = Annotated[float, msgspec.Meta(ge=0.0, le=1e11, description="seconds since the Unix epoch")]
SampleTime = Annotated[int, msgspec.Meta(ge=0, le=2 ** 62, description="a sample of the mixer's clock")]
Pan = Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)]
Factor = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
MAX_AUX_SENDS = 8           # auxiliary buses an `aux_sends` message names (a scene has at most 8)
Loops = Annotated[int, msgspec.Meta(ge=-1, le=1_000_000, description="-1: for ever; 0: once; N: N more times")]
RequestId = Union[int, Annotated[str, msgspec.Meta(max_length=128)], None]


class Message(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True, kw_only=True,
              omit_defaults=True):
    """Base of every message: its envelope; unknown fields are errors."""

    v: int = 0                  # protocol version; the wire requires PROTOCOL_VERSION (scripts omit it)
    rid: RequestId = None       # request id, echoed in the reply (ignored on the stream socket)
    t: Optional[Clock] = None   # when the sender sent it (its wall clock): stale stream frames are dropped
    ttl: Optional[Annotated[float, msgspec.Meta(gt=0.0, le=3600.0)]] = None   # a command older than t + ttl
    #                             when it arrives is answered `expired`, not carried out (the sender gave up)

    stream: ClassVar[bool] = True       # may also be sent on the stream socket
    mixer: ClassVar[bool] = True        # carried out by the mixer (and allowed in render scripts)
    refs: ClassVar[dict[str, str]] = {}  # field -> the scene table its name must be in (checked in scripts)


class Play(Message, tag="play"):
    """Start a sound.  `id` names the instance for later stop/emitter messages;
    without one the mixer assigns an id (returned in the reply)."""

    sound: Name
    id: Optional[GameId] = None
    position: Optional[Vec3] = None
    velocity: Optional[Vec3] = None
    volume_db: Decibels = 0.0
    pitch_semitones: Semitones = 0.0
    fade_in: Seconds = 0.0
    pan: Optional[Pan] = None            # a 2D sound's pan (or balance), instead of the sound's own
    loops: Optional[Loops] = None        # instead of the sound's own looping: -1 for ever, 0 once, N more times
    at_sample: Optional[SampleTime] = None   # start at this sample of the mixer's clock (not before the next block)
    object: Optional[GameId] = None      # play on this game object: take its pose, move with it
    direction: Optional[Vec3] = None     # where a 3D emitter faces (its cone); any length, 0: none
    refs: ClassVar[dict[str, str]] = {"sound": "sounds"}


class Stop(Message, tag="stop"):
    """Stop an instance, fading out over `fade` seconds (0 = one block), now or at a block to come."""

    id: InstanceId
    fade: Seconds = 0.0
    at_sample: Optional[SampleTime] = None   # in the block holding this sample of the mixer's clock


class SetInstance(Message, tag="set_instance"):
    """Change a playing instance: its volume and pitch offsets (on top of the sound's), a 2D sound's
    pan, a 3D one's position and velocity; the volume glides over `fade` seconds (at least a block)."""

    id: InstanceId
    volume_db: Optional[Decibels] = None
    pitch_semitones: Optional[Semitones] = None
    pan: Optional[Pan] = None
    position: Optional[Vec3] = None
    velocity: Optional[Vec3] = None
    direction: Optional[Vec3] = None
    fade: Seconds = 0.0


class Pause(Message, tag="pause"):
    """Pause (fading out over `fade` s) or resume (fading back in) an instance; a paused one holds its place."""

    id: InstanceId
    paused: bool
    fade: Seconds = 0.0


class Seek(Message, tag="seek"):
    """Move an instance's voices to `seconds` into their files (clamped to the file; looping wraps)."""

    id: InstanceId
    seconds: Annotated[float, msgspec.Meta(ge=0.0, le=86400.0)]


class Emitter(Message, tag="emitter"):
    """Move a playing instance (a 3D emitter)."""

    id: InstanceId
    position: Vec3
    velocity: Optional[Vec3] = None
    direction: Optional[Vec3] = None


class Emitters(Message, tag="emitters"):
    """Move many instances at once (what a game sends every frame): `ids[k]` moves to
    `positions[k]` with `velocities[k]`, facing `directions[k]`.  Unknown ids are skipped and
    counted in the reply."""

    ids: Annotated[list[InstanceId], msgspec.Meta(max_length=MAX_BATCH)]
    positions: Annotated[list[Vec3], msgspec.Meta(max_length=MAX_BATCH)]
    velocities: Optional[Annotated[list[Vec3], msgspec.Meta(max_length=MAX_BATCH)]] = None
    directions: Optional[Annotated[list[Vec3], msgspec.Meta(max_length=MAX_BATCH)]] = None

    def __post_init__(self):
        if len(self.positions) != len(self.ids) or any(x is not None and len(x) != len(self.ids)
                                                       for x in (self.velocities, self.directions)):
            raise ValueError("ids, positions, velocities and directions must have the same length")


class Listener(Message, tag="listener"):
    """Set a listener's pose; forward and up need not be unit length.  `index` 1-3 adds listeners for
    split screen (each 3D voice is heard from its nearest one); `remove` stops using one."""

    position: Vec3 = (0.0, 0.0, 0.0)
    forward: Vec3 = (0.0, 0.0, -1.0)
    up: Vec3 = (0.0, 1.0, 0.0)
    velocity: Vec3 = (0.0, 0.0, 0.0)
    index: Annotated[int, msgspec.Meta(ge=0, le=3)] = 0
    remove: bool = False


class BusVolume(Message, tag="bus_volume"):
    """Set a bus fader, reaching `volume_db` after `fade` seconds (0 = one block)."""

    bus: Name
    volume_db: Decibels
    fade: Seconds = 0.0
    refs: ClassVar[dict[str, str]] = {"bus": "buses"}


class VcaVolume(Message, tag="vca_volume"):
    """Set a VCA (a volume control over a group of buses), reaching `volume_db` after `fade` seconds."""

    vca: Name
    volume_db: Decibels
    fade: Seconds = 0.0
    refs: ClassVar[dict[str, str]] = {"vca": "vcas"}


class BusMute(Message, tag="bus_mute"):
    """Mute or unmute a bus (ramped over `fade` seconds, at least one block)."""

    bus: Name
    mute: bool
    fade: Seconds = 0.0
    refs: ClassVar[dict[str, str]] = {"bus": "buses"}


class Event(Message, tag="event"):
    """Post a scene event (its actions run; delayed ones later).  `id` names the
    event instance so `emitter` and `stop` can address all the sounds it plays."""

    name: Name
    id: Optional[GameId] = None
    position: Optional[Vec3] = None
    velocity: Optional[Vec3] = None
    at_sample: Optional[SampleTime] = None   # run its actions from this sample of the mixer's clock
    object: Optional[GameId] = None      # run it on this game object
    direction: Optional[Vec3] = None     # where its emitter faces (cones)
    refs: ClassVar[dict[str, str]] = {"name": "events"}


class GameObjectPose(Message, tag="object"):
    """Place a game object (created the first time), moving every instance playing on it; or with
    `remove`, remove it and stop what plays on it, fading over `fade` seconds."""

    id: GameId
    position: Vec3 = (0.0, 0.0, 0.0)
    velocity: Optional[Vec3] = None
    direction: Optional[Vec3] = None
    remove: bool = False
    fade: Seconds = 0.0


class SetParameter(Message, tag="set_parameter"):
    """Set a game parameter; it glides to the value at its seek speed.  With `id`, an instance's own
    value of a parameter declared `scope: instance` (a local parameter)."""

    name: Name
    value: Finite
    id: Optional[InstanceId] = None
    object: Optional[GameId] = None      # a game object's own value, which its instances take
    refs: ClassVar[dict[str, str]] = {"name": "parameters"}


class Occlusion(Message, tag="occlusion"):
    """Set how muffled an instance, a game object's instances, or a zone's emitters are: `occlusion`
    (a wall between: the direct sound and its sends) and `obstruction` (something in the way: the
    direct sound only), 0..1; what 1 does is the sound's (`spatial.occlusion`, `obstruction`).  A
    zone takes `occlusion` only: its walls, for a listener outside it.  A value left out stays."""

    id: Optional[InstanceId] = None
    object: Optional[GameId] = None
    zone: Optional[Name] = None
    occlusion: Optional[Factor] = None
    obstruction: Optional[Factor] = None
    refs: ClassVar[dict[str, str]] = {"zone": "zones"}

    def __post_init__(self):
        if sum(x is not None for x in (self.id, self.object, self.zone)) != 1:
            raise ValueError("name exactly one of id, object and zone")
        if self.zone is not None and self.obstruction is not None:
            raise ValueError("a zone takes occlusion only (its walls)")


class AuxSends(Message, tag="aux_sends"):
    """Set the levels an instance (or a game object's instances) feeds auxiliary buses at, as dB per
    bus (Wwise's game-defined auxiliary sends); it replaces the last set, {} sends nothing.  Zones
    add their own sends on top."""

    sends: Annotated[dict[Name, Decibels], msgspec.Meta(max_length=MAX_AUX_SENDS)]
    id: Optional[InstanceId] = None
    object: Optional[GameId] = None

    def __post_init__(self):
        if (self.id is None) == (self.object is None):
            raise ValueError("name exactly one of id and object")


class SnapshotStart(Message, tag="snapshot_start"):
    """Start a snapshot (fade in over `fade` s, default its own), optionally at an intensity (%)."""

    name: Name
    intensity: Optional[Percent] = None
    fade: Optional[Seconds] = None
    refs: ClassVar[dict[str, str]] = {"name": "snapshots"}


class SnapshotStop(Message, tag="snapshot_stop"):
    """Fade a snapshot out (over `fade` s, default its own)."""

    name: Name
    fade: Optional[Seconds] = None
    refs: ClassVar[dict[str, str]] = {"name": "snapshots"}


class SnapshotIntensity(Message, tag="snapshot_intensity"):
    """Set an active snapshot's intensity (%)."""

    name: Name
    intensity: Percent
    refs: ClassVar[dict[str, str]] = {"name": "snapshots"}


class ResetMeters(Message, tag="reset_meters"):
    """Restart the loudness meters (integrated, LRA, maxima) of one bus, or of all: a new level starts."""

    bus: Optional[Name] = None
    stream: ClassVar[bool] = False
    refs: ClassVar[dict[str, str]] = {"bus": "buses"}


class InstanceInfo(Message, tag="instance_info"):
    """Ask about an instance: its state, where it is in its file, the file's length, loops left."""

    id: InstanceId
    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


class SoundInfo(Message, tag="sound_info"):
    """Ask about a sound of the scene: its files' lengths and channels, whether it loops or is 3D."""

    sound: Name
    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


class Hello(Message, tag="hello"):
    """Open a session: the server grants this client a range of instance ids of its own (so it can
    name its plays at once, without waiting for a reply) and sends it their notifications."""

    name: Optional[Name] = None
    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


class UploadSound(Message, tag="upload_sound"):
    """Audio the game made (raw float32 little-endian frames, interleaved) for a scene sound declared
    with `upload`; the next play of it plays this.  Refused while the sound has voices."""

    sound: Name
    pcm: Annotated[bytes, msgspec.Meta(min_length=4, max_length=4 * 1024 * 1024)]
    channels: Annotated[int, msgspec.Meta(ge=1, le=2)] = 1
    sample_rate: Annotated[int, msgspec.Meta(ge=8000, le=384000)] = 48000
    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


class Ping(Message, tag="ping"):
    """Liveness check; the reply carries the protocol version and the server's block index."""

    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


class Query(Message, tag="query"):
    """Ask for the mixer's state: voices, buses, snapshots, parameters, instances."""

    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


class LoadScene(Message, tag="load_scene"):
    """Reload the scene (or another scene file inside its folder), keeping what still exists."""

    file: Optional[Name] = None
    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


MESSAGES: tuple[type[Message], ...] = (Play, Stop, SetInstance, Pause, Seek, Emitter, Emitters, Listener,
                                       BusVolume, BusMute, VcaVolume, Event, GameObjectPose, Occlusion, AuxSends,
                                       SetParameter, SnapshotStart, SnapshotStop,
                                       SnapshotIntensity, ResetMeters, InstanceInfo, SoundInfo, UploadSound, Hello, Ping, Query,
                                       LoadScene)
KINDS: dict[str, type[Message]] = {cls.__struct_config__.tag: cls for cls in MESSAGES}
STREAM_KINDS = frozenset(kind for kind, cls in KINDS.items() if cls.stream)
MIXER_KINDS = frozenset(kind for kind, cls in KINDS.items() if cls.mixer)
AnyMessage = Union[MESSAGES]
MixerMessage = Union[tuple(cls for cls in MESSAGES if cls.mixer)]

Kind = Literal[tuple(KINDS)]


def kind_of(message: Message) -> str:
    """The `type` of a message."""
    return type(message).__struct_config__.tag


ENVELOPE = ("v", "rid", "t", "ttl")


def fields_of(message: Message) -> dict:
    """A message's own fields as plain values (no envelope, no defaults), for recordings and replies."""
    data = msgspec.to_builtins(message)
    for key in ENVELOPE:
        data.pop(key, None)
    return data


_AT = re.compile(r"^(.*?)(?: - at `\$\.?(.*)`)?$", re.S)
_UNKNOWN = re.compile(r"^Object contains unknown field `(.*)`$")
_MISSING = re.compile(r"^Object missing required field `(.*)`$")
_BOUND = re.compile(r"^Expected `float` (>=|<=|>|<) (\S+)$")


def explain(exc: msgspec.ValidationError) -> tuple[str, str, str]:
    """(problem, field, message) of a message's validation error: problem is 'unknown_field',
    'missing' or 'bad_value'; field the dotted path ('' for the message itself)."""
    detail, field = _AT.match(str(exc)).groups()
    unknown, missing = _UNKNOWN.match(detail), _MISSING.match(detail)
    if unknown:
        return "unknown_field", unknown.group(1), "unknown field"
    if missing:
        return "missing", missing.group(1), "required field is missing"
    bound = _BOUND.match(detail)
    if bound:     # NaN and infinities fail a bound too: say what is wanted
        return "bad_value", field or "", f"must be a finite number {bound.group(1)} {float(bound.group(2)):g}"
    return "bad_value", field or "", detail[:1].lower() + detail[1:]
