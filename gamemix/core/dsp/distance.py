"""HOT PATH.  Point emitters: distance attenuation, the listener's frame and Doppler.

Distance models follow the OpenAL 1.1 specification's clamped variants
(section 3.4): the distance is clamped to [reference, max] first.  The
listener's frame is OpenAL's: right = forward x up, then up re-made
orthogonal to forward.  Doppler is the OpenAL 1.1 formula (section 3.5.2).
Panning is the layout's panner's (core/panning/).
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
def listener_front_up(lf_fx, lf_fy, lf_fz, rx, ry, rz):
    """Unit 'front' (forward, normalised) and 'up' (right x front, so orthogonal to both) vectors
    of the listener, given its unit right vector."""
    norm = math.sqrt(lf_fx * lf_fx + lf_fy * lf_fy + lf_fz * lf_fz)
    if not norm > 1e-12:
        fx, fy, fz = 0.0, 0.0, -1.0
    else:
        fx, fy, fz = lf_fx / norm, lf_fy / norm, lf_fz / norm
    return fx, fy, fz, ry * fz - rz * fy, rz * fx - rx * fz, rx * fy - ry * fx


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
