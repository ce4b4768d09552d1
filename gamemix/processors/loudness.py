"""Registry entry: loudness management, a slow bounded gain towards a target (kernels: core/dsp/leveler.py)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from gamemix.core.dsp import bs1770, leveler
from gamemix.core.panning.layouts import SPECS
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.scene.fields import Strict


class LoudnessTarget(Strict):
    """Slow, bounded gain that holds a bus at a loudness target (see docs/scene-format.md and
    core/dsp/leveler.py for the control law)."""

    target_lufs: float = Field(-24.0, ge=-70.0, le=0.0, allow_inf_nan=False)
    measure: Literal["short_term", "momentary"] = Field(
        "short_term", description="the window held at the target: short_term (3 s) or momentary (0.4 s)")
    tolerance_lu: float = Field(0.5, ge=0.0, le=20.0, allow_inf_nan=False,
                                description="while the output is within this of the target the gain holds still")
    max_boost_db: float = Field(6.0, ge=0.0, le=40.0, allow_inf_nan=False)
    max_cut_db: float = Field(12.0, ge=0.0, le=60.0, allow_inf_nan=False)
    boost_db_per_s: float = Field(1.0, gt=0.0, le=100.0, allow_inf_nan=False, description="how fast the gain rises")
    cut_db_per_s: float = Field(6.0, gt=0.0, le=100.0, allow_inf_nan=False, description="how fast the gain falls")
    gate_lufs: float = Field(-50.0, ge=-70.0, le=0.0, allow_inf_nan=False,
                             description="below this at the input (silence, a pause) the gain holds")

    @model_validator(mode="before")
    @classmethod
    def _old_spellings(cls, data):
        """Settings that were renamed get an error that names what replaced them."""
        if isinstance(data, dict):
            if "max_slew_db_per_s" in data:
                raise ValueError("`max_slew_db_per_s` was split in two: `boost_db_per_s` (how fast the gain "
                                 "rises, default 1) and `cut_db_per_s` (how fast it falls, default 6)")
            if data.get("measure") == "integrated":
                raise ValueError("`measure: integrated` is no longer offered: loudness since a reset cannot be "
                                 "steered (a quiet intro holds the gain up for the rest of the session); use "
                                 "`measure: short_term` (3 s), which holds the integrated loudness at the target too")
        return data


TARGET = Movable("loudness_target_lufs", -70.0, 70.0, "the loudness target", setting="target_lufs")


class Loudness(Processor):
    key = "loudness"
    field = (Optional[LoudnessTarget], None)
    movables = (TARGET,)
    readings = (Reading("loudness_gain_db", Optional[float], "gain the loudness target applies, dB"),
                Reading("loudness_in_lufs", Optional[float], "the managed window's loudness before that gain"),
                Reading("loudness_out_lufs", Optional[float], "the managed window's loudness after that gain"))

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = leveler.allocate(len(bus_index), len(self.specs), channels, sample_rate,
                                      SPECS[scene.output.channels].weights)
        self.stages = (self.state,)
        self.slot = {}
        for slot, (name, lt) in enumerate(self.specs.items()):
            self.slot[name] = slot
            self.state.slot[bus_index[name]] = slot
            leveler.set_target(self.state.params, bus_index[name], slot, sample_rate, lt.target_lufs, lt.measure,
                               lt.tolerance_lu, lt.max_boost_db, lt.max_cut_db, lt.boost_db_per_s,
                               lt.cut_db_per_s, lt.gate_lufs)

    def write(self, moved):
        if self.specs:
            has, value = self.given(moved, TARGET)
            self.state.params[has, leveler.LV_TARGET] = value

    def read(self, b):
        row = self.state.params[b]
        return {"loudness_gain_db": round(float(row[leveler.LV_GAIN]), 2),
                "loudness_in_lufs": _lufs(row[leveler.LV_INPUT]), "loudness_out_lufs": _lufs(row[leveler.LV_OUTPUT])}

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
            self.state.meter.flags[2 * self.slot[name]: 2 * self.slot[name] + 2] = 1



def _lufs(value: float):
    """A loudness reading for a report: None until it exists and below BS.1770's absolute gate
    (silence reads null, never -inf or a figure like -1929 from a filter's decay)."""
    return round(float(value), 2) if value >= bs1770.LOW else None
