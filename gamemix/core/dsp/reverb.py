"""HOT PATH.  Reverb for effect-return buses: an 8-line feedback delay network.

The classic design of Jot & Chaigne (1991) as in most game engines' built-in
reverbs: the bus's input (mono sum) passes a pre-delay and four Schroeder
all-pass diffusers, then feeds eight delay lines whose outputs are mixed by an
orthogonal (normalised Hadamard) matrix and fed back.  Each line's feedback
gain sets the decay: g_i = 10^(-3 d_i / (T60 fs)), so every line loses 60 dB
in T60 seconds whatever its length.  A one-pole low-pass in each loop
(`damping`) makes highs die sooner, as in a real room.  The left output sums
the even lines and the right the odd ones with alternating signs: two
decorrelated channels.  The output is 100 % wet; the dry signal reaches the
mix through the sending bus's own parent.

Line lengths are mutually prime (no common echoes), scaled by `size` and the
sample rate.  Parameters change between blocks without clicks: the decay
gains move, the line lengths only change when a scene is reloaded.

Arrays (ReverbStage): slot[b] the reverb of bus b (-1: not a return); per
reverb r: params[r, RV_*], lines[r, 8, MAXLEN] delay lines, diffusers[r, 4,
AP_MAX], predelay[r, PRE_MAX] (float32), positions[r, RI_*] write positions
(int64).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain

LINES = 8
BASE_MS = (29.9, 33.4, 38.9, 42.8, 46.9, 50.0, 54.5, 58.3)   # at size 1
AP_MS = (4.77, 3.59, 12.73, 9.3)
AP_GAIN = 0.6
MAX_SIZE = 3.0
MAX_PREDELAY_S = 0.5

RV_ENABLED = 0
RV_DAMP = 1          # one-pole low-pass coefficient in the loops, 0 = none
RV_PRE = 2           # pre-delay, samples
RV_GAIN0 = 3         # RV_GAIN0 + i: feedback gain of line i
RV_LEN0 = RV_GAIN0 + LINES          # line lengths, samples
RV_APLEN0 = RV_LEN0 + LINES         # diffuser lengths, samples
RV_LP0 = RV_APLEN0 + 4              # state: low-pass memory per line
RV_NFIELDS = RV_LP0 + LINES

# positions[r, FIELD]
RI_LINE0 = 0                        # write position per line
RI_AP0 = LINES                      # write position per diffuser
RI_PRE = LINES + 4
RI_NFIELDS = LINES + 5


class ReverbStage(NamedTuple):
    """The scene's reverbs and which bus each returns on; see the module docstring."""

    slot: np.ndarray
    params: np.ndarray
    lines: np.ndarray
    diffusers: np.ndarray
    predelay: np.ndarray
    positions: np.ndarray


def allocate(n_buses: int, n_reverbs: int, sample_rate: float) -> ReverbStage:
    """n_reverbs reverbs (at least one slot) sized for the largest room at this rate, on no bus yet."""
    n = max(n_reverbs, 1)
    maxlen = int(max(BASE_MS) * 1e-3 * MAX_SIZE * sample_rate) + 2
    ap_max = int(max(AP_MS) * 1e-3 * MAX_SIZE * sample_rate) + 2
    pre_max = int(MAX_PREDELAY_S * sample_rate) + 2
    return ReverbStage(np.full(n_buses, -1, dtype=np.int64), np.zeros((n, RV_NFIELDS)),
                       np.zeros((n, LINES, maxlen), np.float32), np.zeros((n, 4, ap_max), np.float32),
                       np.zeros((n, pre_max), np.float32), np.zeros((n, RI_NFIELDS), np.int64))


def set_reverb(params: np.ndarray, r: int, sample_rate: float, decay_s: float, size: float, damping: float,
               predelay_ms: float) -> None:
    """Control side: configure reverb r (lengths from size; gains from the decay time)."""
    row = params[r]
    row[RV_ENABLED] = 1.0
    row[RV_DAMP] = min(max(damping, 0.0), 0.95)
    row[RV_PRE] = min(round(predelay_ms * 1e-3 * sample_rate), int(MAX_PREDELAY_S * sample_rate))
    size = min(max(size, 0.1), MAX_SIZE)
    for i, ms in enumerate(BASE_MS):
        length = max(int(ms * 1e-3 * size * sample_rate) | 1, 3)
        row[RV_LEN0 + i] = length
        row[RV_GAIN0 + i] = 10.0 ** (-3.0 * length / (decay_s * sample_rate))
    for j, ms in enumerate(AP_MS):
        row[RV_APLEN0 + j] = max(int(ms * 1e-3 * size * sample_rate), 1)


