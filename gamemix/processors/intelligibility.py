"""Registry entry: intelligibility targets, a bus kept a margin above the sum of the others
(kernels: core/dsp/intelligibility.py)."""

from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import Field, field_validator

from gamemix.core.dsp import intelligibility
from gamemix.processors.base import Movable, Processor, Reading
from gamemix.scene.fields import Hertz, Milliseconds, Strict


class IntelligibilityTarget(Strict):
    """While this bus speaks, the buses it is measured against go down together until it sits
    `margin_lu` above their sum (see docs/scene-format.md)."""

    margin_lu: float = Field(10.0, ge=0.0, le=40.0, allow_inf_nan=False,
                             description="how far above the sum of the others this bus must sit, LU")
    against: Optional[list[str]] = Field(None, max_length=64,
                                         description="the buses measured and cut (default: every other branch)")
    headroom_lu: float = Field(1.0, ge=0.0, le=10.0, allow_inf_nan=False,
                               description="how far above the margin the rule aims, so the margin is a floor")
    max_cut_db: float = Field(18.0, ge=0.0, le=60.0, allow_inf_nan=False, description="the deepest cut")
    attack_ms: Milliseconds = 30.0
    release_ms: Milliseconds = 800.0
    hold_ms: Milliseconds = Field(400.0, description="the cut holds this long after the bus falls silent")
    speaking_lufs: float = Field(-50.0, ge=-70.0, le=0.0, allow_inf_nan=False,
                                 description="the bus speaks while its loudness is above this")
    window_ms: float = Field(400.0, ge=10.0, le=3000.0, allow_inf_nan=False,
                             description="the level detectors' time constant")
    band_hz: tuple[Hertz, Hertz] = Field((300.0, 4000.0), description="the speech band, [low, high] Hz")
    weighting: Literal["both", "loudness", "speech_band"] = Field(
        "both", description="which levels the margin is held in: both (the larger shortfall), loudness or speech_band")

    @field_validator("band_hz")
    @classmethod
    def _band_ordered(cls, band):
        if band[0] >= band[1]:
            raise ValueError("a band is [low, high] with low < high")
        return band


MARGIN = Movable("intelligibility_margin_lu", -40.0, 40.0, "the intelligibility margin", setting="margin_lu")


def default_against(parent_of: dict[str, str | None], name: str) -> list[str]:
    """Every other branch of the mix: the children of each of `name`'s ancestors that are not on
    its own path (so each sound outside `name` is counted once, through its top-most branch)."""
    path, b = [], name
    while b is not None and b not in path:
        path.append(b)
        b = parent_of.get(b)
    above = set(path[1:])
    return [bus for bus, parent in parent_of.items() if parent in above and bus not in path]


class Intelligibility(Processor):
    key = "intelligibility"
    field = (Optional[IntelligibilityTarget], None)
    movables = (MARGIN,)
    readings = (Reading("intelligibility_margin_lu", Optional[float],
                        "the margin heard: this bus over the sum of the others after the cut, LU (null while silent)"),
                Reading("intelligibility_cut_db", Optional[float], "the cut the others get, dB (<= 0)"))

    def __init__(self, scene, bus_index, channels, sample_rate):
        super().__init__(scene, bus_index, channels, sample_rate)
        self.state = intelligibility.allocate(len(bus_index), len(self.specs), channels, sample_rate,
                                              scene.output.block_size)
        self.stages = (self.state,)
        parent_of = {bus: (None if bus == "master" else scene.bus_parent(bus)) for bus in scene.buses}
        self.rule, self.against_of = {}, {}
        for r, (name, spec) in enumerate(self.specs.items()):
            self.rule[name] = r
            against = spec.against if spec.against is not None else default_against(parent_of, name)
            self.against_of[name] = list(against)
            intelligibility.set_rule(self.state, r, bus_index[name], [bus_index[a] for a in against], sample_rate,
                                     spec.margin_lu, spec.max_cut_db, spec.attack_ms, spec.release_ms,
                                     spec.hold_ms, spec.speaking_lufs, spec.window_ms, spec.band_hz,
                                     spec.headroom_lu, spec.weighting)

    @classmethod
    def check(cls, doc, name, raw, graph=None):
        spec = raw.get("intelligibility")
        against = spec.get("against") if isinstance(spec, dict) else None
        if graph is None or not isinstance(against, list):
            return []
        problems, named = [], [a for a in against if isinstance(a, str) and a in graph.index]
        for i, other in enumerate(against):
            where = ("buses", name, "intelligibility", "against", i)
            if not isinstance(other, str):
                continue
            if other not in graph.index:
                problems.append(doc.problem(where, f"unknown bus {other!r}"))
            elif graph.sums_into(name, other) or graph.sums_into(other, name):
                problems.append(doc.problem(where, f"{other!r} is {name!r}, contains it or is part of it: "
                                                   "cutting it would cut the protected bus itself"))
            elif any(o != other and graph.sums_into(other, o) for o in named):
                inside = next(o for o in named if o != other and graph.sums_into(other, o))
                problems.append(doc.problem(where, f"{other!r} sums into {inside!r}, also listed: it would be "
                                                   "counted twice"))
        return problems

    def write(self, moved):
        if self.specs:
            for name, r in self.rule.items():
                value = moved[MARGIN.name][self.bus_index[name], 0]
                if math.isfinite(value):
                    self.state.rules[r, intelligibility.PR_MARGIN] = max(0.0, value)

    def read(self, b):
        row = self.state.rules[next(r for n, r in self.rule.items() if self.bus_index[n] == b)]
        margin = row[intelligibility.PR_MARGIN_NOW]
        return {"intelligibility_margin_lu": round(float(margin), 2) if math.isfinite(margin) else None,
                "intelligibility_cut_db": -round(float(row[intelligibility.PR_CUT]), 2)}

    def adopt(self, old):
        for name, r in self.rule.items():
            if name in old.rule:
                self.state.rules[r, intelligibility.PR_CUT] = old.state.rules[old.rule[name], intelligibility.PR_CUT]
        for name, b in self.bus_index.items():
            ob = old.bus_index.get(name)
            if ob is not None:
                self.state.applied[b] = old.state.applied[ob]
