"""HOT PATH.  Ambisonic encoding (AmbiX: ACN order, SN3D normalisation), first and third order.

A source in direction (azimuth phi counterclockwise from the front, elevation
theta) is the sound field p(t) Y_nm(phi, theta) for n <= N: the real
spherical harmonics with Schmidt semi-normalisation (SN3D), in Ambisonic
Channel Number order ACN = n^2 + n + m (Nachbar, Zotter, Deleflie &
Sontacchi 2011, "AmbiX - a suggested ambisonics format").  With the unit
vector written in the ambisonic axes, X front, Y left, Z up (the listener
frame's z, -x and y), the harmonics are polynomials (Zotter & Frank 2019,
"Ambisonics", table of real SH; the SN3D factors as in AmbiX):

    n = 0: 1
    n = 1: Y, Z, X
    n = 2: sqrt3 XY, sqrt3 YZ, (3Z^2 - 1)/2, sqrt3 XZ, sqrt3/2 (X^2 - Y^2)
    n = 3: sqrt(5/8) Y(3X^2 - Y^2), sqrt15 XYZ, sqrt(3/8) Y(5Z^2 - 1), Z(5Z^2 - 3)/2,
           sqrt(3/8) X(5Z^2 - 1), sqrt15/2 Z(X^2 - Y^2), sqrt(5/8) X(X^2 - 3Y^2)

so no trigonometry runs per voice.  SN3D keeps every order's components at
unit power in sum (sum over m of Y_nm^2 = 1), and W is the pressure.

Spread scales the order-n components by (1 - spread)^n, keeping W: at 1 the
source is omnidirectional, heard from everywhere at the same pressure.  A
source at the listener has only W.  A 2D mono sound is a source on the
horizon at azimuth pan x 30 degrees (the stereo pair's span); a stereo 2D
sound's channels are sources at -30 and +30 degrees.

`encode` is shared with the binaural panner, which encodes the voices it
does not filter one by one into a third-order field per bus.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from numba import njit

from gamemix.core import panning
from gamemix.core.panning.layouts import SPECS

SQ3 = math.sqrt(3.0)
SQ15 = math.sqrt(15.0)
SQ5_8 = math.sqrt(5.0 / 8.0)
SQ3_8 = math.sqrt(3.0 / 8.0)
PAIR_SIN = math.sin(math.pi / 6.0)      # the stereo pair at +-30 degrees
PAIR_COS = math.cos(math.pi / 6.0)


class AmbisonicPanner(NamedTuple):
    """An AmbiX encoder of one order (1 or 3)."""

    order: int


@njit(cache=True, nogil=True)
def encode(x, y, z, order, spread):
    """The 16 ACN/SN3D gains of a source at unit direction (x right, y up, z front) in the listener's
    frame, up to `order` (the rest 0); (0, 0, 0) gives W alone.  Spread tapers order n by (1-s)^n."""
    if x == 0.0 and y == 0.0 and z == 0.0:
        return (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    X, Y, Z = z, -x, y
    a1 = 1.0 - spread if spread > 0.0 else 1.0
    c1 = a1
    if order < 3:
        return (1.0, c1 * Y, c1 * Z, c1 * X, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    c2 = a1 * a1
    c3 = c2 * a1
    x2, y2, z2 = X * X, Y * Y, Z * Z
    return (1.0, c1 * Y, c1 * Z, c1 * X,
            c2 * SQ3 * X * Y, c2 * SQ3 * Y * Z, c2 * (3.0 * z2 - 1.0) / 2.0, c2 * SQ3 * X * Z,
            c2 * (SQ3 / 2.0) * (x2 - y2),
            c3 * SQ5_8 * Y * (3.0 * x2 - y2), c3 * SQ15 * X * Y * Z, c3 * SQ3_8 * Y * (5.0 * z2 - 1.0),
            c3 * Z * (5.0 * z2 - 3.0) / 2.0, c3 * SQ3_8 * X * (5.0 * z2 - 1.0), c3 * (SQ15 / 2.0) * Z * (x2 - y2),
            c3 * SQ5_8 * X * (x2 - 3.0 * y2))


@njit(cache=True, nogil=True)
def direction_gains(panner, x, y, z, spread):
    """The AmbiX encoding of a source at (x, y, z)."""
    return encode(x, y, z, panner.order, spread)


@njit(cache=True, nogil=True)
def pan_gains(panner, p, centre):
    """A mono 2D sound: a source on the horizon at pan x 30 degrees to the right."""
    a = min(max(p, -1.0), 1.0) * (math.pi / 6.0)
    return encode(math.sin(a), 0.0, math.cos(a), panner.order, 0.0)


@njit(cache=True, nogil=True)
def balance_gains(panner, p):
    """A stereo 2D sound: its channels as sources at -30 and +30 degrees, scaled by the stereo
    balance law (unity at the centre)."""
    theta = (min(max(p, -1.0), 1.0) + 1.0) * (math.pi / 4.0)
    gl, gr = min(1.0, math.sqrt(2.0) * math.cos(theta)), min(1.0, math.sqrt(2.0) * math.sin(theta))
    left = encode(-PAIR_SIN, 0.0, PAIR_COS, panner.order, 0.0)
    right = encode(PAIR_SIN, 0.0, PAIR_COS, panner.order, 0.0)
    return scaled(left, gl), scaled(right, gr)


@njit(cache=True, nogil=True, inline="always")
def scaled(g, k):
    """A 16-tuple of gains times k."""
    return (g[0] * k, g[1] * k, g[2] * k, g[3] * k, g[4] * k, g[5] * k, g[6] * k, g[7] * k,
            g[8] * k, g[9] * k, g[10] * k, g[11] * k, g[12] * k, g[13] * k, g[14] * k, g[15] * k)


panning.register(SPECS["ambix1"], AmbisonicPanner, lambda context: AmbisonicPanner(1),
                 direction_gains, pan_gains, balance_gains)
panning.register(SPECS["ambix3"], AmbisonicPanner, lambda context: AmbisonicPanner(3),
                 direction_gains, pan_gains, balance_gains)
