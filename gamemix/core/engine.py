"""HOT PATH.  One audio block: voices -> buses -> master -> output.

`render_block` is the single Numba call per block.  It releases the GIL, reads
the targets the control side wrote into params.Params, and in order:

1. for each playing voice: spatialises (distance, pan, Doppler) into per
   source->output gain targets, folds in its volume and fade, reads its lanes
   through the resampler into scratch, and adds scratch into its bus with the
   gains ramped from the previous block's values;
2. for each bus, in an order that puts children, sidechain keys, unmasking
   targets and senders before what they feed: its chain (process_bus: reverb
   for returns, filters, unmasking cut, sidechain duck, compressor, loudness
   management, fader, the master's limiter, BS.1770 meter, sends), then adds
   it into its parent;
3. writes the master into the interleaved output, NaN-free and clamped to the
   ceiling.

`Engine` is the thin Python owner of the arrays that makes that call.

Inside the per-voice loop (`render_voices`) helpers take numbers, not
arrays: Numba reference-counts every array a function receives, which per
voice added up to half of the block at 1,024 voices.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from gamemix.core.dsp.filters import filter_bus
from gamemix.core.dsp.bs1770 import LM_INTEGRATED, LM_MOMENTARY, LM_SHORT_TERM, meter_block
from gamemix.core.dsp.compressor import compress_block
from gamemix.core.dsp.leveler import LV_MEASURE, MEASURE_INTEGRATED, MEASURE_SHORT_TERM, leveler_block
from gamemix.core.dsp.limiter import limit_block
from gamemix.core.dsp.reverb import reverb_block
from gamemix.core.dsp.sidechain import sidechain_block
from gamemix.core.dsp.unmasking import analyse_target, unmask_block
from gamemix.core.dsp.mixing import (
    add_into, add_ramped_to_bus, add_ramped_to_pair, peak_and_sumsq, scale_ramped, seek, write_output,
)
from gamemix.core.dsp.playback import advance, pitch_to_step, read_lane
from gamemix.core.dsp.spatial import balance_gains, doppler_ratio, listener_right, pan_gains, point_source
from gamemix.core.arrays import (
    LF_SAMPLE_RATE, BF_GAIN, BF_PEAK, BF_PITCH, SM_GAIN, SM_PITCH, VIRTUAL, VF_VFADE, VF_VFADE_STEP, VF_VFADE_TARGET,
    VI_CAT, VI_SOUND, VI_TO_VIRTUAL, BF_STEP, BF_SUMSQ, BF_TARGET, BI_PARENT, ENDED, LF_CEILING,
    LF_DOPPLER_FACTOR, LF_ENDED, LF_FX, LF_FY, LF_FZ, LF_SPEED_OF_SOUND, LF_UX, LF_UY, LF_UZ,
    LF_VX, LF_VY, LF_VZ, LF_X, LF_Y, LF_Z, MAX_PITCH, MIN_PITCH, PLAYING, STOPPING,
    VF_AUDIBILITY, VF_DIST_GAIN, VF_DOPPLER, VF_FADE, VF_FADE_STEP, VF_FADE_TARGET,
    VF_MAX_DIST, VF_MIN_DIST, VF_PAN, VF_PITCH, VF_ROLLOFF, VF_VOLUME, VF_VX, VF_VY,
    VF_VZ, VF_X, VF_Y, VF_Z, VI_BLOCKS, VI_BUS, VI_LANE0, VI_LANE1, VI_LOOP, VI_MODEL,
    VI_POS, VI_SNAP, VI_SPATIAL, VI_STATE, BI_LEVEL_METER, BI_MASKER, BI_REVERB, BI_TARGET, SG_GAIN, SG_TARGET, Params,
)


@njit(cache=True, nogil=True, inline="always")
def clamp_pitch(ratio):
    """A playback rate within [MIN_PITCH, MAX_PITCH]; 1 for a NaN or infinity."""
    return min(max(ratio, MIN_PITCH), MAX_PITCH) if math.isfinite(ratio) else 1.0


@njit(cache=True, nogil=True)
def mix_source(scratch, s, v, gain, target, bus_buf, bus, ramp, n, channels):
    """Add source channel s of voice v into its bus, each output's gain ramped to its target."""
    for c in range(channels):
        g0 = gain[v, s, c]
        g1 = target[s, c]
        if g0 != 0.0 or g1 != 0.0:
            add_ramped_to_bus(scratch, bus_buf, bus, c, g0, g1, ramp, n)
        gain[v, s, c] = g1


