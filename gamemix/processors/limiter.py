"""Registry entry: the master's true-peak limiter (kernels: core/dsp/limiter.py)."""

from __future__ import annotations

from typing import Optional

import numpy as np
from pydantic import Field

from gamemix.core.dsp import limiter
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.scene.fields import Milliseconds, Strict


class LimiterSettings(Strict):
    """True-peak look-ahead limiter (master only)."""

    ceiling_dbtp: float = Field(-1.0, ge=-24.0, le=0.0, allow_inf_nan=False)
    lookahead_ms: float = Field(1.5, ge=0.1, le=5.0, allow_inf_nan=False)
    release_ms: Milliseconds = 50.0


CEILING = Movable("limiter_ceiling_dbtp", -24.0, 24.0, "the limiter's ceiling (held at or below 0 dBTP)",
                  setting="ceiling_dbtp")


class Limiter(Processor):
    key = "limiter"
    field = (Optional[LimiterSettings], Field(None, description="master only"))
    movables = (CEILING,)
    readings = (Reading("limiter_gr_db", Optional[float], "largest limiter gain change in the last block, dB (<= 0)"),)

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = limiter.allocate(len(bus_index), channels, sample_rate)
        self.stages = (self.state,)
        self.master = bus_index["master"]
        self.state.slot[self.master] = 0
        for lm in self.specs.values():
            limiter.set_limiter(self.state.params, self.state.env, sample_rate, lm.ceiling_dbtp, lm.lookahead_ms,
                                lm.release_ms)

    @classmethod
    def check(cls, doc, name, raw, graph=None):
        if raw.get("limiter") is not None and name != "master":
            return [doc.problem(("buses", name, "limiter"), "only master has a limiter")]
        return []

    def write(self, moved):
        ceiling = moved[CEILING.name][self.master, 0]
        if np.isfinite(ceiling) and ceiling != self.state.params[limiter.LM_CEILING_DB]:
            limiter.set_ceiling(self.state.params, min(ceiling, 0.0))

    def read(self, b):
        g = float(self.state.params[limiter.LM_MIN_GAIN])
        return {"limiter_gr_db": round(20.0 * np.log10(g), 2) if g > 0 else None}