@njit(cache=True, nogil=True)
def reverb_block(r, buf, n, channels, params, lines, diffusers, predelay, positions):
    """Replace buf (channels, >= n) with the reverb of its mono sum.

    The block goes in runs over which no delay line's write position wraps (nor the pre-delay's
    read position): inside a run every position is its start plus the sample's offset, so the
    loop keeps them, the lengths and the gains in registers; each run ends where one wraps."""
    p = params[r]
    if p[RV_ENABLED] == 0.0:
        return
    pre = int(p[RV_PRE])
    pre_len = predelay.shape[1]
    i = 0
    while i < n:
        run = n - i
        w = positions[r, RI_PRE]
        run = min(run, pre_len - w)
        if w < pre:                     # the read position wraps where the write position reaches pre
            run = min(run, pre - w)
        for j in range(4):
            run = min(run, int(p[RV_APLEN0 + j]) - positions[r, RI_AP0 + j])
        for k in range(LINES):
            run = min(run, int(p[RV_LEN0 + k]) - positions[r, RI_LINE0 + k])
        run = max(run, 1)
        _run(r, buf, i, run, channels, p, lines, diffusers, predelay, positions, pre)
        i += run


@njit(cache=True, nogil=True, inline="always")
def _butterfly(a, b):
    return a + b, a - b


