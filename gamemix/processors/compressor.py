"""Registry entry: the per-bus compressor (kernels: core/dsp/compressor.py)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from gamemix.core.dsp import compressor
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.scene.fields import Level, Milliseconds, Strict


class CompressorSettings(Strict):
    """Feed-forward log-domain compressor with soft knee (Giannoulis, Massberg & Reiss 2012)."""

    threshold_db: Level = -18.0
    ratio: float = Field(4.0, ge=1.0, le=100.0, allow_inf_nan=False)
    knee_db: float = Field(6.0, ge=0.0, le=48.0, allow_inf_nan=False)
    attack_ms: Milliseconds = 10.0
    release_ms: Milliseconds = 150.0
    makeup_db: float = Field(0.0, ge=-24.0, le=24.0, allow_inf_nan=False)


THRESHOLD = Movable("compressor_threshold_db", -120.0, 24.0, "the compressor's threshold", setting="threshold_db")


class Compressor(Processor):
    key = "compressor"
    field = (Optional[CompressorSettings], None)
    movables = (THRESHOLD,)
    readings = (Reading("compressor_gr_db", Optional[float],
                        "largest compressor gain change in the last block, dB (<= 0)"),)

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = compressor.allocate(len(bus_index))
        self.stages = (self.state,)
        for name, c in self.specs.items():
            self.state.slot[bus_index[name]] = 0
            compressor.set_compressor(self.state.params, bus_index[name], sample_rate, c.threshold_db, c.ratio,
                                      c.knee_db, c.attack_ms, c.release_ms, c.makeup_db)

    def write(self, moved):
        if self.specs:
            has, value = self.given(moved, THRESHOLD)
            self.state.params[has, compressor.CP_THRESHOLD] = value

    def read(self, b):
        return {"compressor_gr_db": -round(float(self.state.params[b, compressor.CP_MAX_REDUCTION]), 2)}

    def adopt(self, old):
        for name, b in self.bus_index.items():
            ob = old.bus_index.get(name)
            if ob is not None:
                self.state.params[b, compressor.CP_REDUCTION] = old.state.params[ob, compressor.CP_REDUCTION]
