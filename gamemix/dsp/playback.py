"""HOT PATH.  Reading a clip at a fractional position (the resampler).

Positions are fixed point (32.32 in an int64), so a voice's phase never drifts
and replays bit-identically.  Steps are quantised to 1/65536 of a sample (a
pitch resolution of 0.026 cent), so inside a run the phase is an unsigned
16.16 number: unsigned 32-bit arithmetic lets LLVM drop Numba's negative-index
checks and keeps the loop free of int64-to-float conversions.  A block is read
in runs that end at the clip's end: inside a run the loop has no branch and no
modulo; between runs a looping voice wraps and a one-shot stops.  Each lane is
followed by guard samples (see assets.GUARD), so `idx + 1` never leaves it.
"""

import numpy as np
from numba import njit

from gamemix.params import FRAC_BITS, FRAC_ONE

_FRAC_MASK = FRAC_ONE - 1
_RUN_BITS = 16                      # fraction bits of the in-run phase
_RUN_SHIFT = FRAC_BITS - _RUN_BITS
_INV_RUN = np.float32(1.0 / (1 << _RUN_BITS))
_MAX_RUN = 2048                     # samples per run: at pitch 16 the uint32 phase stays < 2^31


@njit(cache=True, nogil=True)
def pitch_to_step(ratio):
    """Fixed-point position increment per output sample, quantised to 1/65536."""
    return np.int64(ratio * (1 << _RUN_BITS) + 0.5) << _RUN_SHIFT


@njit(cache=True, nogil=True)
def interpolate_run(pool, off, pos, step, out, start, count):
    """Linear interpolation of `count` samples from `pos`, written at out[start:]."""
    base = np.uint64(off + (pos >> FRAC_BITS))
    phase = np.uint32((pos & _FRAC_MASK) >> _RUN_SHIFT)
    inc = np.uint32(step >> _RUN_SHIFT)
    for i in range(count):
        p = np.uint32(phase + np.uint32(i) * inc)
        idx = base + np.uint64(p >> np.uint32(_RUN_BITS))
        frac = np.float32(p & np.uint32(0xFFFF)) * _INV_RUN
        a = pool[idx]
        out[start + i] = a + (pool[idx + np.uint64(1)] - a) * frac


@njit(cache=True, nogil=True)
def read_lane(pool, off, length, loop, pos, step, out, n):
    """Fill out[:n] from a lane starting at fixed-point `pos`, advancing by `step`.

    Returns (new position, ended).  `ended` is True once a one-shot has played
    its last sample; the rest of `out` is then silence.
    """
    end = np.int64(length) << FRAC_BITS
    j = 0
    while j < n:
        if pos >= end:
            if loop == 0:
                for i in range(j, n):
                    out[i] = 0.0
                return pos, True
            pos = pos % end
        count = min(n - j, _MAX_RUN)
        if pos + count * step > end:  # the run reaches the clip's end: stop just past it
            count = (end - pos + step - 1) // step
        interpolate_run(pool, off, pos, step, out, j, count)
        pos += count * step
        j += count
    return pos, (loop == 0 and pos >= end)


@njit(cache=True, nogil=True)
def advance(length, loop, pos, step, n):
    """Move a position by n samples without reading (virtual voices). Returns (pos, ended)."""
    end = np.int64(length) << FRAC_BITS
    pos += n * step
    if pos >= end:
        if loop == 0:
            return pos, True
        pos = pos % end
    return pos, False
