"""Registry entry: reverb, which makes a bus an effect return (kernels: core/dsp/reverb.py)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from gamemix.core.dsp import reverb
from gamemix.processors.base import Processor
from gamemix.scene.fields import Strict


class ReverbSettings(Strict):
    """Makes a bus an effect return: its input (children and sends) is replaced by its reverb."""

    decay_s: float = Field(1.5, ge=0.1, le=30.0, allow_inf_nan=False, description="T60 at low frequencies")
    size: float = Field(1.0, ge=0.1, le=3.0, allow_inf_nan=False, description="scales the delay lines (room size)")
    damping: float = Field(0.3, ge=0.0, le=0.95, allow_inf_nan=False, description="0 = bright, higher = highs die sooner")
    predelay_ms: float = Field(10.0, ge=0.0, le=500.0, allow_inf_nan=False)


class Reverb(Processor):
    key = "reverb"
    field = (Optional[ReverbSettings], None)

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = reverb.allocate(len(bus_index), len(self.specs), sample_rate)
        self.stages = (self.state,)
        for r, (name, spec) in enumerate(self.specs.items()):     # file order: the reverb slots
            self.state.slot[bus_index[name]] = r
            reverb.set_reverb(self.state.params, r, sample_rate, spec.decay_s, spec.size, spec.damping,
                              spec.predelay_ms)
