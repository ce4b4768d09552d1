"""HOT PATH.  True-peak look-ahead limiter for the master.

Per input sample: the detector (dsp/truepeak.py, 8x oversampled, so it sees
inter-sample peaks) gives the peak p of the stretch between two samples and
the gain it needs, r = min(1, ceiling / p).  Then, as in most broadcast
limiters:

1. hold: the smallest r of the last L + 1 stretches (L = look-ahead);
2. envelope: follows the hold down at once and back up with the release time
   constant;
3. smoothing: a moving average of the envelope over L samples, so the gain
   glides down over the look-ahead (no step, no click) and is at or below r
   by the time the peak's samples come out;
4. output: the input delayed by the detector's latency + L + SPREAD - 1, times
   that gain.

Every sample of a peak's stretch, and SPREAD samples either side, leaves
with a gain at most r.  An 8x grid can still miss the true peak by up to
0.12 dB for content near 20 kHz (the crest falls between two phases), so the
limiter aims MARGIN_DB under the ceiling, and clamps samples to the ceiling
as a last resort.
Non-finite input counts as silence.

Arrays (LimiterStage): slot[b] >= 0 for the bus it limits (master); params[LM_*]
float64 parameters and state; line (channels, MAXLEN) the delay line; needed
(MAXLEN,) the gain r each recent stretch needs; env (MAXLEN,) recent envelope
values; tp_coef, tp the detector (truepeak.allocate).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain

from gamemix.core.dsp import truepeak
from gamemix.core.dsp.truepeak import CHUNK, chunk_peaks, could_exceed, design, load, shift_history

OVERSAMPLE = 8
TAPS = 32
DETECTOR_DELAY = TAPS // 2
SPREAD = 4           # samples each side of a peak that also get its gain (the waveform between two
                     # samples depends on their neighbours too)
MARGIN_DB = 0.2
MAX_LOOKAHEAD_S = 0.005
RESUM_EVERY = 4096

LM_ENABLED = 0
LM_CEILING = 1       # linear, with the margin
LM_LOOKAHEAD = 2     # L, samples
LM_RELEASE = 3       # envelope coefficient
LM_ENV = 4           # state
LM_SUM = 5           # state: running sum of the last L envelope values
LM_POS = 6           # state: write position of the circular buffers
LM_HOLD = 7          # state: current minimum of r
LM_HOLD_AGE = 8      # state: samples since that minimum entered the window
LM_SINCE_RESUM = 9
LM_MIN_GAIN = 10     # out: smallest gain applied in the last block (linear)
LM_CEILING_DB = 11   # the ceiling as set, dBTP
LM_NFIELDS = 12


class LimiterStage(NamedTuple):
    """The limiter and the bus it limits (slot[b] >= 0); see the module docstring."""

    slot: np.ndarray
    params: np.ndarray
    line: np.ndarray
    needed: np.ndarray
    env: np.ndarray
    tp_coef: np.ndarray
    tp: np.ndarray


def allocate(n_buses: int, channels: int, sample_rate: float) -> LimiterStage:
    """A limiter on no bus, disabled until set_limiter."""
    maxlen = int(MAX_LOOKAHEAD_S * sample_rate) + DETECTOR_DELAY + 2 * SPREAD + 4
    params = np.zeros(LM_NFIELDS)
    params[LM_MIN_GAIN] = 1.0
    params[LM_HOLD] = 1.0
    return LimiterStage(np.full(n_buses, -1, dtype=np.int64), params, np.zeros((channels, maxlen)), np.ones(maxlen),
                        np.ones(maxlen), design(OVERSAMPLE, TAPS, 8.0), truepeak.allocate(channels, TAPS))


def set_limiter(lim: np.ndarray, env: np.ndarray, sample_rate: float, ceiling_dbtp: float,
                lookahead_ms: float, release_ms: float) -> None:
    """Control side: configure the limiter.  A new look-ahead restarts its smoothing state."""
    lookahead = max(1, min(int(round(lookahead_ms * 1e-3 * sample_rate)), env.shape[0] - DETECTOR_DELAY - 2 * SPREAD - 3))
    if lim[LM_LOOKAHEAD] != lookahead:
        lim[LM_LOOKAHEAD] = lookahead
        lim[LM_ENV] = 1.0
        lim[LM_SUM] = lookahead
        lim[LM_HOLD] = 1.0
        lim[LM_HOLD_AGE] = 0.0
        env[:] = 1.0
    lim[LM_ENABLED] = 1.0
    set_ceiling(lim, ceiling_dbtp)
    lim[LM_RELEASE] = math.exp(-1.0 / (release_ms * 1e-3 * sample_rate)) if release_ms > 0 else 0.0


def set_ceiling(lim: np.ndarray, ceiling_dbtp: float) -> None:
    lim[LM_CEILING_DB] = ceiling_dbtp
    lim[LM_CEILING] = 10.0 ** ((ceiling_dbtp - MARGIN_DB) / 20.0)


def latency(lim: np.ndarray) -> int:
    """Samples the limiter delays the master by."""
    return int(lim[LM_LOOKAHEAD]) + DETECTOR_DELAY + SPREAD - 1 if lim[LM_ENABLED] else 0


@njit(cache=True, nogil=True)
def _rescan(needed, pos, size, window):
    """The minimum of the last `window` values pushed (the newest at pos) and its age (capped at 1)."""
    hold = 1.0
    age = 0.0
    k = pos
    for j in range(window):
        if needed[k] < hold:
            hold = needed[k]
            age = j
        k = k - 1 if k > 0 else size - 1
    return hold, age


@njit(cache=True, nogil=True)
def limit_block(buf, n, channels, lim, line, needed, env, tp_coef, tp):
    """Limit buf (channels, >= n) in place."""
    if lim[LM_ENABLED] == 0.0:
        return
    for start in range(0, n, CHUNK):
        _limit_chunk(buf, start, min(CHUNK, n - start), channels, lim, line, needed, env, tp_coef, tp)


@njit(cache=True, nogil=True)
def _limit_chunk(buf, start, k, channels, lim, line, needed, env, tp_coef, tp):
    """Limit buf[:, start:start + k] (k <= CHUNK) in place: the detector over the chunk first (not
    even run when no stretch of it can exceed the ceiling: each then needs no reduction), then
    sample by sample the hold, envelope, smoothing and the delayed output (the state in locals)."""
    for c in range(channels):
        load(tp, c, buf[c], start, k)
    peaks = tp[channels + 1]
    ceiling = lim[LM_CEILING]
    if could_exceed(tp, tp_coef, channels, k, ceiling):
        chunk_peaks(tp, tp_coef, channels, k)
    else:
        shift_history(tp, channels, k, tp.shape[1] - CHUNK)
        for i in range(k):
            peaks[i] = 0.0
    size = env.shape[0]
    look = int(lim[LM_LOOKAHEAD])
    delay = look + DETECTOR_DELAY + SPREAD - 1
    release = lim[LM_RELEASE]
    e = lim[LM_ENV]
    total = lim[LM_SUM]
    pos = int(lim[LM_POS])
    hold = lim[LM_HOLD]
    age = lim[LM_HOLD_AGE]
    since = lim[LM_SINCE_RESUM]
    window = look + 2 * SPREAD
    lowest = 1.0 if start == 0 else lim[LM_MIN_GAIN]
    top = ceiling * 10.0 ** (MARGIN_DB / 20.0)
    for i in range(start, start + k):
        for c in range(channels):
            x = np.float64(buf[c, i])
            line[c, pos] = x if math.isfinite(x) else 0.0
        peak = peaks[i - start]
        r = ceiling / peak if peak > ceiling else 1.0
        needed[pos] = r                     # the hold: the smallest r of the last window values
        age += 1.0
        if r <= hold:
            hold = r
            age = 0.0
        elif age >= window:                 # the minimum left the window: find the new one
            hold, age = _rescan(needed, pos, size, window)
        e = hold if hold < e else hold + (e - hold) * release
        old = pos - look
        if old < 0:
            old += size
        total += e - env[old]
        env[pos] = e
        since += 1.0
        if since >= RESUM_EVERY:      # keep the running sum from drifting
            since = 0.0
            total = 0.0
            q = pos
            for j in range(look):
                total += env[q]
                q = q - 1 if q > 0 else size - 1
        g = min(total / look, 1.0)
        lowest = min(lowest, g)
        out = pos - delay
        if out < 0:
            out += size
        for c in range(channels):
            y = line[c, out] * g
            buf[c, i] = min(max(y, -top), top)
        pos = pos + 1 if pos + 1 < size else 0
    lim[LM_ENV] = e
    lim[LM_SUM] = total
    lim[LM_POS] = pos
    lim[LM_HOLD] = hold
    lim[LM_HOLD_AGE] = age
    lim[LM_SINCE_RESUM] = since
    lim[LM_MIN_GAIN] = lowest


@njit(cache=True, nogil=True, inline="always")
def limiter_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's limiter stage (core/chain.py): only the bus it limits."""
    if st.slot[b] < 0:
        return
    limit_block(bus_buf[b], n, channels, st.params, st.line, st.needed, st.env, st.tp_coef, st.tp)


chain.register(LimiterStage, limiter_stage, chain.LIMITER)
