"""HOT PATH.  Vector-base amplitude panning over a speaker layout (quad, 5.1, 7.1, 7.1.4).

VBAP (Pulkki 1997, "Virtual sound source positioning using vector base
amplitude panning", JAES 45(6)): a source direction p is written in the base
of the two (horizontal layouts) or three (layouts with height) speakers that
enclose it, g = p^T L^-1 with L's rows the speakers' unit vectors; the pair or
triangle is the one whose gains are all non-negative, and the gains are
scaled to unit power (sum g^2 = 1), so loudness does not depend on direction.
A source at a speaker drives that speaker alone; halfway between two it
drives both at 1/sqrt 2 (-3.01 dB).

Pairs are adjacent speakers by azimuth; triangles are the faces of the convex
hull of the speaker directions (computed at load with SciPy).  Layouts with
no speaker below the ear add a virtual one at the nadir (as Zotter & Frank's
AllRAD does for its imaginary loudspeaker), whose gain is shared equally in
power by the ear-level speakers, so a source below the listener sounds from
the horizon around it rather than from nowhere.

Spread (MDAP, Pulkki 1999, "Uniform spreading of amplitude panned virtual
sources"): the gains of virtual sources around the direction, at angles up to
spread x 180 degrees, are summed and the sum scaled to unit power; at 1 the
virtual sources cover every direction.  A 2D sound pans between the front
left and right speakers with the stereo pan law, and a centred mono one
goes to the centre speaker by its `centre` share (Wwise's Center %), with
the energy kept.  The LFE channel takes only a sound's own LFE send.

The per-voice kernel takes numbers and one panner (tables built once):
searching about 8 pairs or 20 triangles costs a few tens of nanoseconds.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit
from numba.np.unsafe.ndarray import to_fixed_tuple

from gamemix.core import panning
from gamemix.core.panning.layouts import MAX_CHANNELS, SPECS, LayoutSpec

MDAP_RINGS = 4         # virtual sources: the direction, then rings at spread x 45, 90, 135, 180 degrees
MDAP_AROUND = 6        # ... of this many on a layout with height (two, left and right, on a flat one)


class VbapPanner(NamedTuple):
    """The tables of one speaker layout, in one array (the voice loop calls the kernels per voice, and
    every array a call receives costs a reference-count pair: one array, one pair).

    `tab` rows: [0, bases) one base each: its inverse speaker matrix, row by row (9; a flat layout's
    pairs use the top-left 2 x 2), then its channels (3; -1 the virtual nadir, a pair's third -1);
    RING: the ear-level speakers' channels (the nadir's gain goes to them), -1 after; MAINS: every
    channel but the LFE (a source with no direction: all at equal power), -1 after; SCRATCH: gains."""

    tab: np.ndarray        # (bases + 3, MAX_CHANNELS) float64
    bases: int
    rings: int             # how many ear-level speakers and main speakers
    mains: int
    flat: bool             # pairs in the horizontal plane (no speaker above or below)
    lfe: int               # the LFE channel, or -1
    fl: int                # front left and right (2D pans), centre (-1: none)
    fr: int
    fc: int


def _unit(az: float, el: float) -> np.ndarray:
    """A direction in the listener's frame (x right, y up, z front) from degrees right and up."""
    a, e = math.radians(az), math.radians(el)
    return np.array([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])


