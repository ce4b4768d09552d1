"""Registry entry: loudness management, a slow bounded gain towards a target (kernels: core/dsp/leveler.py)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from gamemix.core.dsp import leveler
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.scene.fields import Strict


class LoudnessTarget(Strict):
    """Slow, bounded gain that holds a bus at a loudness target (see docs/scene-format.md)."""

    target_lufs: float = Field(-24.0, ge=-70.0, le=0.0, allow_inf_nan=False)
    measure: Literal["integrated", "short_term", "momentary"] = "integrated"
    tolerance_lu: float = Field(1.0, ge=0.0, le=20.0, allow_inf_nan=False,
                                description="within this of the target the gain holds still")
    max_boost_db: float = Field(6.0, ge=0.0, le=40.0, allow_inf_nan=False)
    max_cut_db: float = Field(12.0, ge=0.0, le=60.0, allow_inf_nan=False)
    max_slew_db_per_s: float = Field(1.0, gt=0.0, le=100.0, allow_inf_nan=False)


TARGET = Movable("loudness_target_lufs", -70.0, 70.0, "the loudness target", setting="target_lufs")


class Loudness(Processor):
    key = "loudness"
    field = (Optional[LoudnessTarget], None)
    movables = (TARGET,)
    readings = (Reading("loudness_gain_db", Optional[float], "gain the loudness target applies, dB"),)

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = leveler.allocate(len(bus_index), len(self.specs), channels, sample_rate)
        self.stages = (self.state,)
        self.slot = {}
        for slot, (name, lt) in enumerate(self.specs.items()):
            self.slot[name] = slot
            self.state.slot[bus_index[name]] = slot
            leveler.set_target(self.state.params, bus_index[name], slot, sample_rate, lt.target_lufs, lt.measure,
                               lt.tolerance_lu, lt.max_boost_db, lt.max_cut_db, lt.max_slew_db_per_s)

    def write(self, moved):
        if self.specs:
            has, value = self.given(moved, TARGET)
            self.state.params[has, leveler.LV_TARGET] = value

    def read(self, b):
        return {"loudness_gain_db": round(float(self.state.params[b, leveler.LV_GAIN]), 2)}

    def adopt(self, old):
        for name, b in self.bus_index.items():
            ob = old.bus_index.get(name)
            if ob is not None:
                self.state.params[b, leveler.LV_GAIN] = old.state.params[ob, leveler.LV_GAIN]

    def reset_meters(self, b):
        if b is None:
            self.state.meter.flags[:] = 1
            return
        name = next((n for n, i in self.bus_index.items() if i == b), None)
        if name in self.slot:
            self.state.meter.flags[self.slot[name]] = 1

