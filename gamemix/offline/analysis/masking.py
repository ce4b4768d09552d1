"""Masking between buses over time and frequency: which bus masks which, in which bands, when.

The measure is an excitation-pattern comparison on the ERB-number scale, the
representation the partial-loudness model of Moore, Glasberg & Baer (1997),
"A model for the prediction of thresholds, loudness, and partial loudness",
JAES 45(4), computes masking on, and one of the loudness features Wichern,
Wishnick, Lukin & Robertson (2015), "Comparison of loudness features for
automatic level adjustment in mixing", AES 139th Convention, compare.  It is
a simplification of that model, in four steps:

1. Each stem's power per channel, 100 ms step and 1-Cam band (frames.py).
2. Excitation: each band's power spread over its neighbours by the two-slope
   spreading function of Schroeder, Atal & Hall (1979), JASA 66(6) (as in
   Johnston 1988): SF(dz) = 15.81 + 7.5 (dz + 0.474) - 17.5 sqrt(1 + (dz + 0.474)^2) dB,
   dz the distance in bands (Cam here, Bark there), about +25 dB/band below a
   masker and -10 dB/band above it (the upward spread of masking).
3. A *target* cell (channel, step, band) is present when the target bus's own
   power there is within PRESENT_RANGE_DB of its strongest cell in that step,
   and the step is active (the bus above ACTIVE_DB).  It is *masked* by a
   masker bus when the masker's excitation there is at least the target's
   (target-to-masker ratio < TMR_DB = 0 dB): the masker dominates that
   auditory filter.
4. Cells count by their loudness, E^0.2 (the compressive exponent of specific
   loudness in Moore, Glasberg & Baer 1997), so a masked quiet band weighs
   less than a masked loud one.  The target is masked in a step when at least
   half its loudness-weighted cells are; a report (octave) band is masked in a
   step when at least half of the target's weight in that band is.  Percentages
   are of the target's active steps, counted over time–frequency cells in the
   manner of Vega & Janer (2010), "Quantifying masking in multi-track
   recordings", SMC.

What it leaves out of the 1997 model: the outer- and middle-ear transfer, the
absolute threshold (levels are relative to full scale), level-dependent
filter slopes, and the partial loudness itself (a masked cell is counted,
not reduced to its partial loudness).  Channels are compared one by one (a
masker panned hard left does not mask a target hard right).
"""

from __future__ import annotations

import numpy as np

from gamemix.offline.analysis.frames import OCTAVE_EDGES, db, octave_label, octave_of, rounded

TMR_DB = 0.0                # the target is masked where the masker's excitation reaches its own
PRESENT_RANGE_DB = 30.0     # a target cell counts within this of its strongest cell in the step
ACTIVE_DB = -60.0           # a bus is active in a step when its power (all channels) is above this, dBFS
LOUDNESS_EXPONENT = 0.2     # specific loudness ~ E^0.2 (Moore, Glasberg & Baer 1997)
MASKED_SHARE = 0.5          # masked when at least half the weighted cells are


def spreading_matrix(n_bands: int) -> np.ndarray:
    """S[j, k]: the share of band j's power that excites band k (Schroeder, Atal & Hall 1979)."""
    dz = np.arange(n_bands)[None, :] - np.arange(n_bands)[:, None]        # maskee minus masker, in bands
    sf_db = 15.81 + 7.5 * (dz + 0.474) - 17.5 * np.sqrt(1.0 + (dz + 0.474) ** 2)
    return 10.0 ** (sf_db / 10.0)