def tables(spec: LayoutSpec) -> VbapPanner:
    """VBAP's pairs or triangles for a speaker layout (control side, once at load)."""
    names = spec.channels
    mains = [c for c, s in enumerate(spec.speakers) if s.name != "LFE"]
    flat = all(spec.speakers[c].elevation == 0.0 for c in mains)
    if flat:
        order = sorted(mains, key=lambda c: spec.speakers[c].azimuth)
        bases = []
        for k in range(len(order)):
            a, b = order[k], order[(k + 1) % len(order)]
            inv = np.zeros((3, 3))
            inv[:2, :2] = np.linalg.inv(np.array([_unit(spec.speakers[c].azimuth, 0.0)[[0, 2]] for c in (a, b)]))
            bases.append((inv, (a, b, -1)))
    else:
        from scipy.spatial import ConvexHull
        points = [_unit(spec.speakers[c].azimuth, spec.speakers[c].elevation) for c in mains]
        channels = list(mains)
        if min(spec.speakers[c].elevation for c in mains) >= 0.0:
            points.append(np.array([0.0, -1.0, 0.0]))
            channels.append(-1)
        hull = ConvexHull(np.array(points))
        bases = [(np.linalg.inv(np.array([points[i] for i in face])), [channels[i] for i in face])
                 for face in hull.simplices]
    ring = [c for c in mains if spec.speakers[c].elevation == 0.0]
    nb = len(bases)
    tab = np.full((nb + 3, MAX_CHANNELS), -1.0)
    for k, (inv, chans) in enumerate(bases):
        tab[k, :9] = inv.reshape(9)
        tab[k, 9:12] = chans
    tab[nb + RING, :len(ring)] = ring
    tab[nb + MAINS, :len(mains)] = mains
    tab[nb + SCRATCH] = 0.0
    find = {n: c for c, n in enumerate(names)}
    return VbapPanner(tab, nb, len(ring), len(mains), flat, find.get("LFE", -1), find["FL"], find["FR"],
                      find.get("FC", -1))


RING, MAINS, SCRATCH = 0, 1, 2      # the rows after the bases


@njit(cache=True, nogil=True, inline="always")
def locate(tab, nb, flat, x, y, z):
    """The base around direction (x, y, z): (found, its speakers' channels ca, cb, cc and unit-power
    gains ga, gb, gc), cc = -1 for a pair; a channel -1 in a triangle is the virtual nadir; not found
    for no direction (at the listener; straight above a flat layout).  Every base is tried and the one
    whose smallest gain is largest kept (the one that holds the direction, all gains >= 0): a loop with
    no early exit, so no branch mispredicts on a moving source."""
    best, score = 0, -math.inf
    if flat:
        r = math.sqrt(x * x + z * z)
        if r <= 1e-9:
            return False, -1, 0.0, -1, 0.0, -1, 0.0
        px, pz = x / r, z / r
        for k in range(nb):
            m = min(px * tab[k, 0] + pz * tab[k, 3], px * tab[k, 1] + pz * tab[k, 4])
            if m > score:
                best, score = k, m
        g0 = max(px * tab[best, 0] + pz * tab[best, 3], 0.0)
        g1 = max(px * tab[best, 1] + pz * tab[best, 4], 0.0)
        s = 1.0 / math.sqrt(g0 * g0 + g1 * g1)
        return True, int(tab[best, 9]), g0 * s, int(tab[best, 10]), g1 * s, -1, 0.0
    r = math.sqrt(x * x + y * y + z * z)
    if r <= 1e-9:
        return False, -1, 0.0, -1, 0.0, -1, 0.0
    px, py, pz = x / r, y / r, z / r
    for k in range(nb):
        m = min(px * tab[k, 0] + py * tab[k, 3] + pz * tab[k, 6],
                px * tab[k, 1] + py * tab[k, 4] + pz * tab[k, 7],
                px * tab[k, 2] + py * tab[k, 5] + pz * tab[k, 8])
        if m > score:
            best, score = k, m
    g0 = max(px * tab[best, 0] + py * tab[best, 3] + pz * tab[best, 6], 0.0)
    g1 = max(px * tab[best, 1] + py * tab[best, 4] + pz * tab[best, 7], 0.0)
    g2 = max(px * tab[best, 2] + py * tab[best, 5] + pz * tab[best, 8], 0.0)
    s = 1.0 / math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
    return True, int(tab[best, 9]), g0 * s, int(tab[best, 10]), g1 * s, int(tab[best, 11]), g2 * s


@njit(cache=True, nogil=True)
def add_direction(panner, x, y, z, weight):
    """Add `weight` x the unit-power VBAP gains of direction (x, y, z) into the scratch row."""
    found, ca, ga, cb, gb, cc, gc = locate(panner.tab, panner.bases, panner.flat, x, y, z)
    if not found:
        add_everywhere(panner, weight)
        return
    add_speaker(panner, ca, ga * weight)
    add_speaker(panner, cb, gb * weight)
    if cc >= 0 or not panner.flat:
        add_speaker(panner, cc, gc * weight)


