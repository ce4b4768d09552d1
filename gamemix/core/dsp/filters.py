"""HOT PATH.  Per-bus low-pass and high-pass filters that can move without clicks.

Each is a 12 dB/octave state-variable filter in the topology-preserving
transform form (Zavalishin, "The Art of VA Filter Design", ch. 3-4; Simper's
"SvfLinearTrapOptimised2") with Butterworth damping k = sqrt(2).  With
g = tan(pi fc / fs) it is exactly the bilinear transform of the analog
Butterworth prototype, prewarped at fc (so -3.01 dB at fc), and unlike a
direct-form biquad it stays well-behaved while its cutoff moves.

The control side writes a target cutoff per bus once per block; the filter
glides from where it was to the target log-linearly across the block,
recomputing its coefficients every SUB samples (tan() per sample is costly;
a step per block would zipper).  The low-pass runs first, then the high-pass.
A stage whose cutoff sits at its open end (low-pass at 0.49 fs, high-pass at
10 Hz) and is not moving is bypassed; when it wakes up its state starts where
the open filter's would be (low-pass state = the input, high-pass state = 0),
so engaging it makes no step.

Arrays (FilterStage): cutoff[b, FL_*] (float64) the current and target cutoff
of each stage in Hz, written by the control side; state[b, c, 0:4] (float64)
[lp ic1, lp ic2, hp ic1, hp ic2] per bus and channel.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain

# per-bus cutoffs, Hz: cutoff[b, FIELD]
FL_LP = 0            # low-pass cutoff at the end of the last block
FL_LP_TARGET = 1     # low-pass cutoff to reach by the end of this block
FL_HP = 2
FL_HP_TARGET = 3
FL_NFIELDS = 4

SUB = 16                 # samples per coefficient update
K = math.sqrt(2.0)       # 1 / Q for a Butterworth response
HP_OPEN = 10.0


class FilterStage(NamedTuple):
    """Every bus's low-pass and high-pass: cutoffs (buses, FL_NFIELDS) and state (buses, channels, 4)."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    cutoff: np.ndarray
    state: np.ndarray


def allocate(n_buses: int, channels: int) -> FilterStage:
    """Filters for n_buses buses, all open (a low-pass above the clamp, a high-pass at its floor)."""
    cutoff = np.zeros((n_buses, FL_NFIELDS), dtype=np.float64)
    cutoff[:, [FL_LP, FL_LP_TARGET]] = 1e9          # open (clamped to 0.49 fs by the kernel)
    cutoff[:, [FL_HP, FL_HP_TARGET]] = HP_OPEN
    return FilterStage(np.zeros(n_buses, dtype=np.int64), cutoff, np.zeros((n_buses, channels, 4), dtype=np.float64))


def lp_open(sample_rate: float) -> float:
    """The low-pass cutoff that counts as open (the clamp's upper end)."""
    return 0.49 * sample_rate


@njit(cache=True, nogil=True, inline="always")
def _coefficients(fc, sample_rate):
    g = math.tan(math.pi * fc / sample_rate)
    a1 = 1.0 / (1.0 + g * (g + K))
    a2 = g * a1
    return a1, a2, g * a2


@njit(cache=True, nogil=True, inline="always")
def svf_step(v0, s1, s2, a1, a2, a3, highpass):
    """One sample through one SVF stage (the trapezoidal state-variable filter of the module
    docstring): (its low- or high-pass output, the two new states)."""
    v3 = v0 - s2
    v1 = a1 * s1 + a2 * v3
    v2 = s2 + a2 * s1 + a3 * v3
    return (v0 - K * v1 - v2 if highpass else v2), 2.0 * v1 - s1, 2.0 * v2 - s2


@njit(cache=True, nogil=True)
def svf_run(bus_buf, b, c, d, start, count, state, s, a1, a2, a3, highpass):
    """Filter bus b's channels c and d (d == c: only c) over samples start .. start + count - 1 in
    place with one SVF stage (state[b, channel, s], state[b, channel, s + 1]): the two channels are
    independent chains, run side by side, each state in locals."""
    both = d != c
    p1, p2 = state[b, c, s], state[b, c, s + 1]
    q1, q2 = state[b, d, s], state[b, d, s + 1]
    for i in range(start, start + count):
        bus_buf[b, c, i], p1, p2 = svf_step(np.float64(bus_buf[b, c, i]), p1, p2, a1, a2, a3, highpass)
        if both:
            bus_buf[b, d, i], q1, q2 = svf_step(np.float64(bus_buf[b, d, i]), q1, q2, a1, a2, a3, highpass)
    state[b, c, s], state[b, c, s + 1] = p1, p2
    if both:
        state[b, d, s], state[b, d, s + 1] = q1, q2


@njit(cache=True, nogil=True)
def _clamp(fc, lo, hi):
    if not (fc == fc):       # NaN: treat as open
        return hi
    return min(max(fc, lo), hi)


@njit(cache=True, nogil=True)
def filter_section(bus_buf, b, channels, n, state, params, cur_f, tgt_f, s, highpass, sample_rate):
    """Glide one section (the low-pass or the high-pass) of bus b from its current cutoff to its target across the block."""
    top = 0.49 * sample_rate
    f0 = _clamp(params[b, cur_f], HP_OPEN, top)
    f1 = _clamp(params[b, tgt_f], HP_OPEN, top)
    open_end = HP_OPEN if highpass else top
    if f0 == open_end and f1 == open_end:
        params[b, cur_f] = f1
        return
    if f0 == open_end:       # waking from bypass: start from the open filter's state
        for c in range(channels):
            state[b, c, s] = 0.0
            state[b, c, s + 1] = 0.0 if highpass else np.float64(bus_buf[b, c, 0])
    l0 = math.log2(f0)
    dl = math.log2(f1) - l0
    start = 0
    while start < n:
        count = min(SUB, n - start)
        fc = 2.0 ** (l0 + dl * (start + count) / n)
        a1, a2, a3 = _coefficients(fc, sample_rate)
        for c in range(0, channels, 2):
            svf_run(bus_buf, b, c, min(c + 1, channels - 1), start, count, state, s, a1, a2, a3, highpass)
        start += count
    params[b, cur_f] = f1


@njit(cache=True, nogil=True)
def filter_bus(bus_buf, b, channels, n, state, params, sample_rate):
    """Low-pass then high-pass bus b in place (each bypassed while open)."""
    filter_section(bus_buf, b, channels, n, state, params, FL_LP, FL_LP_TARGET, 0, False, sample_rate)
    filter_section(bus_buf, b, channels, n, state, params, FL_HP, FL_HP_TARGET, 2, True, sample_rate)
    for c in range(channels):       # a state that went non-finite starts again from rest, not kept for good
        for j in range(4):
            if not math.isfinite(state[b, c, j]):
                state[b, c, j] = 0.0


@njit(cache=True, nogil=True, inline="always")
def filter_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's filter stage (core/chain.py)."""
    filter_bus(bus_buf, b, channels, n, st.state, st.cutoff, sample_rate)


chain.register(FilterStage, filter_stage, chain.FILTERS)
