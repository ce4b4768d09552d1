"""Game parameters (RTPCs) and the curves that map them onto the mix.

A parameter has a range, a default and a seek speed: `set` moves its target,
and each block its value glides towards it at `seek_speed` units per second
(0 = jumps).  Mappings evaluate a curve of the value and contribute to a
sound's volume or pitch, a bus's volume, pitch, filter cutoffs or send
levels and whatever else the bus's processors let move (gamemix/processors/), or a
snapshot's intensity.  Several mappings on the same property add (dB,
semitones) or take the most restrictive cutoff (lowest low-pass, highest
high-pass); a snapshot's intensity mapping replaces its set intensity.

Curve shapes between two points (x0, y0), (x1, y1), with t = (x - x0)/(x1 - x0):
linear t; exp (slow start) (10^t - 1)/9; log (fast start) log10(1 + 9t);
scurve 3t^2 - 2t^3; step: y0 until x reaches x1.  Outside the points the end
values hold.

Control side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gamemix.errors import CommandError
from gamemix.scene.model import MAPPABLE, PER_VOICE, Mapping, Scene

SHAPES = {
    "linear": lambda t: t,
    "exp": lambda t: (10.0 ** t - 1.0) / 9.0,
    "log": lambda t: math.log10(1.0 + 9.0 * t),
    "scurve": lambda t: t * t * (3.0 - 2.0 * t),
    "step": lambda t: 1.0 if t >= 1.0 else 0.0,
}


def evaluate_curve(shape: str, points, x: float) -> float:
    """y of a piecewise curve through `points` (x increasing) at x."""
    if x <= points[0][0]:
        return points[0][1]
    if x >= points[-1][0]:
        return points[-1][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            t = (x - x0) / (x1 - x0)
            return y0 + (y1 - y0) * SHAPES[shape](t)
    return points[-1][1]


ARRAY_SHAPES = {
    "linear": lambda t: t,
    "exp": lambda t: (10.0 ** t - 1.0) / 9.0,
    "log": lambda t: np.log10(1.0 + 9.0 * t),
    "scurve": lambda t: t * t * (3.0 - 2.0 * t),
    "step": lambda t: (t >= 1.0).astype(float),
}


def evaluate_curve_array(shape: str, points, x: np.ndarray) -> np.ndarray:
    """evaluate_curve at every x of an array (the same shapes, the same ends)."""
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    i = np.clip(np.searchsorted(xs, x, side="left") - 1, 0, len(xs) - 2)
    t = np.clip((x - xs[i]) / (xs[i + 1] - xs[i]), 0.0, 1.0)
    return ys[i] + (ys[i + 1] - ys[i]) * ARRAY_SHAPES[shape](t)


@dataclass
class MappedValues:
    """What the mappings contribute this block, keyed by target name."""

    sound_volume_db: dict[str, float] = field(default_factory=dict)
    sound_pitch: dict[str, float] = field(default_factory=dict)
    bus_volume_db: dict[str, float] = field(default_factory=dict)
    bus_pitch: dict[str, float] = field(default_factory=dict)
    bus_lowpass_hz: dict[str, float] = field(default_factory=dict)
    bus_highpass_hz: dict[str, float] = field(default_factory=dict)
    snapshot_intensity: dict[str, float] = field(default_factory=dict)
    # processor movables, dB added to the scene's value: (bus, movable, column name or None for all) -> dB
    bus_moved: dict[tuple[str, str, str | None], float] = field(default_factory=dict)


def check_value(name: str, spec, value) -> None:
    """CommandError unless `value` is a finite number in parameter `name`'s [min, max] (global or
    per-instance parameters alike)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise CommandError("bad_value", f"parameter {name!r} needs a finite number, got {value!r}")
    if not spec.min <= value <= spec.max:
        raise CommandError("out_of_range", f"parameter {name!r} must lie in [{spec.min}, {spec.max}], got {value}")


