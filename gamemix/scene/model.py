"""Scene files: the sound designer's YAML, validated by pydantic v2.

A scene declares the output format, the bus tree and the sounds (and, as later
sections land, categories, snapshots, events, parameters, loudness targets and
the speaker layout; each is a top-level section of its own).  Unknown keys are
errors so typos never pass silently.  `load_scene` reports every problem of a
file at once, each located as `file:line:column field.path: message`.

Control side: nothing here runs per audio block.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, PrivateAttr, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from gamemix.errors import LocatedError, Problem
from gamemix.scene.located_yaml import LocatedYaml, pydantic_problems
from gamemix.core.arrays import MAX_SENDS

SCENE_VERSION = 1
MAX_SCENE_BYTES = 16 * 1024 * 1024

Decibels = Annotated[float, Field(ge=-144.0, le=24.0, allow_inf_nan=False)]
Priority = Annotated[int, Field(ge=0, le=255, description="0 least .. 255 most important")]
Seconds = Annotated[float, Field(ge=0.0, le=3600.0, allow_inf_nan=False)]
Hertz = Annotated[float, Field(ge=10.0, le=96000.0, allow_inf_nan=False)]
StealPolicy = Literal["oldest", "quietest", "lowest_priority", "furthest", "refuse"]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Semitones = Annotated[float, Field(ge=-48.0, le=48.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]


class Strict(BaseModel):
    """Base for every scene model: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Output(Strict):
    """Output format and engine sizes, fixed for the life of a loaded scene."""

    sample_rate: int = Field(48000, ge=8000, le=192000, description="Hz")
    block_size: int = Field(256, ge=16, le=4096, description="frames per engine block")
    channels: Literal["stereo"] = Field("stereo", description="speaker layout of the output")
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


Milliseconds = Annotated[float, Field(ge=0.0, le=60000.0, allow_inf_nan=False)]
Level = Annotated[float, Field(ge=-120.0, le=24.0, allow_inf_nan=False)]


class Compressor(Strict):
    """Feed-forward log-domain compressor with soft knee (Giannoulis, Massberg & Reiss 2012)."""

    threshold_db: Level = -18.0
    ratio: float = Field(4.0, ge=1.0, le=100.0, allow_inf_nan=False)
    knee_db: float = Field(6.0, ge=0.0, le=48.0, allow_inf_nan=False)
    attack_ms: Milliseconds = 10.0
    release_ms: Milliseconds = 150.0
    makeup_db: float = Field(0.0, ge=-24.0, le=24.0, allow_inf_nan=False)


class SidechainKey(Strict):
    """Duck this bus by the measured signal of another bus (the key)."""

    key: str = Field(description="the bus whose signal drives the duck")
    threshold_db: Level = Field(-40.0, description="key RMS level (dBFS, 10 ms) above which ducking starts")
    depth_db: Optional[float] = Field(-9.0, ge=-60.0, le=0.0, allow_inf_nan=False,
                                      description="fixed depth while the key is above threshold (null: use ratio)")
    ratio: Optional[float] = Field(None, gt=1.0, le=100.0, allow_inf_nan=False,
                                   description="instead of a fixed depth: attenuate (over - over/ratio) dB")
    range_db: float = Field(24.0, ge=0.0, le=60.0, allow_inf_nan=False, description="deepest attenuation in ratio mode")
    attack_ms: Milliseconds = 30.0
    hold_ms: Milliseconds = 200.0
    release_ms: Milliseconds = 600.0
    key_band_hz: Optional[tuple[Hertz, Hertz]] = Field(
        None, description="[low, high]: only this band of the key drives the duck (e.g. speech 300-4000)")

    @field_validator("key_band_hz")
    @classmethod
    def _band_ordered(cls, band):
        if band is not None and band[0] >= band[1]:
            raise ValueError("a band is [low, high] with low < high")
        return band


