"""Scene files: the sound designer's YAML, validated by pydantic v2.

A scene declares the output format, the bus tree and the sounds (and, as later
sections land, categories, snapshots, events, parameters, loudness targets and
the speaker layout; each is a top-level section of its own).  Unknown keys are
errors so typos never pass silently.  `load_scene` reports every problem of a
file at once, each located as `file:line:column field.path: message`.

Control side: nothing here runs per audio block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import Field, PrivateAttr, ValidationInfo, create_model, field_validator, model_validator

from gamemix import processors
from gamemix.core.panning.layouts import NAMES as LAYOUT_NAMES
from gamemix.errors import Problem
from gamemix.scene.fields import (
    Decibels, Finite, Hertz, Priority, Seconds, Semitones, StealPolicy, Strict, Vec3, ranged,
)
from gamemix.scene.graph import BusGraph
from gamemix.scene.located_yaml import LocatedYaml, dotted
from gamemix.scene.microphone import Microphone
from gamemix.scene.paths import safe_path

SCENE_VERSION = 1


class Output(Strict):
    """Output format and engine sizes, fixed for the life of a loaded scene."""

    sample_rate: int = Field(48000, ge=8000, le=192000, description="Hz")
    block_size: int = Field(256, ge=16, le=4096, description="frames per engine block")
    channels: Literal[LAYOUT_NAMES] = Field(
        "stereo", description="the output layout: stereo, quad, 5.1, 7.1, 7.1.4 (speakers, VBAP), binaural "
                              "(headphones, HRTF) or ambix1, ambix3 (AmbiX ambisonics)")
    hrtf: Optional[str] = Field(None, max_length=1024,
                                description="binaural: a SOFA file (SimpleFreeFieldHRIR) in the scene's folder; "
                                            "default: the bundled MIT KEMAR set")
    hrtf_voices: int = Field(16, ge=0, le=64, description="binaural: the most audible 3D voices rendered with "
                                                           "their own HRTF filters; the rest share a third-order "
                                                           "ambisonic field per bus, decoded binaurally")
    max_voices: int = Field(64, ge=1, le=4096, description="real voices the engine mixes at once")
    max_instances: int = Field(1024, ge=1, le=65536,
                               description="sounds tracked at once, real and virtual; beyond it `steal` applies")
    steal: StealPolicy = Field("lowest_priority", description="what a play does when max_instances is reached")
    audibility_threshold_db: float = Field(-60.0, ge=-144, le=0,
                                           description="below this total gain a sound goes virtual")
    virtual_fade_ms: float = Field(10.0, ge=0, le=1000, description="fade when a voice goes virtual or comes back")
    steal_fade_ms: float = Field(5.0, ge=0, le=1000, description="fade-out of a stolen voice")
    speed_of_sound: float = Field(343.3, gt=0, le=100000, description="m/s, for Doppler")
    doppler_factor: float = Field(1.0, ge=0, le=10, description="global Doppler exaggeration; 0 disables")
    ceiling_dbfs: float = Field(0.0, ge=-24, le=0, description="hard safety ceiling of the output")


class AutoPan(Strict):
    """Cross-adaptive auto-pan of a bus's 2D voices (control/autopan.py)."""

    width: float = Field(0.8, ge=0.0, le=1.0, allow_inf_nan=False, description="pans stay within +-width")
    speed: float = Field(0.5, gt=0.0, le=10.0, allow_inf_nan=False, description="pan units per second a voice glides")


class BusStrip(Strict):
    """A bus's own settings: where it sums into, its fader, filters and pitch.  `Bus` adds one
    field per bus processor of the registry (gamemix/processors/)."""

    parent: Optional[str] = Field(None, description="bus this one sums into (default: master)")
    volume_db: Decibels = 0.0
    mute: bool = False
    lowpass_hz: Hertz = Field(24000.0, description="low-pass cutoff; at or above 20 kHz the filter is open")
    highpass_hz: Hertz = Field(10.0, description="high-pass cutoff; at or below 10 Hz the filter is open")
    pitch_semitones: Annotated[float, Field(ge=-24, le=24, allow_inf_nan=False)] = 0.0
    auto_pan: Optional[AutoPan] = Field(None, description="spread the bus's 2D voices by spectral overlap")
    auxiliary: bool = Field(False, description="an auxiliary bus (a reverb return): the game may send each "
                                               "emitter to it at a level of its own (`aux_sends`)")


