"""HOT PATH.  Reading a clip at a fractional position (the resampler).

Positions are fixed point (32.32 in an int64), so a voice's phase never drifts
and replays bit-identically.  A block is read in segments that end at the clip's
end: inside a segment the loop has no branch and no modulo; between segments a
looping voice wraps and a one-shot stops.  Each lane is followed by guard
samples (see assets.GUARD), so the interpolator's `idx + 1` never leaves it.
"""

import numpy as np
from numba import njit

from gamemix.params import FRAC_BITS, FRAC_ONE

_FRAC_MASK = FRAC_ONE - 1
_INV_FRAC = np.float32(1.0 / FRAC_ONE)


@njit(cache=True, nogil=True)
def pitch_to_step(ratio):
    """Fixed-point position increment per output sample for a playback-rate ratio."""
    return np.int64(ratio * FRAC_ONE + 0.5)


@njit(cache=True, nogil=True)
def interpolate_run(pool, off, pos, step, out, start, count):
    """Linear interpolation of `count` samples from `pos`, written at out[start:]."""
    for i in range(count):
        p = pos + i * step
        idx = off + (p >> FRAC_BITS)
        frac = np.float32(p & _FRAC_MASK) * _INV_FRAC
        a = pool[idx]
        out[start + i] = a + (pool[idx + 1] - a) * frac


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
        count = (end - pos + step - 1) // step
        if count > n - j:
            count = n - j
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
