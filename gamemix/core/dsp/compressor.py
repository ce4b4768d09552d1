"""HOT PATH.  Per-bus compressor: feed-forward, log domain, soft knee.

After Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor
Design - A Tutorial and Analysis" (JAES 60(6), 2012), the design the paper
recommends: the level of the stereo-linked input (largest |x| over the
channels) in dB goes through the static gain computer (threshold T, ratio R,
knee width W, eq. 4); the gain reduction it asks for is smoothed in the log
domain by the "smooth branching" peak detector (eq. 17) with attack and
release time constants (alpha = exp(-1 / (tau fs))); then make-up gain.
Smoothing the gain reduction, not the level, keeps the attack and release
times independent of the threshold and ratio.

Arrays (CompressorStage): params[b, CP_*] float64, the parameters the control
side writes and the detector state the kernel keeps.  A make-up change ramps
across a block.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.units import LN10_20

CP_ENABLED = 0
CP_THRESHOLD = 1     # dB
CP_RATIO = 2
CP_KNEE = 3          # dB, total knee width
CP_ATTACK = 4        # smoothing coefficients
CP_RELEASE = 5
CP_MAKEUP = 6        # dB, target
CP_MAKEUP_NOW = 7    # state: make-up applied at the end of the last block
CP_REDUCTION = 8     # state: smoothed gain reduction, dB >= 0
CP_MAX_REDUCTION = 9  # out: largest reduction in the last block, dB
CP_NFIELDS = 10



class CompressorStage(NamedTuple):
    """Every bus's compressor: params (buses, CP_NFIELDS); CP_ENABLED = 0 where a bus has none."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    params: np.ndarray


def allocate(n_buses: int) -> CompressorStage:
    """Compressors for n_buses buses, on none yet (set_compressor and the slot put one on a bus)."""
    return CompressorStage(np.full(n_buses, -1, dtype=np.int64), np.zeros((n_buses, CP_NFIELDS)))


def set_compressor(comp: np.ndarray, b: int, sample_rate: float, threshold_db: float, ratio: float,
                   knee_db: float, attack_ms: float, release_ms: float, makeup_db: float) -> None:
    """Control side: configure bus b's compressor (its detector state is kept)."""
    row = comp[b]
    row[CP_ENABLED] = 1.0
    row[CP_THRESHOLD] = threshold_db
    row[CP_RATIO] = ratio
    row[CP_KNEE] = knee_db
    row[CP_ATTACK] = math.exp(-1.0 / (attack_ms * 1e-3 * sample_rate)) if attack_ms > 0 else 0.0
    row[CP_RELEASE] = math.exp(-1.0 / (release_ms * 1e-3 * sample_rate)) if release_ms > 0 else 0.0
    row[CP_MAKEUP] = makeup_db


@njit(cache=True, nogil=True)
def gain_computer_db(x_db, threshold_db, ratio, knee_db):
    """The static curve: output level (dB) for an input level x_db (Giannoulis et al. eq. 4)."""
    over = x_db - threshold_db
    if 2.0 * over < -knee_db:
        return x_db
    if 2.0 * abs(over) <= knee_db and knee_db > 0.0:
        d = over + knee_db / 2.0
        return x_db + (1.0 / ratio - 1.0) * d * d / (2.0 * knee_db)
    return threshold_db + over / ratio


@njit(cache=True, nogil=True)
def compress_block(b, bus_buf, n, channels, comp, ramp):
    """Compress bus b in place over the first n samples."""
    row = comp[b]
    if row[CP_ENABLED] == 0.0:
        return
    t, r, w = row[CP_THRESHOLD], row[CP_RATIO], row[CP_KNEE]
    aa, ar = row[CP_ATTACK], row[CP_RELEASE]
    y = row[CP_REDUCTION]
    m0 = row[CP_MAKEUP_NOW]
    dm = row[CP_MAKEUP] - m0
    worst = 0.0
    # under the knee the curve is the identity and asks for no reduction: a peak further than 1e-9
    # (relative) below the knee's start is known to be there without its log10 (whose rounding is
    # ~1e-13 dB against a margin of 8.7e-9 dB)
    quiet = 10.0 ** ((t - w / 2.0) / 20.0) * (1.0 - 1e-9)
    for i in range(n):
        peak = 0.0
        for c in range(channels):
            a = abs(bus_buf[b, c, i])
            if a > peak:
                peak = a
        if 1e-10 < peak < quiet:
            want = 0.0
        else:
            x_db = 20.0 * math.log10(peak) if peak > 1e-10 else -200.0
            want = x_db - gain_computer_db(x_db, t, r, w)
        if want > y:
            y = aa * y + (1.0 - aa) * want
        else:
            y = ar * y + (1.0 - ar) * want
        if not math.isfinite(y):
            y = 0.0
        worst = max(worst, y)
        g = math.exp((m0 + dm * ramp[i] - y) * LN10_20)
        for c in range(channels):
            bus_buf[b, c, i] *= g
    row[CP_REDUCTION] = y
    row[CP_MAKEUP_NOW] = row[CP_MAKEUP]
    row[CP_MAX_REDUCTION] = worst


@njit(cache=True, nogil=True, inline="always")
def compressor_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's compressor stage (core/chain.py)."""
    compress_block(b, bus_buf, n, channels, st.params, ramp)


chain.register(CompressorStage, compressor_stage, chain.COMPRESSOR)
