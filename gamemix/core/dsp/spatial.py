"""HOT PATH.  Distance attenuation, panning and Doppler for point emitters.

Distance models follow the OpenAL 1.1 specification's clamped variants
(section 3.4): the distance is clamped to [reference, max] first.  Panning to
stereo is constant power: the emitter's lateral direction in the listener's
frame, p = sin(azimuth) in [-1, 1], maps to the angle theta = (p + 1) pi / 4 and
the gains (cos theta, sin theta), so the centre is -3.01 dB on each side and
L^2 + R^2 = 1 everywhere.  Doppler is the OpenAL 1.1 formula (section 3.5.2).
"""

import math

from numba import njit

from gamemix.core.arrays import DIST_EXPONENTIAL, DIST_INVERSE, DIST_LINEAR, MAX_PITCH, MIN_PITCH


@njit(cache=True, nogil=True)
def distance_gain(model, d, ref, dmax, rolloff):
    """Gain of a source at distance d for one of the OpenAL clamped models."""
    if model == 0:
        return 1.0
    d = min(max(d, ref), dmax)
    if model == DIST_INVERSE:
        den = ref + rolloff * (d - ref)
        return ref / den if den > 0.0 else 1.0
    if model == DIST_LINEAR:
        if dmax <= ref:
            return 1.0
        return max(0.0, 1.0 - rolloff * (d - ref) / (dmax - ref))
    if model == DIST_EXPONENTIAL:
        return (d / ref) ** (-rolloff)
    return 1.0


@njit(cache=True, nogil=True)
def pan_gains(p):
    """Constant-power (left, right) gains for a pan position p in [-1, 1]."""
    p = min(max(p, -1.0), 1.0)
    theta = (p + 1.0) * (math.pi / 4.0)
    return math.cos(theta), math.sin(theta)


@njit(cache=True, nogil=True)
def balance_gains(p):
    """(left, right) gains of a stereo source's balance p in [-1, 1]: unity at centre, constant
    power towards a side (the pan law scaled by sqrt 2, capped at unity)."""
    gl, gr = pan_gains(p)
    return min(1.0, math.sqrt(2.0) * gl), min(1.0, math.sqrt(2.0) * gr)


@njit(cache=True, nogil=True)
def point_source(dx, dy, dz, rx, ry, rz, model, ref, dmax, rolloff):
    """(distance, distance gain, left, right) of a point emitter at (dx, dy, dz) from the listener,
    (rx, ry, rz) being the listener's unit right vector: distance model, then constant-power pan
    from the lateral direction."""
    d = math.sqrt(dx * dx + dy * dy + dz * dz)
    gain = distance_gain(model, d, ref, dmax, rolloff)
    lateral = (dx * rx + dy * ry + dz * rz) / d if d > 1e-9 else 0.0
    gl, gr = pan_gains(lateral)
    return d, gain, gl, gr


@njit(cache=True, nogil=True)
def listener_right(lf_fx, lf_fy, lf_fz, lf_ux, lf_uy, lf_uz):
    """Unit 'right' vector of the listener: forward x up, normalised (OpenAL frame)."""
    rx = lf_fy * lf_uz - lf_fz * lf_uy
    ry = lf_fz * lf_ux - lf_fx * lf_uz
    rz = lf_fx * lf_uy - lf_fy * lf_ux
    norm = math.sqrt(rx * rx + ry * ry + rz * rz)
    if not norm > 1e-12:
        return 1.0, 0.0, 0.0
    return rx / norm, ry / norm, rz / norm


@njit(cache=True, nogil=True)
def doppler_ratio(dx, dy, dz, d, svx, svy, svz, lvx, lvy, lvz, speed, factor):
    """OpenAL 1.1 Doppler pitch ratio; (dx, dy, dz) points from listener to source."""
    if factor <= 0.0 or d < 1e-9:
        return 1.0
    # SL points from source to listener: -(dx, dy, dz) / d
    vls = -(lvx * dx + lvy * dy + lvz * dz) / d
    vss = -(svx * dx + svy * dy + svz * dz) / d
    limit = speed / factor
    vls = min(vls, limit)
    vss = min(vss, limit)
    den = speed - factor * vss
    if den <= 1e-9:
        return MAX_PITCH
    return min(max((speed - factor * vls) / den, MIN_PITCH), MAX_PITCH)
