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
from dataclasses import dataclass

import numpy as np
from numba import njit

from gamemix.core.arrays import BF_GAIN, BF_GAIN_STEP, BF_GAIN_TARGET, BF_PITCH
from gamemix.core.dsp.filters import FL_HP, FL_HP_TARGET, FL_LP, FL_LP_TARGET
from gamemix.control.snapshots import BusValues
from gamemix.errors import CommandError
from gamemix.units import db_to_gain, db_to_gain_array, gain_to_db


@njit(cache=True, nogil=True)
def fader_ramps(bf, gains, block_size):
    """Each bus fader's target and its step per sample from where it is (at least 1e-12, as
    NumPy's maximum: a NaN stays NaN), so the kernel reaches the target at the block's end."""
    for b in range(gains.shape[0]):
        bf[b, BF_GAIN_TARGET] = gains[b]
        d = abs(gains[b] - bf[b, BF_GAIN])
        bf[b, BF_GAIN_STEP] = (d if not d < 1e-12 else 1e-12) / block_size


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
        self._down = np.array([(b, arrays.bus_parent[b]) for b in reversed(arrays.bus_order)
                               if arrays.bus_parent[b] >= 0], dtype=np.int64).reshape(-1, 2)
        self._heard = np.zeros(len(bus_index))
        self._last_inputs = None
        self._moving: dict[int, Glide] = {}     # the glides away from their target, by id
        self.set_by_game: set[str] = set()      # faders and mutes the game moved (kept through a reload)
        self.vcas = {n: Glide(db_to_gain(v.volume_db), db_to_gain(v.volume_db)) for n, v in scene.vcas.items()}
        self.vcas_of = {bus: [n for n, v in scene.vcas.items() if bus in v.buses] for bus in bus_index}
        self.vcas_set_by_game: set[str] = set()
        # per bus, what own_values needs of the scene: its filters and pitch, and their values when no
        # mapping moves them
        self._scene_values = [(scene.buses[name].lowpass_hz, scene.buses[name].highpass_hz,
                               scene.buses[name].pitch_semitones) for name in self.names]
        self._unmapped = ([math.log2(min(lp, math.inf)) for lp, _, _ in self._scene_values],
                          [math.log2(max(hp, 0.0)) for _, hp, _ in self._scene_values],
                          [st + 0.0 for _, _, st in self._scene_values])
        self._vca_lists = [self.vcas_of[name] for name in self.names]
        self._moves = 0                          # counts the blocks (and reloads) that moved a glide's value
        self._levels: tuple | None = None        # (_moves, faders' dB, VCAs' dB sums, mutes) for that count
        self._written: dict[str, tuple] = {}    # what `write` last wrote from: (array, its bytes, other input)
        self._own_values: tuple | None = None   # (_moves, mapped values) -> own_values' result for them
        self._gains: np.ndarray | None = None   # the fader gains of the last volumes and mutes written
        self._moved_dict: dict | None = None    # the processor values (dict) last written from

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
        self._moves += 1
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
        self._moves += 1
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
        ones ticked, until they arrive.  A block in which one moved counts in `_moves`: what is
        worked out from the glides' values is kept until it changes."""
        glided = False
        for key, g in list(self._moving.items()):
            if g.value != g.target:
                before = g.value
                g.tick(self.dt)
                glided = glided or g.value != before
            if g.value == g.target:
                del self._moving[key]
        if glided:
            self._moves += 1

    def changed(self, mapped, snapshots) -> bool:
        """Whether anything the bus values depend on moved since the last call that said so: faders,
        mutes and VCAs (`_moves`), parameter values (GameParameters gives a new MappedValues exactly
        when they moved) and the snapshot stack (its `version` moves with it)."""
        last = self._last_inputs
        if last is not None and last[0] is mapped and last[1] == snapshots.version and last[2] == self._moves:
            return False
        self._last_inputs = (mapped, snapshots.version, self._moves)
        return True

    def levels(self) -> tuple[list[float], list, list[float]]:
        """Per bus (in bus order): its fader in dB, the sum of its VCAs in dB (the integer 0 for a bus
        under none, as `sum` of nothing gives) and its mute, worked out once per move of a glide."""
        if self._levels is None or self._levels[0] != self._moves:
            faders, vcas, mutes = self.faders, self.vcas, self.mutes
            self._levels = (self._moves, [gain_to_db(faders[n].value) for n in self.names],
                            [sum(gain_to_db(vcas[v].value) for v in of) if of else 0 for of in self._vca_lists],
                            [mutes[n].value for n in self.names])
        return self._levels[1:]

    def own_values(self, mapped) -> BusValues:
        """Each bus's own values before snapshots: scene, fader, parameter mappings.  The same glides
        and mapped values (GameParameters gives the same object while nothing moved) give the same
        result: the last one, which nobody changes (SnapshotMixer.apply makes new arrays)."""
        last = self._own_values
        if last is not None and last[0] == self._moves and last[1] is mapped:
            return last[2]
        values = self._compute_own_values(mapped)
        self._own_values = (self._moves, mapped, values)
        return values

    def _compute_own_values(self, mapped) -> BusValues:
        """In Python floats (the same arithmetic as on arrays), made arrays at the end: a bus no
        mapping moves takes its fader and VCAs and the values computed at load; the mapped ones
        are worked out."""
        fader_db, vca_db, _ = self.levels()
        volume_db = [(f + 0.0) + v for f, v in zip(fader_db, vca_db)]
        lowpass_oct, highpass_oct, pitch_st = (list(u) for u in self._unmapped)
        index, scene = self.bus_index, self._scene_values
        for name, db in mapped.bus_volume_db.items():
            b = index[name]
            volume_db[b] = (fader_db[b] + db) + vca_db[b]
        for name, hz in mapped.bus_lowpass_hz.items():
            b = index[name]
            lowpass_oct[b] = math.log2(min(scene[b][0], hz))
        for name, hz in mapped.bus_highpass_hz.items():
            b = index[name]
            highpass_oct[b] = math.log2(max(scene[b][1], hz))
        for name, st in mapped.bus_pitch.items():
            b = index[name]
            pitch_st[b] = scene[b][2] + st
        return BusValues(np.array(volume_db), np.array(lowpass_oct), np.array(highpass_oct), np.array(pitch_st),
                         self.chains.base(mapped.bus_moved))

    def write(self, values: BusValues) -> np.ndarray:
        """Bus fader targets (reached within the block), pitch, cutoffs and the processors' values;
        returns the fader gains.  The fader's step is recomputed every time (it depends on where the
        gain is now); the gains, the pitch, the cutoffs and the processors' values are pure
        functions of their inputs, which the kernels only read, so each is written only when its
        inputs changed: the same array (nobody changes one in place) or the same bytes."""
        self.values = values
        bf = self.arrays.bf
        if self._moved("volume", values.volume_db, self._moves):      # the mutes move only with _moves
            self._gains = db_to_gain_array(values.volume_db) * np.array(self.levels()[2])
        gains = self._gains
        fader_ramps(bf, gains, self.arrays.block_size)
        if self._moved("pitch", values.pitch_st):
            bf[:, BF_PITCH] = self.tree_product(2.0 ** (values.pitch_st / 12.0))
        cutoff = self.arrays.filters.cutoff
        if self._moved("lowpass", values.lowpass_oct):
            cutoff[:, FL_LP_TARGET] = 2.0 ** values.lowpass_oct     # the kernel clamps to [10 Hz, 0.49 fs]
        if self._moved("highpass", values.highpass_oct):
            cutoff[:, FL_HP_TARGET] = 2.0 ** values.highpass_oct
        if values.moved is not self._moved_dict:
            self._moved_dict = values.moved
            changed = self._processors_moved(values.moved)
            if changed:
                self.chains.write(values.moved, changed)
        return gains

    def _moved(self, what, values: np.ndarray, also=None) -> bool:
        """Whether `what`'s inputs (`values`, and `also`) differ from those it was last written from:
        not when they are the same array, else compared bit for bit."""
        last = self._written.get(what)
        if last is not None and last[0] is values and last[2] == also:
            return False
        data = values.tobytes()
        self._written[what] = (values, data, also)
        return last is None or last[1] != data or last[2] != also

    def _processors_moved(self, moved: dict[str, np.ndarray]) -> set[str]:
        """The processor values (movables' names) that differ from when they were last written from
        (`_moved`: only a new array is compared, bit for bit)."""
        return {name for name, values in moved.items() if self._moved(("processor", name), values)}

    def tree_product(self, per_bus: np.ndarray) -> np.ndarray:
        """For each bus, the product of `per_bus` over it and its ancestors (a new array)."""
        out = np.empty(len(per_bus))
        tree_product(per_bus, self._down, out)
        return out

    def heard(self) -> np.ndarray:
        """Each bus's gain down the tree as the last block ended (the same array each block:
        overwritten by the next call)."""
        tree_product(self.arrays.bf[:, BF_GAIN], self._down, self._heard)
        return self._heard


@njit(cache=True, nogil=True)
def tree_product(per_bus, down, out):
    """out[b] = the product of per_bus over bus b and its ancestors: the multiplications from the
    master down, each (bus, parent) of `down` after its parent's (the same double products, in the
    same order, as folding the tree by hand)."""
    for b in range(per_bus.shape[0]):
        out[b] = per_bus[b]
    for k in range(down.shape[0]):
        out[down[k, 0]] *= out[down[k, 1]]