@njit(cache=True, nogil=True)
def _run(r, buf, start, count, channels, p, lines, diffusers, predelay, positions, pre):
    """Samples start .. start + count - 1 of reverb r, no position wrapping before the run's last
    sample (see reverb_block); the positions move on (and wrap) at its end.  The eight lines are
    written out one by one, their low-pass states and the Hadamard transform in locals (through
    memory they cost a store and a load at every step)."""
    pre_len = predelay.shape[1]
    damp = p[RV_DAMP]
    scale = 1.0 / channels
    wp = positions[r, RI_PRE]
    rp = wp - pre if wp >= pre else wp - pre + pre_len
    at = positions[r]
    a0, a1, a2, a3 = at[RI_AP0], at[RI_AP0 + 1], at[RI_AP0 + 2], at[RI_AP0 + 3]
    w0, w1, w2, w3 = at[RI_LINE0], at[RI_LINE0 + 1], at[RI_LINE0 + 2], at[RI_LINE0 + 3]
    w4, w5, w6, w7 = at[RI_LINE0 + 4], at[RI_LINE0 + 5], at[RI_LINE0 + 6], at[RI_LINE0 + 7]
    g0, g1, g2, g3 = p[RV_GAIN0], p[RV_GAIN0 + 1], p[RV_GAIN0 + 2], p[RV_GAIN0 + 3]
    g4, g5, g6, g7 = p[RV_GAIN0 + 4], p[RV_GAIN0 + 5], p[RV_GAIN0 + 6], p[RV_GAIN0 + 7]
    l0, l1, l2, l3 = p[RV_LP0], p[RV_LP0 + 1], p[RV_LP0 + 2], p[RV_LP0 + 3]
    l4, l5, l6, l7 = p[RV_LP0 + 4], p[RV_LP0 + 5], p[RV_LP0 + 6], p[RV_LP0 + 7]
    norm = 0.35355339059327373          # 1 / sqrt(8)
    for t in range(count):
        i = start + t
        x = 0.0
        for c in range(channels):
            x += buf[c, i]
        x *= scale
        if not math.isfinite(x):
            x = 0.0
        # pre-delay
        predelay[r, wp + t] = x
        x = predelay[r, rp + t]
        # diffusers: Schroeder all-passes
        d = diffusers[r, 0, a0 + t]
        v = x + AP_GAIN * d
        diffusers[r, 0, a0 + t] = v
        x = d - AP_GAIN * v
        d = diffusers[r, 1, a1 + t]
        v = x + AP_GAIN * d
        diffusers[r, 1, a1 + t] = v
        x = d - AP_GAIN * v
        d = diffusers[r, 2, a2 + t]
        v = x + AP_GAIN * d
        diffusers[r, 2, a2 + t] = v
        x = d - AP_GAIN * v
        d = diffusers[r, 3, a3 + t]
        v = x + AP_GAIN * d
        diffusers[r, 3, a3 + t] = v
        x = d - AP_GAIN * v
        # the network: each line's output low-passed (damping) and scaled by its feedback gain
        o0, o1, o2, o3 = lines[r, 0, w0 + t], lines[r, 1, w1 + t], lines[r, 2, w2 + t], lines[r, 3, w3 + t]
        o4, o5, o6, o7 = lines[r, 4, w4 + t], lines[r, 5, w5 + t], lines[r, 6, w6 + t], lines[r, 7, w7 + t]
        l0 = o0 + (l0 - o0) * damp
        l1 = o1 + (l1 - o1) * damp
        l2 = o2 + (l2 - o2) * damp
        l3 = o3 + (l3 - o3) * damp
        l4 = o4 + (l4 - o4) * damp
        l5 = o5 + (l5 - o5) * damp
        l6 = o6 + (l6 - o6) * damp
        l7 = o7 + (l7 - o7) * damp
        # left: the even lines, right: the odd ones, signs + - + - (in line order)
        left = 0.0 + 1.0 * o0
        left += -1.0 * o2
        left += 1.0 * o4
        left += -1.0 * o6
        right = 0.0 + 1.0 * o1
        right += -1.0 * o3
        right += 1.0 * o5
        right += -1.0 * o7
        # a normalised fast Walsh-Hadamard transform (orthogonal) of the eight, fed back with the input
        t0, t1 = _butterfly(l0 * g0, l1 * g1)
        t2, t3 = _butterfly(l2 * g2, l3 * g3)
        t4, t5 = _butterfly(l4 * g4, l5 * g5)
        t6, t7 = _butterfly(l6 * g6, l7 * g7)
        t0, t2 = _butterfly(t0, t2)
        t1, t3 = _butterfly(t1, t3)
        t4, t6 = _butterfly(t4, t6)
        t5, t7 = _butterfly(t5, t7)
        t0, t4 = _butterfly(t0, t4)
        t1, t5 = _butterfly(t1, t5)
        t2, t6 = _butterfly(t2, t6)
        t3, t7 = _butterfly(t3, t7)
        lines[r, 0, w0 + t] = t0 * norm + x
        lines[r, 1, w1 + t] = t1 * norm + x
        lines[r, 2, w2 + t] = t2 * norm + x
        lines[r, 3, w3 + t] = t3 * norm + x
        lines[r, 4, w4 + t] = t4 * norm + x
        lines[r, 5, w5 + t] = t5 * norm + x
        lines[r, 6, w6 + t] = t6 * norm + x
        lines[r, 7, w7 + t] = t7 * norm + x
        left *= 0.5
        right *= 0.5
        if not (math.isfinite(left) and math.isfinite(right)):   # blown up: start again from silence
            lines[r, :, :] = 0.0
            diffusers[r, :, :] = 0.0
            predelay[r, :] = 0.0
            l0 = l1 = l2 = l3 = l4 = l5 = l6 = l7 = 0.0
            left = 0.0
            right = 0.0
        if channels == 1:
            buf[0, i] = 0.5 * (left + right)
        else:
            buf[0, i] = left
            buf[1, i] = right
            for c in range(2, channels):
                buf[c, i] = 0.0
    p[RV_LP0], p[RV_LP0 + 1], p[RV_LP0 + 2], p[RV_LP0 + 3] = l0, l1, l2, l3
    p[RV_LP0 + 4], p[RV_LP0 + 5], p[RV_LP0 + 6], p[RV_LP0 + 7] = l4, l5, l6, l7
    positions[r, RI_PRE] = wp + count if wp + count < pre_len else 0
    for j in range(4):
        w = positions[r, RI_AP0 + j] + count
        positions[r, RI_AP0 + j] = w if w < int(p[RV_APLEN0 + j]) else 0
    for k in range(LINES):
        w = positions[r, RI_LINE0 + k] + count
        positions[r, RI_LINE0 + k] = w if w < int(p[RV_LEN0 + k]) else 0


@njit(cache=True, nogil=True, inline="always")
def reverb_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's reverb stage (core/chain.py): only on effect returns."""
    r = st.slot[b]
    if r < 0:
        return
    reverb_block(r, bus_buf[b], n, channels, st.params, st.lines, st.diffusers, st.predelay, st.positions)


chain.register(ReverbStage, reverb_stage, chain.REVERB)
