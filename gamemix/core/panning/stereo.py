"""HOT PATH.  The stereo panner: constant-power panning between two speakers.

A point source's lateral direction in the listener's frame, p = sin(azimuth)
= x in [-1, 1], maps to the angle theta = (p + 1) pi / 4 and the gains
(cos theta, sin theta): the centre is -3.01 dB on each side and L^2 + R^2 = 1
everywhere (the sine-cosine pan law; Griesinger 2002 discusses its image).
A mono 2D sound pans the same way from its `pan` (there is no centre
speaker); a stereo 2D sound keeps its channels on their sides and its balance
scales them: unity at the centre, constant power towards a side (the pan law
scaled by sqrt 2, capped at unity).  Spread blends a point source's gains
towards equal gains on both channels, keeping g_L^2 + g_R^2 = 1.
"""

import math
from typing import NamedTuple

from numba import njit

from gamemix.core import panning
from gamemix.core.panning.layouts import SPECS


class StereoPanner(NamedTuple):
    """Two speakers, left and right; no parameters."""


@njit(cache=True, nogil=True)
def pan_law(p):
    """Constant-power (left, right) gains for a pan position p in [-1, 1]."""
    p = min(max(p, -1.0), 1.0)
    theta = (p + 1.0) * (math.pi / 4.0)
    return math.cos(theta), math.sin(theta)


@njit(cache=True, nogil=True)
def direction_gains(panner, x, y, z, spread):
    """(left, right) of a source at unit direction (x right, y up, z front): the pan law of x, blended
    towards (1/sqrt 2, 1/sqrt 2) by `spread` with the energy kept."""
    gl, gr = pan_law(x)
    if spread > 0.0:
        return math.sqrt((1.0 - spread) * gl * gl + spread / 2), math.sqrt((1.0 - spread) * gr * gr + spread / 2)
    return gl, gr


@njit(cache=True, nogil=True)
def pan_gains(panner, p, centre):
    """(left, right) of a mono 2D sound at pan p (no centre speaker: `centre` has nothing to do)."""
    return pan_law(p)


@njit(cache=True, nogil=True)
def balance_gains(panner, p):
    """((left's gain on L, on R), (right's gain on L, on R)) of a stereo 2D sound at balance p."""
    gl, gr = pan_law(p)
    return (min(1.0, math.sqrt(2.0) * gl), 0.0), (0.0, min(1.0, math.sqrt(2.0) * gr))


def make_panner(context: panning.PannerContext) -> StereoPanner:
    return StereoPanner()


panning.register(SPECS["stereo"], StereoPanner, make_panner, direction_gains, pan_gains, balance_gains)
