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

EPS = -1e-9            # a gain this small below zero still counts as inside a pair or triangle
MDAP_RINGS = 4         # virtual sources: the direction, then rings at spread x 45, 90, 135, 180 degrees
MDAP_AROUND = 6        # ... of this many on a layout with height (two, left and right, on a flat one)


class VbapPanner(NamedTuple):
    """The tables of one speaker layout."""

    inv: np.ndarray        # (k, 3, 3) inverse speaker matrices (a flat layout's pairs: the top-left 2 x 2)
    idx: np.ndarray        # (k, 3) their channels (-1: the virtual nadir speaker; a pair's third is -1)
    ring: np.ndarray       # channels of the ear-level speakers (the nadir's gain goes to them)
    mains: np.ndarray      # every channel but the LFE (a source with no direction: all at equal power)
    flat: bool             # pairs in the horizontal plane (no speaker above or below)
    lfe: int               # the LFE channel, or -1
    fl: int                # front left and right (2D pans), centre (-1: none)
    fr: int
    fc: int
    g: np.ndarray          # (MAX_CHANNELS,) scratch gains


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
        bases = [(order[k], order[(k + 1) % len(order)]) for k in range(len(order))]
        inv = np.zeros((len(bases), 3, 3))
        idx = np.full((len(bases), 3), -1, dtype=np.int64)
        for k, (a, b) in enumerate(bases):
            pa, pb = (_unit(spec.speakers[c].azimuth, 0.0)[[0, 2]] for c in (a, b))
            inv[k, :2, :2] = np.linalg.inv(np.array([pa, pb]))
            idx[k, :2] = (a, b)
    else:
        from scipy.spatial import ConvexHull
        points = [_unit(spec.speakers[c].azimuth, spec.speakers[c].elevation) for c in mains]
        channels = list(mains)
        if min(spec.speakers[c].elevation for c in mains) >= 0.0:
            points.append(np.array([0.0, -1.0, 0.0]))
            channels.append(-1)
        hull = ConvexHull(np.array(points))
        inv = np.zeros((len(hull.simplices), 3, 3))
        idx = np.zeros((len(hull.simplices), 3), dtype=np.int64)
        for k, face in enumerate(hull.simplices):
            inv[k] = np.linalg.inv(np.array([points[i] for i in face]))
            idx[k] = [channels[i] for i in face]
    ring = [c for c in mains if spec.speakers[c].elevation == 0.0]
    find = {n: c for c, n in enumerate(names)}
    return VbapPanner(inv, idx, np.array(ring, dtype=np.int64), np.array(mains, dtype=np.int64), flat,
                      find.get("LFE", -1), find["FL"], find["FR"], find.get("FC", -1), np.zeros(MAX_CHANNELS))


@njit(cache=True, nogil=True)
def add_direction(panner, x, y, z, weight):
    """Add `weight` x the unit-power VBAP gains of direction (x, y, z) into panner.g."""
    g = panner.g
    inv = panner.inv
    idx = panner.idx
    if panner.flat:
        r = math.sqrt(x * x + z * z)
        if r < 1e-9:
            add_everywhere(panner, weight)
            return
        px, pz = x / r, z / r
        for k in range(inv.shape[0]):
            g0 = px * inv[k, 0, 0] + pz * inv[k, 1, 0]
            g1 = px * inv[k, 0, 1] + pz * inv[k, 1, 1]
            if g0 >= EPS and g1 >= EPS:
                g0, g1 = max(g0, 0.0), max(g1, 0.0)
                s = weight / math.sqrt(g0 * g0 + g1 * g1)
                g[idx[k, 0]] += g0 * s
                g[idx[k, 1]] += g1 * s
                return
        return
    r = math.sqrt(x * x + y * y + z * z)
    if r < 1e-9:
        add_everywhere(panner, weight)
        return
    px, py, pz = x / r, y / r, z / r
    for k in range(inv.shape[0]):
        g0 = px * inv[k, 0, 0] + py * inv[k, 1, 0] + pz * inv[k, 2, 0]
        g1 = px * inv[k, 0, 1] + py * inv[k, 1, 1] + pz * inv[k, 2, 1]
        g2 = px * inv[k, 0, 2] + py * inv[k, 1, 2] + pz * inv[k, 2, 2]
        if g0 >= EPS and g1 >= EPS and g2 >= EPS:
            g0, g1, g2 = max(g0, 0.0), max(g1, 0.0), max(g2, 0.0)
            s = weight / math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
            add_speaker(panner, idx[k, 0], g0 * s)
            add_speaker(panner, idx[k, 1], g1 * s)
            add_speaker(panner, idx[k, 2], g2 * s)
            return