class Unmask(Strict):
    """Cut this bus only in the bands where it masks `target` while the target sounds."""

    target: str = Field(description="the bus to keep intelligible (e.g. dialogue)")
    max_depth_db: float = Field(9.0, ge=0.0, le=24.0, allow_inf_nan=False)
    margin_db: float = Field(6.0, ge=-24.0, le=40.0, allow_inf_nan=False,
                             description="how far below the target, per band, this bus should sit")
    floor_db: Level = Field(-60.0, description="a target band quieter than this counts as silent")
    attack_ms: Milliseconds = 20.0
    release_ms: Milliseconds = 300.0


class LoudnessTarget(Strict):
    """Slow, bounded gain that holds a bus at a loudness target (see docs/scene-format.md)."""

    target_lufs: float = Field(-24.0, ge=-70.0, le=0.0, allow_inf_nan=False)
    measure: Literal["integrated", "short_term", "momentary"] = "integrated"
    tolerance_lu: float = Field(1.0, ge=0.0, le=20.0, allow_inf_nan=False,
                                description="within this of the target the gain holds still")
    max_boost_db: float = Field(6.0, ge=0.0, le=40.0, allow_inf_nan=False)
    max_cut_db: float = Field(12.0, ge=0.0, le=60.0, allow_inf_nan=False)
    max_slew_db_per_s: float = Field(1.0, gt=0.0, le=100.0, allow_inf_nan=False)


class Limiter(Strict):
    """True-peak look-ahead limiter (master only)."""

    ceiling_dbtp: float = Field(-1.0, ge=-24.0, le=0.0, allow_inf_nan=False)
    lookahead_ms: float = Field(1.5, ge=0.1, le=5.0, allow_inf_nan=False)
    release_ms: Milliseconds = 50.0


class Reverb(Strict):
    """Makes a bus an effect return: its input (children and sends) is replaced by its reverb."""

    decay_s: float = Field(1.5, ge=0.1, le=30.0, allow_inf_nan=False, description="T60 at low frequencies")
    size: float = Field(1.0, ge=0.1, le=3.0, allow_inf_nan=False, description="scales the delay lines (room size)")
    damping: float = Field(0.3, ge=0.0, le=0.95, allow_inf_nan=False, description="0 = bright, higher = highs die sooner")
    predelay_ms: float = Field(10.0, ge=0.0, le=500.0, allow_inf_nan=False)


class Bus(Strict):
    """One node of the bus tree.  `parent` defaults to master; master has none."""

    parent: Optional[str] = Field(None, description="bus this one sums into (default: master)")
    volume_db: Decibels = 0.0
    mute: bool = False
    lowpass_hz: Hertz = Field(24000.0, description="low-pass cutoff; at or above 20 kHz the filter is open")
    highpass_hz: Hertz = Field(10.0, description="high-pass cutoff; at or below 10 Hz the filter is open")
    pitch_semitones: Annotated[float, Field(ge=-24, le=24, allow_inf_nan=False)] = 0.0
    compressor: Optional[Compressor] = None
    sidechain: list[SidechainKey] = Field(default_factory=list, max_length=4,
                                          description="signal-driven ducking; several keys: the deepest wins")
    unmask: Optional[Unmask] = None
    loudness: Optional[LoudnessTarget] = None
    limiter: Optional[Limiter] = Field(None, description="master only")
    reverb: Optional[Reverb] = None
    sends: dict[str, Annotated[float, Field(ge=-144, le=12, allow_inf_nan=False)]] = Field(
        default_factory=dict, max_length=MAX_SENDS,
        description="post-fader send level in dB to other buses (usually reverb returns)")


class Spatial(Strict):
    """3D settings: OpenAL clamped distance models (see docs/scene-format.md)."""

    min_distance: float = Field(1.0, gt=0, le=1e6, description="m; full volume inside")
    max_distance: float = Field(1000.0, gt=0, le=1e7, description="m; attenuation stops here")
    rolloff: Literal["inverse", "linear", "exponential", "none"] = "inverse"
    rolloff_factor: float = Field(1.0, ge=0, le=100)
    doppler: float = Field(1.0, ge=0, le=10, description="per-sound Doppler scale")

    @field_validator("max_distance")
    @classmethod
    def _max_beyond_min(cls, value: float, info: ValidationInfo) -> float:
        if value < info.data.get("min_distance", 0.0):
            raise ValueError("must be >= min_distance")
        return value