Bus = create_model("Bus", __base__=BusStrip, __module__=__name__,
                   __doc__="One node of the bus tree.  `parent` defaults to master; master has none.",
                   **{p.key: p.field for p in processors.REGISTRY if p.field is not None})


class Cone(Strict):
    """Directivity (OpenAL's cone): full at the front within `inner_angle`, `outer_volume_db` and
    `outer_lowpass_hz` beyond `outer_angle`, interpolated between; angles are the cones' full widths."""

    inner_angle: float = Field(360.0, ge=0, le=360, allow_inf_nan=False, description="degrees")
    outer_angle: float = Field(360.0, ge=0, le=360, allow_inf_nan=False, description="degrees")
    outer_volume_db: ranged(-144.0, 0.0) = 0.0
    outer_lowpass_hz: Hertz = Field(24000.0, description="at or above 20 kHz: no filtering")

    @model_validator(mode="after")
    def _outer_beyond_inner(self):
        if self.outer_angle < self.inner_angle:
            raise ValueError("outer_angle must be >= inner_angle")
        return self


class Muffle(Strict):
    """What an occlusion or obstruction factor of 1 does (a factor f does f times it, in dB)."""

    volume_db: ranged(-144.0, 0.0) = 0.0
    lowpass_hz: Hertz = Field(24000.0, description="at or above 20 kHz: no filtering")


class Spatial(Strict):
    """3D settings: OpenAL clamped distance models, directivity, air absorption, and what occlusion
    and obstruction do (see docs/scene-format.md)."""

    min_distance: float = Field(1.0, gt=0, le=1e6, description="m; full volume inside")
    max_distance: float = Field(1000.0, gt=0, le=1e7, description="m; attenuation stops here")
    rolloff: Literal["inverse", "linear", "exponential", "none"] = "inverse"
    rolloff_factor: float = Field(1.0, ge=0, le=100)
    doppler: float = Field(1.0, ge=0, le=10, description="per-sound Doppler scale")
    spread: float = Field(0.0, ge=0, le=1, allow_inf_nan=False,
                          description="0 a point source .. 1 heard from every direction (energy kept)")
    cone: Optional[Cone] = Field(None, description="directivity about the emitter's `direction`")
    air_absorption: float = Field(0.0, ge=0, le=10, allow_inf_nan=False,
                                  description="OpenAL's air absorption factor: 1 is -0.05 dB per metre at 5 kHz")
    occlusion: Muffle = Field(Muffle(volume_db=-18.0, lowpass_hz=800.0),
                              description="at occlusion 1 (a wall between): the direct sound and the sends")
    obstruction: Muffle = Field(Muffle(volume_db=-9.0, lowpass_hz=1500.0),
                                description="at obstruction 1 (something in the way): the direct sound only")

    @field_validator("max_distance")
    @classmethod
    def _max_beyond_min(cls, value: float, info: ValidationInfo) -> float:
        if value < info.data.get("min_distance", 0.0):
            raise ValueError("must be >= min_distance")
        return value


MAX_STREAM_SLOTS = 8        # instances of one streamed sound at once (each has a ring of its own)
STREAM_SLOTS = 2            # ... when its max_instances does not say (two: a crossfade)


class Upload(Strict):
    """Room for audio the game sends at run time (`upload_sound`), like FMOD's programmer sounds:
    voice chat, generated speech, a recording the player made.  The room is reserved at load."""

    max_seconds: float = Field(10.0, gt=0, le=600, allow_inf_nan=False, description="the longest upload it takes")
    channels: Literal[1, 2] = Field(1, description="1 mono, 2 stereo (a 3D sound is mono)")


