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
from gamemix.located_yaml import LocatedYaml, pydantic_problems

SCENE_VERSION = 1
MAX_SCENE_BYTES = 16 * 1024 * 1024

Decibels = Annotated[float, Field(ge=-144.0, le=24.0, allow_inf_nan=False)]
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
    speed_of_sound: float = Field(343.3, gt=0, le=100000, description="m/s, for Doppler")
    doppler_factor: float = Field(1.0, ge=0, le=10, description="global Doppler exaggeration; 0 disables")
    ceiling_dbfs: float = Field(0.0, ge=-24, le=0, description="hard safety ceiling of the output")


class Bus(Strict):
    """One node of the bus tree.  `parent` defaults to master; master has none."""

    parent: Optional[str] = Field(None, description="bus this one sums into (default: master)")
    volume_db: Decibels = 0.0
    mute: bool = False


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
    bus: str = "master"
    pan: float = Field(0.0, ge=-1, le=1, description="2D sounds: -1 left .. 1 right")
    spatial: Optional[Spatial] = Field(None, description="3D settings; absent = 2D sound")

    @field_validator("volume_random_db", "pitch_random_semitones")
    @classmethod
    def _range_ordered(cls, rng: Optional[tuple[float, float]]) -> Optional[tuple[float, float]]:
        if rng is not None and rng[0] > rng[1]:
            raise ValueError("a range is [min, max] with min <= max")
        return rng


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
    sounds: dict[str, Sound] = Field(default_factory=dict)

    # set by load_scene, not part of the file
    folder: Path = Field(Path("."), exclude=True)
    _doc: Optional[LocatedYaml] = PrivateAttr(None)

    def bus_parent(self, name: str) -> Optional[str]:
        """Parent of a bus (master for any bus without an explicit parent)."""
        if name == "master":
            return None
        return self.buses[name].parent or "master"

    def bus_order(self) -> list[str]:
        """Buses leaves-first, master last: the order the engine sums them in."""
        depth = {}
        for name in self.buses:
            d, b = 0, name
            while (b := self.bus_parent(b)) is not None:
                d += 1
            depth[name] = d
        return sorted(self.buses, key=lambda n: (-depth[n], list(self.buses).index(n)))

    def problem(self, path: tuple, message: str) -> Problem:
        """A Problem located at `path` in the file this scene came from."""
        if self._doc is None:
            from gamemix.located_yaml import dotted
            return Problem("<scene>", 0, 0, dotted(path), message)
        return self._doc.problem(path, message)

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


def _reference_problems(doc: LocatedYaml, raw: dict) -> list[Problem]:
    """Cross-references the field types cannot express; tolerant of bad types."""
    problems = []
    buses = raw.get("buses") if isinstance(raw.get("buses"), dict) else {"master": {}}
    if "master" not in buses:
        problems.append(doc.problem(("buses",), "the bus tree needs a bus named 'master'"))
    for name, bus in buses.items():
        parent = bus.get("parent") if isinstance(bus, dict) else None
        if name == "master" and parent is not None:
            problems.append(doc.problem(("buses", name, "parent"), "master is the root and has no parent"))
        elif isinstance(parent, str) and parent not in buses:
            problems.append(doc.problem(("buses", name, "parent"), f"unknown bus {parent!r}"))
    problems += _cycle_problems(doc, buses)
    sounds = raw.get("sounds") if isinstance(raw.get("sounds"), dict) else {}
    for name, sound in sounds.items():
        bus = sound.get("bus") if isinstance(sound, dict) else None
        if isinstance(bus, str) and bus not in buses:
            problems.append(doc.problem(("sounds", name, "bus"), f"unknown bus {bus!r} (buses: {', '.join(buses)})"))
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
