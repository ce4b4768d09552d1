"""The buses' processing chains, control side: configure them, move them, read them.

Each bus of a scene can carry, in the order the engine runs them (engine.py,
process_bus): a reverb (an effect return), its filters, unmasking cuts, a
sidechain duck, a compressor, a loudness target, its fader, a limiter
(master), meters, and post-fader sends.  This module turns the scene's
settings into the kernels' parameter rows at load, writes the values that
snapshots and game parameters move (send levels, compressor threshold,
sidechain depth, unmasking depth, loudness target, limiter ceiling) once per
block, and reads back what the kernels measured (gain reduction, duck depth,
loudness) for telemetry and reports.

Control side: runs once per block on a handful of buses; never touches samples.
"""

from __future__ import annotations


import numpy as np

from gamemix.core.dsp import bs1770, compressor, leveler, limiter, reverb, sidechain, unmasking
from gamemix.core.arrays import BI_LEVEL_METER, BI_MASKER, BI_REVERB, BI_TARGET, SG_GAIN, SG_TARGET, Params
from gamemix.scene.model import Scene
from gamemix.control.snapshots import DYNAMICS, BusValues

DYN = {name: j for j, name in enumerate(DYNAMICS)}
FLOOR_DB = -144.0


def _gain(db: float) -> float:
    return 0.0 if db <= FLOOR_DB else 10.0 ** (db / 20.0)


def reverb_buses(scene: Scene) -> list[str]:
    """Buses that are reverb returns, in file order (their reverb slot is the position here)."""
    return [name for name, bus in scene.buses.items() if bus.reverb is not None]


def unmask_targets(scene: Scene) -> list[str]:
    """Buses some other bus keeps intelligible, in file order (their target slots)."""
    wanted = {bus.unmask.target for bus in scene.buses.values() if bus.unmask is not None}
    return [name for name in scene.buses if name in wanted]


def fx_sizes(scene: Scene) -> dict:
    """How many slots of each processor a scene needs (Params allocates them)."""
    return {"n_reverbs": len(reverb_buses(scene)), "n_targets": len(unmask_targets(scene)),
            "n_maskers": sum(b.unmask is not None for b in scene.buses.values()),
            "n_levelers": sum(b.loudness is not None for b in scene.buses.values())}