@njit(cache=True, nogil=True)
def add_speaker(panner, channel, gain):
    """Add a gain to a speaker; the virtual nadir's (-1) is shared in power by the ear-level ring."""
    if channel >= 0:
        panner.g[channel] += gain
        return
    share = gain / math.sqrt(panner.ring.shape[0])
    for k in range(panner.ring.shape[0]):
        panner.g[panner.ring[k]] += share


@njit(cache=True, nogil=True)
def add_everywhere(panner, weight):
    """A source with no direction (at the listener, or straight above a flat layout): every main
    speaker at equal power."""
    share = weight / math.sqrt(panner.mains.shape[0])
    for k in range(panner.mains.shape[0]):
        panner.g[panner.mains[k]] += share


@njit(cache=True, nogil=True)
def normalized(panner):
    """panner.g scaled to unit power, as a tuple of MAX_CHANNELS gains, and panner.g cleared."""
    g = panner.g
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


@njit(cache=True, nogil=True)
def direction_gains(panner, x, y, z, spread):
    """Unit-power gains of a source at (x, y, z), widened by MDAP when spread > 0.  The common case, a
    point source inside a pair or a triangle of real speakers, is found and returned without the
    scratch row (which the spread, the nadir and a source with no direction go through)."""
    if spread <= 0.0:
        inv, idx = panner.inv, panner.idx
        if panner.flat:
            r = math.sqrt(x * x + z * z)
            if r > 1e-9:
                px, pz = x / r, z / r
                for k in range(inv.shape[0]):
                    g0 = px * inv[k, 0, 0] + pz * inv[k, 1, 0]
                    g1 = px * inv[k, 0, 1] + pz * inv[k, 1, 1]
                    if g0 >= EPS and g1 >= EPS:
                        g0, g1 = max(g0, 0.0), max(g1, 0.0)
                        s = 1.0 / math.sqrt(g0 * g0 + g1 * g1)
                        return _gains(idx[k, 0], g0 * s, idx[k, 1], g1 * s, -1, 0.0)
        else:
            r = math.sqrt(x * x + y * y + z * z)
            if r > 1e-9:
                px, py, pz = x / r, y / r, z / r
                for k in range(inv.shape[0]):
                    g0 = px * inv[k, 0, 0] + py * inv[k, 1, 0] + pz * inv[k, 2, 0]
                    g1 = px * inv[k, 0, 1] + py * inv[k, 1, 1] + pz * inv[k, 2, 1]
                    g2 = px * inv[k, 0, 2] + py * inv[k, 1, 2] + pz * inv[k, 2, 2]
                    if g0 >= EPS and g1 >= EPS and g2 >= EPS:
                        if idx[k, 0] < 0 or idx[k, 1] < 0 or idx[k, 2] < 0:
                            break                      # the virtual nadir: the scratch row shares it out
                        g0, g1, g2 = max(g0, 0.0), max(g1, 0.0), max(g2, 0.0)
                        s = 1.0 / math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
                        return _gains(idx[k, 0], g0 * s, idx[k, 1], g1 * s, idx[k, 2], g2 * s)
    return accumulated_gains(panner, x, y, z, spread)


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
    g = panner.g
    left, right = pan_law((p + 1.0) / 2.0)
    if panner.fc >= 0 and centre > 0.0:
        c = min(centre, 1.0)
        phantom = math.sqrt(1.0 - c)
        g[panner.fl] += phantom * left
        g[panner.fr] += phantom * right
        side, onto = pan_law(abs(p))           # centre -> the side p leans to
        share = math.sqrt(c)
        g[panner.fc] += share * side
        g[panner.fl if p < 0.0 else panner.fr] += share * onto
    else:
        g[panner.fl] += left
        g[panner.fr] += right
    return normalized(panner)


@njit(cache=True, nogil=True)
def balance_gains(panner, p):
    """A stereo 2D sound: its left channel on the front left speaker, its right on the front right,
    scaled by the stereo balance law (unity at the centre)."""
    left, right = pan_law((min(max(p, -1.0), 1.0) + 1.0) / 2.0)
    gl = panner.g
    gl[panner.fl] = min(1.0, math.sqrt(2.0) * left)
    a = to_fixed_tuple(gl, MAX_CHANNELS)
    gl[:] = 0.0
    gl[panner.fr] = min(1.0, math.sqrt(2.0) * right)
    b = to_fixed_tuple(gl, MAX_CHANNELS)
    gl[:] = 0.0
    return a, b


@njit(cache=True, nogil=True)
def lfe(panner):
    return panner.lfe


def _maker(spec: LayoutSpec):
    return lambda context: tables(spec)


for _name in ("quad", "5.1", "7.1", "7.1.4"):
    panning.register(SPECS[_name], VbapPanner, _maker(SPECS[_name]), direction_gains, pan_gains, balance_gains, lfe)
