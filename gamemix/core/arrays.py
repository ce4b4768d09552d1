"""The parameter arrays: the only thing the control side and the kernels share.

Everything the engine needs per block lives in arrays preallocated when a scene
loads.  The control side (mixer) writes *targets*; the kernels read them, ramp
the audible values towards them and write back their state (positions, current
gains, voice states).  Per-voice and per-bus scalars are rows of small 2-D
arrays indexed by the named field constants below (module-level ints, which
Numba folds to constants); sample buffers are separate contiguous arrays.

Shared by both sides; nothing here runs per block.
"""

from __future__ import annotations

import numpy as np

from gamemix.core.panning.layouts import MAX_CHANNELS

# Fixed-point read positions: 32 integer bits . 32 fraction bits (int64).
FRAC_BITS = 32
FRAC_ONE = 1 << FRAC_BITS
MIN_PITCH = 1.0 / 64.0
MAX_PITCH = 16.0
MAX_OUT = MAX_CHANNELS   # output channels the arrays are sized for (third-order ambisonics: 16)
MAX_SRC = 2      # source channels per voice (mono or stereo)

# voice states (VI_STATE).  PLAYING and STOPPING are real (rendered); VIRTUAL
# voices only advance their read position; PAUSED ones neither play nor move;
# ENDED is set by the kernel and reclaimed by the control side.
FREE, PLAYING, STOPPING, ENDED, VIRTUAL, PAUSED = 0, 1, 2, 3, 4, 5

# per-voice integer fields: vi[v, FIELD]
VI_STATE = 0     # FREE / PLAYING / STOPPING / ENDED (kernel sets ENDED)
VI_BUS = 1       # index of the bus the voice sums into
VI_LANE0 = 2     # first lane of the clip
VI_LANE1 = 3     # second lane (stereo) or -1
VI_LOOP = 4      # 1 = loop the clip
VI_POS = 5       # read position, fixed point 32.32, relative to the lane start
VI_SPATIAL = 6   # 1 = 3D (distance, pan from position), 0 = 2D
VI_MODEL = 7     # distance model, see DIST_*
VI_START_AT_TARGET = 8  # 1 = first block: start at the target gain instead of ramping from 0
VI_BLOCKS = 9    # blocks rendered since start (the kernel counts)
VI_SOUND = 10    # index of the sound (row of sound_mod)
VI_CAT = 11      # index of the category (entry of cat_gain)
VI_TO_VIRTUAL = 12  # 1 = fading out to become VIRTUAL (kernel switches when the fade ends)
VI_LOOPS = 13    # with VI_LOOP: passes left after this one (-1: for ever); at 0 the voice stops looping
VI_DELAY = 14    # samples of silence before the voice starts, in its first block (sample-accurate starts)
VI_PAUSE = 15    # 1 = fading out to pause (kernel makes it PAUSED when the fade reaches 0)
VI_EXTRA = 16    # 1 = the voice's own parameters move it: read its row of vx (else vx is not touched)
VI_NFIELDS = 17

# per-voice float fields: vf[v, FIELD]
VF_X, VF_Y, VF_Z = 0, 1, 2             # emitter position, m
VF_VX, VF_VY, VF_VZ = 3, 4, 5          # emitter velocity, m/s
VF_VOLUME = 6                          # linear gain (sound volume x play volume x randomization)
VF_PITCH = 7                           # playback-rate ratio before Doppler
VF_MIN_DIST = 8
VF_MAX_DIST = 9
VF_ROLLOFF = 10
VF_DOPPLER = 11                        # per-sound Doppler scale
VF_PAN = 12                            # 2D pan, -1 .. 1
VF_FADE = 13                           # current fade gain 0..1 (kernel moves it)
VF_FADE_TARGET = 14
VF_FADE_STEP = 15                      # fade change per sample (>= 0)
VF_DIST_GAIN = 16                      # out: distance gain of the last block
VF_AUDIBILITY = 17                     # out: total gain of the last block (for ranking)
VF_VFADE = 18                          # real/virtual transition fade 0..1 (kernel moves it)
VF_VFADE_TARGET = 19
VF_VFADE_STEP = 20
VF_NFIELDS = 21

