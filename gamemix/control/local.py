"""Parameters with a value per instance: local ones the game sets (FMOD's local parameters) and the
built-in ones (FMOD Studio's distance, direction, elevation and speed), mapped onto each voice.

A parameter declared with `scope: instance` has its default in every
instance until the game sets it for one (`set_parameter` with the instance's
`id`).  The built-in parameters (scene/model.py, BUILTIN_PARAMETERS) are
computed each block from a voice's position and velocity against the
listener's: `distance` in metres, `azimuth` in degrees in the listener's
horizontal plane (0 ahead, +90 right), `elevation` in degrees above it,
`speed` the speed relative to the listener.  A 2D voice has them all 0.

Their mappings drive a sound's `volume_db` or `pitch_semitones` per voice:
each block, for the sounds that have such mappings, one vectorised pass over
their live rows evaluates the curves (control/parameters.py, the same
shapes), adds them up (dB, semitones; held in the property's range) and
writes the voice's row of `vx` (gain, pitch, low-pass, spread) and marks it
VI_EXTRA, so the kernel reads it; gains are ramped like every gain.  Values
are kept only for instances that exist.

Control side.
"""

from __future__ import annotations

import numpy as np

from gamemix.control import listeners
from gamemix.control.parameters import check_value, evaluate_curve_array
from gamemix.core.arrays import (
    FREE, VF_VX, VF_X, VI_EXTRA, VI_SOUND, VI_SPATIAL, VI_STATE, VX_LP_A_TARGET, VX_MOD_GAIN, VX_MOD_PITCH,
    VX_SPREAD,
)
from gamemix.errors import CommandError
from gamemix.scene.model import BUILTIN_PARAMETERS, MAPPABLE, PER_VOICE


class LocalParameters:
    """Per-instance parameter values and their per-voice mappings; see the module docstring."""

    def __init__(self, scene, arrays, sound_index: dict[str, int], global_values: dict[str, float]):
        self.arrays, self.global_values = arrays, global_values
        self.sample_rate = scene.output.sample_rate
        self.specs = {n: p for n, p in scene.parameters.items() if p.scope == "instance"}
        self.defaults = {n: (p.default if p.default is not None else p.min) for n, p in self.specs.items()}
        local = set(self.specs) | set(BUILTIN_PARAMETERS)
        self.by_sound: dict[int, list] = {}
        for m in scene.mappings:      # a sound's low-pass is per voice, whatever drives it
            if m.sound is not None and (m.parameter in local or m.property in PER_VOICE):
                self.by_sound.setdefault(sound_index[m.sound], []).append(m)
        self.base_spread = {sound_index[n]: (s.spatial.spread if s.spatial is not None else 0.0)
                            for n, s in scene.sounds.items()}  # a mapped spread adds to the sound's own
        self.values: dict[int, dict[str, float]] = {}      # instance -> the values the game set
        self.inherited = lambda instance: {}                # instance -> its game object's values

    def set(self, instance: int, name: str, value: float) -> None:
        """Set an instance's value of a local parameter (it takes effect at the next block)."""
        self.check(name, value)
        self.values.setdefault(instance, {})[name] = float(value)

    def check(self, name: str, value: float) -> None:
        """CommandError unless `value` may be set for per-instance parameter `name`."""
        spec = self.specs.get(name)
        if spec is None:
            what = "built-in (computed, not set)" if name in BUILTIN_PARAMETERS else "not a per-instance parameter"
            raise CommandError("bad_value", f"parameter {name!r} is {what}; per-instance ones: "
                                            f"{', '.join(self.specs) or 'none declared'}")
        check_value(name, spec, value)

    def forget(self, instance: int) -> None:
        """An instance is gone: drop its values."""
        self.values.pop(instance, None)

    def tick(self, row_instance: np.ndarray) -> None:
        """Write the vx rows (and VI_EXTRA) of the live rows of every sound with per-voice mappings."""
        if not self.by_sound:
            return
        vi, vx = self.arrays.vi, self.arrays.vx
        for sound, mappings in self.by_sound.items():
            rows = np.flatnonzero((vi[:, VI_SOUND] == sound) & (vi[:, VI_STATE] != FREE))
            if not len(rows):
                continue
            builtins = self._builtins(rows)
            db, st, fc = np.zeros(len(rows)), np.zeros(len(rows)), np.full(len(rows), np.inf)
            spread = None
            for m in mappings:
                if m.parameter in builtins:
                    x = builtins[m.parameter]
                elif m.parameter in self.global_values:
                    x = np.full(len(rows), self.global_values[m.parameter])
                else:
                    x = self._local(m.parameter, rows, row_instance)
                y = evaluate_curve_array(m.shape, m.points, x)
                if m.property == "volume_db":
                    db += y
                elif m.property == "pitch_semitones":
                    st += y
                elif m.property == "spread":
                    spread = y if spread is None else spread + y
                else:
                    fc = np.minimum(fc, y)                    # the most restrictive low-pass
            if spread is not None:
                vx[rows, VX_SPREAD] = np.clip(self.base_spread[sound] + spread, 0.0, 1.0)
            if np.isfinite(fc).any():
                a = 1.0 - np.exp(-2.0 * np.pi * np.maximum(fc, 1.0) / self.sample_rate)
                vx[rows, VX_LP_A_TARGET] = np.where(fc >= 0.5 * self.sample_rate, 1.0, a)
            lo, hi = MAPPABLE["sound"]["volume_db"]
            vx[rows, VX_MOD_GAIN] = 10.0 ** (np.clip(db, lo, hi) / 20.0)
            lo, hi = MAPPABLE["sound"]["pitch_semitones"]
            vx[rows, VX_MOD_PITCH] = 2.0 ** (np.clip(st, lo, hi) / 12.0)
            vi[rows, VI_EXTRA] = 1

    def _local(self, name: str, rows: np.ndarray, row_instance: np.ndarray) -> np.ndarray:
        default = self.defaults[name]
        out = []
        for v in rows:
            instance = int(row_instance[v])
            own = self.values.get(instance, {})
            out.append(own[name] if name in own else self.inherited(instance).get(name, default))
        return np.array(out)

    def _builtins(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """distance, azimuth, elevation, speed of each row against the listener (0 for 2D rows)."""
        vi, vf, lf = self.arrays.vi, self.arrays.vf, self.arrays.lf
        spatial = vi[rows, VI_SPATIAL] != 0
        which, rel = listeners.nearest(lf, vf[rows, VF_X:VF_X + 3])      # as the kernel hears it
        frames = {int(k): listeners.frame(lf, int(k)) for k in np.unique(which)}
        right = np.array([frames[int(k)][0] for k in which])
        front = np.array([frames[int(k)][1] for k in which])
        up = np.array([frames[int(k)][2] for k in which])
        distance = np.linalg.norm(rel, axis=1)
        ahead, side, height = (np.einsum("ij,ij->i", rel, axis) for axis in (front, right, up))
        azimuth = np.degrees(np.arctan2(side, ahead))
        elevation = np.degrees(np.arcsin(np.clip(height / np.maximum(distance, 1e-12), -1.0, 1.0)))
        velocity = np.array([listeners.velocity(lf, int(k)) for k in which])
        speed = np.linalg.norm(vf[rows, VF_VX:VF_VX + 3] - velocity, axis=1)
        out = {"distance": distance, "azimuth": azimuth, "elevation": elevation, "speed": speed}
        return {k: np.where(spatial, v, 0.0) for k, v in out.items()}