def excitation(power: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Excitation pattern of (channels, steps, bands) powers."""
    return power @ spread


def active_steps(power: np.ndarray) -> np.ndarray:
    """Steps in which a bus sounds: its power over channels and bands above ACTIVE_DB."""
    return db(power.sum(axis=(0, 2))) > ACTIVE_DB


def cell_weights(power: np.ndarray) -> np.ndarray:
    """Loudness weight of each present target cell (0 where absent), shape (channels, steps, bands)."""
    peak = power.max(axis=(0, 2), keepdims=True)
    present = (power > 0) & (power >= peak * 10.0 ** (-PRESENT_RANGE_DB / 10.0))
    return np.where(present, power, 0.0) ** LOUDNESS_EXPONENT * present


def masked_cells(target_exc: np.ndarray, masker_exc: np.ndarray) -> np.ndarray:
    """Where the masker's excitation reaches the target's (TMR below TMR_DB)."""
    return masker_exc * 10.0 ** (TMR_DB / 10.0) >= target_exc


def pair(target_power, target_exc, masker_exc, octave: np.ndarray, n_octaves: int) -> dict:
    """How one masker masks one target: per step (share), per octave band and step (bool), and totals."""
    w = cell_weights(target_power)
    hit = masked_cells(target_exc, masker_exc)
    masked_w = (w * hit).sum(axis=0)                  # (steps, bands), channels summed
    all_w = w.sum(axis=0)
    per_band_masked = np.zeros((all_w.shape[0], n_octaves))
    per_band_all = np.zeros_like(per_band_masked)
    for k in range(all_w.shape[1]):
        per_band_masked[:, octave[k]] += masked_w[:, k]
        per_band_all[:, octave[k]] += all_w[:, k]
    total = all_w.sum(axis=1)
    share = np.divide(masked_w.sum(axis=1), total, out=np.zeros_like(total), where=total > 0)
    band_masked = (per_band_all > 0) & (per_band_masked >= MASKED_SHARE * per_band_all)
    return {"share": share, "band_masked": band_masked}


def analyse(powers: dict[str, np.ndarray], centres_hz: np.ndarray, buses: list[str]) -> dict:
    """The masking section of the analysis JSON for these buses' band powers (channels, steps, bands)."""
    octave = octave_of(centres_hz)
    n_oct = len(OCTAVE_EDGES) - 1
    used = sorted(set(int(o) for o in octave))
    spread = spreading_matrix(len(centres_hz))
    exc = {b: excitation(powers[b], spread) for b in buses}
    active = {b: active_steps(powers[b]) for b in buses}
    pairs = []
    for target in buses:
        n_active = int(active[target].sum())
        for masker in buses:
            if masker == target:
                continue
            r = pair(powers[target], exc[target], exc[masker], octave, n_oct)
            on = active[target] & active[masker]
            share = np.where(active[target], r["share"], 0.0)
            masked_steps = on & (share >= MASKED_SHARE)
            band_pct = [rounded(100.0 * (r["band_masked"][:, o] & on).sum() / n_active, 1) if n_active else 0.0
                        for o in used]
            pairs.append({"masker": masker, "target": target,
                          "masked_percent": rounded(100.0 * masked_steps.sum() / n_active, 1) if n_active else 0.0,
                          "by_band_percent": band_pct,
                          "timeline": [rounded(s, 3) if a else None for s, a in zip(share, active[target])],
                          "band_timeline": [[int(v) for v in r["band_masked"][:, o] & on] for o in used]})
    return {"measure": "ERB-band excitation, target-to-masker ratio < 0 dB (Moore, Glasberg & Baer 1997; "
                       "Schroeder, Atal & Hall 1979 spreading; Vega & Janer 2010 counting)",
            "tmr_db": TMR_DB, "present_range_db": PRESENT_RANGE_DB, "active_dbfs": ACTIVE_DB,
            "bands": [{"lo_hz": OCTAVE_EDGES[o], "hi_hz": OCTAVE_EDGES[o + 1], "label": octave_label(o)}
                      for o in used],
            "erb_centres_hz": [rounded(c, 1) for c in centres_hz],
            "active_percent": {b: rounded(100.0 * active[b].mean(), 1) if len(active[b]) else 0.0 for b in buses},
            "pairs": pairs}


def matrix(section: dict, buses: list[str]) -> np.ndarray:
    """masked_percent as a (masker, target) matrix, NaN on the diagonal."""
    index = {b: i for i, b in enumerate(buses)}
    m = np.full((len(buses), len(buses)), np.nan)
    for p in section["pairs"]:
        m[index[p["masker"]], index[p["target"]]] = p["masked_percent"]
    return m
