"""HOT PATH.  Propagation: directivity cones, air absorption, occlusion, obstruction, aux sends and zones.

What happens to a 3D voice's sound between the emitter and the listener,
after its distance gain (dsp/distance.py):

- **Cone** (OpenAL 1.1, AL_CONE_*; OpenAL Soft's ALu.c): with the angle A
  between the emitter's direction and the way to the listener, doubled (a
  full cone width), the gain is 1 inside the inner angle, the outer gain
  beyond the outer angle, and linear between (likewise the gain at the
  reference frequency, the outer low-pass).
- **Air absorption** (OpenAL EFX, AL_AIR_ABSORPTION_FACTOR): the gain at the
  reference frequency is 0.99426^(distance x factor), -0.05 dB per metre at
  5 kHz for factor 1 (AL_DEFAULT_AIR_ABSORPTION_GAINHF).
- **Occlusion and obstruction** (FMOD's and Wwise's semantics): a factor f in
  0..1 from the game (and, for occlusion, from the zone a voice stands in
  when the listener is outside it) scales the sound's dB at factor 1: gain
  and gain at the reference frequency.  Occlusion (a wall between) muffles
  the direct sound and the sends alike; obstruction (something in the way,
  the room still carrying the sound) only the direct sound.

All the low-passes multiply their gains at the reference frequency (5 kHz,
OpenAL Soft's LOWPASSFREQREF, or 0.4 of the rate below 12.5 kHz) and one
one-pole filter per path realises the product (`one_pole_for`): the voice's
own (with its mapped low-pass), before the sends, then obstruction's on the
direct path alone.  Both coefficients are ramped across the block.

**Aux sends and zones.** A voice may feed up to MAX_AUX auxiliary buses
(reverb returns): at the levels the game set for it (`aux_sends`, Wwise's
game-defined auxiliary sends), plus each zone's level times the zone's
weight: the emitter's position in an emitter zone (Wwise's environments),
the listener's in a listener zone (FMOD's reverb zones).  A zone's weight is
1 inside its box or sphere and falls linearly to 0 across its fade distance
outside, so a voice or listener crossing it crossfades.  A send carries the
voice after its own filter, unpanned (as a source at the listener: equal
power on every channel; the reverb makes the room), its gain ramped from the
last block's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core.arrays import (
    VX_AIR, VX_CONE_GAIN, VX_CONE_HF, VX_CONE_IN, VX_CONE_OUT, VX_DIR_X, VX_DIR_Y, VX_DIR_Z, VX_OBS, VX_OBS_DB,
    VX_OBS_HF_DB, VX_OCC, VX_OCC_DB, VX_OCC_HF_DB,
)

AIR_GAIN_HF = 0.99426          # OpenAL EFX AL_DEFAULT_AIR_ABSORPTION_GAINHF: per metre, factor 1
REFERENCE_HZ = 5000.0          # OpenAL Soft's LOWPASSFREQREF
MAX_AUX = 8
# zones[z, ZN_*]
ZN_SHAPE, ZN_CX, ZN_CY, ZN_CZ, ZN_HX, ZN_HY, ZN_HZ, ZN_FADE, ZN_LISTENER, ZN_OCCLUSION = range(10)
ZN_NFIELDS = 10
BOX, SPHERE = 0, 1


class Propagation(NamedTuple):
    """Zones, aux buses and the voices' sends (allocated with the scene; control writes the levels)."""

    zones: np.ndarray        # (zones, ZN_NFIELDS): shape, centre, half sizes (a sphere: radius in HX), fade,
                             # 1 for a listener zone, its occlusion (a room's walls)
    zone_send: np.ndarray    # (zones, MAX_AUX) linear send level of each zone to each aux bus
    aux_bus: np.ndarray      # (MAX_AUX,) the aux buses, -1 unused
    vsend: np.ndarray        # (rows, MAX_AUX) linear send levels the game set per voice
    vsend_prev: np.ndarray   # (rows, MAX_AUX) float32: each voice's total send gain at the end of the last block
    omni: np.ndarray         # (channels,) the layout's gains for a source with no direction
    sums: np.ndarray         # (MAX_AUX,) scratch: one voice's zone sends
    reference: np.ndarray    # (1,): cos of the reference frequency's angle, 2 pi f / rate