@njit(cache=True, nogil=True)
def add_speaker(panner, channel, gain):
    """Add a gain to a speaker; the virtual nadir's (-1) is shared in power by the ear-level ring."""
    tab, nb = panner.tab, panner.bases
    if channel >= 0:
        tab[nb + SCRATCH, channel] += gain
        return
    share = gain / math.sqrt(panner.rings)
    for k in range(panner.rings):
        tab[nb + SCRATCH, int(tab[nb + RING, k])] += share


@njit(cache=True, nogil=True)
def add_everywhere(panner, weight):
    """A source with no direction (at the listener, or straight above a flat layout): every main
    speaker at equal power."""
    tab, nb = panner.tab, panner.bases
    share = weight / math.sqrt(panner.mains)
    for k in range(panner.mains):
        tab[nb + SCRATCH, int(tab[nb + MAINS, k])] += share


@njit(cache=True, nogil=True)
def normalized(panner):
    """The scratch row scaled to unit power, as a tuple of MAX_CHANNELS gains, and the row cleared."""
    g = panner.tab[panner.bases + SCRATCH]
    power = 0.0
    for c in range(g.shape[0]):
        power += g[c] * g[c]
    if power > 0.0:
        s = 1.0 / math.sqrt(power)
        for c in range(g.shape[0]):
            g[c] *= s
    out = to_fixed_tuple(g, MAX_CHANNELS)
    g[:] = 0.0
    return out


@njit(cache=True, nogil=True, inline="always")
def _pick(c, ca, ga, cb, gb, cc, gc):
    return ga if c == ca else (gb if c == cb else (gc if c == cc else 0.0))


@njit(cache=True, nogil=True)
def _gains(ca, ga, cb, gb, cc, gc):
    """The 16-channel gain tuple with gains ga, gb, gc on channels ca, cb, cc (-1: none)."""
    return (_pick(0, ca, ga, cb, gb, cc, gc), _pick(1, ca, ga, cb, gb, cc, gc), _pick(2, ca, ga, cb, gb, cc, gc),
            _pick(3, ca, ga, cb, gb, cc, gc), _pick(4, ca, ga, cb, gb, cc, gc), _pick(5, ca, ga, cb, gb, cc, gc),
            _pick(6, ca, ga, cb, gb, cc, gc), _pick(7, ca, ga, cb, gb, cc, gc), _pick(8, ca, ga, cb, gb, cc, gc),
            _pick(9, ca, ga, cb, gb, cc, gc), _pick(10, ca, ga, cb, gb, cc, gc), _pick(11, ca, ga, cb, gb, cc, gc),
            _pick(12, ca, ga, cb, gb, cc, gc), _pick(13, ca, ga, cb, gb, cc, gc), _pick(14, ca, ga, cb, gb, cc, gc),
            _pick(15, ca, ga, cb, gb, cc, gc))


@njit(cache=True, nogil=True, inline="always")
def direction_gains(panner, x, y, z, spread):
    """Unit-power gains of a source at (x, y, z), widened by MDAP when spread > 0.  The common case, a
    point source inside a pair or a triangle of real speakers, is found and returned without the
    scratch row (which the spread, the nadir and a source with no direction go through)."""
    if spread <= 0.0:
        found, ca, ga, cb, gb, cc, gc = locate(panner.tab, panner.bases, panner.flat, x, y, z)
        if found and ca >= 0 and cb >= 0 and (cc >= 0 or panner.flat):   # (not the nadir's share)
            return _gains(ca, ga, cb, gb, cc, gc)
    return accumulated_gains(panner, x, y, z, spread)


@njit(cache=True, nogil=True, inline="always")
def direction_targets(panner, target, s, level, x, y, z, spread, channels):
    """target[s, :channels] = level x direction_gains(panner, x, y, z, spread), the common case (a point
    source in a pair or a triangle of real speakers) written as its two or three gains and zeros."""
    if spread <= 0.0:
        found, ca, ga, cb, gb, cc, gc = locate(panner.tab, panner.bases, panner.flat, x, y, z)
        if found and ca >= 0 and cb >= 0 and (cc >= 0 or panner.flat):   # (not the nadir's share)
            for c in range(channels):
                target[s, c] = 0.0
            target[s, ca] = level * ga
            target[s, cb] = level * gb
            if cc >= 0:
                target[s, cc] = level * gc
            return
    g = accumulated_gains(panner, x, y, z, spread)
    for c in range(channels):
        target[s, c] = level * g[c]