class Sound(Strict):
    """A playable sound: one or more files (a container), or audio the game uploads, and how to play it."""

    files: list[str] = Field(default_factory=list, max_length=65536,
                             description="audio files relative to the scene's folder (or `upload`)")
    upload: Optional[Upload] = Field(None, description="instead of files: audio the game uploads at run time")
    stream: bool = Field(False, description="read from disk as it plays (long music, ambiences), not decoded whole")
    mode: Literal["random", "sequence", "random_no_repeat"] = "random"
    loop: bool = False
    volume_db: Decibels = 0.0
    volume_random_db: Optional[tuple[Decibels, Decibels]] = Field(
        None, description="[min, max] dB offset drawn per play")
    pitch_semitones: Semitones = 0.0
    pitch_random_semitones: Optional[tuple[Semitones, Semitones]] = Field(
        None, description="[min, max] semitone offset drawn per play")
    bus: Optional[str] = Field(None, description="bus it plays on (default: its category's bus, else master)")
    category: Optional[str] = Field(None, description="category it belongs to (default: the category named like its bus)")
    priority: Optional[Priority] = Field(None, description="default: its category's priority")
    max_instances: Optional[int] = Field(None, ge=1, le=65536, description="instances of this sound at once")
    steal: StealPolicy = Field("oldest", description="what a play does when max_instances is reached")
    weights: Optional[list[Annotated[float, Field(gt=0, allow_inf_nan=False)]]] = Field(
        None, description="relative chance of each file in random modes")
    loudness_db: Optional[Annotated[float, Field(ge=0, le=200, allow_inf_nan=False)]] = Field(
        None, description="HDR loudness rating at min_distance (e.g. 140 for a gunshot, 60 for speech)")
    pan: float = Field(0.0, ge=-1, le=1, description="2D sounds: -1 left .. 1 right")
    centre: float = Field(0.0, ge=0, le=1, allow_inf_nan=False,
                          description="2D mono sounds on a layout with a centre speaker: the share of a centred "
                                      "sound it takes (1: dialogue on the centre; 0: a phantom centre)")
    lfe_db: Optional[Decibels] = Field(None, description="send to the LFE channel (layouts that have one); "
                                                         "none by default")
    spatial: Optional[Spatial] = Field(None, description="3D settings; absent = 2D sound")

    @field_validator("volume_random_db", "pitch_random_semitones")
    @classmethod
    def _range_ordered(cls, rng: Optional[tuple[float, float]]) -> Optional[tuple[float, float]]:
        if rng is not None and rng[0] > rng[1]:
            raise ValueError("a range is [min, max] with min <= max")
        return rng


class Category(Strict):
    """A group of sounds with shared priority and limits, mapped onto a bus."""

    bus: Optional[str] = Field(None, description="bus its sounds play on (default: the bus of the same name, else master)")
    priority: Priority = 128
    max_instances: Optional[int] = Field(None, ge=1, le=65536, description="instances in this category at once")
    steal: StealPolicy = "oldest"


class Vca(Strict):
    """A volume control over a group of buses (FMOD Studio's VCA): its level adds to each of its
    buses' own (in dB) without being in the signal path, so one control turns, say, every effects
    bus down at once and their balance stays.  A bus may be under several VCAs (they add)."""

    buses: list[str] = Field(min_length=1, max_length=4096, description="the buses it controls")
    volume_db: Decibels = Field(0.0, description="its level at start; the game moves it (vca_volume)")


class DuckRule(Strict):
    """While any sound of a `when` category is audible, the `duck` categories go down."""

    when: list[str] = Field(min_length=1, description="categories that trigger the duck")
    duck: list[str] = Field(min_length=1, description="categories that are ducked")
    depth_db: Annotated[float, Field(ge=-144, le=0, allow_inf_nan=False)] = -9.0
    attack: Seconds = 0.1
    hold: Seconds = 0.2
    release: Seconds = 1.0


