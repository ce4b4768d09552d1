"""HOT PATH.  Binaural output for headphones: head-related filters per voice, and a shared ambisonic path.

Two paths, so the cost of many voices does not grow with the filters' length
(the approach of Resonance Audio, Gorzel et al. 2019, "Efficient encoding and
decoding of binaural sound with Resonance Audio", AES International
Conference on Immersive and Interactive Audio):

- **Direct.** The `hrtf_voices` most audible 3D voices each get their own
  head-related filters: per ear, the voice delayed by that ear's delay (the
  interaural time difference, a fractional delay read by linear
  interpolation) and convolved with a minimum-phase HRIR (scene/hrtf.py
  prepares both on a regular azimuth/elevation grid; here they are
  interpolated bilinearly between the four grid directions around the
  source).  When the source moves, the delay glides across the block and
  the block is filtered with the old and the new HRIRs and crossfaded, so no
  step is heard; the level is ramped like every gain.
- **Ambisonic.** Every other 3D voice is encoded into a third-order
  ambisonic field (AmbiX, core/panning/ambisonics.py) of its bus, with ramped
  gains like a speaker panner's; after the voices, each bus's field is
  decoded to the two ears once per block by FIR filters designed from the
  same HRTF set (scene/hrtf.py: least squares below 2 kHz, magnitude least
  squares above; Schörkhuber, Zaunschirm & Höldrich 2018).  A voice costs
  16 multiply-adds a sample however long the filters; a bus with 3D voices
  costs 2 x 16 x decoder taps a sample.

Which voices are direct is chosen once per block (`begin`) from the last
block's audibility: free filter slots go to the loudest voices without one
(a pass over the voices per free slot, only while one is free), and a voice
makes the quietest holder give its slot up only when it is louder by
SWAP_RATIO (3 dB), at most SWAPS_PER_BLOCK a block, so slots do not flap.
A voice moving between the paths is crossfaded over one block (its old path
ramps down while the new one ramps up).  A spread source (spread > 0) is
heard through the ambisonic path, which spreads it by tapering its orders.

2D voices are not spatialised: head-locked stereo (music, interface) plays
straight to the ears with the stereo pan law (core/panning/stereo.py).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import panning
from gamemix.core.arrays import PLAYING, STOPPING, VF_AUDIBILITY, VI_SPATIAL, VI_STATE
from gamemix.core.panning import ambisonics, stereo
from gamemix.core.panning.layouts import SPECS

AMBI = 16                 # third order: (3 + 1)^2 channels
SWAP_RATIO = 1.4125       # +3 dB: how much louder a voice must be to take a holder's slot
SWAPS_PER_BLOCK = 4
G_EL0, G_ELSTEP, G_NEL, G_AZSTEP, G_NAZ = range(5)   # fields of `grid`


class BinauralPanner(NamedTuple):
    """The HRTF tables and the state of both paths."""

    hrir: np.ndarray        # (n_el, n_az, 2, taps) float32 minimum-phase HRIRs on the grid
    delay: np.ndarray       # (n_el, n_az, 2) float32 each ear's delay, samples
    grid: np.ndarray        # el0, el_step, n_el, az_step, n_az (degrees; azimuth counterclockwise)
    decoder: np.ndarray     # (16, 2, decoder taps) float32: ACN/SN3D -> ears
    # direct path: one slot per filtered voice
    slot_voice: np.ndarray  # (k,) the voice in each slot, -1 free
    voice_slot: np.ndarray  # (rows,) each voice's slot, -1 none
    leaving: np.ndarray     # (k,) 1: the slot's voice fades out of it this block, then the slot is free
    fresh: np.ndarray       # (k,) 1: no filter yet (start at the current direction)
    level: np.ndarray       # (k,) the slot's level at the end of the last block
    hist: np.ndarray        # (k, H + block + 1) float32: each slot's input, H samples of history, the block,
                            # and a zero (the interpolation's right neighbour of the block's last sample)
    prev_h: np.ndarray      # (k, 2, taps) float32 the filters of the last block
    prev_d: np.ndarray      # (k, 2) the delays of the last block
    new_h: np.ndarray       # (2, taps) float32 scratch: this block's filters
    new_d: np.ndarray       # (2,) scratch: this block's delays
    work: np.ndarray        # (taps - 1 + block,) float32 scratch: one ear's delayed input
    acc: np.ndarray         # (2, block) float32 scratch: old and new filter outputs
    # ambisonic path: one field per bus that 3D voices play on
    amb_slot: np.ndarray    # (buses,) the bus's field, -1 none
    amb_bus: np.ndarray     # (fields,) each field's bus
    amb: np.ndarray         # (fields, 16, D + block) float32: D samples of history, then the block
    amb_live: np.ndarray    # (fields,) blocks the field still has to be decoded for (2 after input)
    sh: np.ndarray          # (rows, 16) float32: each voice's encoding gains at the end of the last block
    dec_out: np.ndarray     # (block,) float32 scratch


def make_panner(context: panning.PannerContext) -> BinauralPanner:
    """The binaural panner for a scene (control side, once at load)."""
    t = context.hrtf
    if t is None:
        raise ValueError("binaural output needs an HRTF set (scene/hrtf.py)")
    n, k = context.block_size, max(int(context.hrtf_voices), 0)
    taps = int(t.taps)
    history = taps + int(math.ceil(float(t.max_delay))) + 2
    dtaps = t.decoder.shape[2]
    fields = len(context.spatial_buses)
    amb_slot = np.full(context.n_buses, -1, dtype=np.int64)
    for f, b in enumerate(context.spatial_buses):
        amb_slot[b] = f
    f32 = np.float32
    return BinauralPanner(
        np.ascontiguousarray(t.hrir, dtype=f32), np.ascontiguousarray(t.delay, dtype=f32),
        np.array([t.el0, t.el_step, t.n_el, t.az_step, t.n_az], dtype=np.float64),
        np.ascontiguousarray(t.decoder[:AMBI], dtype=f32),
        np.full(k, -1, dtype=np.int64), np.full(context.rows, -1, dtype=np.int64), np.zeros(k, dtype=np.int64),
        np.ones(k, dtype=np.int64), np.zeros(k), np.zeros((k, history + n + 1), dtype=f32),
        np.zeros((k, 2, taps), dtype=f32), np.zeros((k, 2)), np.zeros((2, taps), dtype=f32), np.zeros(2),
        np.zeros(taps - 1 + n, dtype=f32), np.zeros((2, n), dtype=f32),
        amb_slot, np.array(context.spatial_buses, dtype=np.int64),
        np.zeros((fields, AMBI, dtaps - 1 + n), dtype=f32), np.zeros(fields, dtype=np.int64),
        np.zeros((context.rows, AMBI), dtype=f32), np.zeros(n, dtype=f32))


# ---------------------------------------------------------------------------------------------- slots
@njit(cache=True, nogil=True)
def begin(panner, vi, vf):
    """Choose the voices the direct path filters this block (see the module docstring)."""
    slot_voice, voice_slot, leaving = panner.slot_voice, panner.voice_slot, panner.leaving
    k = slot_voice.shape[0]
    if k == 0:
        return
    for s in range(k):                      # last block's leavers are gone; so are voices no longer playing
        v = slot_voice[s]
        if v < 0:
            continue
        if leaving[s] != 0 or not _audible_3d(vi, v):
            _free(panner, s)
    for s in range(k):                      # free slots go to the loudest voices without one
        if slot_voice[s] < 0:
            v = _loudest_without(panner, vi, vf)
            if v < 0:
                break
            _take(panner, s, v)
    swaps = 0
    weakest, low = _weakest(panner, vf)
    for v in range(vi.shape[0]):            # a voice louder by SWAP_RATIO than a holder takes its slot
        if weakest < 0 or swaps >= SWAPS_PER_BLOCK:
            break
        if voice_slot[v] >= 0 or not _audible_3d(vi, v) or vf[v, VF_AUDIBILITY] <= low * SWAP_RATIO:
            continue
        leaving[weakest] = 1                # its voice fades out of the slot this block; the slot is free next
        swaps += 1
        weakest, low = _weakest(panner, vf)


@njit(cache=True, nogil=True)
def _loudest_without(panner, vi, vf):
    """The most audible 3D voice playing without a slot (-1 if none): one pass, when a slot is free."""
    best, level = -1, 0.0
    for v in range(vi.shape[0]):
        if panner.voice_slot[v] < 0 and _audible_3d(vi, v) and vf[v, VF_AUDIBILITY] > level:
            best, level = v, vf[v, VF_AUDIBILITY]
    return best


@njit(cache=True, nogil=True)
def _weakest(panner, vf):
    """(slot, its voice's audibility) of the quietest holder not leaving; (-1, inf) when no slot is held
    (free slots were filled before: one still free means no voice wants it)."""
    weakest, low = -1, math.inf
    for s in range(panner.slot_voice.shape[0]):
        v = panner.slot_voice[s]
        if v >= 0 and panner.leaving[s] == 0 and vf[v, VF_AUDIBILITY] < low:
            weakest, low = s, vf[v, VF_AUDIBILITY]
    return weakest, low


@njit(cache=True, nogil=True, inline="always")
def _audible_3d(vi, v):
    state = vi[v, VI_STATE]
    return (state == PLAYING or state == STOPPING) and vi[v, VI_SPATIAL] != 0


@njit(cache=True, nogil=True)
def _take(panner, s, v):
    panner.slot_voice[s] = v
    panner.voice_slot[v] = s
    panner.leaving[s] = 0
    panner.fresh[s] = 1
    panner.level[s] = 0.0
    panner.hist[s, :] = 0.0


@njit(cache=True, nogil=True)
def _free(panner, s):
    v = panner.slot_voice[s]
    if v >= 0:
        panner.voice_slot[v] = -1
    panner.slot_voice[s] = -1
    panner.leaving[s] = 0


# ---------------------------------------------------------------------------------------------- per voice
@njit(cache=True, nogil=True, inline="always")
def mix_voice(panner, v, first, scratch, n, bus, bus_buf, x, y, z, spread, level, ramp):
    """Mix voice v's block: through its filter slot if it has one, else into its bus's field; a voice
    changing paths fades out of one while it fades into the other.  Inlined into the voice loop, and the
    ambisonic path (most voices) handed only the four arrays it uses: every array a call receives costs
    a reference-count pair, and the whole panner is twenty (measured 0.77 -> 0.2 us a voice)."""
    s = panner.voice_slot[v]
    if s >= 0:
        if first:                           # a new voice in a row whose last voice held a slot: start afresh
            _take(panner, s, v)
        direct = panner.leaving[s] == 0 and spread <= 0.0
        _direct(panner, s, scratch, n, bus, bus_buf, x, y, z, level if direct else 0.0, ramp)
        _encode(panner.amb_slot, panner.sh, panner.amb, panner.amb_live, v, False, scratch, n, bus, x, y, z,
                spread, 0.0 if direct else level, ramp)
    else:
        _encode(panner.amb_slot, panner.sh, panner.amb, panner.amb_live, v, first, scratch, n, bus, x, y, z,
                spread, level, ramp)


@njit(cache=True, nogil=True, inline="always")
def _encode(amb_slot, sh, amb, amb_live, v, first, scratch, n, bus, x, y, z, spread, level, ramp):
    """Add the voice into its bus's third-order field, each component's gain ramped from the last block."""
    f = amb_slot[bus]
    if f < 0:
        return
    g = ambisonics.encode(x, y, z, 3, spread)
    d = amb.shape[2] - n
    touched = False
    for c in range(AMBI):
        g1 = np.float32(level * g[c])
        g0 = g1 if first else sh[v, c]
        sh[v, c] = g1
        if g0 == 0.0 and g1 == 0.0:
            continue
        touched = True
        dg = np.float32(g1 - g0)
        row = amb[f, c, d:d + n]             # a 1-D view: the loop vectorises (3-D indexing with an offset
        for i in range(n):                   # did not, measured 9x slower)
            row[i] += scratch[i] * (g0 + dg * ramp[i])
    if touched:
        amb_live[f] = 2


@njit(cache=True, nogil=True)
def _direct(panner, s, scratch, n, bus, bus_buf, x, y, z, level, ramp):
    """Filter the voice through its slot: delay per ear, minimum-phase HRIR, crossfaded from the last
    block's filters when they changed; level ramped from the last block's."""
    hist = panner.hist
    taps = panner.new_h.shape[1]
    h = hist.shape[1] - n - 1                              # history kept before this block's samples
    for i in range(n):
        hist[s, h + i] = scratch[i]
    _filters_at(panner, x, y, z)
    if panner.fresh[s] != 0:
        panner.prev_h[s, :, :] = panner.new_h[:, :]
        panner.prev_d[s, 0], panner.prev_d[s, 1] = panner.new_d[0], panner.new_d[1]
        panner.fresh[s] = 0
    l0, l1 = panner.level[s], level
    if l0 != 0.0 or l1 != 0.0:
        for e in range(2):
            d0, d1 = panner.prev_d[s, e], panner.new_d[e]
            _delayed(hist, s, h, d0, d1, n, taps, panner.work)
            moved = d0 != d1
            for k in range(taps):
                if panner.prev_h[s, e, k] != panner.new_h[e, k]:
                    moved = True
                    break
            _fir(panner.new_h, e, panner.work, panner.acc, 1, n, taps)
            if moved:
                _fir(panner.prev_h[s], e, panner.work, panner.acc, 0, n, taps)
            _add_out(panner.acc, moved, bus_buf, bus, e, l0, l1, ramp, n)
    panner.level[s] = l1
    panner.prev_h[s, :, :] = panner.new_h[:, :]
    panner.prev_d[s, 0], panner.prev_d[s, 1] = panner.new_d[0], panner.new_d[1]
    for i in range(h):                                    # keep the last h samples as the next block's history
        hist[s, i] = hist[s, n + i]


@njit(cache=True, nogil=True)
def _filters_at(panner, x, y, z):
    """new_h, new_d: the HRIRs and delays at direction (x, y, z), bilinear between the grid's four
    neighbours (azimuth counterclockwise from the front, elevation up); the front for no direction."""
    grid = panner.grid
    az = math.degrees(math.atan2(-x, z)) if (x != 0.0 or z != 0.0) else 0.0
    el = math.degrees(math.asin(min(max(y, -1.0), 1.0)))
    if az < 0.0:
        az += 360.0
    n_el, n_az = int(grid[G_NEL]), int(grid[G_NAZ])
    fe = min(max((el - grid[G_EL0]) / grid[G_ELSTEP], 0.0), n_el - 1.0)
    fa = az / grid[G_AZSTEP]
    e0 = min(int(fe), n_el - 2) if n_el > 1 else 0
    e1 = min(e0 + 1, n_el - 1)
    te = fe - e0
    a0 = int(fa) % n_az
    a1 = (a0 + 1) % n_az
    ta = fa - math.floor(fa)
    w00, w01 = (1.0 - te) * (1.0 - ta), (1.0 - te) * ta
    w10, w11 = te * (1.0 - ta), te * ta
    hrir, delay = panner.hrir, panner.delay
    for e in range(2):
        for k in range(hrir.shape[3]):
            panner.new_h[e, k] = np.float32(w00 * hrir[e0, a0, e, k] + w01 * hrir[e0, a1, e, k]
                                            + w10 * hrir[e1, a0, e, k] + w11 * hrir[e1, a1, e, k])
        panner.new_d[e] = (w00 * delay[e0, a0, e] + w01 * delay[e0, a1, e]
                           + w10 * delay[e1, a0, e] + w11 * delay[e1, a1, e])


@njit(cache=True, nogil=True)
def _delayed(hist, s, h, d0, d1, n, taps, work):
    """work[j] = the slot's input at time j - (taps - 1) (0: the block's first sample) delayed by the
    ear's delay, which glides linearly from d0 to d1 across the block (linear interpolation)."""
    for j in range(taps - 1 + n):
        t = j - (taps - 1)
        d = d0 + (d1 - d0) * (t / n) if t > 0 else d0
        p = h + t - d
        i = int(math.floor(p))
        frac = np.float32(p - i)
        work[j] = hist[s, i] + frac * (hist[s, i + 1] - hist[s, i])