@njit(cache=True, nogil=True)
def render_voices(pool, lane_off, lane_len, vi, vf, gain, bf, sound_mod, cat_gain, lf, rx, ry, rz,
                  bus_buf, scratch0, scratch1, target, ramp, n, channels):
    """Render every real voice into its bus and move every virtual one on; return how many ended.

    The per-voice steps are written out in this loop, and the helpers it calls
    take numbers, not arrays: every array argument of a helper inlined per
    voice cost an NRT incref/decref pair, ~4 ns each, ~150 ns a voice in all
    (half of the block at 1,024 voices) when each step was a function.
    """
    ended = 0
    for v in range(vi.shape[0]):
        state = vi[v, VI_STATE]
        if state != PLAYING and state != STOPPING and state != VIRTUAL:
            continue
        # fades: the user's (fade-in, stop) and the real/virtual transition, each a linear slew
        fade = seek(vf[v, VF_FADE], vf[v, VF_FADE_TARGET], vf[v, VF_FADE_STEP] * n)
        vfade = seek(vf[v, VF_VFADE], vf[v, VF_VFADE_TARGET], vf[v, VF_VFADE_STEP] * n)
        vf[v, VF_FADE] = fade
        vf[v, VF_VFADE] = vfade
        sound = vi[v, VI_SOUND]
        ratio = vf[v, VF_PITCH] * sound_mod[sound, SM_PITCH] * bf[vi[v, VI_BUS], BF_PITCH]
        if state == VIRTUAL:    # no DSP: the position moves on as if it played
            step = pitch_to_step(clamp_pitch(ratio))
            pos, done = advance(lane_len[vi[v, VI_LANE0]], vi[v, VI_LOOP], vi[v, VI_POS], step, n)
            vi[v, VI_POS] = pos
            if done or fade <= 0.0 and vf[v, VF_FADE_TARGET] <= 0.0:
                vi[v, VI_STATE] = ENDED
                ended += 1
            continue

        # gain targets, source channel -> output channel
        volume = vf[v, VF_VOLUME] * (fade * vfade) * sound_mod[sound, SM_GAIN] * cat_gain[vi[v, VI_CAT]]
        stereo_source = vi[v, VI_LANE1] >= 0
        for s in range(target.shape[0]):    # a loop: slice assignment costs ~10 ns a voice here
            for c in range(target.shape[1]):
                target[s, c] = 0.0
        dist = 1.0
        if vi[v, VI_SPATIAL] != 0:
            dx = vf[v, VF_X] - lf[LF_X]
            dy = vf[v, VF_Y] - lf[LF_Y]
            dz = vf[v, VF_Z] - lf[LF_Z]
            d, dist, gl, gr = point_source(dx, dy, dz, rx, ry, rz, vi[v, VI_MODEL],
                                           vf[v, VF_MIN_DIST], vf[v, VF_MAX_DIST], vf[v, VF_ROLLOFF])
            ratio *= doppler_ratio(dx, dy, dz, d, vf[v, VF_VX], vf[v, VF_VY], vf[v, VF_VZ],
                                   lf[LF_VX], lf[LF_VY], lf[LF_VZ], lf[LF_SPEED_OF_SOUND],
                                   lf[LF_DOPPLER_FACTOR] * vf[v, VF_DOPPLER])
            target[0, 0] = volume * dist * gl
            target[0, 1] = volume * dist * gr
        elif stereo_source:
            gl, gr = balance_gains(vf[v, VF_PAN])
            target[0, 0] = volume * gl
            target[1, 1] = volume * gr
        else:
            gl, gr = pan_gains(vf[v, VF_PAN])
            target[0, 0] = volume * gl
            target[0, 1] = volume * gr
        audibility = volume * dist
        finite = math.isfinite(audibility)
        for s in range(2 if stereo_source else 1):
            for c in range(2):
                finite = finite and math.isfinite(target[s, c])
        if not finite:  # a bad value slipped into the arrays: silence this voice, not the bus
            audibility = 0.0
            target[:, :] = 0.0
        vf[v, VF_DIST_GAIN] = dist
        vf[v, VF_AUDIBILITY] = audibility
        if vi[v, VI_SNAP] != 0:
            gain[v, :, :] = target[:, :]
            vi[v, VI_SNAP] = 0

        # read each lane through the resampler, add it into the bus with the gains ramped
        step = pitch_to_step(clamp_pitch(ratio))
        pos0 = vi[v, VI_POS]
        bus = vi[v, VI_BUS]
        lane = vi[v, VI_LANE0]
        pos, done = read_lane(pool, lane_off[lane], lane_len[lane], vi[v, VI_LOOP], pos0, step, scratch0, n)
        if channels == 2:   # the common case, a mono lane onto a stereo bus, in one pass
            add_ramped_to_pair(scratch0, bus_buf, bus, gain[v, 0, 0], target[0, 0], gain[v, 0, 1], target[0, 1],
                               ramp, n)
            gain[v, 0, 0] = target[0, 0]
            gain[v, 0, 1] = target[0, 1]
        else:
            mix_source(scratch0, 0, v, gain, target, bus_buf, bus, ramp, n, channels)
        if stereo_source:
            lane = vi[v, VI_LANE1]
            read_lane(pool, lane_off[lane], lane_len[lane], vi[v, VI_LOOP], pos0, step, scratch1, n)
            mix_source(scratch1, 1, v, gain, target, bus_buf, bus, ramp, n, channels)
        vi[v, VI_POS] = pos
        vi[v, VI_BLOCKS] += 1

        if done or (state == STOPPING and fade <= 0.0):
            vi[v, VI_STATE] = ENDED
            ended += 1
        elif vi[v, VI_TO_VIRTUAL] != 0 and vfade <= 0.0:
            vi[v, VI_STATE] = VIRTUAL
            vi[v, VI_TO_VIRTUAL] = 0
            gain[v, :, :] = 0.0
    return ended