def allocate(rows: int, zones: int, channels: int, sample_rate: float) -> Propagation:
    w = 2.0 * math.pi * min(REFERENCE_HZ, 0.4 * sample_rate) / sample_rate
    return Propagation(np.zeros((zones, ZN_NFIELDS)), np.zeros((zones, MAX_AUX)), np.full(MAX_AUX, -1, np.int64),
                       np.zeros((rows, MAX_AUX)), np.zeros((rows, MAX_AUX), np.float32), np.zeros(channels),
                       np.zeros(MAX_AUX), np.array([math.cos(w)]))


def unit(vector) -> tuple[float, float, float]:
    """A direction as the kernels take it: unit length, or (0, 0, 0) for none (control side)."""
    x, y, z = (float(c) for c in vector)
    norm = math.sqrt(x * x + y * y + z * z)
    return (0.0, 0.0, 0.0) if not norm > 1e-12 or not math.isfinite(norm) else (x / norm, y / norm, z / norm)


def cutoff_hf_db(cutoff_hz: float, sample_rate: float) -> float:
    """dB at the reference frequency of the voices' one-pole low-pass at `cutoff_hz` (the design
    control/local.py uses: a = 1 - exp(-2 pi fc / rate), open at half the rate); 0 for an open one
    (control side, when a scene loads)."""
    if cutoff_hz >= 0.5 * sample_rate or cutoff_hz >= 20000.0:
        return 0.0
    a = 1.0 - math.exp(-2.0 * math.pi * max(cutoff_hz, 1.0) / sample_rate)
    cos_w = math.cos(2.0 * math.pi * min(REFERENCE_HZ, 0.4 * sample_rate) / sample_rate)
    return 20.0 * math.log10(one_pole_gain.py_func(a, cos_w))    # interpreted: no compiled code to load at a first play


@njit(cache=True, nogil=True)
def one_pole_gain(a, cos_w):
    """|H| at the reference frequency of the one-pole low-pass y += a (x - y)."""
    b = 1.0 - a
    return a / math.sqrt(max(1.0 - 2.0 * b * cos_w + b * b, 1e-30))


@njit(cache=True, nogil=True)
def one_pole_for(g, cos_w):
    """The coefficient a of the one-pole low-pass whose gain at the reference frequency is g (<= 1):
    the root in [0, 1) of (g^2 - 1) b^2 + 2 (1 - g^2 cos w) b + (g^2 - 1) = 0 for b = 1 - a (from
    |H|^2 = a^2 / (1 - 2 b cos w + b^2)), in the form that stays exact as g nears 1."""
    if g >= 1.0:
        return 1.0
    g = max(g, 1e-6)
    q = g * g - 1.0
    p = 2.0 * (1.0 - g * g * cos_w)
    b = 2.0 * q / (-p - math.sqrt(max(p * p - 4.0 * q * q, 0.0)))
    return 1.0 - min(max(b, 0.0), 1.0)


@njit(cache=True, nogil=True)
def cone(vx, v, tx, ty, tz):
    """(gain, gain at the reference frequency) of the emitter's cone towards the unit vector (tx, ty, tz)
    from the emitter to the listener (OpenAL's interpolation over the doubled angle)."""
    dx, dy, dz = vx[v, VX_DIR_X], vx[v, VX_DIR_Y], vx[v, VX_DIR_Z]
    inner, outer = vx[v, VX_CONE_IN], vx[v, VX_CONE_OUT]
    if (dx == 0.0 and dy == 0.0 and dz == 0.0) or inner >= 2.0 * math.pi:
        return 1.0, 1.0
    angle = 2.0 * math.acos(min(max(dx * tx + dy * ty + dz * tz, -1.0), 1.0))
    if angle <= inner:
        return 1.0, 1.0
    if angle >= outer:
        return vx[v, VX_CONE_GAIN], vx[v, VX_CONE_HF]
    t = (angle - inner) / (outer - inner)
    return 1.0 + t * (vx[v, VX_CONE_GAIN] - 1.0), 1.0 + t * (vx[v, VX_CONE_HF] - 1.0)