class BusProcessing:
    """Configures the chains of one loaded scene; see the module docstring."""

    def __init__(self, scene: Scene, bus_index: dict[str, int], params: Params, sample_rate: float):
        self.scene = scene
        self.bus_index = bus_index
        self.params = params
        self.fx = params.fx
        self.sample_rate = sample_rate
        self.master = bus_index["master"]
        self._base = None
        buses = scene.buses.values()
        self.has_sends = any(b.sends for b in buses)
        self.has_fixed_keys = any(k.ratio is None for b in buses for k in b.sidechain)
        self.has_dynamics = any(b.compressor or b.unmask or b.loudness or b.limiter for b in buses)
        for r, name in enumerate(reverb_buses(scene)):
            spec = scene.buses[name].reverb
            params.bi[bus_index[name], BI_REVERB] = r
            reverb.set_reverb(self.fx.rv_p, r, sample_rate, spec.decay_s, spec.size, spec.damping, spec.predelay_ms)
        targets = unmask_targets(scene)
        for t, name in enumerate(targets):
            params.bi[bus_index[name], BI_TARGET] = t
        masker, leveled = 0, 0
        for name, bus in scene.buses.items():
            b = bus_index[name]
            if bus.compressor is not None:
                c = bus.compressor
                compressor.set_compressor(self.fx.comp, b, sample_rate, c.threshold_db, c.ratio, c.knee_db,
                                          c.attack_ms, c.release_ms, c.makeup_db)
            if bus.unmask is not None:
                u = bus.unmask
                params.bi[b, BI_MASKER] = masker
                unmasking.set_masker(self.fx.um_p, masker, targets.index(u.target), sample_rate, u.max_depth_db,
                                     u.margin_db, u.floor_db, u.attack_ms, u.release_ms)
                masker += 1
            if bus.loudness is not None:
                lt = bus.loudness
                slot = len(bus_index) + leveled
                params.bi[b, BI_LEVEL_METER] = slot
                leveler.set_target(self.fx.lv, b, slot, sample_rate, lt.target_lufs, lt.measure, lt.tolerance_lu,
                                   lt.max_boost_db, lt.max_cut_db, lt.max_slew_db_per_s)
                leveled += 1
            if bus.limiter is not None:
                lm = bus.limiter
                limiter.set_limiter(self.fx.lim, self.fx.lim_env, sample_rate, lm.ceiling_dbtp, lm.lookahead_ms,
                                    lm.release_ms)
            for k, target in enumerate(bus.sends):
                self.fx.send_bus[b, k] = bus_index[target]
            for k, key in enumerate(bus.sidechain):
                sidechain.set_key(self.fx.sc, b, k, bus_index[key.key], sample_rate, key.threshold_db,
                                  key.depth_db, key.ratio, key.range_db, key.attack_ms, key.hold_ms,
                                  key.release_ms, key.key_band_hz)
        values = self.base(BusValues(*(np.zeros(len(bus_index)) for _ in range(4)), None, None, None), {})
        self.fx.send_gain[:, :, SG_GAIN] = np.where(values.sends_db <= FLOOR_DB, 0.0, 10.0 ** (values.sends_db / 20.0))
        self.write(values)

    def base(self, values: BusValues, mapped_sends: dict[tuple[str, str], float]) -> BusValues:
        """Fill the dynamics and send columns of `values` with the scene's own values and the
        parameter mappings, before snapshots."""
        if self._base is None:
            self._base = self._scene_values()
        dyn, sends, keys = (a.copy() for a in self._base)
        for (name, target), db in mapped_sends.items():
            sends[self.bus_index[name], list(self.scene.buses[name].sends).index(target)] += db
        values.dynamics = dyn
        values.sends_db = sends
        values.sidechain_db = keys
        return values

    def _scene_values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dynamics, sends, sidechain depths) as the scene sets them."""
        n = len(self.bus_index)
        dyn = np.full((n, len(DYNAMICS)), np.nan)
        sends = np.full((n, self.fx.send_bus.shape[1]), FLOOR_DB)
        keys = np.full((n, sidechain.MAX_KEYS), np.nan)
        for name, bus in self.scene.buses.items():
            b = self.bus_index[name]
            if bus.compressor is not None:
                dyn[b, DYN["compressor_threshold_db"]] = bus.compressor.threshold_db
            for k, key in enumerate(bus.sidechain):
                if key.ratio is None and key.depth_db is not None:
                    keys[b, k] = key.depth_db
            if bus.unmask is not None:
                dyn[b, DYN["unmask_depth_db"]] = bus.unmask.max_depth_db
            if bus.loudness is not None:
                dyn[b, DYN["loudness_target_lufs"]] = bus.loudness.target_lufs
            if bus.limiter is not None:
                dyn[b, DYN["limiter_ceiling_dbtp"]] = bus.limiter.ceiling_dbtp
            for k, db in enumerate(bus.sends.values()):
                sends[b, k] = db
        return dyn, sends, keys

    def write(self, values: BusValues) -> None:
        """Write this block's send levels and dynamics values into the kernels' rows (only the
        parts this scene uses: this runs every block)."""
        if self.has_sends:
            self.fx.send_gain[:, :, SG_TARGET] = np.where(values.sends_db <= FLOOR_DB, 0.0,
                                                           10.0 ** (np.minimum(values.sends_db, 24.0) / 20.0))
        if self.has_fixed_keys:
            fixed = np.isfinite(values.sidechain_db)
            self.fx.sc[:, :, sidechain.SC_DEPTH][fixed] = np.maximum(0.0, -values.sidechain_db[fixed])
        if not self.has_dynamics:
            return
        dyn = values.dynamics
        has = np.isfinite(dyn[:, DYN["compressor_threshold_db"]])
        self.fx.comp[has, compressor.CP_THRESHOLD] = dyn[has, DYN["compressor_threshold_db"]]
        has = np.isfinite(dyn[:, DYN["loudness_target_lufs"]])
        self.fx.lv[has, leveler.LV_TARGET] = dyn[has, DYN["loudness_target_lufs"]]
        maskers = self.params.bi[:, BI_MASKER]
        has = np.isfinite(dyn[:, DYN["unmask_depth_db"]]) & (maskers >= 0)
        self.fx.um_p[maskers[has], unmasking.UP_DEPTH] = np.maximum(dyn[has, DYN["unmask_depth_db"]], 0.0)
        ceiling = dyn[self.master, DYN["limiter_ceiling_dbtp"]]
        if np.isfinite(ceiling) and ceiling != self.fx.lim[limiter.LM_CEILING_DB]:
            limiter.set_ceiling(self.fx.lim, min(ceiling, 0.0))

    def adopt(self, old: "BusProcessing") -> None:
        """After a scene reload: keep send gains, duck and loudness states of buses that still exist."""
        for name, b in self.bus_index.items():
            ob = old.bus_index.get(name)
            if ob is None:
                continue
            olds = list(old.scene.buses[name].sends)
            for k, target in enumerate(self.scene.buses[name].sends):
                if target in olds:
                    self.fx.send_gain[b, k, SG_GAIN] = old.fx.send_gain[ob, olds.index(target), SG_GAIN]
            self.fx.lv[b, leveler.LV_GAIN] = old.fx.lv[ob, leveler.LV_GAIN]
            self.fx.comp[b, compressor.CP_REDUCTION] = old.fx.comp[ob, compressor.CP_REDUCTION]
        # meters of buses that still exist go on (integrated loudness is a session figure)
        for name, b in self.bus_index.items():
            ob = old.bus_index.get(name)
            if ob is not None:
                for old_arr, arr in zip(old.fx.meters, self.fx.meters):
                    if arr.ndim >= 2 and arr.shape[0] == self.fx.meters.out.shape[0] and arr.shape[1:] == old_arr.shape[1:]:
                        arr[b] = old_arr[ob]

    def readings(self) -> dict[str, dict]:
        """What the kernels measured, per bus: loudness, and each processor's gain change (dB)."""
        out = {}
        for name, bus in self.scene.buses.items():
            b = self.bus_index[name]
            entry = bs1770.read(self.fx.meters, b)
            if bus.sidechain:
                entry["sidechain_db"] = -round(float(self.fx.sc_out[b]), 2)
            if bus.compressor is not None:
                entry["compressor_gr_db"] = -round(float(self.fx.comp[b, compressor.CP_MAX_REDUCTION]), 2)
            if bus.loudness is not None:
                entry["loudness_gain_db"] = round(float(self.fx.lv[b, leveler.LV_GAIN]), 2)
            if bus.unmask is not None:
                cuts = self.fx.um_cut[self.params.bi[b, BI_MASKER], 0]
                entry["unmask_cut_db"] = {f"{int(f)}": -round(float(c), 2) for f, c in zip(unmasking.BANDS, cuts)}
            if bus.limiter is not None:
                g = float(self.fx.lim[limiter.LM_MIN_GAIN])
                entry["limiter_gr_db"] = round(20.0 * np.log10(g), 2) if g > 0 else None
            out[name] = entry
        return out

    def reset_meters(self, bus: int | None = None) -> None:
        """Restart bus `bus`'s loudness meter, or every meter, at the next block (the audio thread
        owns their state, so this only raises a flag)."""
        if bus is None:
            self.fx.meters.flags[:] = 1
        else:
            self.fx.meters.flags[bus] = 1
            slot = self.params.bi[bus, BI_LEVEL_METER]
            if slot >= 0:
                self.fx.meters.flags[slot] = 1
