"""Where each bus sits in the stereo field, band by band: the pan/frequency map of MixViz
(Ford, De Man, Fazekas & Reiss 2015, "Automatic mixing visualization: MixViz", Web Audio
Conference), which draws each track as energy over frequency and stereo position.

For each bus and ERB band, the left and right powers averaged over the steps
where the bus sounds give a pan position by the inverse of the mixer's
constant-power law (docs/scene-format.md, spatial): theta = atan2(sqrt(R), sqrt(L)),
pan = 4 theta / pi - 1, so a source the mixer panned to p reads p.  `spread`
is the energy-weighted standard deviation of the per-step pan about it: a
source that moves, or many voices across the field, spread wide.
"""

from __future__ import annotations

import numpy as np

from gamemix.offline.analysis.frames import db, rounded
from gamemix.offline.analysis.masking import active_steps


def pan_of(left, right):
    """Pan position in [-1, 1] of left/right powers (constant-power law); 0 where both are 0."""
    left, right = np.asarray(left, float), np.asarray(right, float)
    theta = np.arctan2(np.sqrt(right), np.sqrt(left))
    return np.where(left + right > 0, 4.0 * theta / np.pi - 1.0, 0.0)


def bus_map(power: np.ndarray, centres_hz: np.ndarray) -> list[dict]:
    """One entry per ERB band: centre, level (dBFS, both channels), pan and spread."""
    if power.shape[0] != 2:
        return [{"hz": rounded(f, 1), "level_db": rounded(db(power[:, :, k].sum(axis=0).mean()), 1),
                 "pan": 0.0, "spread": 0.0} for k, f in enumerate(centres_hz)]
    on = active_steps(power)
    if not on.any():
        return []
    left, right = power[0, on], power[1, on]                      # (steps, bands)
    out = []
    for k, f in enumerate(centres_hz):
        lk, rk = left[:, k], right[:, k]
        total = lk + rk
        if total.sum() <= 0:
            continue
        pan = float(pan_of(lk.mean(), rk.mean()))
        per_step = pan_of(lk, rk)
        spread = float(np.sqrt(np.sum(total * (per_step - pan) ** 2) / total.sum()))
        out.append({"hz": rounded(f, 1), "level_db": rounded(db(total.mean()), 1),
                    "pan": rounded(pan, 3), "spread": rounded(spread, 3)})
    return out


def analyse(powers: dict[str, np.ndarray], centres_hz: np.ndarray) -> dict:
    return {bus: bus_map(p, centres_hz) for bus, p in powers.items()}