class GameParameters:
    """Values, targets and glides of a scene's parameters, and their mappings."""

    def __init__(self, scene: Scene):
        self.specs = {n: p for n, p in scene.parameters.items() if p.scope == "global"}
        self.values = {n: (p.default if p.default is not None else p.min) for n, p in self.specs.items()}
        self.targets = dict(self.values)
        # a sound's low-pass is per voice: control/local.py evaluates those mappings
        self.mappings: list[Mapping] = [m for m in scene.mappings if m.parameter in self.specs
                                        and not (m.sound is not None and m.property in PER_VOICE)]
        self.local = {n for n, p in scene.parameters.items() if p.scope == "instance"}
        self._evaluated: tuple[tuple, MappedValues] | None = None    # (values, what the mappings gave for them)

    def set(self, name: str, value: float) -> None:
        """Set a parameter's target; refused if unknown, not finite or out of range."""
        spec = self.specs.get(name)
        if spec is None and name in self.local:
            raise CommandError("bad_value", f"parameter {name!r} has a value per instance: give the instance's id")
        if spec is None:
            known = ", ".join(list(self.specs)[:30]) or "none defined"
            raise CommandError("unknown_parameter", f"unknown parameter {name!r} (parameters: {known})")
        check_value(name, spec, value)
        self.targets[name] = float(value)
        if spec.seek_speed == 0.0:
            self.values[name] = float(value)

    def tick(self, dt: float) -> MappedValues:
        """Glide every value towards its target by dt seconds, then evaluate the mappings."""
        for name, spec in self.specs.items():
            value, target = self.values[name], self.targets[name]
            if value != target:
                step = spec.seek_speed * dt
                self.values[name] = min(value + step, target) if value < target else max(value - step, target)
        values = tuple(self.values.values())
        if self._evaluated is None or self._evaluated[0] != values:     # else the same values map the same
            self._evaluated = values, self._evaluate()
        return self._evaluated[1]

    def _evaluate(self) -> MappedValues:
        out = MappedValues()
        for m in self.mappings:
            y = evaluate_curve(m.shape, m.points, self.values[m.parameter])
            if m.sound is not None:
                table = out.sound_volume_db if m.property == "volume_db" else out.sound_pitch
                table[m.sound] = table.get(m.sound, 0.0) + y
            elif m.bus is not None:
                if m.property == "lowpass_hz":
                    out.bus_lowpass_hz[m.bus] = min(out.bus_lowpass_hz.get(m.bus, math.inf), y)
                elif m.property == "highpass_hz":
                    out.bus_highpass_hz[m.bus] = max(out.bus_highpass_hz.get(m.bus, 0.0), y)
                elif m.property in ("volume_db", "pitch_semitones"):
                    table = out.bus_volume_db if m.property == "volume_db" else out.bus_pitch
                    table[m.bus] = table.get(m.bus, 0.0) + y
                else:
                    key = (m.bus, m.property, m.send)
                    out.bus_moved[key] = out.bus_moved.get(key, 0.0) + y
            else:
                out.snapshot_intensity[m.snapshot] = min(max(y, 0.0), 100.0)
        return _clamped(out)


def _clamped(out: MappedValues) -> MappedValues:
    """Sums of several mappings kept in the range of the property they drive (each curve is, by the
    scene's checks; several adding up may not be)."""
    for table, kind, prop in ((out.sound_volume_db, "sound", "volume_db"), (out.sound_pitch, "sound", "pitch_semitones"),
                              (out.bus_volume_db, "bus", "volume_db"), (out.bus_pitch, "bus", "pitch_semitones")):
        lo, hi = MAPPABLE[kind][prop]
        for key, y in table.items():
            table[key] = min(max(y, lo), hi)
    for key, y in out.bus_moved.items():
        lo, hi = MAPPABLE["bus"][key[1]]
        out.bus_moved[key] = min(max(y, lo), hi)
    return out