Curve = Literal["linear", "scurve", "ease_in", "ease_out"]


class BusOverrideStrip(Strict):
    """What a snapshot does to one bus's own settings.  In `override` mode the values replace
    the bus's own (weighted by the snapshot's level); in `blend` mode they are offsets (dB,
    semitones, octaves) added to it.  `BusOverride` adds what each bus processor lets
    snapshots move (dB in both modes; a bus without that processor ignores them)."""

    volume_db: Optional[Annotated[float, Field(ge=-144, le=24, allow_inf_nan=False)]] = None
    lowpass_hz: Optional[Hertz] = None
    highpass_hz: Optional[Hertz] = None
    pitch_semitones: Optional[Annotated[float, Field(ge=-24, le=24, allow_inf_nan=False)]] = None
    lowpass_octaves: Optional[Annotated[float, Field(ge=-12, le=12, allow_inf_nan=False)]] = None
    highpass_octaves: Optional[Annotated[float, Field(ge=-12, le=12, allow_inf_nan=False)]] = None


def _override_field(m: processors.Movable) -> tuple:
    if m.per == "send":
        return dict[str, ranged(m.lo, m.hi)], Field(default_factory=dict, description=m.description)
    return Optional[ranged(m.lo, m.hi)], Field(None, description=m.description)


BusOverride = create_model("BusOverride", __base__=BusOverrideStrip, __module__=__name__,
                           __doc__=BusOverrideStrip.__doc__,
                           **{m.field: _override_field(m) for _, m in processors.movables()})

class Snapshot(Strict):
    """A named mix state (see docs/scene-format.md, Snapshots)."""

    mode: Literal["override", "blend"] = "override"
    priority: int = Field(0, ge=-1000, le=1000, description="higher applies later and so wins")
    fade_in: Seconds = 0.5
    fade_out: Seconds = 0.5
    curve: Curve = "linear"
    intensity: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 100.0
    buses: dict[str, BusOverride] = Field(default_factory=dict)
    zones: dict[str, ZoneOverride] = Field(default_factory=dict, description="zone send levels it moves")

    @model_validator(mode="after")
    def _keys_of_its_mode(self):
        """A cutoff is a frequency to go to (override) or a move in octaves (blend): the key of the
        other mode would be silently ignored, so it is an error that names the right one."""
        wrong = {"override": {"lowpass_octaves": "lowpass_hz", "highpass_octaves": "highpass_hz"},
                 "blend": {"lowpass_hz": "lowpass_octaves", "highpass_hz": "highpass_octaves"}}[self.mode]
        for bus, o in self.buses.items():
            for key, right in wrong.items():
                if getattr(o, key) is not None:
                    raise ValueError(f"buses.{bus}.{key}: a {self.mode} snapshot takes `{right}` "
                                     f"({'an offset in octaves' if self.mode == 'blend' else 'the cutoff to go to, Hz'})")
        return self


class Parameter(Strict):
    """A game parameter (RTPC): the game sets it; curves map it onto the mix.  `scope: instance`
    makes it a local parameter (FMOD's): each instance has its own value, set with the id."""

    scope: Literal["global", "instance"] = Field("global", description="one value, or one per instance")
    min: Finite = 0.0
    max: Finite = 1.0
    default: Optional[Finite] = None
    seek_speed: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        0.0, description="units per second the value glides at; 0 = jumps")


# parameters every instance has, computed from its position against the listener's each block
# (FMOD Studio's built-in parameters), with their ranges; mappings use them like instance parameters
BUILTIN_PARAMETERS: dict[str, tuple[float, float]] = {
    "distance": (0.0, 1e7),       # metres from the listener
    "azimuth": (-180.0, 180.0),   # degrees in the listener's horizontal plane: 0 ahead, 90 right, -90 left
    "elevation": (-90.0, 90.0),   # degrees above (+) or below (-) the listener's horizontal plane
    "speed": (0.0, 1e5),          # metres per second, relative to the listener
}


