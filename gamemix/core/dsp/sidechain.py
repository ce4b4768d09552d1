"""HOT PATH.  Sidechain ducking: a bus attenuated by the measured signal of other buses.

The signal-driven counterpart of priority ducking (control side, ducking.py):
music goes down because dialogue is *sounding*, not because a dialogue sound
is playing.  Each ducked bus has up to MAX_KEYS keys.  Per key and per sample:

1. key = the key bus's post-fader signal of this block (the engine processes
   keys before the buses they drive), each channel optionally band-limited by
   a 12 dB/oct high-pass and low-pass (e.g. 300-4000 Hz so only speech, not a
   dialogue bus's room tone, drives the duck);
2. level = 10 log10 of the sum over channels of the squares, smoothed with a
   10 ms one-pole: dBFS RMS of the source however it is panned (constant-power
   panning keeps L^2 + R^2), so a full-scale sine reads -3.01;
3. wanted attenuation above the threshold: the fixed depth, or in ratio mode
   (over - over/ratio) dB capped at range;
4. smoothing in dB: towards a deeper attenuation with the attack time
   constant, then held for `hold`, then back with the release time constant
   (one-pole: 63 % of the way after one time constant, as compressors count).

Several keys on one bus: the deepest wins (as `ducking_combine: deepest`).
The gain is applied per sample from the smoothed dB value, so it cannot click.

A block is worked a key at a time in stretches of CHUNK samples, each key's
state in locals, its attenuation per sample kept in `scratch` (the deepest so
far), then the gain applied (exp only where the attenuation changed).  With
a fixed depth the level only decides whether the key is over its threshold,
so a mean square far enough from the threshold's needs no log10 (see
`_over`): the same decisions and the same numbers as sample by sample.

Arrays (SidechainStage): keys[b, k, SC_*] float64 (params and state of key k of
bus b; SC_KEY < 0 marks an unused slot; used slots come first),
band_state[b, k, c, 4] the band filters' state, duck[b] = the bus's
attenuation at the end of the last block, dB >= 0 (telemetry); scratch
(2, CHUNK): the attenuation per sample of the stretch being worked, and a
key's squares per sample (its channels' band filters run two side by side,
their states in locals, before the envelope goes through the stretch).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.core.dsp import filters
from gamemix.core.panning.layouts import MAX_CHANNELS
from gamemix.units import LN10_20

MAX_KEYS = 4
RMS_TIME_S = 0.010
CHUNK = 256          # samples worked a key at a time
NEAR = 1e-9          # relative distance from the threshold's mean square inside which log10 decides

# keys[b, k, FIELD]
SC_KEY = 0          # key bus index, -1 = unused slot
SC_THRESHOLD = 1    # dBFS RMS
SC_DEPTH = 2        # fixed attenuation, dB >= 0 (ratio mode when SC_RATIO > 1)
SC_RATIO = 3
SC_RANGE = 4        # deepest attenuation in ratio mode, dB >= 0
SC_ATTACK = 5       # one-pole coefficients exp(-1 / (tau fs))
SC_RELEASE = 6
SC_HOLD = 7         # samples
SC_RMS = 8          # RMS detector coefficient
SC_BAND = 9         # 1 = band-limit the key
SC_HP_A1, SC_HP_A2, SC_HP_A3 = 10, 11, 12   # TPT SVF coefficients (see dsp/filters.py)
SC_LP_A1, SC_LP_A2, SC_LP_A3 = 13, 14, 15
SC_MS = 16          # state: mean square of the key
SC_HOLD_LEFT = 17   # state: samples of hold left
SC_ATT = 18         # state: smoothed attenuation, dB >= 0
SC_NFIELDS = 19

# band-filter state per key channel (MAX_CHANNELS, the widest layout): band_state[b, k, c, 0:4] = hp ic1, ic2, lp ic1, ic2

SVF_K = math.sqrt(2.0)


class SidechainStage(NamedTuple):
    """Every bus's sidechain keys: keys (buses, MAX_KEYS, SC_NFIELDS), band_state (buses, MAX_KEYS,
    MAX_CHANNELS, 4), duck (buses,)."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    keys: np.ndarray
    band_state: np.ndarray
    duck: np.ndarray
    scratch: np.ndarray


