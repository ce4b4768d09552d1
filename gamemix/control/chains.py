"""The buses' processors, control side: one instance of every registry entry per loaded scene.

`BusChains` makes each processor of the registry (gamemix/processors/) for
the scene, hands their stages to the engine's arrays, and then, generically:
fills in the scene's values of what snapshots and mappings may move (`base`),
writes each block's values into the kernels' arrays (`write`), reads back
what the kernels measured for reports and telemetry (`readings`), and keeps
their state through a reload (`adopt`).

Control side: runs once per block on a handful of buses; never touches samples.
"""

from __future__ import annotations

import numpy as np

from gamemix.core.dsp import bs1770
from gamemix.processors import REGISTRY, Processor


class BusChains:
    """Every processor of one loaded scene; see the module docstring."""

    def __init__(self, scene, bus_index: dict[str, int], channels: int, sample_rate: float):
        self.scene = scene
        self.bus_index = bus_index
        self.processors: list[Processor] = [cls(scene, bus_index, channels, sample_rate) for cls in REGISTRY]
        self.movables = [(p, m) for p in self.processors for m in p.movables]
        self._base: dict[str, np.ndarray] | None = None
        self._owner = {m.name: (p, m) for p, m in self.movables}
        self.meters = None

    @property
    def stages(self) -> tuple:
        """Every processor's stage states, for the engine's chain."""
        return tuple(st for p in self.processors for st in p.stages)

    def start(self, meters: bs1770.MeterStage, moved: dict[str, np.ndarray]) -> None:
        """Once the engine's arrays exist: the bus meters to read, and the scene's values made current."""
        self.meters = meters
        for p in self.processors:
            p.start(moved)

    def base(self, mapped: dict[tuple[str, str, str | None], float]) -> dict[str, np.ndarray]:
        """The movables' values before snapshots: the scene's, plus what mappings add (dB), keyed
        (bus, movable, column name or None for every column).  A movable no mapping moves is the
        scene's own array, shared: nobody changes these arrays in place (SnapshotMixer.apply copies
        one before it moves it), so only a mapped one is copied."""
        if self._base is None:
            self._base = {}
            for p, m in self.movables:
                self._base[m.name] = np.full((len(self.bus_index), p.width(m)), np.nan)
            for p in self.processors:          # once every array exists: a processor may have several movables
                p.base(self._base)
        moved = dict(self._base)
        copied = set()
        owner = self._owner
        for (bus, name, column), db in mapped.items():
            if name not in copied:
                moved[name] = moved[name].copy()
                copied.add(name)
            row = moved[name][self.bus_index[bus]]
            if column is None:
                row += db
            else:
                p, m = owner[name]
                row[p.column(m, bus, column)] += db
        return moved

    def column(self, movable, bus: str, name: str) -> int:
        """The column of a named value of a movable on a bus (a send's target)."""
        return next(p for p, m in self.movables if m is movable).column(movable, bus, name)

    def write(self, moved: dict[str, np.ndarray], changed: set[str] | None = None) -> None:
        """Write this block's values into the kernels' arrays (each processor skips what its scene
        does not use: this runs whenever the bus values change).  With `changed`, the names of the
        movables whose values changed, only the processors that own one write (a write is a pure
        function of its movables' values: writing the same ones again changes nothing)."""
        for p in self.processors:
            if changed is None or any(m.name in changed for m in p.movables):
                p.write(moved)

    def adopt(self, old: "BusChains") -> None:
        """After a scene reload: each processor keeps its state on buses that still exist, and the
        meters of those buses go on (integrated loudness is a session figure)."""
        for p, q in zip(self.processors, old.processors):
            p.adopt(q)
        for name, b in self.bus_index.items():
            ob = old.bus_index.get(name)
            if ob is None:
                continue
            for old_arr, arr in zip(old.meters.bank, self.meters.bank):
                if arr.ndim >= 2 and arr.shape[0] == len(self.bus_index) and arr.shape[1:] == old_arr.shape[1:]:
                    arr[b] = old_arr[ob]

    def readings(self) -> dict[str, dict]:
        """What the kernels measured, per bus: loudness, and each processor's figures."""
        out = {}
        for name, b in self.bus_index.items():
            entry = bs1770.read(self.meters.bank, b)
            for p in self.processors:
                if name in p.specs:
                    entry.update(p.read(b))
            out[name] = entry
        return out

    def reset_meters(self, bus: int | None = None) -> None:
        """Restart bus `bus`'s loudness meters, or every meter, at the next block (the audio thread
        owns their state, so this only raises flags)."""
        if bus is None:
            self.meters.bank.flags[:] = 1
        else:
            self.meters.bank.flags[bus] = 1
        for p in self.processors:
            p.reset_meters(bus)
