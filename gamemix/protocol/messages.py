"""Protocol messages: what a game sends to the mixer, version 1.

One pydantic model per message kind, discriminated by `type`.  The same
models are read from render scripts (gamemix.scene.script) and, in the live server,
from msgpack frames, so a recorded game session replays to the same samples.
Positions are metres in the game's world frame (OpenAL convention: right-handed,
+Y up); velocities m/s; times seconds; levels dB.  NaN and Inf are refused.

Control side.  docs/protocol.md lists every field with unit and range.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, model_validator

PROTOCOL_VERSION = 1

# Numbers and flags are strict: a float takes an int or a float, an int only an int, a bool
# only a bool, so a string, a bool or 5.0 where an id belongs is a sender's bug, refused.
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Coordinate = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-1e7, le=1e7)]
Vec3 = tuple[Coordinate, Coordinate, Coordinate]
Seconds = Annotated[float, Strict(), Field(ge=0.0, le=3600.0, allow_inf_nan=False)]
Decibels = Annotated[float, Strict(), Field(ge=-144.0, le=24.0, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
InstanceId = Annotated[int, Strict(), Field(ge=0, lt=2**63)]
Flag = Annotated[bool, Strict()]


class Message(BaseModel):
    """Base of every message: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Play(Message):
    """Start a sound.  `id` names the instance for later stop/emitter messages;
    without one the mixer assigns an id (returned in the reply)."""

    type: Literal["play"] = "play"
    sound: Name
    id: Optional[InstanceId] = None
    position: Optional[Vec3] = None
    velocity: Optional[Vec3] = None
    volume_db: Decibels = 0.0
    pitch_semitones: Annotated[float, Strict(), Field(ge=-48, le=48, allow_inf_nan=False)] = 0.0
    fade_in: Seconds = 0.0


class Stop(Message):
    """Stop an instance, fading out over `fade` seconds (0 = one block)."""

    type: Literal["stop"] = "stop"
    id: InstanceId
    fade: Seconds = 0.0


class Emitter(Message):
    """Move a playing instance (a 3D emitter)."""

    type: Literal["emitter"] = "emitter"
    id: InstanceId
    position: Vec3
    velocity: Optional[Vec3] = None


class Emitters(Message):
    """Move many instances at once (what a game sends every frame): `ids[k]` moves to
    `positions[k]` with `velocities[k]`.  Unknown ids are skipped and counted in the reply."""

    type: Literal["emitters"] = "emitters"
    ids: list[InstanceId] = Field(max_length=65536)
    positions: list[Vec3] = Field(max_length=65536)
    velocities: Optional[list[Vec3]] = Field(None, max_length=65536)

    @model_validator(mode="after")
    def _same_lengths(self) -> "Emitters":
        if len(self.positions) != len(self.ids) or (self.velocities is not None and len(self.velocities) != len(self.ids)):
            raise ValueError("ids, positions and velocities must have the same length")
        return self


class Listener(Message):
    """Set the listener pose; forward and up need not be unit length."""

    type: Literal["listener"] = "listener"
    position: Vec3 = (0.0, 0.0, 0.0)
    forward: Vec3 = (0.0, 0.0, -1.0)
    up: Vec3 = (0.0, 1.0, 0.0)
    velocity: Vec3 = (0.0, 0.0, 0.0)


class BusVolume(Message):
    """Set a bus fader, reaching `volume_db` after `fade` seconds (0 = one block)."""

    type: Literal["bus_volume"] = "bus_volume"
    bus: Name
    volume_db: Decibels
    fade: Seconds = 0.0


class BusMute(Message):
    """Mute or unmute a bus (ramped over `fade` seconds, at least one block)."""

    type: Literal["bus_mute"] = "bus_mute"
    bus: Name
    mute: Flag
    fade: Seconds = 0.0


class Event(Message):
    """Post a scene event (its actions run; delayed ones later).  `id` names the
    event instance so `emitter` and `stop` can address all the sounds it plays."""

    type: Literal["event"] = "event"
    name: Name
    id: Optional[InstanceId] = None
    position: Optional[Vec3] = None
    velocity: Optional[Vec3] = None


class SetParameter(Message):
    """Set a game parameter; it glides to the value at its seek speed."""

    type: Literal["set_parameter"] = "set_parameter"
    name: Name
    value: Finite


Percent = Annotated[float, Strict(), Field(ge=0.0, le=100.0, allow_inf_nan=False)]


class SnapshotStart(Message):
    """Start a snapshot (fade in over `fade` s, default its own), optionally at an intensity (%)."""

    type: Literal["snapshot_start"] = "snapshot_start"
    name: Name
    intensity: Optional[Percent] = None
    fade: Optional[Seconds] = None


class SnapshotStop(Message):
    """Fade a snapshot out (over `fade` s, default its own)."""

    type: Literal["snapshot_stop"] = "snapshot_stop"
    name: Name
    fade: Optional[Seconds] = None


class SnapshotIntensity(Message):
    """Set an active snapshot's intensity (%)."""

    type: Literal["snapshot_intensity"] = "snapshot_intensity"
    name: Name
    intensity: Percent


class ResetMeters(Message):
    """Restart the loudness meters (integrated, LRA, maxima) of one bus, or of all: a new level starts."""

    type: Literal["reset_meters"] = "reset_meters"
    bus: Optional[Name] = None


MESSAGE_CLASSES = (Play, Stop, Emitter, Emitters, Listener, BusVolume, BusMute, Event, SetParameter,
                   SnapshotStart, SnapshotStop, SnapshotIntensity, ResetMeters)
AnyMessage = Annotated[Union[MESSAGE_CLASSES], Field(discriminator="type")]
MESSAGE_ADAPTER: TypeAdapter = TypeAdapter(AnyMessage)
MESSAGE_TYPES = tuple(cls.model_fields["type"].default for cls in MESSAGE_CLASSES)


def parse_message(data: dict):
    """Validate one decoded message; raises pydantic.ValidationError naming the field."""
    return MESSAGE_ADAPTER.validate_python(data)
