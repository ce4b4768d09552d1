"""Zones and auxiliary buses: the control side of core/propagation.py.

A scene's zones (boxes or spheres with a fade distance) send 3D voices to
auxiliary buses: an emitter zone the voices whose emitters stand in it, a
listener zone every voice while the listener stands in it; each at its
send levels times its weight there (the kernel measures the weights per
voice and block).  Here, once per block:

- the zones' send levels go to the kernel as gains, after the snapshots
  that move them (`SnapshotMixer.apply_zones`: override or blend in dB);
- a zone with a `snapshot` holds that snapshot at its weight at the
  listener (the largest over the listeners in use), so walking across the
  fade crossfades the mix, and the snapshot stops once the listener is
  out; a snapshot the game started itself is left to the game;
- the game sets a zone's occlusion (its walls, for a listener outside).

The auxiliary buses (zone send targets and buses marked `auxiliary`) are
numbered here; `aux_sends` names them by bus.  Control side.
"""

from __future__ import annotations

import math

import numpy as np

from gamemix.core.arrays import LF_MORE, LF_X, LL_ACTIVE, LL_FIELDS, MAX_LISTENERS
from gamemix.core.propagation import (
    MAX_AUX, SPHERE, ZN_CX, ZN_FADE, ZN_HX, ZN_HY, ZN_HZ, ZN_LISTENER, ZN_OCCLUSION, ZN_SHAPE, zone_weight,
)
from gamemix.errors import CommandError
from gamemix.units import db_to_gain


class Zones:
    """The scene's zones and auxiliary buses, written into the kernel's propagation arrays."""

    def __init__(self, scene, prop, bus_index: dict[str, int]):
        self.prop = prop
        self.names = list(scene.zones)
        self.index = {name: z for z, name in enumerate(self.names)}
        self.aux = {bus: a for a, bus in enumerate(scene.aux_buses()[:MAX_AUX])}
        prop.aux_bus[:] = -1
        for bus, a in self.aux.items():
            prop.aux_bus[a] = bus_index[bus]
        self.base_db = np.full((len(self.names), MAX_AUX), -math.inf)
        self.snapshot_of = {}                         # zone index -> the snapshot it holds
        for z, (name, zone) in enumerate(scene.zones.items()):
            row = prop.zones[z]
            row[ZN_SHAPE] = SPHERE if zone.shape == "sphere" else 0
            row[ZN_CX:ZN_CX + 3] = zone.center
            row[ZN_HX:ZN_HZ + 1] = (zone.radius, 0.0, 0.0) if zone.shape == "sphere" else np.array(zone.size) / 2
            row[ZN_FADE] = zone.fade
            row[ZN_LISTENER] = 1.0 if zone.applies_to == "listener" else 0.0
            row[ZN_OCCLUSION] = zone.occlusion
            for bus, db in zone.sends.items():
                self.base_db[z, self.aux[bus]] = db
            if zone.snapshot is not None:
                self.snapshot_of[z] = zone.snapshot
        self.held: set[str] = set()                   # snapshots a zone started (and so may stop)
        self._write(self.base_db)

    def aux_index(self, bus: str) -> int:
        """The aux index of an auxiliary bus; CommandError for a bus that is not one."""
        a = self.aux.get(bus)
        if a is None:
            listing = ", ".join(self.aux) or "none: mark a bus `auxiliary: true`"
            raise CommandError("unknown_bus", f"{bus!r} is not an auxiliary bus (auxiliary buses: {listing})")
        return a

    def sends(self, sends: dict[str, float]) -> dict[int, float]:
        """{aux index: linear gain} of an `aux_sends` message's {bus: dB}."""
        return {self.aux_index(bus): db_to_gain(db) for bus, db in sends.items()}

    def set_occlusion(self, name: str, occlusion: float) -> None:
        """A zone's occlusion (its walls, for a listener outside it)."""
        z = self.index.get(name)
        if z is None:
            listing = ", ".join(self.names[:30]) or "none defined"
            raise CommandError("unknown_zone", f"unknown zone {name!r} (zones: {listing})")
        self.prop.zones[z, ZN_OCCLUSION] = occlusion

    def tick(self, snapshots, lf: np.ndarray, now: float = 0.0) -> None:
        """Zone sends after the snapshots, and the zones' snapshots at the listeners' weights (`now`: the
        mixer's time, for the snapshot timeline)."""
        if not self.names:
            return
        self._write(snapshots.apply_zones(self.base_db, self.index, self.aux))
        for z, name in self.snapshot_of.items():
            weight = self._listener_weight(z, lf)
            if weight > 0.0:
                if name not in snapshots.active:
                    snapshots.start(name, intensity=weight * 100.0, fade=0.0, when=now)
                    self.held.add(name)
                elif name in self.held:
                    snapshots.set_intensity(name, weight * 100.0)
            elif name in self.held:
                snapshots.stop(name, when=now)
                self.held.discard(name)

    def _write(self, db: np.ndarray) -> None:
        gains = np.where(np.isfinite(db), np.power(10.0, np.where(np.isfinite(db), db, 0.0) / 20.0), 0.0)
        self.prop.zone_send[:len(self.names)] = gains

    def _listener_weight(self, z: int, lf: np.ndarray) -> float:
        """The zone's weight at the listener (the largest over the listeners in use)."""
        weight = zone_weight(self.prop.zones, z, lf[LF_X], lf[LF_X + 1], lf[LF_X + 2])
        for k in range(1, MAX_LISTENERS):
            base = LF_MORE + LL_FIELDS * (k - 1)
            if lf[base + LL_ACTIVE] > 0.0:
                weight = max(weight, zone_weight(self.prop.zones, z, lf[base], lf[base + 1], lf[base + 2]))
        return float(weight)