@njit(cache=True, nogil=True)
def muffle(factor, db, hf_db):
    """(gain, gain at the reference frequency) of an occlusion or obstruction factor: its dB at 1, scaled."""
    if factor <= 0.0:
        return 1.0, 1.0
    return math.pow(10.0, factor * db / 20.0), math.pow(10.0, factor * hf_db / 20.0)


@njit(cache=True, nogil=True)
def voice(vx, v, tx, ty, tz, d, zone_occlusion):
    """(direct gain, send gain, gain at the reference frequency of the voice's own filter, of its
    obstruction filter) for a voice marked VX_PROP, towards unit vector (tx, ty, tz) at distance d."""
    cg, chf = cone(vx, v, tx, ty, tz)
    air = math.pow(AIR_GAIN_HF, d * vx[v, VX_AIR]) if vx[v, VX_AIR] > 0.0 else 1.0
    occ = 1.0 - (1.0 - vx[v, VX_OCC]) * (1.0 - zone_occlusion)
    og, ohf = muffle(occ, vx[v, VX_OCC_DB], vx[v, VX_OCC_HF_DB])
    bg, bhf = muffle(vx[v, VX_OBS], vx[v, VX_OBS_DB], vx[v, VX_OBS_HF_DB])
    return cg * og * bg, cg * og, chf * air * ohf, bhf


@njit(cache=True, nogil=True)
def zone_weight(zones, z, px, py, pz):
    """1 inside zone z's box or sphere, falling linearly to 0 across its fade distance outside."""
    dx = abs(px - zones[z, ZN_CX])
    dy = abs(py - zones[z, ZN_CY])
    dz = abs(pz - zones[z, ZN_CZ])
    if zones[z, ZN_SHAPE] == SPHERE:
        out = max(math.sqrt(dx * dx + dy * dy + dz * dz) - zones[z, ZN_HX], 0.0)
    else:
        ox = max(dx - zones[z, ZN_HX], 0.0)
        oy = max(dy - zones[z, ZN_HY], 0.0)
        oz = max(dz - zones[z, ZN_HZ], 0.0)
        out = math.sqrt(ox * ox + oy * oy + oz * oz)
    if out <= 0.0:
        return 1.0
    fade = zones[z, ZN_FADE]
    return max(1.0 - out / fade, 0.0) if fade > 0.0 else 0.0


@njit(cache=True, nogil=True)
def zone_sends(prop, ex, ey, ez, lx, ly, lz):
    """Fill prop.sums with the zones' sends of an emitter at (ex, ey, ez) heard by a listener at
    (lx, ly, lz); return the occlusion its rooms add (1 - the product of what each lets through)."""
    zones, sums = prop.zones, prop.sums
    sums[:] = 0.0
    through = 1.0
    for z in range(zones.shape[0]):
        we = zone_weight(zones, z, ex, ey, ez)
        wl = zone_weight(zones, z, lx, ly, lz)
        w = wl if zones[z, ZN_LISTENER] != 0.0 else we
        if w > 0.0:
            for a in range(sums.shape[0]):
                sums[a] += w * prop.zone_send[z, a]
        if zones[z, ZN_OCCLUSION] > 0.0:
            through *= 1.0 - zones[z, ZN_OCCLUSION] * we * (1.0 - wl)
    return 1.0 - through


@njit(cache=True, nogil=True)
def mix_sends(prop, v, first, scratch, n, bus_buf, ramp, level, zoned, channels):
    """Add voice v's block into each aux bus at (its own level + its zones') x level, unpanned, each
    send's gain ramped from the last block's (a voice's first block starts at its gains)."""
    omni = prop.omni
    for a in range(prop.aux_bus.shape[0]):
        bus = prop.aux_bus[a]
        if bus < 0:
            continue
        total = prop.vsend[v, a] + (prop.sums[a] if zoned else 0.0)
        g1 = np.float32(total * level)
        g0 = g1 if first else prop.vsend_prev[v, a]
        prop.vsend_prev[v, a] = g1
        if g0 == 0.0 and g1 == 0.0:
            continue
        dg = g1 - g0
        for c in range(channels):
            k = np.float32(omni[c])
            if k == 0.0:
                continue
            for i in range(n):
                bus_buf[bus, c, i] += scratch[i] * (k * (g0 + dg * ramp[i]))