@njit(cache=True, nogil=True)
def _fir(hrirs, e, work, acc, row, n, taps):
    """acc[row, i] = sum_k hrirs[e, k] work[i + taps - 1 - k]: tap by tap over 1-D views, so the loop
    over the block vectorises."""
    out = acc[row, :n]
    out[:] = 0.0
    for k in range(taps):
        c = hrirs[e, k]
        if c == 0.0:
            continue
        seg = work[taps - 1 - k:taps - 1 - k + n]
        for i in range(n):
            out[i] += c * seg[i]


@njit(cache=True, nogil=True)
def _add_out(acc, moved, bus_buf, bus, e, l0, l1, ramp, n):
    """bus_buf[bus, e] += the filtered block (the old filters' output crossfaded into the new's when
    they moved) times the level ramped from l0 to l1."""
    g = np.float32(l0)
    dg = np.float32(l1 - l0)
    old, new, out = acc[0, :n], acc[1, :n], bus_buf[bus, e, :n]
    if moved:
        for i in range(n):
            r = ramp[i]
            out[i] += (old[i] + r * (new[i] - old[i])) * (g + dg * r)
    else:
        for i in range(n):
            out[i] += new[i] * (g + dg * ramp[i])


# ---------------------------------------------------------------------------------------------- per block
@njit(cache=True, nogil=True)
def finish(panner, bus_buf, n):
    """Decode each bus's field to the two ears (FIR per channel and ear, tap by tap) and keep its tail."""
    amb, dec, out = panner.amb, panner.decoder, panner.dec_out
    taps = dec.shape[2]
    d = amb.shape[2] - n
    for f in range(amb.shape[0]):
        if panner.amb_live[f] == 0:
            continue
        panner.amb_live[f] -= 1
        bus = panner.amb_bus[f]
        for e in range(2):
            out[:n] = 0.0
            for c in range(AMBI):
                line = amb[f, c]
                for k in range(taps):
                    w = dec[c, e, k]
                    seg = line[d - k:d - k + n]      # 1-D views: the loop vectorises (9x faster than 3-D
                    for i in range(n):               # indexing with an offset)
                        out[i] += w * seg[i]
            ear = bus_buf[bus, e]
            for i in range(n):
                ear[i] += out[i]
        for c in range(AMBI):
            line = amb[f, c]
            for i in range(d):
                line[i] = line[n + i]
            line[d:] = 0.0


# ---------------------------------------------------------------------------------------------- 2D voices
@njit(cache=True, nogil=True)
def direction_gains(panner, x, y, z, spread):
    """(Not used for 3D voices, which mix_voice filters; the stereo law, for completeness.)"""
    return stereo.pan_law(x)


@njit(cache=True, nogil=True)
def pan_gains(panner, p, centre):
    """A mono 2D sound: head-locked, the stereo pan law."""
    return stereo.pan_law(p)


@njit(cache=True, nogil=True)
def balance_gains(panner, p):
    """A stereo 2D sound: head-locked, the stereo balance law."""
    return stereo.balance_gains(panner, p)


panning.register(SPECS["binaural"], BinauralPanner, make_panner, direction_gains, pan_gains, balance_gains,
                 begin=begin, mix_voice=mix_voice, finish=finish)
