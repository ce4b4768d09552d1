"""Listeners, control side: up to MAX_LISTENERS poses (split screen), set by the game.

Listener 0 always exists; listener k >= 1 is in use once the game sets its
pose and until it removes it (`listener` with `index`, `remove`).  Each 3D
voice is heard from its nearest listener (core/listeners.py), and the
control side measures what the kernel hears the same way: ranking
distances, the `furthest` steal, the built-in parameters.

Control side.
"""

from __future__ import annotations

import numpy as np

from gamemix.core.arrays import LF_EXTRA_LISTENERS, LF_FX, LF_UX, LF_VX, LF_X, LL_ACTIVE, MAX_LISTENERS
from gamemix.core.dsp.distance import listener_front_up, listener_right
from gamemix.core import listeners as core_listeners
from gamemix.errors import CommandError

# where listener k's fields start, as the kernel reads them: the kernel's own function, run by the
# interpreter (a jitted call from Python costs more than the sum, and its first one loads compiled code)
base = core_listeners.base.py_func


def in_use(lf: np.ndarray) -> list[int]:
    """The listeners in use, 0 first."""
    return [0] + [k for k in range(1, MAX_LISTENERS) if lf[base(k) + LL_ACTIVE] != 0.0]


def set_pose(lf: np.ndarray, index: int, position, forward, up, velocity) -> None:
    """Set listener `index`'s pose (and put it in use); forward and up must span a plane."""
    if not 0 <= index < MAX_LISTENERS:
        raise CommandError("bad_value", f"listener index {index}: there are {MAX_LISTENERS} (0 to {MAX_LISTENERS - 1})")
    f, u = np.asarray(forward, float), np.asarray(up, float)
    if not np.linalg.norm(np.cross(f, u)) > 1e-9:
        raise CommandError("bad_value", "listener forward and up must be non-zero and not parallel")
    b = base(index)
    lf[b + LF_X:b + LF_X + 3] = position
    lf[b + LF_FX:b + LF_FX + 3] = f
    lf[b + LF_UX:b + LF_UX + 3] = u
    lf[b + LF_VX:b + LF_VX + 3] = velocity
    if index:
        lf[b + LL_ACTIVE] = 1.0
    _count(lf)


def remove(lf: np.ndarray, index: int) -> None:
    """Stop using listener `index` (>= 1; listener 0 always stays)."""
    if not 1 <= index < MAX_LISTENERS:
        raise CommandError("bad_value", f"only listeners 1 to {MAX_LISTENERS - 1} can be removed, not {index}")
    lf[base(index) + LL_ACTIVE] = 0.0
    _count(lf)


def _count(lf: np.ndarray) -> None:
    lf[LF_EXTRA_LISTENERS] = len(in_use(lf)) - 1


def nearest(lf: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point (n x 3): the listener nearest to it, and the point relative to that listener."""
    ks = in_use(lf)
    where = np.array([lf[base(k) + LF_X:base(k) + LF_X + 3] for k in ks])          # (listeners, 3)
    rel = points[:, None, :] - where[None, :, :]
    pick = np.argmin(np.einsum("nlk,nlk->nl", rel, rel), axis=1)
    return np.array(ks)[pick], rel[np.arange(len(points)), pick]


def frame(lf: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Listener k's (right, front, up) unit vectors: the kernel's own functions (dsp/distance.py)."""
    b = base(k)
    fx, fy, fz = lf[b + LF_FX:b + LF_FX + 3]
    right = listener_right(fx, fy, fz, *lf[b + LF_UX:b + LF_UX + 3])
    front_up = listener_front_up(fx, fy, fz, *right)
    return np.array(right), np.array(front_up[:3]), np.array(front_up[3:])


def velocity(lf: np.ndarray, k: int) -> np.ndarray:
    b = base(k)
    return lf[b + LF_VX:b + LF_VX + 3]