# what a mapping can drive, by kind of target, and the range of values each takes (a curve's every
# point must lie in it: the curves never leave the range of their points): a sound's volume and
# pitch offsets, a bus's own settings and what its processors let move, a snapshot's intensity
MAPPABLE: dict[str, dict[str, tuple[float, float]]] = {
    "sound": {"volume_db": (-144.0, 24.0), "pitch_semitones": (-48.0, 48.0), "lowpass_hz": (10.0, 96000.0),
              "spread": (0.0, 1.0)},
    "bus": {"volume_db": (-144.0, 24.0), "pitch_semitones": (-24.0, 24.0), "lowpass_hz": (10.0, 96000.0),
            "highpass_hz": (10.0, 96000.0), **{m.name: (m.lo, m.hi) for _, m in processors.movables()}},
    "snapshot": {"intensity": (0.0, 100.0)},
}
PER_VOICE = frozenset({"lowpass_hz", "spread"})   # sound properties mapped per voice (control/local.py)
MAPPING_PROPERTIES = tuple(dict.fromkeys(p for props in MAPPABLE.values() for p in props))


class Mapping(Strict):
    """A curve from a game parameter to a property of a sound, bus or snapshot."""

    parameter: str
    sound: Optional[str] = None
    bus: Optional[str] = None
    snapshot: Optional[str] = None
    property: Literal[MAPPING_PROPERTIES]
    send: Optional[str] = Field(None, description="with property send_db: the bus the send goes to")
    shape: Literal["linear", "log", "exp", "scurve", "step"] = "linear"
    points: list[tuple[Finite, Finite]] = Field(min_length=2, description="[[x, y], ...] with x increasing")

    @field_validator("points")
    @classmethod
    def _increasing(cls, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
            raise ValueError("x values must increase")
        return pts


MAX_SCATTER = 1000          # plays one scatter action may queue (each is bounded work when it comes due)


class Action(Strict):
    """One thing an event does, after an optional delay."""

    action: Literal["play", "scatter", "stop", "snapshot_start", "snapshot_stop", "set_parameter"]
    delay: Seconds = 0.0
    sound: Optional[str] = None
    category: Optional[str] = None
    snapshot: Optional[str] = None
    parameter: Optional[str] = None
    value: Optional[Finite] = None
    volume_db: Optional[Annotated[float, Field(ge=-144, le=24, allow_inf_nan=False)]] = None
    fade_in: Optional[Seconds] = Field(None, description="play: fade-in seconds (as the protocol's play)")
    fade: Optional[Seconds] = Field(None, description="stop: fade-out; snapshot_start/stop: the snapshot's fade")
    intensity: Optional[Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] = None
    # scatter (FMOD's scatterer instrument): `count` plays of `sound`, `interval` s apart, each at
    # a random point `distance` m around the event's emitter or the listener, each its own instance
    count: Optional[Annotated[int, Field(ge=1, le=MAX_SCATTER)]] = None
    interval: Optional[tuple[Seconds, Seconds]] = Field(None, description="scatter: [min, max] s between plays")
    distance: tuple[Annotated[float, Field(ge=0, le=1e5, allow_inf_nan=False)],
                    Annotated[float, Field(ge=0, le=1e5, allow_inf_nan=False)]] = Field(
        (0.0, 0.0), description="scatter: [min, max] m from the centre, in the horizontal plane")
    height: tuple[Finite, Finite] = Field((0.0, 0.0), description="scatter: [min, max] m above the centre")
    around: Literal["emitter", "listener"] = Field("emitter", description="scatter: the centre")

    @model_validator(mode="after")
    def _scatter_settings(self):
        """A scatter needs its count and interval; the ranges are [min, max]."""
        if self.action == "scatter":
            if self.count is None or self.interval is None:
                raise ValueError("a scatter action needs `count` and `interval: [min, max]` (seconds)")
            for key in ("interval", "distance", "height"):
                lo, hi = getattr(self, key)
                if lo > hi:
                    raise ValueError(f"`{key}` is [min, max] with min <= max")
        elif self.count is not None or self.interval is not None:
            raise ValueError("`count` and `interval` belong to a scatter action")
        return self

    @model_validator(mode="after")
    def _fade_names(self):
        """One name per meaning, as in the protocol: a play fades in (`fade_in`), the others fade."""
        if self.action in ("play", "scatter") and self.fade is not None:
            raise ValueError("a play action's fade-in is `fade_in` (as in the protocol's play); `fade` is the "
                             "fade-out of stop and the fade of snapshot_start and snapshot_stop")
        if self.action not in ("play", "scatter") and self.fade_in is not None:
            raise ValueError(f"`fade_in` belongs to play; a {self.action} action takes `fade`")
        return self


MAX_ZONES = 64              # zones a scene may declare (each 3D voice measures itself against every one)
MAX_AUX = 8                 # auxiliary buses (zone send targets and `auxiliary: true` buses) a scene may have
SendDb = ranged(-144.0, 24.0)
Metres = ranged(0.001, 1e6)


class Zone(Strict):
    """A region of the world that sends the emitters in it (or every emitter, while the listener is
    in it) to auxiliary buses at its own levels, and may start a snapshot while the listener is in it.
    Its weight at a point is 1 inside the shape, falling linearly to 0 across `fade` metres outside."""

    shape: Literal["box", "sphere"] = "box"
    center: Vec3 = (0.0, 0.0, 0.0)
    size: tuple[Metres, Metres, Metres] = Field((10.0, 10.0, 10.0), description="box: edge lengths, m")
    radius: Metres = Field(5.0, description="sphere: m")
    fade: float = Field(2.0, ge=0, le=1e5, allow_inf_nan=False, description="m outside the shape to weight 0")
    applies_to: Literal["emitter", "listener"] = Field(
        "emitter", description="emitter: an emitter in the zone sends (Wwise's environments); listener: every "
                               "3D voice sends while the listener is in it (FMOD's reverb zones)")
    sends: dict[str, SendDb] = Field(default_factory=dict, max_length=MAX_AUX,
                                     description="auxiliary bus -> send level (dB) at weight 1")
    occlusion: float = Field(0.0, ge=0, le=1, allow_inf_nan=False,
                             description="a room's walls: emitters in it, heard by a listener outside, are "
                                         "occluded by this much (the game may change it: `occlusion`)")
    snapshot: Optional[str] = Field(None, description="started while the listener is in the zone, at its "
                                                      "weight (so crossing the fade crossfades it)")


class ZoneOverride(Strict):
    """What a snapshot does to a zone: its send levels (dB; offsets in a blend snapshot)."""

    sends: dict[str, SendDb] = Field(default_factory=dict, max_length=MAX_AUX)


class Hdr(Strict):
    """High-dynamic-range mixing (Frostbite / Wwise style)."""

    window_db: Annotated[float, Field(gt=0, le=144, allow_inf_nan=False)] = 50.0
    threshold_db: Annotated[float, Field(ge=0, le=200, allow_inf_nan=False)] = Field(
        90.0, description="the window's top never falls below this loudness")
    release_db_per_s: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] = 20.0
    categories: list[str] = Field(default_factory=list, description="categories mixed in HDR (empty: all)")