@njit(cache=True, nogil=True)
def accumulated_gains(panner, x, y, z, spread):
    """The gains through the scratch row: MDAP's virtual sources, the virtual nadir's share, or every
    speaker at equal power for a source with no direction."""
    add_direction(panner, x, y, z, 1.0)
    if spread > 0.0:
        r = math.sqrt(x * x + y * y + z * z)
        if r > 1e-9:
            dx, dy, dz = x / r, y / r, z / r
            # two unit vectors perpendicular to the direction (u in the horizontal plane where it can be)
            ux, uy, uz = dz, 0.0, -dx
            norm = math.sqrt(ux * ux + uz * uz)
            if norm < 1e-9:
                ux, uy, uz, norm = 1.0, 0.0, 0.0, 1.0
            ux, uz = ux / norm, uz / norm
            wx, wy, wz = dy * uz - dz * uy, dz * ux - dx * uz, dx * uy - dy * ux
            around = 2 if panner.flat else MDAP_AROUND
            for ring in range(1, MDAP_RINGS + 1):
                angle = spread * math.pi * ring / MDAP_RINGS
                ca, sa = math.cos(angle), math.sin(angle)
                for k in range(around):
                    beta = 2.0 * math.pi * k / around
                    cb, sb = math.cos(beta), math.sin(beta)
                    add_direction(panner, ca * dx + sa * (cb * ux + sb * wx), ca * dy + sa * (cb * uy + sb * wy),
                                  ca * dz + sa * (cb * uz + sb * wz), 1.0)
    return normalized(panner)


@njit(cache=True, nogil=True)
def pan_law(p):
    """Constant-power (a, b) for a position p in [0, 1] between two speakers."""
    theta = min(max(p, 0.0), 1.0) * (math.pi / 2.0)
    return math.cos(theta), math.sin(theta)


@njit(cache=True, nogil=True)
def pan_gains(panner, p, centre):
    """A mono 2D sound at pan p between the front left and right speakers; a share `centre` of it
    panned through the centre speaker (centre to left or right), the rest as a phantom image."""
    p = min(max(p, -1.0), 1.0)
    left, right = pan_law((p + 1.0) / 2.0)
    if panner.fc < 0 or centre <= 0.0:
        return _gains(panner.fl, left, panner.fr, right, -1, 0.0)
    c = min(centre, 1.0)
    phantom = math.sqrt(1.0 - c)
    side, onto = pan_law(abs(p))               # centre -> the side p leans to
    share = math.sqrt(c)
    gl, gr = phantom * left, phantom * right
    if p < 0.0:
        gl += share * onto
    else:
        gr += share * onto
    gc = share * side
    s = 1.0 / math.sqrt(gl * gl + gr * gr + gc * gc)
    return _gains(panner.fl, gl * s, panner.fr, gr * s, panner.fc, gc * s)


@njit(cache=True, nogil=True)
def balance_gains(panner, p):
    """A stereo 2D sound: its left channel on the front left speaker, its right on the front right,
    scaled by the stereo balance law (unity at the centre)."""
    left, right = pan_law((min(max(p, -1.0), 1.0) + 1.0) / 2.0)
    return (_gains(panner.fl, min(1.0, math.sqrt(2.0) * left), -1, 0.0, -1, 0.0),
            _gains(panner.fr, min(1.0, math.sqrt(2.0) * right), -1, 0.0, -1, 0.0))


@njit(cache=True, nogil=True)
def lfe(panner):
    return panner.lfe


def _maker(spec: LayoutSpec):
    return lambda context: tables(spec)


for _name in ("quad", "5.1", "7.1", "7.1.4"):
    panning.register(SPECS[_name], VbapPanner, _maker(SPECS[_name]), direction_gains, pan_gains, balance_gains, lfe,
                     direction_targets=direction_targets)