def allocate(n_buses: int) -> SidechainStage:
    """Sidechain state for a scene with n_buses buses, every key slot unused."""
    keys = np.zeros((n_buses, MAX_KEYS, SC_NFIELDS), dtype=np.float64)
    keys[:, :, SC_KEY] = -1.0
    return SidechainStage(np.full(n_buses, -1, dtype=np.int64), keys, np.zeros((n_buses, MAX_KEYS, MAX_CHANNELS, 4)),
                          np.zeros(n_buses, dtype=np.float64), np.zeros((2, CHUNK)))


def _svf(fc: float, sample_rate: float) -> tuple[float, float, float]:
    g = math.tan(math.pi * min(fc, 0.49 * sample_rate) / sample_rate)
    a1 = 1.0 / (1.0 + g * (g + SVF_K))
    return a1, g * a1, g * g * a1


def _coef(ms: float, sample_rate: float) -> float:
    return math.exp(-1.0 / (ms * 1e-3 * sample_rate)) if ms > 0 else 0.0


def set_key(keys: np.ndarray, b: int, k: int, key_bus: int, sample_rate: float, threshold_db: float,
            depth_db: float | None, ratio: float | None, range_db: float, attack_ms: float, hold_ms: float,
            release_ms: float, band: tuple[float, float] | None) -> None:
    """Control side: configure key slot k of bus b (state is kept, so a reload does not jump)."""
    row = keys[b, k]
    row[SC_KEY] = key_bus
    row[SC_THRESHOLD] = threshold_db
    row[SC_DEPTH] = -depth_db if depth_db is not None else 0.0
    row[SC_RATIO] = ratio if ratio is not None else 0.0
    row[SC_RANGE] = range_db
    row[SC_ATTACK] = _coef(attack_ms, sample_rate)
    row[SC_RELEASE] = _coef(release_ms, sample_rate)
    row[SC_HOLD] = round(hold_ms * 1e-3 * sample_rate)
    row[SC_RMS] = _coef(RMS_TIME_S * 1e3, sample_rate)
    row[SC_BAND] = 1.0 if band is not None else 0.0
    if band is not None:
        row[SC_HP_A1:SC_HP_A3 + 1] = _svf(band[0], sample_rate)
        row[SC_LP_A1:SC_LP_A3 + 1] = _svf(band[1], sample_rate)


@njit(cache=True, nogil=True, inline="always")
def _wanted(row, level_db):
    """Attenuation (dB >= 0) the key asks for at this level."""
    over = level_db - row[SC_THRESHOLD]
    if over <= 0.0:
        return 0.0
    if row[SC_RATIO] > 1.0:
        return min(over - over / row[SC_RATIO], row[SC_RANGE])
    return row[SC_DEPTH]


@njit(cache=True, nogil=True)
def _key(b, k, bus_buf, start, count, channels, keys, band_state, deepest, first, sq):
    """Key k of bus b over samples start .. start + count - 1: its smoothed attenuation (dB) at each
    sample goes into deepest[:count] (the first key's as max(0, it), the others' as max with what is
    there, as the sample-by-sample loop took the deepest).  First the key's square per sample,
    summed over its channels in order, into sq[:count] (`_key_squares`); then per sample its mean
    square, the attenuation it asks for (`_wanted`, through the level only where it matters:
    `_over`), then attack / hold / release in dB; the state in locals, stored back at the end."""
    row = keys[b, k]
    key = int(row[SC_KEY])
    rms, attack, release, hold = row[SC_RMS], row[SC_ATTACK], row[SC_RELEASE], row[SC_HOLD]
    fixed = not row[SC_RATIO] > 1.0
    depth = row[SC_DEPTH]
    at = 10.0 ** (row[SC_THRESHOLD] / 10.0)      # the mean square at the threshold
    low, high = at * (1.0 - NEAR), at * (1.0 + NEAR)
    for i in range(count):
        sq[i] = 0.0
    for c in range(0, channels, 2):
        _key_squares(bus_buf[key], c, min(c + 1, channels - 1), start, count, row, band_state[b, k], sq)
    ms, att, hold_left = row[SC_MS], row[SC_ATT], row[SC_HOLD_LEFT]
    for i in range(count):
        ms = sq[i] + (ms - sq[i]) * rms
        m = ms + 1e-20
        if fixed and m > high:
            wanted = depth
        elif fixed and m < low:
            wanted = 0.0
        else:
            wanted = _wanted(row, 10.0 * math.log10(m))
        if wanted >= att:
            att = wanted + (att - wanted) * attack
            hold_left = hold
        elif hold_left > 0.0:
            hold_left -= 1.0
        else:
            att = wanted + (att - wanted) * release
        deepest[i] = max(0.0, att) if first else max(deepest[i], att)
    row[SC_MS] = ms
    row[SC_ATT] = att
    row[SC_HOLD_LEFT] = hold_left