@njit(cache=True, nogil=True)
def send_from(b, bus_buf, send_bus, send_gain, ramp, n, channels):
    """Add bus b's post-fader signal into its send targets, each send's gain ramped."""
    for k in range(send_bus.shape[1]):
        dst = send_bus[b, k]
        if dst < 0:
            break
        g0 = send_gain[b, k, SG_GAIN]
        g1 = send_gain[b, k, SG_TARGET]
        if g0 != 0.0 or g1 != 0.0:
            for c in range(channels):
                add_ramped_to_bus(bus_buf[b, c], bus_buf, dst, c, g0, g1, ramp, n)
        send_gain[b, k, SG_GAIN] = g1


@njit(cache=True, nogil=True)
def manage_loudness(b, slot, bus_buf, n, channels, fx, ramp):
    """Meter bus b before its loudness-management gain, then apply that gain."""
    meter_block(slot, bus_buf[b], n, fx.meters)
    measure = int(fx.lv[b, LV_MEASURE])
    field = LM_INTEGRATED if measure == MEASURE_INTEGRATED else (
        LM_SHORT_TERM if measure == MEASURE_SHORT_TERM else LM_MOMENTARY)
    leveler_block(b, bus_buf, n, channels, fx.lv, fx.meters.out[slot, field], ramp)


