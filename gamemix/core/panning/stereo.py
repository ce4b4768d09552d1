"""HOT PATH.  The stereo panner: constant-power panning between two speakers.

A point source's lateral direction in the listener's frame, p = sin(azimuth)
= x in [-1, 1], maps to the angle theta = (p + 1) pi / 4 and the gains
(cos theta, sin theta): the centre is -3.01 dB on each side and L^2 + R^2 = 1
everywhere (the sine-cosine pan law; Griesinger 2002 discusses its image).
A mono 2D sound pans the same way from its `pan`; a stereo 2D sound keeps its
channels on their sides and its balance scales them: unity at the centre,
constant power towards a side (the pan law scaled by sqrt 2, capped at unity).
"""

import math
from typing import NamedTuple

from numba import njit

from gamemix.core import panning


class StereoPanner(NamedTuple):
    """Two speakers, left and right; no parameters."""


@njit(cache=True, nogil=True)
def pan_law(p):
    """Constant-power (left, right) gains for a pan position p in [-1, 1]."""
    p = min(max(p, -1.0), 1.0)
    theta = (p + 1.0) * (math.pi / 4.0)
    return math.cos(theta), math.sin(theta)


@njit(cache=True, nogil=True)
def direction_gains(panner, x, y, z):
    """(left, right) of a source at unit direction (x right, y up, z front): the pan law of x."""
    return pan_law(x)


@njit(cache=True, nogil=True)
def pan_gains(panner, p):
    """(left, right) of a mono 2D sound at pan p."""
    return pan_law(p)


@njit(cache=True, nogil=True)
def balance_gains(panner, p):
    """((left's gain on L, on R), (right's gain on L, on R)) of a stereo 2D sound at balance p."""
    gl, gr = pan_law(p)
    return (min(1.0, math.sqrt(2.0) * gl), 0.0), (0.0, min(1.0, math.sqrt(2.0) * gr))


panning.register(panning.Layout("stereo", ("L", "R"), StereoPanner), StereoPanner,
                 direction_gains, pan_gains, balance_gains)