# per-voice floats that only voices with VI_EXTRA use, kept apart so the others' rows stay small:
# vx[row, FIELD] (what the voice's own parameters set: control/local.py)
VX_MOD_GAIN = 0                        # gain (local and built-in parameters' volume curves)
VX_MOD_PITCH = 1                       # pitch ratio
VX_LP_A = 2                            # one-pole low-pass coefficient (1 = open; dsp/playback.py)
VX_LP_A_TARGET = 3                     # ... where it goes this block (ramped across the block)
VX_LP_Y0 = 4                           # ... its state, first and second source channel
VX_LP_Y1 = 5
VX_SPREAD = 6                          # 0 a point source .. 1 heard from every direction (energy kept)
VX_CENTRE = 7                          # 2D: the share of a centred sound the centre speaker takes (Center %)
VX_LFE = 8                             # linear gain of the sound's send to the LFE channel (0: none)
# propagation (core/propagation.py), read where VX_PROP is 1: directivity, air, occlusion, obstruction
VX_PROP = 9                            # 1: compute the fields below for this voice
VX_DIR_X, VX_DIR_Y, VX_DIR_Z = 10, 11, 12   # the emitter's facing direction (unit; 0: none, omnidirectional)
VX_CONE_IN = 13                        # cone: inner and outer full angles, radians
VX_CONE_OUT = 14
VX_CONE_GAIN = 15                      # ... linear gain and gain at the reference frequency beyond the outer angle
VX_CONE_HF = 16
VX_AIR = 17                            # air absorption factor (OpenAL's: 1 = -0.05 dB per metre at 5 kHz)
VX_OCC = 18                            # occlusion factor 0..1 the game set (zones add theirs)
VX_OBS = 19                            # obstruction factor 0..1
VX_OCC_DB = 20                         # at factor 1: occlusion's gain and gain at the reference frequency, dB
VX_OCC_HF_DB = 21
VX_OBS_DB = 22                         # ... obstruction's
VX_OBS_HF_DB = 23
VX_OBS_A = 24                          # the obstruction low-pass: coefficient of the last block, state
VX_OBS_Y = 25
VX_NFIELDS = 26
VX_REST = (1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0,     # a row's values until its parameters move it
           0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)

# per-sound modifiers (game-parameter curves): sound_mod[sound, SM_*]
SM_GAIN = 0          # linear gain multiplier
SM_PITCH = 1         # playback-rate multiplier
SM_NFIELDS = 2

# distance models (VI_MODEL), OpenAL clamped variants
DIST_NONE, DIST_INVERSE, DIST_LINEAR, DIST_EXPONENTIAL = 0, 1, 2, 3
DIST_MODELS = {"none": DIST_NONE, "inverse": DIST_INVERSE, "linear": DIST_LINEAR,
               "exponential": DIST_EXPONENTIAL}

# per-bus float fields: bf[b, FIELD]
BF_GAIN = 0          # current fader gain (linear) at the end of the last block
BF_GAIN_TARGET = 1   # fader gain to reach
BF_GAIN_STEP = 2     # fader change per sample towards the target (> 0)
BF_PEAK = 3          # out: peak of the last block, post-fader
BF_SUMSQ = 4         # out: sum of squares of the last block, post-fader (all channels)
BF_PITCH = 5         # playback-rate multiplier for voices on this bus (product down the tree)
BF_NFIELDS = 6

MAX_SENDS = 4        # post-fader sends per bus (dsp/mixing.py, SendStage)

# listener / global floats: lf[FIELD]
LF_X, LF_Y, LF_Z = 0, 1, 2
LF_FX, LF_FY, LF_FZ = 3, 4, 5          # forward
LF_UX, LF_UY, LF_UZ = 6, 7, 8          # up
LF_VX, LF_VY, LF_VZ = 9, 10, 11        # velocity
LF_SPEED_OF_SOUND = 12
LF_DOPPLER_FACTOR = 13
LF_CEILING = 14                        # linear output ceiling
LF_SAMPLE_RATE = 15
LF_ENDED = 16                          # rows marked ENDED since the control side last reclaimed (> 0: look)
# more listeners (split screen; each 3D voice is heard from its nearest one, as in FMOD and Wwise):
# listener 0 is fields 0-11 above; listener k >= 1 has the same 12 pose fields from
# LF_MORE + LL_FIELDS * (k - 1), then LL_ACTIVE (1 = in use).  The engine writes each listener's
# frame (right, front, up: 9 floats) from LF_FRAMES + 9 k every block.
MAX_LISTENERS = 4
LF_MORE = 17
LL_FIELDS = 13
LL_ACTIVE = 12
LF_FRAMES = LF_MORE + LL_FIELDS * (MAX_LISTENERS - 1)
LF_EXTRA_LISTENERS = LF_FRAMES + 9 * MAX_LISTENERS   # listeners in use besides listener 0 (0: skip the search)
LF_NFIELDS = LF_EXTRA_LISTENERS + 1


