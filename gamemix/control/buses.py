"""The buses, control side: faders and mutes that glide, and the targets written for the kernels.

Each block a bus's values are its fader (in dB), the VCAs over it (their
levels add, in dB: FMOD Studio's VCAs), what game-parameter mappings add, its filters and pitch, and what its processors let move
(gamemix/processors/); snapshots then shape them (control/snapshots.py); the
result is written as targets the kernels reach within the block: the fader
gain (times the mute), the filters' cutoffs, the pitch multiplier down the
tree, and the processors' values (control/chains.py).  Only when something
they depend on moved: otherwise last block's targets stand, already reached.

Control side.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from gamemix.core.arrays import BF_GAIN, BF_GAIN_STEP, BF_GAIN_TARGET, BF_PITCH
from gamemix.core.dsp.filters import FL_HP, FL_HP_TARGET, FL_LP, FL_LP_TARGET
from gamemix.control.snapshots import BusValues
from gamemix.errors import CommandError
from gamemix.units import db_to_gain, db_to_gain_array, gain_to_db


@dataclass
class Glide:
    """A control value moving linearly to a target (bus faders, mutes)."""

    value: float
    target: float
    rate: float = math.inf   # units per second

    def set(self, target: float, seconds: float, min_seconds: float) -> None:
        self.target = target
        self.rate = abs(target - self.value) / max(seconds, min_seconds)

    def tick(self, dt: float) -> float:
        step = self.rate * dt
        self.value = min(self.value + step, self.target) if self.value < self.target else max(self.value - step, self.target)
        return self.value


class Buses:
    """Faders, mutes and the per-bus targets of one loaded scene; see the module docstring."""

    def __init__(self, scene, arrays, chains, bus_index: dict[str, int], dt: float):
        self.scene, self.arrays, self.chains, self.bus_index, self.dt = scene, arrays, chains, bus_index, dt
        self.names = list(bus_index)
        self.faders = {n: Glide(db_to_gain(b.volume_db), db_to_gain(b.volume_db)) for n, b in scene.buses.items()}
        self.mutes = {n: Glide(0.0 if b.mute else 1.0, 0.0 if b.mute else 1.0) for n, b in scene.buses.items()}
        for name, i in bus_index.items():
            parent = scene.bus_parent(name)
            arrays.bus_parent[i] = -1 if parent is None else bus_index[parent]
        arrays.bus_order[:] = [bus_index[n] for n in scene.bus_order()]
        # (bus, parent) from the master down: tree_product's multiplications, in order
        self._down = [(int(b), int(arrays.bus_parent[b])) for b in reversed(arrays.bus_order)
                      if arrays.bus_parent[b] >= 0]
        self._last_inputs = None
        self._moving: dict[int, Glide] = {}     # the glides away from their target, by id
        self._glided = False                    # whether a glide moved in the last glide()
        self.set_by_game: set[str] = set()      # faders and mutes the game moved (kept through a reload)
        self.vcas = {n: Glide(db_to_gain(v.volume_db), db_to_gain(v.volume_db)) for n, v in scene.vcas.items()}
        self.vcas_of = {bus: [n for n, v in scene.vcas.items() if bus in v.buses] for bus in bus_index}
        self.vcas_set_by_game: set[str] = set()
        # per bus, what own_values needs of the scene, and its values when no mapping moves them
        self._own = [(name, b, self.vcas_of[name], scene.buses[name].lowpass_hz, scene.buses[name].highpass_hz,
                      scene.buses[name].pitch_semitones, math.log2(min(scene.buses[name].lowpass_hz, math.inf)),
                      math.log2(max(scene.buses[name].highpass_hz, 0.0)), scene.buses[name].pitch_semitones + 0.0)
                     for name, b in bus_index.items()]
        self._written: dict[str, bytes] = {}    # the inputs of what `write` last wrote that the kernels only read
        self._own_values: tuple | None = None   # (faders, VCAs, mapped values) -> own_values' result for them
        self._gains: tuple | None = None        # (volumes, mutes) -> the fader gains for them
        self._moved_arrays: tuple | None = None   # the processor values (arrays) last compared

    def start(self, values: BusValues) -> None:
        """The scene's values as where every ramp starts: the first block does not fade them in."""
        self.values = values
        self.chains.start(self.arrays.meters, values.moved)
        self.arrays.bf[:, BF_GAIN] = self.write(values)
        cutoff = self.arrays.filters.cutoff
        cutoff[:, FL_LP] = cutoff[:, FL_LP_TARGET]
        cutoff[:, FL_HP] = cutoff[:, FL_HP_TARGET]

    def index(self, bus: str) -> int:
        """A bus's index; CommandError 'unknown_bus' naming the buses if there is none."""
        i = self.bus_index.get(bus)
        if i is None:
            raise CommandError("unknown_bus", f"unknown bus {bus!r} (buses: {', '.join(self.names)})")
        return i

    def set_volume(self, bus: str, volume_db: float, fade: float) -> None:
        """Move a bus fader to `volume_db` over `fade` seconds (at least one block)."""
        self.index(bus)
        self._move(self.faders[bus]).set(db_to_gain(volume_db), fade, self.dt)
        self.set_by_game.add(bus)

    def set_mute(self, bus: str, mute: bool, fade: float) -> None:
        """Mute or unmute a bus, ramped like a fader move."""
        self.index(bus)
        self._move(self.mutes[bus]).set(0.0 if mute else 1.0, fade, self.dt)
        self.set_by_game.add(bus)

    def set_vca(self, vca: str, volume_db: float, fade: float) -> None:
        """Move a VCA to `volume_db` over `fade` seconds (at least one block); CommandError
        'unknown_vca' naming the VCAs if there is none."""
        glide = self.vcas.get(vca)
        if glide is None:
            raise CommandError("unknown_vca", f"unknown VCA {vca!r} (VCAs: {', '.join(self.vcas) or 'none defined'})")
        self._move(glide).set(db_to_gain(volume_db), fade, self.dt)
        self.vcas_set_by_game.add(vca)

    def vca_db(self) -> dict[str, float]:
        """Each VCA's level now, in dB."""
        return {n: gain_to_db(g.value) for n, g in self.vcas.items()}

    def take_over_vcas(self, old: "Buses", seconds: float) -> None:
        """After a reload, as `take_over` for the VCAs both scenes have."""
        for name, mine in self.vcas.items():
            theirs = old.vcas.get(name)
            if theirs is None:
                continue
            if name in old.vcas_set_by_game:
                self.vcas[name] = self._move(theirs)
                self.vcas_set_by_game.add(name)
            else:
                target, mine.value = mine.target, theirs.value
                self._move(mine).set(target, seconds, self.dt)

    def take_over(self, bus: str, old: "Buses", seconds: float) -> None:
        """After a reload: a fader and mute the game set stay as the game set them; others start
        where the old ones are and glide to this scene's values over `seconds`."""
        if bus in old.set_by_game:
            self.faders[bus], self.mutes[bus] = self._move(old.faders[bus]), self._move(old.mutes[bus])
            self.set_by_game.add(bus)
            return
        for mine, theirs in ((self.faders[bus], old.faders[bus]), (self.mutes[bus], old.mutes[bus])):
            target = mine.target
            mine.value = theirs.value
            self._move(mine).set(target, seconds, self.dt)

    def _move(self, glide: Glide) -> Glide:
        """Count `glide` among the moving ones (its target or value is being changed); returns it."""
        self._moving[id(glide)] = glide
        return glide

    def glide(self) -> None:
        """Move every fader, mute and VCA one block towards its target.  Only those a command or a
        reload moved can be away from their target (one at its target stays there): they are the
        ones ticked, until they arrive."""
        self._glided = False
        for key, g in list(self._moving.items()):
            if g.value != g.target:
                before = g.value
                g.tick(self.dt)
                self._glided = self._glided or g.value != before
            if g.value == g.target:
                del self._moving[key]

    def changed(self, mapped, snapshots) -> bool:
        """Whether anything the bus values depend on moved since the last call that said so: faders,
        mutes and VCAs (they move only in glide()), parameter values (GameParameters gives a new
        MappedValues exactly when they moved) and the snapshot stack."""
        stack = tuple((s.name, s.level, s.intensity, s.order) for s in snapshots.active.values())
        last = self._last_inputs
        if last is not None and not self._glided and last[0] is mapped and last[1] == stack:
            return False
        self._last_inputs = (mapped, stack)
        return True

    def own_values(self, mapped) -> BusValues:
        """Each bus's own values before snapshots: scene, fader, parameter mappings (a bus no mapping
        moves takes the values computed at load, the same numbers).  The same faders, VCAs and mapped
        values (GameParameters gives the same object while nothing moved) give the same result: the
        last one, which nobody changes (SnapshotMixer.apply makes new arrays)."""
        key = ([g.value for g in self.faders.values()], [g.value for g in self.vcas.values()])
        if self._own_values is not None and self._own_values[0] == key and self._own_values[1] is mapped:
            return self._own_values[2]
        values = self._compute_own_values(mapped)
        self._own_values = (key, mapped, values)
        return values

    def _compute_own_values(self, mapped) -> BusValues:
        """In Python floats, bus by bus (the same arithmetic as on arrays), made arrays at the end."""
        n = len(self.names)
        volume_db, lowpass_oct, highpass_oct, pitch_st = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
        volume, lowpass, highpass, pitch = (mapped.bus_volume_db, mapped.bus_lowpass_hz, mapped.bus_highpass_hz,
                                            mapped.bus_pitch)
        faders, vcas = self.faders, self.vcas
        for name, b, vcas_of, lp_hz, hp_hz, st, lp_oct, hp_oct, own_st in self._own:
            volume_db[b] = (gain_to_db(faders[name].value) + volume.get(name, 0.0)
                            + (sum(gain_to_db(vcas[v].value) for v in vcas_of) if vcas_of else 0))
            lowpass_oct[b] = math.log2(min(lp_hz, lowpass[name])) if name in lowpass else lp_oct
            highpass_oct[b] = math.log2(max(hp_hz, highpass[name])) if name in highpass else hp_oct
            pitch_st[b] = st + pitch[name] if name in pitch else own_st
        return BusValues(np.array(volume_db), np.array(lowpass_oct), np.array(highpass_oct), np.array(pitch_st),
                         self.chains.base(mapped.bus_moved))

    def write(self, values: BusValues) -> np.ndarray:
        """Bus fader targets (reached within the block), pitch, cutoffs and the processors' values;
        returns the fader gains.  The fader's step is recomputed every time (it depends on where the
        gain is now); the pitch, the cutoffs and the processors' values are pure functions of their
        inputs, which the kernels only read, so each is written only when its inputs changed."""
        self.values = values
        bf = self.arrays.bf
        mutes = tuple([self.mutes[n].value for n in self.names])
        key = (values.volume_db.tobytes(), mutes)
        if self._gains is None or self._gains[0] != key:
            self._gains = key, db_to_gain_array(values.volume_db) * np.array(mutes)
        gains = self._gains[1]
        bf[:, BF_GAIN_TARGET] = gains
        bf[:, BF_GAIN_STEP] = np.maximum(np.abs(gains - bf[:, BF_GAIN]), 1e-12) / self.arrays.block_size
        if self._moved("pitch", values.pitch_st.tobytes()):
            bf[:, BF_PITCH] = self.tree_product(2.0 ** (values.pitch_st / 12.0))
        cutoff = self.arrays.filters.cutoff
        if self._moved("lowpass", values.lowpass_oct.tobytes()):
            cutoff[:, FL_LP_TARGET] = 2.0 ** values.lowpass_oct     # the kernel clamps to [10 Hz, 0.49 fs]
        if self._moved("highpass", values.highpass_oct.tobytes()):
            cutoff[:, FL_HP_TARGET] = 2.0 ** values.highpass_oct
        moved = tuple(values.moved.values())
        if self._moved_arrays is None or any(map(operator.is_not, moved, self._moved_arrays)):
            self._moved_arrays = moved      # the same arrays are the same values: nobody changes them in place
            if self._moved("processors", b"".join(v.tobytes() for v in moved)):
                self.chains.write(values.moved)
        return gains

    def _moved(self, what: str, inputs: bytes) -> bool:
        """Whether `what`'s inputs differ (bit for bit) from those it was last written from."""
        if self._written.get(what) == inputs:
            return False
        self._written[what] = inputs
        return True

    def tree_product(self, per_bus: np.ndarray) -> np.ndarray:
        """For each bus, the product of `per_bus` over it and its ancestors (master first: parents
        before children; in Python floats, the same double multiplications as NumPy's, faster on a
        handful of buses)."""
        out = per_bus.tolist()
        for b, parent in self._down:
            out[b] *= out[parent]
        return np.array(out)

    def heard(self) -> np.ndarray:
        """Each bus's gain down the tree as the last block ended."""
        return self.tree_product(self.arrays.bf[:, BF_GAIN])