class Sound(Strict):
    """A playable sound: one or more files (a container) and how to play them."""

    files: list[str] = Field(min_length=1, description="audio files relative to the scene's folder")
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


class DuckRule(Strict):
    """While any sound of a `when` category is audible, the `duck` categories go down."""

    when: list[str] = Field(min_length=1, description="categories that trigger the duck")
    duck: list[str] = Field(min_length=1, description="categories that are ducked")
    depth_db: Annotated[float, Field(ge=-144, le=0, allow_inf_nan=False)] = -9.0
    attack: Seconds = 0.1
    hold: Seconds = 0.2
    release: Seconds = 1.0


Curve = Literal["linear", "scurve", "ease_in", "ease_out"]


class BusOverride(Strict):
    """What a snapshot does to one bus.  In `override` mode the values replace
    the bus's own (weighted by the snapshot's level); in `blend` mode they are
    offsets (dB, semitones, octaves) added to it."""

    volume_db: Optional[Annotated[float, Field(ge=-144, le=24, allow_inf_nan=False)]] = None
    lowpass_hz: Optional[Hertz] = None
    highpass_hz: Optional[Hertz] = None
    pitch_semitones: Optional[Annotated[float, Field(ge=-24, le=24, allow_inf_nan=False)]] = None
    lowpass_octaves: Optional[Annotated[float, Field(ge=-12, le=12, allow_inf_nan=False)]] = None
    highpass_octaves: Optional[Annotated[float, Field(ge=-12, le=12, allow_inf_nan=False)]] = None
    # dynamics of the bus (dB in both modes; a bus without that processor ignores them)
    compressor_threshold_db: Optional[Annotated[float, Field(ge=-120, le=24, allow_inf_nan=False)]] = None
    sidechain_depth_db: Optional[Annotated[float, Field(ge=-60, le=60, allow_inf_nan=False)]] = Field(
        None, description="depth of each of the bus's fixed-depth sidechain keys")
    unmask_depth_db: Optional[Annotated[float, Field(ge=-24, le=24, allow_inf_nan=False)]] = Field(
        None, description="the unmasking cut's max depth")
    loudness_target_lufs: Optional[Annotated[float, Field(ge=-70, le=70, allow_inf_nan=False)]] = None
    limiter_ceiling_dbtp: Optional[Annotated[float, Field(ge=-24, le=24, allow_inf_nan=False)]] = None
    sends: dict[str, Annotated[float, Field(ge=-144, le=24, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="send levels (dB) by the bus they go to; the bus must have that send")


class Snapshot(Strict):
    """A named mix state (see docs/scene-format.md, Snapshots)."""

    mode: Literal["override", "blend"] = "override"
    priority: int = Field(0, ge=-1000, le=1000, description="higher applies later and so wins")
    fade_in: Seconds = 0.5
    fade_out: Seconds = 0.5
    curve: Curve = "linear"
    intensity: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 100.0
    buses: dict[str, BusOverride] = Field(default_factory=dict)


class Parameter(Strict):
    """A game parameter (RTPC): the game sets it; curves map it onto the mix."""

    min: Finite = 0.0
    max: Finite = 1.0
    default: Optional[Finite] = None
    seek_speed: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        0.0, description="units per second the value glides at; 0 = jumps")


class Mapping(Strict):
    """A curve from a game parameter to a property of a sound, bus or snapshot."""

    parameter: str
    sound: Optional[str] = None
    bus: Optional[str] = None
    snapshot: Optional[str] = None
    property: Literal["volume_db", "pitch_semitones", "lowpass_hz", "highpass_hz", "intensity", "send_db"]
    send: Optional[str] = Field(None, description="with property send_db: the bus the send goes to")
    shape: Literal["linear", "log", "exp", "scurve", "step"] = "linear"
    points: list[tuple[Finite, Finite]] = Field(min_length=2, description="[[x, y], ...] with x increasing")

    @field_validator("points")
    @classmethod
    def _increasing(cls, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
            raise ValueError("x values must increase")
        return pts


class Action(Strict):
    """One thing an event does, after an optional delay."""

    action: Literal["play", "stop", "snapshot_start", "snapshot_stop", "set_parameter"]
    delay: Seconds = 0.0
    sound: Optional[str] = None
    category: Optional[str] = None
    snapshot: Optional[str] = None
    parameter: Optional[str] = None
    value: Optional[Finite] = None
    volume_db: Optional[Annotated[float, Field(ge=-144, le=24, allow_inf_nan=False)]] = None
    fade: Optional[Seconds] = None
    intensity: Optional[Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] = None


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

    # set by load_scene, not part of the file
    folder: Path = Field(Path("."), exclude=True)
    _doc: Optional[LocatedYaml] = PrivateAttr(None)

    def bus_parent(self, name: str) -> Optional[str]:
        """Parent of a bus (master for any bus without an explicit parent)."""
        if name == "master":
            return None
        return self.buses[name].parent or "master"

    def bus_order(self) -> list[str]:
        """The order the engine processes buses in: every bus after its children and after the
        buses whose signal drives it (sidechain keys, unmask targets); master last.  Among
        buses free to go, deeper first, then file order (a stable topological sort)."""
        depth = {}
        for name in self.buses:
            d, b = 0, name
            while (b := self.bus_parent(b)) is not None:
                d += 1
            depth[name] = d
        needs = {n: set() for n in self.buses}
        for name, bus in self.buses.items():
            if (parent := self.bus_parent(name)) is not None:
                needs[parent].add(name)
            needs[name].update(k.key for k in bus.sidechain)
            if bus.unmask is not None:
                needs[name].add(bus.unmask.target)
            for target in bus.sends:
                needs[target].add(name)
        files = list(self.buses)
        order: list[str] = []
        while len(order) < len(files):
            ready = [n for n in files if n not in order and needs[n] <= set(order)]
            order.append(min(ready, key=lambda n: (-depth[n], files.index(n))))
        return order


    def problem(self, path: tuple, message: str) -> Problem:
        """A Problem located at `path` in the file this scene came from."""
        if self._doc is None:
            from gamemix.scene.located_yaml import dotted
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


def safe_path(folder: Path, relative: str) -> Path:
    """`folder/relative`, resolved; ValueError if it escapes `folder`."""
    if Path(relative).is_absolute():
        raise ValueError(f"absolute paths are not allowed ({relative!r}); use a path inside the scene's folder")
    root = folder.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"path {relative!r} leaves the scene's folder")
    return target


def load_scene(path: str | Path, check_files: bool = True) -> Scene:
    """Load, validate and cross-check a scene file.

    Raises LocatedError listing every problem: YAML syntax, types and ranges,
    unknown keys, references to missing buses, and (with `check_files`) audio
    files that are missing or outside the scene's folder.
    """
    doc = LocatedYaml.load(path, MAX_SCENE_BYTES)
    return scene_from_doc(doc, Path(path).parent, check_files)


def scene_from_doc(doc: LocatedYaml, folder: Path, check_files: bool = True) -> Scene:
    """Validate a parsed YAML document as a scene (see load_scene)."""
    raw = doc.data
    if not isinstance(raw, dict):
        raise LocatedError([doc.problem((), "a scene file must be a mapping of sections (output, buses, sounds, ...)")])
    problems: list[Problem] = []
    scene = None
    try:
        scene = Scene.model_validate(raw)
    except ValidationError as exc:
        problems += pydantic_problems(doc, exc)
    problems += _reference_problems(doc, raw)
    if check_files:
        problems += _file_problems(doc, raw, folder)
    if problems:
        raise LocatedError(problems)
    scene.folder = folder
    scene._doc = doc
    return scene


def _section(raw: dict, key: str, kind: type):
    value = raw.get(key)
    return value if isinstance(value, kind) else kind()


def _reference_problems(doc: LocatedYaml, raw: dict) -> list[Problem]:
    """Cross-references the field types cannot express; tolerant of bad types."""
    buses = raw.get("buses") if isinstance(raw.get("buses"), dict) else {"master": {}}
    names = _Names(buses, _section(raw, "categories", dict), _section(raw, "sounds", dict),
                   _section(raw, "snapshots", dict), _section(raw, "parameters", dict))
    problems = _bus_problems(doc, buses) + _cycle_problems(doc, buses)
    problems += _dynamics_problems(doc, buses)
    for check in (_category_problems, _sound_problems, _ducking_problems, _snapshot_problems,
                  _parameter_problems, _mapping_problems, _event_problems, _hdr_problems):
        problems += check(doc, raw, names)
    return problems


class _Names:
    """The names a scene defines, for reference checks."""

    def __init__(self, buses, categories, sounds, snapshots, parameters):
        self.buses, self.sounds, self.snapshots, self.parameters = buses, sounds, snapshots, parameters
        self.categories = list(categories) + [b for b in buses if b not in categories]

    def check(self, doc, loc, kind: str, value) -> list[Problem]:
        known = {"bus": self.buses, "category": self.categories, "sound": self.sounds,
                 "snapshot": self.snapshots, "parameter": self.parameters}[kind]
        if isinstance(value, str) and value not in known:
            listing = ", ".join(list(known)[:20]) or "none defined"
            return [doc.problem(loc, f"unknown {kind} {value!r} (known: {listing})")]
        return []


def _bus_problems(doc, buses) -> list[Problem]:
    problems = []
    if "master" not in buses:
        problems.append(doc.problem(("buses",), "the bus tree needs a bus named 'master'"))
    for name, bus in buses.items():
        parent = bus.get("parent") if isinstance(bus, dict) else None
        if name == "master" and parent is not None:
            problems.append(doc.problem(("buses", name, "parent"), "master is the root and has no parent"))
        elif isinstance(parent, str) and parent not in buses:
            problems.append(doc.problem(("buses", name, "parent"), f"unknown bus {parent!r}"))
    return problems


def _ancestors(buses: dict, name: str) -> list[str]:
    """Parents of a bus up to master (tolerant of bad types and cycles)."""
    out, b = [], name
    while b != "master" and len(out) <= len(buses):
        spec = buses.get(b)
        parent = spec.get("parent") if isinstance(spec, dict) else None
        b = parent if isinstance(parent, str) else "master"
        if b not in buses:
            break
        out.append(b)
    return out


def _dynamics_problems(doc, buses) -> list[Problem]:
    """Sidechain keys, unmask targets and sends name buses that are not above the bus they act on,
    the graph has no cycle (the engine processes a key before what it drives and a sender
    before its return), and only master has a limiter."""
    problems, edges = [], {}
    for name, bus in buses.items():
        if not isinstance(bus, dict):
            continue
        refs = [(("buses", name, "sidechain", i, "key"), key.get("key"))
                for i, key in enumerate(bus.get("sidechain") or []) if isinstance(key, dict)]
        unmask = bus.get("unmask")
        if isinstance(unmask, dict):
            refs.append((("buses", name, "unmask", "target"), unmask.get("target")))
        sends = bus.get("sends")
        for target in sends if isinstance(sends, dict) else {}:
            loc = ("buses", name, "sends", target)
            if target not in buses:
                problems.append(doc.problem(loc, f"unknown bus {target!r}"))
            elif target == name or target in _ancestors(buses, name):
                problems.append(doc.problem(loc, f"{name!r} already sums into {target!r}; send to a return bus"))
            else:
                edges.setdefault(target, []).append(name)
        for loc, ref in refs:
            if not isinstance(ref, str):
                continue
            if ref not in buses:
                problems.append(doc.problem(loc, f"unknown bus {ref!r}"))
            elif ref == name or ref in _ancestors(buses, name):
                problems.append(doc.problem(loc, f"{ref!r} contains {name!r} (or is it), so it cannot drive it; "
                                                 "use a sibling bus such as dialogue"))
            else:
                edges.setdefault(name, []).append(ref)
        if bus.get("limiter") is not None and name != "master":
            problems.append(doc.problem(("buses", name, "limiter"), "only master has a limiter"))
    cycle = [] if problems else dynamic_order_cycle(buses, edges)
    if cycle:
        problems.append(doc.problem(("buses", cycle[0]), "sidechains, unmasking or sends form a circle: "
                                    + " -> ".join(cycle)))
    return problems


def dynamic_order_cycle(buses: dict, edges: dict[str, list[str]]) -> list[str]:
    """A cycle in 'must be processed before' (children before parents, keys before what they drive), or []."""
    before = {b: list(edges.get(b, [])) for b in buses}
    for b in buses:
        anc = _ancestors(buses, b)
        if anc:
            before[anc[0]].append(b)
    state: dict[str, int] = {}

    def visit(b, path):
        state[b] = 1
        for d in before.get(b, []):
            if state.get(d) == 1:
                return path[path.index(d):] + [d] if d in path else [b, d]
            if d not in state:
                found = visit(d, path + [d])
                if found:
                    return found
        state[b] = 2
        return []

    for b in buses:
        if b not in state:
            found = visit(b, [b])
            if found:
                return found
    return []


def _category_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, cat in _section(raw, "categories", dict).items():
        if isinstance(cat, dict):
            problems += names.check(doc, ("categories", name, "bus"), "bus", cat.get("bus"))
    return problems


def _sound_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, sound in names.sounds.items():
        if not isinstance(sound, dict):
            continue
        problems += names.check(doc, ("sounds", name, "bus"), "bus", sound.get("bus"))
        problems += names.check(doc, ("sounds", name, "category"), "category", sound.get("category"))
        weights, files = sound.get("weights"), sound.get("files")
        if isinstance(weights, list) and isinstance(files, list) and len(weights) != len(files):
            problems.append(doc.problem(("sounds", name, "weights"),
                                        f"needs one weight per file ({len(files)} files, {len(weights)} weights)"))
    return problems


def _ducking_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for i, rule in enumerate(_section(raw, "ducking", list)):
        for key in ("when", "duck"):
            values = rule.get(key) if isinstance(rule, dict) else None
            for j, value in enumerate(values if isinstance(values, list) else []):
                problems += names.check(doc, ("ducking", i, key, j), "category", value)
    return problems


def _snapshot_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, snap in names.snapshots.items():
        overrides = snap.get("buses") if isinstance(snap, dict) else None
        for bus, o in (overrides if isinstance(overrides, dict) else {}).items():
            problems += names.check(doc, ("snapshots", name, "buses", bus), "bus", bus)
            sends = o.get("sends") if isinstance(o, dict) else None
            own = names.buses.get(bus, {}).get("sends") if isinstance(names.buses.get(bus), dict) else None
            for target in sends if isinstance(sends, dict) else {}:
                if target not in (own or {}):
                    problems.append(doc.problem(("snapshots", name, "buses", bus, "sends", target),
                                                f"bus {bus!r} has no send to {target!r}"))
    return problems


def _parameter_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, par in names.parameters.items():
        if not isinstance(par, dict):
            continue
        lo, hi, default = par.get("min", 0.0), par.get("max", 1.0), par.get("default")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            if lo >= hi:
                problems.append(doc.problem(("parameters", name, "max"), "must be greater than min"))
            elif isinstance(default, (int, float)) and not lo <= default <= hi:
                problems.append(doc.problem(("parameters", name, "default"), f"must lie in [{lo}, {hi}]"))
    return problems


_MAPPING_PROPERTIES = {"sound": ("volume_db", "pitch_semitones"),
                       "bus": ("volume_db", "pitch_semitones", "lowpass_hz", "highpass_hz", "send_db"),
                       "snapshot": ("intensity",)}


def _mapping_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for i, m in enumerate(_section(raw, "mappings", list)):
        if not isinstance(m, dict):
            continue
        problems += names.check(doc, ("mappings", i, "parameter"), "parameter", m.get("parameter"))
        targets = [k for k in ("sound", "bus", "snapshot") if m.get(k) is not None]
        if len(targets) != 1:
            problems.append(doc.problem(("mappings", i), "name exactly one target: sound, bus or snapshot"))
            continue
        kind = targets[0]
        problems += names.check(doc, ("mappings", i, kind), kind, m.get(kind))
        prop = m.get("property")
        if isinstance(prop, str) and prop not in _MAPPING_PROPERTIES[kind]:
            problems.append(doc.problem(("mappings", i, "property"),
                                        f"a {kind} mapping sets one of: {', '.join(_MAPPING_PROPERTIES[kind])}"))
        if (prop == "send_db") != (m.get("send") is not None):
            problems.append(doc.problem(("mappings", i), "property send_db and `send` go together"))
        elif prop == "send_db" and isinstance(names.buses.get(m.get("bus")), dict):
            sends = names.buses[m.get("bus")].get("sends") or {}
            if m.get("send") not in sends:
                problems.append(doc.problem(("mappings", i, "send"), f"bus {m.get('bus')!r} has no send to {m.get('send')!r}"))
    return problems


_ACTION_NEEDS = {"play": ("sound",), "stop": (), "snapshot_start": ("snapshot",),
                 "snapshot_stop": ("snapshot",), "set_parameter": ("parameter", "value")}


def _event_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, actions in _section(raw, "events", dict).items():
        for i, act in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(act, dict):
                continue
            loc = ("events", name, i)
            kind = act.get("action")
            for key in _ACTION_NEEDS.get(kind, ()):
                if act.get(key) is None:
                    problems.append(doc.problem(loc, f"a {kind} action needs '{key}'"))
            if kind == "stop" and (act.get("sound") is None) == (act.get("category") is None):
                problems.append(doc.problem(loc, "a stop action names exactly one of 'sound' or 'category'"))
            for key in ("sound", "category", "snapshot", "parameter"):
                problems += names.check(doc, loc + (key,), key, act.get(key))
    return problems


def _hdr_problems(doc, raw, names) -> list[Problem]:
    hdr = raw.get("hdr")
    cats = hdr.get("categories") if isinstance(hdr, dict) else None
    problems = []
    for j, value in enumerate(cats if isinstance(cats, list) else []):
        problems += names.check(doc, ("hdr", "categories", j), "category", value)
    return problems


def _cycle_problems(doc: LocatedYaml, buses: dict) -> list[Problem]:
    problems = []
    for start in buses:
        seen, b = [start], start
        while True:
            spec = buses.get(b)
            parent = spec.get("parent") if isinstance(spec, dict) else None
            parent = parent if isinstance(parent, str) else ("master" if b != "master" else None)
            if parent is None or parent not in buses:
                break
            if parent in seen:
                if parent == start:
                    problems.append(doc.problem(("buses", start, "parent"),
                                                "bus tree has a cycle: " + " -> ".join(seen + [parent])))
                break
            seen.append(parent)
            b = parent
    return problems


def _file_problems(doc: LocatedYaml, raw: dict, folder: Path) -> list[Problem]:
    problems = []
    sounds = raw.get("sounds") if isinstance(raw.get("sounds"), dict) else {}
    for name, sound in sounds.items():
        files = sound.get("files") if isinstance(sound, dict) else None
        if not isinstance(files, list):
            continue
        for i, rel in enumerate(files):
            if not isinstance(rel, str):
                continue
            loc = ("sounds", name, "files", i)
            try:
                path = safe_path(folder, rel)
            except ValueError as exc:
                problems.append(doc.problem(loc, str(exc)))
                continue
            if not path.is_file():
                problems.append(doc.problem(loc, f"audio file not found: {rel}"))
    return problems


def json_schema() -> str:
    """The JSON Schema of scene files, for editors (`gamemix schema`)."""
    schema = Scene.model_json_schema()
    schema["properties"].pop("folder", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gamemix scene"
    return json.dumps(schema, indent=2)
