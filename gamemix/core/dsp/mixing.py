"""HOT PATH.  Ramped gains, summing, and the output stage.

Every gain the listener can hear change is ramped linearly across a block from
its value at the end of the previous block, so no change (a volume jump, a stop,
a pan sweep) produces a step: the largest sample-to-sample change a gain jump
of g can add is g / block_size.  Ramps read a table `ramp[i] = i / n` (see
core/arrays.EngineArrays.ramp) rather than converting the loop counter to float, which
AVX2 cannot do for 64-bit integers and which would keep the loop scalar.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.core.arrays import BF_GAIN, BF_GAIN_STEP, BF_GAIN_TARGET, BF_PEAK, BF_SUMSQ


@njit(cache=True, nogil=True)
def seek(current, target, max_change):
    """Move `current` towards `target` by at most `max_change` (a linear slew)."""
    if current < target:
        return min(current + max_change, target)
    return max(current - max_change, target)


@njit(cache=True, nogil=True)
def add_ramped_to_bus(src, bus_buf, bus, c, g0, g1, ramp, n):
    """bus_buf[bus, c, :n] += src[:n] * ramped gain, indexing in place.

    Indexing the 3-D buffer directly instead of passing the view bus_buf[bus, c]
    avoids a view per call and its atomic reference counting, measured at
    ~150 ns per voice per block.
    """
    g = np.float32(g0)
    dg = np.float32(g1 - g0)
    for i in range(n):
        bus_buf[bus, c, i] += src[i] * (g + dg * ramp[i])


@njit(cache=True, nogil=True)
def add_ramped_to_pair(src, bus_buf, bus, l0, l1, r0, r1, ramp, n):
    """bus_buf[bus, 0 and 1, :n] += src[:n] * each channel's ramped gain, in one pass.

    The stereo case of add_ramped_to_bus: reading the source and the ramp once
    for both channels saves about 40 % of the mixing at 1,024 voices.  Silent
    throughout (all four gains zero), it adds nothing.
    """
    if l0 == 0.0 and l1 == 0.0 and r0 == 0.0 and r1 == 0.0:
        return
    gl = np.float32(l0)
    dl = np.float32(l1 - l0)
    gr = np.float32(r0)
    dr = np.float32(r1 - r0)
    for i in range(n):
        s = src[i]
        r = ramp[i]
        bus_buf[bus, 0, i] += s * (gl + dl * r)
        bus_buf[bus, 1, i] += s * (gr + dr * r)


@njit(cache=True, nogil=True)
def add_ramped_to_two(src, bus_buf, bus, a, a0, a1, b, b0, b1, ramp, n):
    """bus_buf[bus, a and b, :n] += src[:n] * each channel's ramped gain, in one pass (any two
    channels: the pair a speaker panner drives)."""
    ga = np.float32(a0)
    da = np.float32(a1 - a0)
    gb = np.float32(b0)
    db = np.float32(b1 - b0)
    for i in range(n):
        x = src[i]
        r = ramp[i]
        bus_buf[bus, a, i] += x * (ga + da * r)
        bus_buf[bus, b, i] += x * (gb + db * r)


@njit(cache=True, nogil=True)
def scale_ramped(bus_buf, b, c, g0, g1, ramp, n):
    """bus_buf[b, c, :n] *= gain, ramping from g0 towards g1 (indexed in place: no view to count)."""
    g = np.float32(g0)
    dg = np.float32(g1 - g0)
    for i in range(n):
        bus_buf[b, c, i] *= g + dg * ramp[i]


@njit(cache=True, nogil=True)
def peak_and_sumsq(buf, c, d, n):
    """Peak absolute value and sum of squares (float64, added in order) of buf[c, :n] and of
    buf[d, :n] (d == c: of one channel), in one pass: the two channels' sums are independent chains
    the CPU runs side by side.  Returns (peak of c, sum of c, peak of d, sum of d)."""
    pc = 0.0
    sc = 0.0
    pd = 0.0
    sd = 0.0
    for i in range(n):
        x = np.float64(buf[c, i])
        y = np.float64(buf[d, i])
        sc += x * x
        sd += y * y
        a = abs(x)
        if a > pc:
            pc = a
        a = abs(y)
        if a > pd:
            pd = a
    return pc, sc, pd, sd


@njit(cache=True, nogil=True)
def write_output(master, out, n, channels, ceiling):
    """Interleave the master bus into out (frames, channels); NaN and infinities -> 0 (a stage that
    blew up for a block must not come out as full-scale DC), the rest clamped to +-ceiling."""
    c32 = np.float32(ceiling)
    for c in range(channels):
        src = master[c]
        for i in range(n):
            x = src[i]
            if not (x - x == 0.0):          # NaN or +-inf: x - x is NaN
                x = np.float32(0.0)
            out[i, c] = min(max(x, -c32), c32)


# ----------------------------------------------------------------------------------------------
# Chain stages (core/chain.py): the bus fader, the block's levels, post-fader sends.

class FaderStage(NamedTuple):
    """The bus faders: bf[b, BF_GAIN] (gain at the end of the last block), BF_GAIN_TARGET, BF_GAIN_STEP."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    bf: np.ndarray


