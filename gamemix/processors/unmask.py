"""Registry entry: unmasking, a bus cut only where it masks a priority bus (kernels: core/dsp/unmasking.py)."""

from __future__ import annotations

from typing import Optional

import numpy as np
from pydantic import Field

from gamemix.core.dsp import unmasking
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.scene.fields import Level, Milliseconds, Strict


class Unmask(Strict):
    """Cut this bus only in the bands where it masks `target` while the target sounds."""

    target: str = Field(description="the bus to keep intelligible (e.g. dialogue)")
    max_depth_db: float = Field(9.0, ge=0.0, le=24.0, allow_inf_nan=False)
    margin_db: float = Field(6.0, ge=-24.0, le=40.0, allow_inf_nan=False,
                             description="how far below the target, per band, this bus should sit")
    floor_db: Level = Field(-60.0, description="a target band quieter than this counts as silent")
    attack_ms: Milliseconds = 20.0
    release_ms: Milliseconds = 300.0


DEPTH = Movable("unmask_depth_db", -24.0, 24.0, "the unmasking cut's max depth", setting="max_depth_db")


class Unmasking(Processor):
    key = "unmask"
    field = (Optional[Unmask], None)
    movables = (DEPTH,)
    readings = (Reading("unmask_cut_db", Optional[dict[str, float]], "unmasking cut per band centre (Hz), dB (<= 0)"),)

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        wanted = {u.target for u in self.specs.values()}
        targets = [name for name in scene.buses if name in wanted]      # file order: the target slots
        self.cut, self.analysis = unmasking.allocate(len(bus_index), len(targets), len(self.specs), sample_rate)
        self.stages = (self.cut, self.analysis)
        for t, name in enumerate(targets):
            self.analysis.slot[bus_index[name]] = t
        for m, (name, u) in enumerate(self.specs.items()):
            self.cut.slot[bus_index[name]] = m
            unmasking.set_masker(self.cut.maskers, m, targets.index(u.target), sample_rate, u.max_depth_db,
                                 u.margin_db, u.floor_db, u.attack_ms, u.release_ms)

    @staticmethod
    def reads(raw):
        unmask = raw.get("unmask")
        return [(("unmask", "target"), unmask.get("target"))] if isinstance(unmask, dict) else []

    def write(self, moved):
        if self.specs:
            has, value = self.given(moved, DEPTH)       # only buses with an unmasking cut have a value
            self.cut.maskers[self.cut.slot[has], unmasking.UP_DEPTH] = np.maximum(value, 0.0)

    def read(self, b):
        cuts = self.cut.cuts[self.cut.slot[b], 0]
        return {"unmask_cut_db": {f"{int(f)}": -round(float(c), 2) for f, c in zip(unmasking.BANDS, cuts)}}
