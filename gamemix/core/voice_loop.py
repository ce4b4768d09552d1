"""HOT PATH.  The voice loop: every real voice into its bus, every virtual one moved on.

Per voice, in one loop (`render_voices`): its fades move; its gain is
volume x fades x the sound's and category's modifiers; a 3D voice gets its
distance gain (dsp/distance.py), its direction in the listener's frame and
Doppler, and the layout's panner (core/panning/) turns the direction (or a 2D
voice's pan) into one gain per output channel; its lanes go through the
resampler (dsp/playback.py) into scratch and are added into its bus with each
gain ramped from the last block's value (dsp/mixing.py).

The per-voice steps are written out here, and the helpers they call take
numbers, not arrays: Numba reference-counts every array a function receives,
which per voice added up to half of the block at 1,024 voices.
"""

import math

from numba import njit

from gamemix.core.arrays import (
    BF_PITCH, ENDED, LF_DOPPLER_FACTOR, LF_EXTRA_LISTENERS, LF_FRAMES, LF_SPEED_OF_SOUND, LF_VX, LF_VY, LF_VZ, LF_X, LF_Y, LF_Z, MAX_PITCH,
    MIN_PITCH, PLAYING, SM_GAIN, SM_PITCH, STOPPING, VF_AUDIBILITY, VF_DIST_GAIN, VF_DOPPLER, VF_FADE,
    VF_FADE_STEP, VF_FADE_TARGET, VF_MAX_DIST, VF_MIN_DIST, VF_PAN, VF_PITCH, VF_ROLLOFF, VF_VFADE,
    VF_VFADE_STEP, VF_VFADE_TARGET, VF_VOLUME, VF_VX, VF_VY, VF_VZ, VF_X, VF_Y, VF_Z, VI_BLOCKS, VI_BUS,
    VI_CAT, VI_DELAY, VI_EXTRA, VI_LANE0, VI_LANE1, VI_LOOP, VI_LOOPS, VI_MODEL, VI_PAUSE, VI_POS, VI_SOUND, VI_SPATIAL,
    VI_START_AT_TARGET, VI_STATE, VI_TO_VIRTUAL, PAUSED, VIRTUAL, VX_LP_A, VX_LP_A_TARGET, VX_LP_Y0, VX_LP_Y1,
    VX_CENTRE, VX_LFE, VX_MOD_GAIN, VX_MOD_PITCH, VX_OBS_A, VX_OBS_Y, VX_PROP, VX_SPREAD,
)
from gamemix.core import listeners, propagation
from gamemix.core.dsp.distance import distance_gain, doppler_ratio
from gamemix.core.dsp.mixing import add_ramped_to_bus, add_ramped_to_pair, add_ramped_to_two, seek
from gamemix.core.dsp.playback import advance, delay_start, one_pole_lowpass, pitch_to_step, read_lane, wraps
from gamemix.core.panning import balance_gains, direction_targets, filters, lfe_channel, mix_voice, pan_gains
from gamemix.core.propagation import mix_sends, zone_sends


@njit(cache=True, nogil=True, inline="always")
def clamp_pitch(ratio):
    """A playback rate within [MIN_PITCH, MAX_PITCH]; 1 for a NaN or infinity."""
    return min(max(ratio, MIN_PITCH), MAX_PITCH) if math.isfinite(ratio) else 1.0


@njit(cache=True, nogil=True)
def mix_source(scratch, s, v, gain, target, bus_buf, bus, ramp, n, channels):
    """Add source channel s of voice v into its bus, each output's gain ramped to its target; the
    channels that sound (a speaker panner drives two or three) two at a time, in one pass each."""
    held = -1                                  # a sounding channel waiting for a partner, and its gains
    h0 = h1 = 0.0
    for c in range(channels):
        g0 = gain[v, s, c]
        g1 = target[s, c]
        if g0 != 0.0 or g1 != 0.0:
            if held < 0:
                held, h0, h1 = c, g0, g1
            else:
                add_ramped_to_two(scratch, bus_buf, bus, held, h0, h1, c, g0, g1, ramp, n)
                held = -1
        gain[v, s, c] = g1
    if held >= 0:
        add_ramped_to_bus(scratch, bus_buf, bus, held, h0, h1, ramp, n)


