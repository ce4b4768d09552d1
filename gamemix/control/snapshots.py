"""Snapshots: named mix states that fade in and out, stack and blend.

A snapshot holds per-bus overrides: volume, low-pass and high-pass cutoff,
pitch, and whatever the bus's processors let move (gamemix/processors/: send
levels, compressor threshold, sidechain depth, unmasking depth, loudness
target, limiter ceiling).  Starting one fades its *level* from 0 to 1 over its fade-in time (a
stopped one fades back over its fade-out time, then leaves the stack); its
*weight* is curve(level) x intensity.  Active snapshots apply in order of
priority (lower first; equal priorities in the order they started), each on
top of the result of the ones before, starting from the buses' own values:

- override: value = value + weight x (snapshot value - value), in the
  property's domain: dB for volume and the processors' values, octaves (log2
  Hz) for cutoffs, semitones for pitch.  At half a linear fade an override is
  halfway, in those domains.
- blend: value = value + weight x offset (dB, octaves, semitones).

So a higher-priority override wins over everything under it, and blending
snapshots add.  Control side: runs once per block on a handful of buses.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np

from gamemix import processors
from gamemix.errors import CommandError
from gamemix.scene.model import Scene

CURVES = {
    "linear": lambda x: x,
    "scurve": lambda x: x * x * (3.0 - 2.0 * x),
    "ease_in": lambda x: x * x,
    "ease_out": lambda x: 1.0 - (1.0 - x) * (1.0 - x),
}


TIMELINE_KEPT = 10_000


@dataclass
class BusValues:
    """Per-bus mix values in their blending domains."""

    volume_db: np.ndarray
    lowpass_oct: np.ndarray   # log2(Hz)
    highpass_oct: np.ndarray  # log2(Hz)
    pitch_st: np.ndarray
    moved: dict[str, np.ndarray]   # each processor movable: (buses, its width), dB; NaN where a bus lacks it

    def copy(self) -> "BusValues":
        return BusValues(self.volume_db.copy(), self.lowpass_oct.copy(), self.highpass_oct.copy(),
                         self.pitch_st.copy(), {k: v.copy() for k, v in self.moved.items()})


@dataclass
class ActiveSnapshot:
    name: str
    level: float          # fade progress 0..1
    direction: int        # +1 fading in / held, -1 fading out
    fade_in: float
    fade_out: float
    intensity: float      # 0..1
    order: int


class SnapshotMixer:
    """The stack of active snapshots and how they shape the buses."""

    def __init__(self, scene: Scene, bus_index: dict[str, int], column):
        """`column(movable, bus, name)`: the column of a named value (a send's target) of a movable."""
        self.specs = scene.snapshots
        self.bus_index = bus_index
        self.column = column
        self.movables = [m for _, m in processors.movables()]
        self.active: dict[str, ActiveSnapshot] = {}
        self.timeline: collections.deque = collections.deque(maxlen=TIMELINE_KEPT)   # the last starts and stops
        self._order = 0
        self._plans: dict[str, tuple[bool, list]] = {}
        self._sorted: tuple | None = None     # (the active (name, order)s, the names in the order they apply)
        self.version = 0      # moves on whenever a snapshot's level, intensity or order, or the stack, changes

    def start(self, name: str, intensity: float | None = None, fade: float | None = None, when: float = 0.0) -> None:
        """Start (or re-start a fading-out) snapshot; intensity in percent."""
        spec = self._spec(name)
        snap = self.active.get(name)
        fade_in = spec.fade_in if fade is None else fade
        level = 0.0 if snap is None else snap.level
        self.active[name] = ActiveSnapshot(name, level, +1, fade_in, spec.fade_out,
                                           (spec.intensity if intensity is None else intensity) / 100.0,
                                           self._order if snap is None else snap.order)
        self._order += 1
        self.version += 1
        self.timeline.append({"t": round(when, 4), "snapshot": name, "event": "start",
                              "intensity": round(self.active[name].intensity * 100.0, 2)})

    def stop(self, name: str, fade: float | None = None, when: float = 0.0) -> None:
        """Fade a snapshot out (its own fade-out time unless `fade` is given)."""
        self._spec(name)
        snap = self.active.get(name)
        if snap is None:
            return
        snap.direction = -1
        if fade is not None:
            snap.fade_out = fade
        self.timeline.append({"t": round(when, 4), "snapshot": name, "event": "stop"})

    def set_intensity(self, name: str, intensity: float) -> None:
        """Set an active snapshot's intensity (percent, 0..100)."""
        self._spec(name)
        if not 0.0 <= intensity <= 100.0:
            raise CommandError("out_of_range", f"intensity must lie in [0, 100], got {intensity}")
        snap = self.active.get(name)
        if snap is not None and snap.intensity != intensity / 100.0:
            snap.intensity = intensity / 100.0
            self.version += 1

    def _spec(self, name: str):
        spec = self.specs.get(name)
        if spec is None:
            known = ", ".join(list(self.specs)[:30]) or "none defined"
            raise CommandError("unknown_snapshot", f"unknown snapshot {name!r} (snapshots: {known})")
        return spec

    def tick(self, dt: float) -> None:
        """Advance every fade by dt seconds; drop snapshots that have faded out.  A snapshot held at
        full level stays as it is (min(1, 1 + step) is 1)."""
        for name in list(self.active):
            snap = self.active[name]
            if snap.direction > 0 and snap.level >= 1.0:
                continue
            span = snap.fade_in if snap.direction > 0 else snap.fade_out
            step = math.inf if span <= 0.0 else dt / span
            level = min(1.0, snap.level + step) if snap.direction > 0 else max(0.0, snap.level - step)
            if level != snap.level:
                snap.level = level
                self.version += 1
            if snap.direction < 0 and snap.level <= 0.0:
                del self.active[name]
                self.version += 1

    def adopt(self, old: "SnapshotMixer") -> None:
        """After a scene reload: the old scene's active snapshots that this scene has go on as they
        were (level, intensity, fade)."""
        for name, snap in old.active.items():
            if name in self.specs:
                self.active[name] = snap
        self.version += 1

    def weight(self, name: str, intensity_override: float | None = None) -> float:
        """Current weight of a snapshot: curve(level) x intensity (0 if inactive)."""
        snap = self.active.get(name)
        if snap is None:
            return 0.0
        intensity = snap.intensity if intensity_override is None else intensity_override / 100.0
        return CURVES[self.specs[name].curve](snap.level) * intensity

    def apply(self, base: BusValues, intensity_overrides: dict[str, float] | None = None) -> BusValues:
        """The bus values after every active snapshot, in priority order.  A per-bus value a snapshot
        moves is worked on as a Python list (the same double arithmetic as on the array, without
        NumPy's per-element cost) and made an array once at the end; one no snapshot moves is the
        base's own array, and so are the processor values if none moves (nobody changes these
        arrays in place, so sharing them is safe, and Buses.write knows an array it has seen)."""
        arrays = (base.volume_db, base.lowpass_oct, base.highpass_oct, base.pitch_st)   # _plan's k
        lists: list[list | None] = [None, None, None, None]
        moved, copied = base.moved, None        # a processor value is copied when a snapshot moves it
        overrides = intensity_overrides or {}
        for snap in self._in_order():
            w = self.weight(snap.name, overrides.get(snap.name))
            if w <= 0.0:
                continue
            override, plan = self._plan(snap.name)
            step = _lerp if override else _add
            for b, sets, moves in plan:
                for k, x in sets:
                    row = lists[k]
                    if row is None:
                        row = lists[k] = arrays[k].tolist()
                    step(row, b, x, w)
                for name, column, value in moves:
                    if copied is None:
                        moved, copied = dict(moved), set()
                    if name not in copied:
                        moved[name] = moved[name].copy()
                        copied.add(name)
                    if column is None:              # one value for every column of the bus
                        step(moved[name], b, value, w)
                    else:                           # a named value (a send's target): its column
                        step(moved[name][b], column, value, w)
        return BusValues(*(a if v is None else np.array(v) for a, v in zip(arrays, lists)), moved)

    def _in_order(self) -> list[ActiveSnapshot]:
        """The active snapshots in the order they apply: priority, then the order they started (the
        order worked out again only when the stack's members change)."""
        active = self.active
        key = tuple([(name, snap.order) for name, snap in active.items()])
        if self._sorted is None or self._sorted[0] != key:
            self._sorted = key, [s.name for s in sorted(active.values(),
                                                        key=lambda s: (self.specs[s.name].priority, s.order))]
        return [active[name] for name in self._sorted[1]]

    def apply_zones(self, base_db: np.ndarray, zone_index: dict[str, int], aux_index: dict[str, int]) -> np.ndarray:
        """The zones' send levels (zones x aux buses, dB) after every active snapshot that moves zones,
        in priority order, as `apply` does for buses (override: towards the level; blend: offset)."""
        out = base_db.copy()
        for snap in sorted(self.active.values(), key=lambda s: (self.specs[s.name].priority, s.order)):
            spec = self.specs[snap.name]
            w = self.weight(snap.name) if spec.zones else 0.0
            if w <= 0.0:
                continue
            for zone, o in spec.zones.items():
                z = zone_index[zone]
                for bus, value in o.sends.items():
                    a = aux_index[bus]
                    out[z, a] += w * (value - out[z, a]) if spec.mode == "override" else w * value
        return out

    def _plan(self, name: str) -> tuple[bool, list[tuple]]:
        """What snapshot `name` does to each bus it names, worked out once from its spec: whether it
        overrides (else it blends), and per bus (bus index, (k, value) for each of volume, low-pass,
        high-pass and pitch (k = 0..3) it sets, in their domains, and (movable, column or None,
        value) for each processor value it sets)."""
        plan = self._plans.get(name)
        if plan is not None:
            return plan
        spec = self.specs[name]
        override = spec.mode == "override"
        rows = []
        for bus, o in spec.buses.items():
            moves = []
            for m in self.movables:
                value = getattr(o, m.field)
                if isinstance(value, dict):         # named values: one column each
                    moves += [(m.name, self.column(m, bus, k), v) for k, v in value.items()]
                elif value is not None:
                    moves.append((m.name, None, value))
            if override:
                sets = (o.volume_db, None if o.lowpass_hz is None else math.log2(o.lowpass_hz),
                        None if o.highpass_hz is None else math.log2(o.highpass_hz), o.pitch_semitones)
            else:
                sets = (o.volume_db, o.lowpass_octaves, o.highpass_octaves, o.pitch_semitones)
            rows.append((self.bus_index[bus], [(k, x) for k, x in enumerate(sets) if x is not None], moves))
        self._plans[name] = plan = (override, rows)
        return plan

    def levels(self) -> dict[str, float]:
        """Weight of each active snapshot in percent (for reports and telemetry)."""
        return {name: round(self.weight(name) * 100.0, 2) for name in self.active}


def _lerp(values, b: int, target: float | None, w: float) -> None:
    if target is not None:
        values[b] += w * (target - values[b])


def _add(values, b: int, offset: float | None, w: float) -> None:
    if offset is not None:
        values[b] += w * offset