class ListenerPose(Strict):
    """Listener position and orientation (OpenAL convention: -Z forward, +Y up)."""

    position: Vec3 = (0.0, 0.0, 0.0)
    forward: Vec3 = (0.0, 0.0, -1.0)
    up: Vec3 = (0.0, 1.0, 0.0)


class Scene(Strict):
    """A whole scene file."""

    version: Literal[1] = SCENE_VERSION
    name: Optional[str] = None
    output: Output = Output()
    listener: ListenerPose = ListenerPose()
    buses: dict[str, Bus] = Field(default_factory=lambda: {"master": Bus()})
    categories: dict[str, Category] = Field(default_factory=dict)
    vcas: dict[str, Vca] = Field(default_factory=dict, description="volume controls over groups of buses")
    sounds: dict[str, Sound] = Field(default_factory=dict)
    ducking: list[DuckRule] = Field(default_factory=list)
    ducking_combine: Literal["deepest", "sum"] = Field("deepest", description="how overlapping ducks combine")
    ducking_floor_db: Annotated[float, Field(ge=-144, le=0, allow_inf_nan=False)] = Field(
        -40.0, description="with `sum`, the deepest total duck")
    snapshots: dict[str, Snapshot] = Field(default_factory=dict)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    mappings: list[Mapping] = Field(default_factory=list)
    events: dict[str, list[Action]] = Field(default_factory=dict)
    hdr: Optional[Hdr] = None
    zones: dict[str, Zone] = Field(default_factory=dict, max_length=MAX_ZONES,
                                   description="reverb zones and rooms (see docs/scene-format.md)")
    microphone: Optional[Microphone] = Field(None, description="AR mode: a microphone in the mix (hear-through, "
                                                               "ambient-adaptive gain, speech ducking)")

    # set by load_scene, not part of the file
    folder: Path = Field(Path("."), exclude=True)
    _doc: Optional[LocatedYaml] = PrivateAttr(None)

    def aux_buses(self) -> list[str]:
        """The auxiliary buses: marked `auxiliary`, or a zone's send target (in file order)."""
        targets = {bus for zone in self.zones.values() for bus in zone.sends}
        return [name for name, bus in self.buses.items() if bus.auxiliary or name in targets]

    def bus_parent(self, name: str) -> Optional[str]:
        """Parent of a bus (master for any bus without an explicit parent)."""
        if name == "master":
            return None
        return self.buses[name].parent or "master"

    def bus_order(self) -> list[str]:
        """The order the engine processes buses in: every bus after its children and after the
        buses whose signal drives it (sidechain keys, unmask targets), before the returns it
        sends to; master last.  Among buses free to go, deeper first, then file order (a stable
        topological sort, scene/graph.py)."""
        raw = {name: bus.model_dump(include={"parent"} | {p.key for p in processors.REGISTRY if p.field is not None})
               for name, bus in self.buses.items()}
        return BusGraph(raw, processors.REGISTRY).order()[0]

    def problem(self, path: tuple, message: str) -> Problem:
        """A Problem located at `path` in the file this scene came from."""
        if self._doc is None:
            return Problem("<scene>", 0, 0, dotted(path), message)
        return self._doc.problem(path, message)

    def category_names(self) -> list[str]:
        """Explicit categories, then one implicit category per bus not named by one."""
        return list(self.categories) + [b for b in self.buses if b not in self.categories]

    def category_bus(self, category: str) -> str:
        """The bus a category's sounds play on by default."""
        explicit = self.categories.get(category)
        if explicit is not None and explicit.bus is not None:
            return explicit.bus
        return category if category in self.buses else "master"

    def sound_category(self, sound: str) -> str:
        """A sound's category: its own, else the one named like its bus, else master's."""
        spec = self.sounds[sound]
        return spec.category or spec.bus or "master"

    def sound_bus(self, sound: str) -> str:
        """A sound's bus: its own, else its category's."""
        spec = self.sounds[sound]
        return spec.bus or self.category_bus(self.sound_category(sound))

    def sound_priority(self, sound: str) -> int:
        """A sound's priority: its own, else its category's, else 128."""
        spec = self.sounds[sound]
        if spec.priority is not None:
            return spec.priority
        category = self.categories.get(self.sound_category(sound))
        return category.priority if category is not None else 128

    def asset_path(self, relative: str) -> Path:
        """Resolve an asset path; refuse anything outside the scene's folder."""
        return safe_path(self.folder, relative)
