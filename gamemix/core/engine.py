"""HOT PATH.  One audio block: voices -> buses -> master -> output.

`render_block` is the single Numba call per block.  It releases the GIL, reads
the targets the control side wrote into the EngineArrays (core/arrays.py), and in order:

1. the voice loop (core/voice_loop.py): each real voice into its bus, gains
   from the layout's panner (core/panning/), ramped from the previous block's
   (a filtering panner, binaural, mixes 3D voices itself, between its `begin`
   and `finish`);
2. each bus, in an order that puts children, sidechain keys, unmasking
   targets and senders before what they feed: its chain of stages
   (core/chain.py: reverb for returns, filters, unmasking cut, sidechain duck,
   compressor, loudness management, fader, limiter, levels, target analysis,
   sends), then added into its parent; then every bus's BS.1770 meter, eight
   buses at a time (the meter's `after` kernel: nothing changes a bus after
   its meter's place in the chain);
3. the master into the interleaved output, NaN-free and clamped to the ceiling.

`Engine` is the thin Python owner of the arrays that makes that call.  It
hands them over as one `EngineState` (a Numba StructRef holding every array
the block reads or writes): unboxing one object costs ~0.2 us a block where
the 21 arguments, whose tuple of stages alone holds over a hundred arrays,
cost ~4.5 us (each array argument is unpacked from its Python object anew on
every call).
"""

from __future__ import annotations

import inspect

import numpy as np
from numba import njit, typeof
from numba.core import types
from numba.experimental import structref

from gamemix.core import chain, listeners, panning
from gamemix.core.arrays import (
    LF_CEILING, LF_ENDED, LF_EXTRA_LISTENERS, LF_FX, LF_FY, LF_FZ, LF_SAMPLE_RATE, LF_UX, LF_UY, LF_UZ, EngineArrays,
)
from gamemix.core.dsp import bs1770, compressor, filters, leveler, limiter, mixing, reverb, sidechain, unmasking  # noqa: F401  (their stages register)
from gamemix.core.dsp.distance import listener_front_up, listener_right
from gamemix.core.dsp.mixing import write_output
from gamemix.core.voice_loop import render_voices


@njit(cache=True, nogil=True, inline="always")
def render_block(pool, lane_off, lane_len, vi, vf, vx, gain, bf, bus_parent, bus_order, sound_mod, cat_gain,
                 bus_buf, stages, scratch0, scratch1, target, ramp, lf, panner, prop, out):
    """Render one block into out (frames, channels); out.shape[0] is the block size."""
    n = out.shape[0]
    channels = out.shape[1]
    bus_buf[:, :, :n] = 0.0
    rx, ry, rz = listener_right(lf[LF_FX], lf[LF_FY], lf[LF_FZ], lf[LF_UX], lf[LF_UY], lf[LF_UZ])
    fx, fy, fz, ux, uy, uz = listener_front_up(lf[LF_FX], lf[LF_FY], lf[LF_FZ], rx, ry, rz)
    frame = (rx, ry, rz, fx, fy, fz, ux, uy, uz)
    if lf[LF_EXTRA_LISTENERS] > 0.0:
        listeners.write_frames(lf)
    panning.begin(panner, vi, vf)
    ended = render_voices(pool, lane_off, lane_len, vi, vf, vx, gain, bf, sound_mod, cat_gain, lf, frame, panner,
                          prop, bus_buf, scratch0, scratch1, target, ramp, n, channels)
    panning.finish(panner, bus_buf, n)
    lf[LF_ENDED] += ended
    chain.mix_buses(bus_order, bus_parent, stages, bus_buf, ramp, n, channels, lf[LF_SAMPLE_RATE])
    master = bus_order[bus_order.shape[0] - 1]
    write_output(bus_buf[master], out, n, channels, lf[LF_CEILING])


STATE_FIELDS = tuple(inspect.signature(render_block.py_func).parameters)[:-1]    # its arguments but `out`


@structref.register
class EngineStateType(types.StructRef):
    """The Numba type of an EngineState: one field per STATE_FIELDS, typed as the arrays it holds."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class EngineState(structref.StructRefProxy):
    """render_block's arrays in one object the compiled code holds references to (the same buffers:
    what the control side writes into the arrays, the block reads).  Made by `new_state`."""


structref.define_constructor(EngineState, EngineStateType, STATE_FIELDS)
structref.define_boxing(EngineStateType, EngineState)


@njit(cache=True)
def new_state(pool, lane_off, lane_len, vi, vf, vx, gain, bf, bus_parent, bus_order, sound_mod, cat_gain,
              bus_buf, stages, scratch0, scratch1, target, ramp, lf, panner, prop):
    """An EngineState holding these arrays (compiled and cached, as the block is, per their types)."""
    return EngineState(pool, lane_off, lane_len, vi, vf, vx, gain, bf, bus_parent, bus_order, sound_mod, cat_gain,
                       bus_buf, stages, scratch0, scratch1, target, ramp, lf, panner, prop)


@njit(cache=True, nogil=True)
def render_state(s, out):
    """render_block with the arrays of EngineState s."""
    render_block(s.pool, s.lane_off, s.lane_len, s.vi, s.vf, s.vx, s.gain, s.bf, s.bus_parent, s.bus_order,
                 s.sound_mod, s.cat_gain, s.bus_buf, s.stages, s.scratch0, s.scratch1, s.target, s.ramp, s.lf,
                 s.panner, s.prop, out)


class Engine:
    """Owns the clip pool and the EngineArrays, and renders blocks with one kernel call.

    The call goes to the compiled code directly (`entry_point`), not through Numba's dispatcher,
    with the arrays in one EngineState: the dispatcher works out the type of every argument on
    every call, and unpacking the 21 arrays and tuples from Python costs ~4.5 us a block; the
    state is one pointer.  The arrays never change for the life of the engine (nobody replaces
    one: they are written in place), so the compiled version is chosen once, on the first block;
    `render` checks that each `out` is what it was compiled for."""

    def __init__(self, arrays: EngineArrays, pool: np.ndarray, lane_offset: np.ndarray, lane_length: np.ndarray):
        self.arrays = arrays
        a = arrays
        # every array render_block reads or writes, in its argument order, except `out`
        self.args = (pool, lane_offset, lane_length, a.vi, a.vf, a.vx, a.gain, a.bf, a.bus_parent, a.bus_order,
                     a.sound_mod, a.cat_gain, a.bus_buf, a.chain, a.scratch0, a.scratch1, a.target, a.ramp, a.lf,
                     a.panner, a.prop)
        self.state = new_state(*self.args)
        self._compiled = None

    def render(self, out: np.ndarray) -> None:
        """Fill out (frames, channels) float32 with the next block."""
        a = self.arrays
        if out.shape != (a.block_size, a.channels) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"output block must be C-contiguous float32 {(a.block_size, a.channels)}, "
                             f"got {out.dtype} {out.shape}")
        if self._compiled is None:
            render_state(self.state, out)          # compiles, or loads from the cache, the version for these types
            self._compiled = render_state.overloads[(typeof(self.state), typeof(out))].entry_point
            return
        self._compiled(self.state, out)