@njit(cache=True, nogil=True, inline="always")
def _band(x, f0, f1, f2, f3, h1, h2, h3, l1, l2, l3):
    """One sample through the key's band: the high-pass then the low-pass, each one step of the bus
    filters' SVF (dsp/filters.py, Butterworth): (output, the four new states)."""
    x, f0, f1 = filters.svf_step(x, f0, f1, h1, h2, h3, True)
    x, f2, f3 = filters.svf_step(x, f2, f3, l1, l2, l3, False)
    return x, f0, f1, f2, f3


@njit(cache=True, nogil=True, inline="always")
def _finite(v):
    x = np.float64(v)
    return x if math.isfinite(x) else 0.0


@njit(cache=True, nogil=True)
def _key_squares(key_buf, c, d, start, count, row, state, sq):
    """sq[i] += the square of channel c's sample (band-limited if the key is, non-finite as 0), then
    channel d's (d == c: only c): the two channels' band filters run side by side, their states
    (state[channel, 0:4]) in locals."""
    band = row[SC_BAND] != 0.0
    both = d != c
    h1, h2, h3 = row[SC_HP_A1], row[SC_HP_A2], row[SC_HP_A3]
    l1, l2, l3 = row[SC_LP_A1], row[SC_LP_A2], row[SC_LP_A3]
    p0, p1, p2, p3 = state[c, 0], state[c, 1], state[c, 2], state[c, 3]
    q0, q1, q2, q3 = state[d, 0], state[d, 1], state[d, 2], state[d, 3]
    for i in range(count):
        x = _finite(key_buf[c, start + i])
        if band:
            x, p0, p1, p2, p3 = _band(x, p0, p1, p2, p3, h1, h2, h3, l1, l2, l3)
        sq[i] += x * x
        if both:
            y = _finite(key_buf[d, start + i])
            if band:
                y, q0, q1, q2, q3 = _band(y, q0, q1, q2, q3, h1, h2, h3, l1, l2, l3)
            sq[i] += y * y
    state[c, 0], state[c, 1], state[c, 2], state[c, 3] = p0, p1, p2, p3
    if both:
        state[d, 0], state[d, 1], state[d, 2], state[d, 3] = q0, q1, q2, q3


@njit(cache=True, nogil=True)
def sidechain_block(b, bus_buf, n, channels, keys, band_state, duck, scratch):
    """Duck bus b in place by its keys' signals over the first n samples of bus_buf (scratch: (2,
    CHUNK) floats: the deepest attenuation, a key's squares)."""
    if keys[b, 0, SC_KEY] < 0.0:
        return
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        for k in range(MAX_KEYS):
            if keys[b, k, SC_KEY] < 0.0:
                break
            _key(b, k, bus_buf, start, count, channels, keys, band_state, scratch[0], k == 0, scratch[1])
        _apply(b, bus_buf, start, count, channels, scratch[0])
        duck[b] = scratch[0, count - 1]
    recover(b, keys, band_state)


@njit(cache=True, nogil=True)
def _apply(b, bus_buf, start, count, channels, total):
    """Bus b's samples start .. start + count - 1 times 10^(-total[i] / 20), exp taken only where
    total changed (the same gain for the same attenuation)."""
    last = total[0]
    g = math.exp(-last * LN10_20)
    for i in range(count):
        if total[i] != last:
            last = total[i]
            g = math.exp(-last * LN10_20)
        for c in range(channels):
            bus_buf[b, c, start + i] *= g


@njit(cache=True, nogil=True)
def recover(b, keys, band_state):
    """A key whose detector or band filters went non-finite starts again from rest."""
    for k in range(MAX_KEYS):
        row = keys[b, k]
        if row[SC_KEY] < 0.0:
            break
        fine = math.isfinite(row[SC_MS]) and math.isfinite(row[SC_ATT])
        for c in range(band_state.shape[2]):
            for j in range(4):
                fine = fine and math.isfinite(band_state[b, k, c, j])
        if not fine:
            row[SC_MS] = 0.0
            row[SC_ATT] = 0.0
            band_state[b, k, :, :] = 0.0


@njit(cache=True, nogil=True, inline="always")
def sidechain_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's sidechain stage (core/chain.py)."""
    sidechain_block(b, bus_buf, n, channels, st.keys, st.band_state, st.duck, st.scratch)


chain.register(SidechainStage, sidechain_stage, chain.SIDECHAIN)
