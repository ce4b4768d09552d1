"""Listeners in the kernels: up to MAX_LISTENERS, each 3D voice heard from its nearest one.

Split-screen games have one listener per player; like FMOD and Wwise,
gamemix pans, attenuates and Doppler-shifts each 3D voice relative to the
listener nearest to it (its direction in that listener's frame), so a
sound near either player is heard as that player hears it.  The layout of
the listeners in `lf` is in core/arrays.py.  With one listener (the usual
case) `nearest` is three flag reads.

Hot path.
"""

from __future__ import annotations

from numba import njit

from gamemix.core.arrays import (
    LF_FRAMES, LF_FX, LF_FY, LF_FZ, LF_MORE, LF_UX, LF_UY, LF_UZ, LF_X, LF_Y, LF_Z, LL_ACTIVE, LL_FIELDS,
    MAX_LISTENERS,
)
from gamemix.core.dsp.distance import listener_front_up, listener_right


@njit(cache=True, nogil=True)
def base(k):
    """Index in lf of listener k's first pose field (its x)."""
    return 0 if k == 0 else LF_MORE + LL_FIELDS * (k - 1)


@njit(cache=True, nogil=True)
def nearest(lf, x, y, z):
    """The listener nearest to (x, y, z) among those in use (listener 0 always is)."""
    best = 0
    dx, dy, dz = x - lf[LF_X], y - lf[LF_Y], z - lf[LF_Z]
    best_d2 = dx * dx + dy * dy + dz * dz
    for k in range(1, MAX_LISTENERS):
        b = base(k)
        if lf[b + LL_ACTIVE] != 0.0:
            dx, dy, dz = x - lf[b], y - lf[b + 1], z - lf[b + 2]
            d2 = dx * dx + dy * dy + dz * dz
            if d2 < best_d2:
                best, best_d2 = k, d2
    return best


@njit(cache=True, nogil=True)
def write_frames(lf):
    """Each listener's frame (right, front, up; OpenAL's convention, dsp/distance.py) into lf."""
    for k in range(MAX_LISTENERS):
        b = base(k)
        if k > 0 and lf[b + LL_ACTIVE] == 0.0:
            continue
        fx0, fy0, fz0 = lf[b + LF_FX], lf[b + LF_FY], lf[b + LF_FZ]
        rx, ry, rz = listener_right(fx0, fy0, fz0, lf[b + LF_UX], lf[b + LF_UY], lf[b + LF_UZ])
        fx, fy, fz, ux, uy, uz = listener_front_up(fx0, fy0, fz0, rx, ry, rz)
        f = LF_FRAMES + 9 * k
        lf[f], lf[f + 1], lf[f + 2] = rx, ry, rz
        lf[f + 3], lf[f + 4], lf[f + 5] = fx, fy, fz
        lf[f + 6], lf[f + 7], lf[f + 8] = ux, uy, uz