@njit(cache=True, nogil=True, inline="always")
def fader_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """Bus b times its fader gain, slewed towards the target at BF_GAIN_STEP per sample, ramped."""
    bf = st.bf
    g0 = bf[b, BF_GAIN]
    g1 = seek(g0, bf[b, BF_GAIN_TARGET], bf[b, BF_GAIN_STEP] * n)
    for c in range(channels):
        scale_ramped(bus_buf, b, c, g0, g1, ramp, n)
    bf[b, BF_GAIN] = g1


class LevelsStage(NamedTuple):
    """Writes bf[b, BF_PEAK] and bf[b, BF_SUMSQ] (the block after the fader and limiter)."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    bf: np.ndarray


@njit(cache=True, nogil=True, inline="always")
def levels_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """Peak and sum of squares of bus b's block, over all channels."""
    peak = 0.0
    sumsq = 0.0
    buf = bus_buf[b]
    for c in range(0, channels, 2):       # each channel's sum in order, then added channel after channel
        d = min(c + 1, channels - 1)
        pc, sc, pd, sd = peak_and_sumsq(buf, c, d, n)
        peak = max(peak, pc)
        sumsq += sc
        if d != c:
            peak = max(peak, pd)
            sumsq += sd
    st.bf[b, BF_PEAK] = peak
    st.bf[b, BF_SUMSQ] = sumsq


# per send slot: gain[b, k, SG_*]
SG_GAIN = 0          # current linear gain (end of the last block)
SG_TARGET = 1        # target linear gain (reached by the end of this block)
SG_NFIELDS = 2


class SendStage(NamedTuple):
    """Post-fader sends: bus[b, k] the bus send k of bus b feeds (-1 unused; used slots first),
    gain[b, k, SG_*] its gain."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    bus: np.ndarray
    gain: np.ndarray


def allocate_sends(n_buses: int, max_sends: int) -> SendStage:
    return SendStage(np.full(n_buses, -1, dtype=np.int64), np.full((n_buses, max_sends), -1, dtype=np.int64),
                     np.zeros((n_buses, max_sends, SG_NFIELDS), dtype=np.float64))


@njit(cache=True, nogil=True, inline="always")
def send_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """Add bus b's post-fader signal into its send targets, each send's gain ramped."""
    for k in range(st.bus.shape[1]):
        dst = st.bus[b, k]
        if dst < 0:
            break
        g0 = st.gain[b, k, SG_GAIN]
        g1 = st.gain[b, k, SG_TARGET]
        if g0 != 0.0 or g1 != 0.0:
            for c in range(channels):
                add_ramped_to_bus(bus_buf[b, c], bus_buf, dst, c, g0, g1, ramp, n)
        st.gain[b, k, SG_GAIN] = g1


chain.register(FaderStage, fader_stage, chain.FADER)
chain.register(LevelsStage, levels_stage, chain.LEVELS)
chain.register(SendStage, send_stage, chain.SENDS)
