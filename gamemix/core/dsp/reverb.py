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
(int64); tmp, float64 scratch of LINES.
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
    tmp: np.ndarray


def allocate(n_buses: int, n_reverbs: int, sample_rate: float) -> ReverbStage:
    """n_reverbs reverbs (at least one slot) sized for the largest room at this rate, on no bus yet."""
    n = max(n_reverbs, 1)
    maxlen = int(max(BASE_MS) * 1e-3 * MAX_SIZE * sample_rate) + 2
    ap_max = int(max(AP_MS) * 1e-3 * MAX_SIZE * sample_rate) + 2
    pre_max = int(MAX_PREDELAY_S * sample_rate) + 2
    return ReverbStage(np.full(n_buses, -1, dtype=np.int64), np.zeros((n, RV_NFIELDS)),
                       np.zeros((n, LINES, maxlen), np.float32), np.zeros((n, 4, ap_max), np.float32),
                       np.zeros((n, pre_max), np.float32), np.zeros((n, RI_NFIELDS), np.int64), np.zeros(LINES))


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
def reverb_block(r, buf, n, channels, params, lines, diffusers, predelay, positions, tmp):
    """Replace buf (channels, >= n) with the reverb of its mono sum.  tmp: float64 scratch of LINES."""
    p = params[r]
    if p[RV_ENABLED] == 0.0:
        return
    pre_len = predelay.shape[1]
    damp = p[RV_DAMP]
    scale = 1.0 / channels
    for i in range(n):
        x = 0.0
        for c in range(channels):
            x += buf[c, i]
        x *= scale
        if not math.isfinite(x):
            x = 0.0
        # pre-delay
        w = positions[r, RI_PRE]
        predelay[r, w] = x
        rd = w - int(p[RV_PRE])
        if rd < 0:
            rd += pre_len
        x = predelay[r, rd]
        positions[r, RI_PRE] = w + 1 if w + 1 < pre_len else 0
        # diffusers: Schroeder all-passes
        for j in range(4):
            length = int(p[RV_APLEN0 + j])
            w = positions[r, RI_AP0 + j]
            d = diffusers[r, j, w]
            v = x + AP_GAIN * d
            y = d - AP_GAIN * v
            diffusers[r, j, w] = v
            positions[r, RI_AP0 + j] = w + 1 if w + 1 < length else 0
            x = y
        # the network
        left = 0.0
        right = 0.0
        for k in range(LINES):
            out = lines[r, k, positions[r, RI_LINE0 + k]]
            lp = out + (p[RV_LP0 + k] - out) * damp
            p[RV_LP0 + k] = lp
            tmp[k] = lp * p[RV_GAIN0 + k]
            sign = 1.0 if (k >> 1) % 2 == 0 else -1.0
            if k % 2 == 0:
                left += sign * out
            else:
                right += sign * out
        h = 1                           # tmp through a normalised fast Walsh-Hadamard transform (orthogonal)
        while h < LINES:                # (here, not in a function: an array passed to one, even inlined,
            for q in range(0, LINES, 2 * h):    # costs a reference count at every sample)
                for j in range(q, q + h):
                    a = tmp[j]
                    c = tmp[j + h]
                    tmp[j] = a + c
                    tmp[j + h] = a - c
            h *= 2
        for k in range(LINES):
            tmp[k] *= 0.35355339059327373   # 1 / sqrt(8)
        for k in range(LINES):
            length = int(p[RV_LEN0 + k])
            w = positions[r, RI_LINE0 + k]
            lines[r, k, w] = tmp[k] + x
            positions[r, RI_LINE0 + k] = w + 1 if w + 1 < length else 0
        left *= 0.5
        right *= 0.5
        if not (math.isfinite(left) and math.isfinite(right)):   # blown up: start again from silence
            lines[r, :, :] = 0.0
            diffusers[r, :, :] = 0.0
            predelay[r, :] = 0.0
            for k in range(LINES):
                p[RV_LP0 + k] = 0.0
            left = 0.0
            right = 0.0
        if channels == 1:
            buf[0, i] = 0.5 * (left + right)
        else:
            buf[0, i] = left
            buf[1, i] = right
            for c in range(2, channels):
                buf[c, i] = 0.0


@njit(cache=True, nogil=True)
def reverb_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's reverb stage (core/chain.py): only on effect returns."""
    r = st.slot[b]
    if r < 0:
        return
    reverb_block(r, bus_buf[b], n, channels, st.params, st.lines, st.diffusers, st.predelay, st.positions, st.tmp)


chain.register(ReverbStage, reverb_stage, chain.REVERB)