class EngineArrays:
    """Every array of one loaded scene, allocated once: the voices' and buses' fields, the block's
    working buffers, the listener, the panner the layout chose and the buses' chain of stages.

    `stages` are the states of the optional processors (core/chain.py), allocated by their
    registry entries for this scene; the always-present stages (filters, fader, levels, meter)
    are allocated here."""

    def __init__(self, max_voices: int, n_buses: int, channels: int, block_size: int, panner,
                 max_instances: int | None = None, n_sounds: int = 1, n_categories: int = 1,
                 sample_rate: float = 48000.0, stages: tuple = (), weights: tuple | None = None, zones: int = 0):
        from gamemix.core import chain, panning, propagation
        from gamemix.core.dsp import bs1770, filters, mixing
        self.max_voices = max_voices
        self.max_instances = max_instances = max(max_instances or max_voices, max_voices)
        self.channels = channels
        self.block_size = block_size
        self.panner = panner
        # one row per instance, real or virtual: the engine renders at most max_voices of them
        self.vi = np.zeros((max_instances, VI_NFIELDS), dtype=np.int64)
        self.vf = np.zeros((max_instances, VF_NFIELDS), dtype=np.float64)
        self.vx = np.tile(np.array(VX_REST), (max_instances, 1))
        self.gain = np.zeros((max_instances, MAX_SRC, MAX_OUT), dtype=np.float32)  # current, per src->out
        self.sound_mod = np.ones((max(n_sounds, 1), SM_NFIELDS), dtype=np.float64)
        self.cat_gain = np.ones(max(n_categories, 1), dtype=np.float64)
        self.bf = np.zeros((n_buses, BF_NFIELDS), dtype=np.float64)
        self.bus_parent = np.full(n_buses, -1, dtype=np.int64)
        self.bus_order = np.zeros(n_buses, dtype=np.int64)  # leaves first, master last
        self.bus_buf = np.zeros((n_buses, channels, block_size), dtype=np.float32)
        # one 1-D buffer per source channel: views of a 2-D array measured 40 % slower in the resampler
        self.scratch0 = np.zeros(block_size, dtype=np.float32)
        self.scratch1 = np.zeros(block_size, dtype=np.float32)
        self.target = np.zeros((MAX_SRC, MAX_OUT), dtype=np.float32)
        self.ramp = (np.arange(block_size) / block_size).astype(np.float32)  # i / n, for gain ramps
        self.lf = np.zeros(LF_NFIELDS, dtype=np.float64)
        self.lf[[LF_FZ, LF_UY]] = (-1.0, 1.0)
        self.lf[LF_SPEED_OF_SOUND] = 343.3
        self.lf[LF_DOPPLER_FACTOR] = 1.0
        self.lf[LF_CEILING] = 1.0
        self.vi[:, VI_LANE1] = -1
        self.bf[:, BF_PITCH] = 1.0
        self.prop = propagation.allocate(max_instances, zones, channels, sample_rate)
        self.prop.omni[:] = panning.omni_gains(panner)[:channels]
        self.filters = filters.allocate(n_buses, channels)
        every = np.zeros(n_buses, dtype=np.int64)           # the stages every bus has
        self.meters = bs1770.MeterStage(np.arange(n_buses, dtype=np.int64),
                                        bs1770.allocate(n_buses, channels, sample_rate, weights))
        self.chain = chain.build((self.filters, mixing.FaderStage(every, self.bf), mixing.LevelsStage(every, self.bf),
                                  self.meters) + tuple(stages))

    def stage(self, state_class: type):
        """The state of one stage of the chain, by its class."""
        for st in self.chain:
            if type(st) is state_class:
                return st
        raise KeyError(state_class.__name__)