@njit(cache=True, nogil=True)
def passes_left(left, length, pos0, step, n):
    """A voice with a loop count: (passes left, whether it still loops) after the passes it began
    in these n samples; on its last pass it stops looping, so it ends at the clip's end."""
    left -= wraps(length, pos0, step, n)
    if left <= 0:
        return 0, 0
    return left, 1


@njit(cache=True, nogil=True)
def render_voices(pool, lane_off, lane_len, vi, vf, vx, gain, bf, sound_mod, cat_gain, lf, frame, panner, prop,
                  bus_buf, scratch0, scratch1, target, ramp, n, channels):
    """Render every real voice into its bus and move every virtual one on; return how many ended.

    A 3D voice is heard from its nearest listener (core/listeners.py), in that listener's frame
    (right, front, up unit vectors: `frame`, nine numbers, for listener 0; the others' in `lf`,
    written by the engine); the gains for each
    output channel come from the layout's `panner` (core/panning/).

    The per-voice steps are written out in this loop, and the helpers it calls
    take numbers, not arrays: every array argument of a helper inlined per
    voice cost an NRT incref/decref pair, ~4 ns each, ~150 ns a voice in all
    (half of the block at 1,024 voices) when each step was a function.
    """
    # what the scene's propagation has, read once before the loop rather than an array of a NamedTuple
    # read per voice (each read is a reference-count pair)
    any_zones = prop.zones.shape[0] > 0
    any_aux = prop.aux_bus[0] >= 0
    reference = prop.reference[0]
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
        if vi[v, VI_PAUSE] != 0 and fade <= 0.0:    # faded out to pause: hold still until resumed
            vi[v, VI_STATE] = PAUSED
            for s in range(gain.shape[1]):
                for c in range(gain.shape[2]):
                    gain[v, s, c] = 0.0
            continue
        sound = vi[v, VI_SOUND]
        extra = vi[v, VI_EXTRA] != 0          # its own parameters move it (control/local.py)
        ratio = vf[v, VF_PITCH] * sound_mod[sound, SM_PITCH] * bf[vi[v, VI_BUS], BF_PITCH]
        if extra:
            ratio *= vx[v, VX_MOD_PITCH]
        if state == VIRTUAL:    # no DSP: the position moves on as if it played
            step = pitch_to_step(clamp_pitch(ratio))
            length = lane_len[vi[v, VI_LANE0]]
            m = n - vi[v, VI_DELAY]
            vi[v, VI_DELAY] = 0
            pos0 = vi[v, VI_POS]
            pos, done = advance(length, vi[v, VI_LOOP], pos0, step, m)
            if vi[v, VI_LOOP] != 0 and vi[v, VI_LOOPS] >= 0:
                vi[v, VI_LOOPS], vi[v, VI_LOOP] = passes_left(vi[v, VI_LOOPS], length, pos0, step, m)
            vi[v, VI_POS] = pos
            if done or fade <= 0.0 and vf[v, VF_FADE_TARGET] <= 0.0:
                vi[v, VI_STATE] = ENDED
                ended += 1
            continue

        # gain targets, source channel -> output channel
        volume = vf[v, VF_VOLUME] * (fade * vfade) * sound_mod[sound, SM_GAIN] * cat_gain[vi[v, VI_CAT]]
        if extra:
            volume *= vx[v, VX_MOD_GAIN]
        stereo_source = vi[v, VI_LANE1] >= 0
        dist = 1.0                             # (each branch below writes every channel of the rows it uses)
        level = 0.0
        x = y = z = spread = 0.0
        send_gain = hf_own = hf_obstruction = 1.0       # propagation (core/propagation.py)
        zoned = False
        spatial = vi[v, VI_SPATIAL] != 0
        if spatial:
            if lf[LF_EXTRA_LISTENERS] > 0.0:    # split screen: heard from the nearest listener
                k = listeners.nearest(lf, vf[v, VF_X], vf[v, VF_Y], vf[v, VF_Z])
                b = listeners.base(k)
                f = LF_FRAMES + 9 * k
                rx, ry, rz, fx, fy, fz = lf[f], lf[f + 1], lf[f + 2], lf[f + 3], lf[f + 4], lf[f + 5]
                ux, uy, uz = lf[f + 6], lf[f + 7], lf[f + 8]
            else:                               # one listener (the usual case): its frame, in registers
                b = 0
                rx, ry, rz, fx, fy, fz, ux, uy, uz = frame
            dx = vf[v, VF_X] - lf[b + LF_X]
            dy = vf[v, VF_Y] - lf[b + LF_Y]
            dz = vf[v, VF_Z] - lf[b + LF_Z]
            d = math.sqrt(dx * dx + dy * dy + dz * dz)
            dist = distance_gain(vi[v, VI_MODEL], d, vf[v, VF_MIN_DIST], vf[v, VF_MAX_DIST], vf[v, VF_ROLLOFF])
            if d > 1e-9:    # the direction in the listener's frame (a source at the listener has none)
                x = (dx * rx + dy * ry + dz * rz) / d
                y = (dx * ux + dy * uy + dz * uz) / d
                z = (dx * fx + dy * fy + dz * fz) / d
            ratio *= doppler_ratio(dx, dy, dz, d, vf[v, VF_VX], vf[v, VF_VY], vf[v, VF_VZ],
                                   lf[b + LF_VX], lf[b + LF_VY], lf[b + LF_VZ], lf[LF_SPEED_OF_SOUND],
                                   lf[LF_DOPPLER_FACTOR] * vf[v, VF_DOPPLER])
            room_occlusion = 0.0
            zoned = any_zones
            if zoned:
                room_occlusion = zone_sends(prop, vf[v, VF_X], vf[v, VF_Y], vf[v, VF_Z],
                                            lf[b + LF_X], lf[b + LF_Y], lf[b + LF_Z])
            direct_gain = 1.0
            if extra and vx[v, VX_PROP] != 0.0:
                inv = -1.0 / d if d > 1e-9 else 0.0      # towards the listener
                direct_gain, send_gain, hf_own, hf_obstruction = propagation.voice(
                    vx, v, dx * inv, dy * inv, dz * inv, d, room_occlusion)
            level = volume * dist * direct_gain
            spread = vx[v, VX_SPREAD] if extra else 0.0
            if not filters(panner):     # (a filtering panner mixes the voice itself, below)
                direction_targets(panner, target, 0, level, x, y, z, spread, channels)
            else:
                for c in range(channels):
                    target[0, c] = 0.0
        elif stereo_source:
            left, right = balance_gains(panner, vf[v, VF_PAN])
            for c in range(channels):
                target[0, c] = volume * left[c]
                target[1, c] = volume * right[c]
        else:
            g = pan_gains(panner, vf[v, VF_PAN], vx[v, VX_CENTRE] if extra else 0.0)
            for c in range(channels):
                target[0, c] = volume * g[c]
        lfe = lfe_channel(panner)
        if lfe >= 0 and extra and vx[v, VX_LFE] > 0.0:    # the sound's own send to the LFE channel
            for s in range(2 if stereo_source else 1):
                target[s, lfe] = volume * dist * vx[v, VX_LFE]
        audibility = volume * dist
        finite = math.isfinite(audibility)
        for s in range(2 if stereo_source else 1):
            for c in range(channels):
                finite = finite and math.isfinite(target[s, c])
        if not finite:  # a bad value slipped into the arrays: silence this voice, not the bus
            audibility = level = 0.0
            target[:, :] = 0.0
        vf[v, VF_DIST_GAIN] = dist
        vf[v, VF_AUDIBILITY] = audibility
        first = vi[v, VI_START_AT_TARGET] != 0
        if first:
            gain[v, :, :] = target[:, :]
            vi[v, VI_START_AT_TARGET] = 0

        # read each lane through the resampler, add it into the bus with the gains ramped
        step = pitch_to_step(clamp_pitch(ratio))
        pos0 = vi[v, VI_POS]
        bus = vi[v, VI_BUS]
        lane = vi[v, VI_LANE0]
        delay = vi[v, VI_DELAY]
        loop = vi[v, VI_LOOP]
        pos, done = read_lane(pool, lane_off[lane], lane_len[lane], loop, pos0, step, scratch0, n - delay)
        if delay > 0:
            delay_start(scratch0, delay, n)
        filtered = False                       # a per-voice low-pass (mapped; cone, air, occlusion)
        lp0 = lp1 = 1.0
        if extra:
            lp0, lp1 = vx[v, VX_LP_A], vx[v, VX_LP_A_TARGET]
            if hf_own < 1.0:                   # propagation's gain at the reference frequency, times the map's
                cos_w = reference
                lp1 = propagation.one_pole_for(propagation.one_pole_gain(lp1, cos_w) * hf_own, cos_w)
            filtered = lp0 < 1.0 or lp1 < 1.0
        if filtered:
            vx[v, VX_LP_Y0] = one_pole_lowpass(scratch0, n, lp0, lp1, vx[v, VX_LP_Y0])
        if spatial and any_aux:                # the aux sends (reverb returns): the voice as filtered so far
            mix_sends(prop, v, first, scratch0, n, bus_buf, ramp, volume * dist * send_gain, zoned, channels)
        if extra and (hf_obstruction < 1.0 or vx[v, VX_OBS_A] < 1.0):    # obstruction: the direct sound only
            ob1 = propagation.one_pole_for(hf_obstruction, reference)
            vx[v, VX_OBS_Y] = one_pole_lowpass(scratch0, n, vx[v, VX_OBS_A], ob1, vx[v, VX_OBS_Y])
            vx[v, VX_OBS_A] = ob1
        if filters(panner) and spatial:     # binaural: the panner filters the voice into its bus
            mix_voice(panner, v, first, scratch0, n, bus, bus_buf, x, y, z, spread, level, ramp)
        elif channels == 2:   # the common case, a mono lane onto a stereo bus, in one pass
            add_ramped_to_pair(scratch0, bus_buf, bus, gain[v, 0, 0], target[0, 0], gain[v, 0, 1], target[0, 1],
                               ramp, n)
            gain[v, 0, 0] = target[0, 0]
            gain[v, 0, 1] = target[0, 1]
        else:
            mix_source(scratch0, 0, v, gain, target, bus_buf, bus, ramp, n, channels)
        if stereo_source:
            lane = vi[v, VI_LANE1]
            read_lane(pool, lane_off[lane], lane_len[lane], loop, pos0, step, scratch1, n - delay)
            if delay > 0:
                delay_start(scratch1, delay, n)
            if filtered:
                vx[v, VX_LP_Y1] = one_pole_lowpass(scratch1, n, lp0, lp1, vx[v, VX_LP_Y1])
            mix_source(scratch1, 1, v, gain, target, bus_buf, bus, ramp, n, channels)
        if filtered:
            vx[v, VX_LP_A] = lp1
        if delay > 0:
            vi[v, VI_DELAY] = 0
        if loop != 0 and vi[v, VI_LOOPS] >= 0:
            vi[v, VI_LOOPS], vi[v, VI_LOOP] = passes_left(vi[v, VI_LOOPS], lane_len[vi[v, VI_LANE0]], pos0, step,
                                                          n - delay)
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
