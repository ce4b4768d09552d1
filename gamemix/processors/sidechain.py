"""Registry entry: sidechain ducking, a bus attenuated by other buses' signals (kernels: core/dsp/sidechain.py)."""

from __future__ import annotations

from typing import Optional

import numpy as np
from pydantic import Field, field_validator

from gamemix.core.dsp import sidechain
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.scene.fields import Hertz, Level, Milliseconds, Strict


class SidechainKey(Strict):
    """Duck this bus by the measured signal of another bus (the key)."""

    key: str = Field(description="the bus whose signal drives the duck")
    threshold_db: Level = Field(-40.0, description="key RMS level (dBFS, 10 ms) above which ducking starts")
    depth_db: Optional[float] = Field(-9.0, ge=-60.0, le=0.0, allow_inf_nan=False,
                                      description="fixed depth while the key is above threshold (null: use ratio)")
    ratio: Optional[float] = Field(None, gt=1.0, le=100.0, allow_inf_nan=False,
                                   description="instead of a fixed depth: attenuate (over - over/ratio) dB")
    range_db: float = Field(24.0, ge=0.0, le=60.0, allow_inf_nan=False, description="deepest attenuation in ratio mode")
    attack_ms: Milliseconds = 30.0
    hold_ms: Milliseconds = 200.0
    release_ms: Milliseconds = 600.0
    key_band_hz: Optional[tuple[Hertz, Hertz]] = Field(
        None, description="[low, high]: only this band of the key drives the duck (e.g. speech 300-4000)")

    @field_validator("key_band_hz")
    @classmethod
    def _band_ordered(cls, band):
        if band is not None and band[0] >= band[1]:
            raise ValueError("a band is [low, high] with low < high")
        return band


DEPTH = Movable("sidechain_depth_db", -60.0, 60.0, "depth of each of the bus's fixed-depth sidechain keys", per="key")


class Sidechain(Processor):
    key = "sidechain"
    field = (list[SidechainKey], Field(default_factory=list, max_length=sidechain.MAX_KEYS,
                                       description="signal-driven ducking; several keys: the deepest wins"))
    movables = (DEPTH,)
    readings = (Reading("sidechain_db", Optional[float], "sidechain duck at the end of the last block, dB (<= 0)"),)

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = sidechain.allocate(len(bus_index))
        self.stages = (self.state,)
        self.fixed = any(k.ratio is None for keys in self.specs.values() for k in keys)
        for name, keys in self.specs.items():
            self.state.slot[bus_index[name]] = 0
            for k, key in enumerate(keys):
                sidechain.set_key(self.state.keys, bus_index[name], k, bus_index[key.key], sample_rate,
                                  key.threshold_db, key.depth_db, key.ratio, key.range_db, key.attack_ms,
                                  key.hold_ms, key.release_ms, key.key_band_hz)

    @staticmethod
    def reads(raw):
        keys = raw.get("sidechain")
        return [(("sidechain", i, "key"), key.get("key"))
                for i, key in enumerate(keys if isinstance(keys, list) else []) if isinstance(key, dict)]

    def width(self, movable):
        return sidechain.MAX_KEYS

    def base(self, moved):
        for name, keys in self.specs.items():
            for k, key in enumerate(keys):
                if key.ratio is None and key.depth_db is not None:
                    moved[DEPTH.name][self.bus_index[name], k] = key.depth_db

    def write(self, moved):
        if not self.fixed:
            return
        depth = moved[DEPTH.name]
        fixed = np.isfinite(depth)
        self.state.keys[:, :, sidechain.SC_DEPTH][fixed] = np.maximum(0.0, -depth[fixed])

    def read(self, b):
        return {"sidechain_db": -round(float(self.state.duck[b]), 2)}
