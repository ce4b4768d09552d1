"""Registry entry: AR mode's gains on the bus tree, configured by the scene's `microphone` section
(kernels: core/dsp/mic.py, the mic into its bus; core/dsp/adaptive.py, ambient boost and speech duck).

Unlike the other processors it has no field of its own on `Bus`: the
`microphone` section names the buses it acts on (its bus, the buses that
follow the ambience, the buses that duck under speech), so `specs` is built
from that section.  What snapshots and mappings may move (hear-through level,
margin, max boost, duck depth) and what it reports per bus (boost, duck)
follow from the registry like any processor's.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from gamemix.core.dsp import adaptive, mic
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.units import db_to_gain

HEAR_THROUGH = Movable("hear_through_db", -144.0, 24.0, "the microphone's level into its bus (the mic bus only)")
MARGIN = Movable("ambient_margin_db", -40.0, 40.0, "LU a following bus keeps over the ambient noise")
MAX_BOOST = Movable("ambient_max_boost_db", -24.0, 24.0, "the most a following bus is raised (>= 0 applies)")
DEPTH = Movable("speech_duck_depth_db", -60.0, 60.0, "a ducking bus's depth under speech (<= 0 applies)")


def bus_level(scene, bus: str, follow) -> float:
    """A following bus's loudness in the mix: its own `level_lufs`, else its loudness target
    (scene/checks.py makes sure one of them is there)."""
    if follow.level_lufs is not None:
        return follow.level_lufs
    return scene.buses[bus].loudness.target_lufs


class Microphone(Processor):
    key = "microphone"
    field = None            # configured by the scene's `microphone` section, not by a field of Bus
    movables = (HEAR_THROUGH, MARGIN, MAX_BOOST, DEPTH)
    readings = (Reading("ambient_boost_db", Optional[float], "the ambient-adaptive boost now, dB (>= 0)"),
                Reading("speech_duck_db", Optional[float], "the speech duck now, dB (<= 0)"))

    def __init__(self, scene, bus_index, channels, sample_rate):
        self.scene, self.bus_index, self.channels, self.sample_rate = scene, bus_index, channels, sample_rate
        spec = getattr(scene, "microphone", None)
        self.spec = spec
        block = scene.output.block_size
        self.mic = mic.allocate(len(bus_index), block, channels)
        self.adaptive = adaptive.allocate(len(bus_index))
        self.stages = (self.mic, self.adaptive)
        self.specs = {}
        if spec is None:
            return
        self.mic_bus = bus_index[spec.bus]
        self.mic.slot[self.mic_bus] = 0
        mic.set_input(self.mic.params, spec.channels, 0)
        self.specs[spec.bus] = spec
        for name, f in spec.follow.items():
            b = bus_index[name]
            self.adaptive.slot[b] = 0
            self.adaptive.params[b, adaptive.AD_LEVEL] = bus_level(scene, name, f)
            adaptive.set_follow(self.adaptive.params, b, f.attack_s, f.release_s, block, sample_rate)
            self.specs.setdefault(name, f)
        for name, d in spec.duck.items():
            b = bus_index[name]
            self.adaptive.slot[b] = 0
            adaptive.set_duck(self.adaptive.params, b, d.attack_ms, d.hold_ms, d.release_ms, block, sample_rate)
            self.specs.setdefault(name, d)

    def base(self, moved):
        spec = self.spec
        if spec is None:
            return
        moved[HEAR_THROUGH.name][self.mic_bus, 0] = (spec.hear_through_db if spec.hear_through_db is not None
                                                     else -144.0)
        for name, f in spec.follow.items():
            moved[MARGIN.name][self.bus_index[name], 0] = f.margin_db
            moved[MAX_BOOST.name][self.bus_index[name], 0] = f.max_boost_db
        for name, d in spec.duck.items():
            moved[DEPTH.name][self.bus_index[name], 0] = d.depth_db

    def write(self, moved):
        if self.spec is None:
            return
        level = moved[HEAR_THROUGH.name][self.mic_bus, 0]
        self.mic.params[mic.MC_TARGET] = db_to_gain(float(level)) if np.isfinite(level) else 0.0
        params = self.adaptive.params
        for m, field, sign in ((MARGIN, adaptive.AD_MARGIN, 1.0), (MAX_BOOST, adaptive.AD_MAX_BOOST, 1.0),
                               (DEPTH, adaptive.AD_DEPTH, -1.0)):
            has, values = self.given(moved, m)
            params[has, field] = np.maximum(sign * values, 0.0) if field != adaptive.AD_MARGIN else values

    def start(self, moved):
        self.write(moved)
        self.mic.params[mic.MC_GAIN] = self.mic.params[mic.MC_TARGET]

    def read(self, b):
        if self.adaptive.slot[b] < 0:
            return {}
        p = self.adaptive.params[b]
        out = {}
        if p[adaptive.AD_FOLLOW]:
            out["ambient_boost_db"] = round(float(p[adaptive.AD_BOOST_DB]), 2)
        if p[adaptive.AD_DUCK]:
            out["speech_duck_db"] = -round(float(p[adaptive.AD_DUCK_DB]), 2)
        return out

    def adopt(self, old):
        """Boosts, ducks and the hear-through's gain and delay line go on where the buses still exist."""
        for name, b in self.bus_index.items():
            ob = old.bus_index.get(name)
            if ob is None or self.adaptive.slot[b] < 0 or old.adaptive.slot[ob] < 0:
                continue
            for f in (adaptive.AD_BOOST_DB, adaptive.AD_DUCK_DB, adaptive.AD_HOLD_LEFT, adaptive.AD_GAIN):
                self.adaptive.params[b, f] = old.adaptive.params[ob, f]
        self.adaptive.inputs[:] = old.adaptive.inputs
        if self.spec is not None and old.spec is not None and old.spec.bus == self.spec.bus:
            self.mic.params[mic.MC_GAIN] = old.mic.params[mic.MC_GAIN]
            self.mic.params[mic.MC_WRITE] = old.mic.params[mic.MC_WRITE]
            self.mic.line[:] = old.mic.line
