"""Loudness over time per bus: momentary (400 ms) and short-term (3 s) every 100 ms, with the
loudness range and true peak of the whole stem.

The stems go through the engine's own BS.1770-4 meter kernel (core/dsp/bs1770.py),
one 100 ms step at a time, so the curve is what a live bus meter would have shown
at each step (ITU-R BS.1770-4; EBU R128 / Tech 3341 momentary and short-term;
loudness range after EBU Tech 3342; true peak 4x oversampled).  Step t's
reading is at its end, 0.1 (t + 1) s.  Readings under the -70 LUFS absolute
gate are silence (None).
"""

from __future__ import annotations

import numpy as np

from gamemix.core.dsp import bs1770
from gamemix.offline.analysis.frames import STEP_S, rounded


def measure(stem: np.ndarray, sample_rate: int) -> dict:
    """{'momentary': [...], 'short_term': [...], 'energy': [...] , whole-stem readings} for one stem.

    `energy` is each step's K-weighted mean-square energy (BS.1770 eq. 1, the
    channel-weighted sum) before any gate: the models of `recommend` and the
    balance figures add and average these."""
    x = np.ascontiguousarray(np.asarray(stem, dtype=np.float32).T)
    channels, frames = x.shape
    bank = bs1770.allocate(1, channels, sample_rate)
    hop = int(round(STEP_S * sample_rate))
    n = frames // hop
    momentary, short_term, energy = [], [], np.zeros(n)
    for t in range(n):
        bs1770.meter_block(0, np.ascontiguousarray(x[:, t * hop:(t + 1) * hop]), hop, bank)
        energy[t] = bank.ring[0, (int(bank.acc[0, bs1770.AC_STEPS]) - 1) % bs1770.RING]   # the step just closed
        r = bs1770.read(bank, 0)
        momentary.append(r["momentary_lufs"])
        short_term.append(r["short_term_lufs"])
    whole = bs1770.read(bank, 0)
    return {"momentary": momentary, "short_term": short_term, "energy": energy,
            "integrated_lufs": whole["integrated_lufs"], "lra_lu": rounded(whole["lra_lu"]),
            "true_peak_dbtp": whole["true_peak_dbtp"], "max_momentary_lufs": whole["max_momentary_lufs"],
            "max_short_term_lufs": whole["max_short_term_lufs"]}