@njit(cache=True, nogil=True)
def process_bus(b, bf, bi, bus_buf, filt, filt_state, fx, ramp, n, channels, sample_rate):
    """Bus b's chain, in place: reverb (returns), filters, unmasking cut, sidechain duck,
    compressor, loudness management, fader, limiter (master), meters, sends."""
    if bi[b, BI_REVERB] >= 0:
        reverb_block(bi[b, BI_REVERB], bus_buf[b], n, channels, fx.rv_p, fx.rv_line, fx.rv_ap, fx.rv_pre,
                     fx.rv_i, fx.rv_tmp)
    filter_bus(bus_buf, b, channels, n, filt_state, filt, sample_rate)
    if bi[b, BI_MASKER] >= 0:
        unmask_block(bi[b, BI_MASKER], bus_buf[b], n, channels, fx.um_bp, fx.um_t, fx.um_p, fx.um_ma,
                     fx.um_cut, fx.um_eq)
    sidechain_block(b, bus_buf, n, channels, fx.sc, fx.sc_f, fx.sc_out)
    compress_block(b, bus_buf, n, channels, fx.comp, ramp)
    if bi[b, BI_LEVEL_METER] >= 0:
        manage_loudness(b, bi[b, BI_LEVEL_METER], bus_buf, n, channels, fx, ramp)
    g0 = bf[b, BF_GAIN]
    g1 = seek(g0, bf[b, BF_TARGET], bf[b, BF_STEP] * n)
    for c in range(channels):
        scale_ramped(bus_buf[b, c], g0, g1, ramp, n)
    bf[b, BF_GAIN] = g1
    if bi[b, BI_PARENT] < 0:
        limit_block(bus_buf[b], n, channels, fx.lim, fx.lim_line, fx.lim_rmin, fx.lim_env, fx.lim_coef,
                    fx.lim_tp)
    peak = 0.0
    sumsq = 0.0
    for c in range(channels):
        p, s = peak_and_sumsq(bus_buf[b, c], n)
        peak = max(peak, p)
        sumsq += s
    bf[b, BF_PEAK] = peak
    bf[b, BF_SUMSQ] = sumsq
    meter_block(b, bus_buf[b], n, fx.meters)
    if bi[b, BI_TARGET] >= 0:
        analyse_target(bi[b, BI_TARGET], bus_buf[b], n, channels, fx.um_bp, fx.um_t)
    send_from(b, bus_buf, fx.send_bus, fx.send_gain, ramp, n, channels)


@njit(cache=True, nogil=True)
def mix_buses(bf, bi, bus_order, bus_buf, filt, filt_state, fx, ramp, n, channels, sample_rate):
    """Process each bus (children, keys and senders first) and sum it into its parent."""
    for k in range(bus_order.shape[0]):
        b = bus_order[k]
        process_bus(b, bf, bi, bus_buf, filt, filt_state, fx, ramp, n, channels, sample_rate)
        parent = bi[b, BI_PARENT]
        if parent >= 0:
            for c in range(channels):
                add_into(bus_buf[b, c], bus_buf[parent, c], n)


@njit(cache=True, nogil=True)
def render_block(pool, lane_off, lane_len, vi, vf, gain, bf, bi, bus_order, sound_mod, cat_gain,
                 bus_buf, filt, filt_state, fx, scratch0, scratch1, target, ramp, lf, out):
    """Render one block into out (frames, channels); out.shape[0] is the block size."""
    n = out.shape[0]
    channels = out.shape[1]
    bus_buf[:, :, :n] = 0.0
    rx, ry, rz = listener_right(lf[LF_FX], lf[LF_FY], lf[LF_FZ], lf[LF_UX], lf[LF_UY], lf[LF_UZ])
    ended = render_voices(pool, lane_off, lane_len, vi, vf, gain, bf, sound_mod, cat_gain, lf, rx, ry, rz,
                          bus_buf, scratch0, scratch1, target, ramp, n, channels)
    lf[LF_ENDED] += ended
    mix_buses(bf, bi, bus_order, bus_buf, filt, filt_state, fx, ramp, n, channels, lf[LF_SAMPLE_RATE])
    master = bus_order[bus_order.shape[0] - 1]
    write_output(bus_buf[master], out, n, channels, lf[LF_CEILING])


class Engine:
    """Owns the clip pool and the Params, and renders blocks with one kernel call."""

    def __init__(self, params: Params, pool: np.ndarray, lane_offset: np.ndarray, lane_length: np.ndarray):
        self.params = params
        p = params
        # every array render_block reads or writes, in its argument order, except `out`
        self.arrays = (pool, lane_offset, lane_length, p.vi, p.vf, p.gain, p.bf, p.bi, p.bus_order,
                       p.sound_mod, p.cat_gain, p.bus_buf, p.filt, p.filt_state, p.fx, p.scratch0, p.scratch1,
                       p.target, p.ramp, p.lf)

    def render(self, out: np.ndarray) -> None:
        """Fill out (frames, channels) float32 with the next block."""
        p = self.params
        if out.shape != (p.block_size, p.channels):
            raise ValueError(f"output block must be {(p.block_size, p.channels)}, got {out.shape}")
        render_block(*self.arrays, out)
