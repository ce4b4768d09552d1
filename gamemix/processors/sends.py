"""Registry entry: post-fader sends into other buses, usually reverb returns (kernels: core/dsp/mixing.py)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from gamemix.core.arrays import MAX_SENDS
from gamemix.core.dsp import mixing
from gamemix.processors.base import Movable, Processor
from gamemix.units import FLOOR_DB, db_to_gain_array

LEVEL = Movable("send_db", -144.0, 24.0, "send levels (dB) by the bus they go to; the bus must have that send",
                override="sends", per="send")
MAX_SEND_DB = 24.0


class Sends(Processor):
    key = "sends"
    field = (dict[str, Annotated[float, Field(ge=-144, le=12, allow_inf_nan=False)]],
             Field(default_factory=dict, max_length=MAX_SENDS,
                   description="post-fader send level in dB to other buses (usually reverb returns)"))
    movables = (LEVEL,)

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = mixing.allocate_sends(len(bus_index), MAX_SENDS)
        self.stages = (self.state,)
        self.slots = {name: {target: k for k, target in enumerate(sends)} for name, sends in self.specs.items()}
        for name, sends in self.specs.items():
            self.state.slot[bus_index[name]] = 0
            for k, target in enumerate(sends):
                self.state.bus[bus_index[name], k] = bus_index[target]

    @staticmethod
    def feeds(raw):
        sends = raw.get("sends")
        return [(("sends", target), target) for target in (sends if isinstance(sends, dict) else {})]

    @classmethod
    def columns(cls, movable, raw):
        sends = raw.get("sends")
        return list(sends) if isinstance(sends, dict) else []

    def width(self, movable):
        return MAX_SENDS

    def column(self, movable, bus, name):
        return self.slots[bus][name]

    def base(self, moved):
        sends = moved[LEVEL.name]
        sends[:] = FLOOR_DB
        for name, levels in self.specs.items():
            for k, db in enumerate(levels.values()):
                sends[self.bus_index[name], k] = db

    def start(self, moved) -> None:
        """The scene's send levels as the current gains: the first block does not ramp them up from 0."""
        self.state.gain[:, :, mixing.SG_GAIN] = db_to_gain_array(moved[LEVEL.name])

    def write(self, moved):
        if not self.specs:
            return
        self.state.gain[:, :, mixing.SG_TARGET] = db_to_gain_array(np.minimum(moved[LEVEL.name], MAX_SEND_DB))

    def adopt(self, old):
        for name, b in self.bus_index.items():
            if name not in old.bus_index:
                continue
            ob, before = old.bus_index[name], old.slots.get(name, {})
            for k, target in enumerate(self.slots.get(name, {})):
                if target in before:
                    self.state.gain[b, k, mixing.SG_GAIN] = old.state.gain[ob, before[target], mixing.SG_GAIN]
