"""HOT PATH.  The microphone into its bus: the captured block added at the head of the mic bus's chain.

AR mode (docs/architecture.md, "The input path") puts what the microphone
hears into the mix through an ordinary bus, so the mic bus's gain, high-pass,
mute, meters and sends work as for any bus.  This stage comes first in the
chain (order 5, before the filters): it adds the block the control side copied
into `block` before the render, times the hear-through level, ramped across
the block from its previous value like every gain, into the bus.

Latency-compensated hear-through (`delay` > 0): the input goes through a delay
line first, so the hear-through is heard as late as the analysis that acts on
it (the detector's frames and its pick-up at the next block start): the duck
a voice triggers then starts with that voice, not before it is heard (as a
DAW's plugin-delay compensation aligns a track with its sidechain).

Which output channels the input reaches is the layout's (`route`, set by
the control side from the panner: a stereo mic's left on the front left, its
right on the front right, as a head-locked stereo 2D sound; an ambisonic
output encodes them at -30 and +30 degrees; a mono mic feeds both sides).

Arrays (MicStage): block (MAX_CHANNELS, frames) the input, float32;
params[MC_*] (gain, its target, delay, the input's channels, write position);
line (MAX_CHANNELS, MAX_DELAY) the delay line; route (MAX_CHANNELS, output
channels) each input channel's gain on each output channel.  One mic, so one
set of arrays; slot[b] >= 0 only for the mic bus.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain

MAX_CHANNELS = 2
MAX_DELAY = 1 << 14            # samples of delay line: 341 ms at 48 kHz

MC_GAIN = 0          # hear-through gain at the end of the last block (linear)
MC_TARGET = 1        # ... where it goes this block
MC_DELAY = 2         # samples of delay before the input is heard (0 .. MAX_DELAY - 1)
MC_CHANNELS = 3      # channels of the input in `block` (1: mono, fed to every bus channel)
MC_WRITE = 4         # write position in the delay line
MC_NFIELDS = 5


class MicStage(NamedTuple):
    """The microphone's block, hear-through gain and delay line (see the module docstring)."""

    slot: np.ndarray         # slot[b] >= 0: bus b is the mic bus (core/chain.py)
    block: np.ndarray        # (MAX_CHANNELS, frames) float32: this block's input, written by the control side
    params: np.ndarray
    line: np.ndarray         # (MAX_CHANNELS, MAX_DELAY) float32
    route: np.ndarray        # (MAX_CHANNELS, output channels) float32: input channel -> output channel gains


def allocate(n_buses: int, block_size: int, channels: int = 2) -> MicStage:
    """No mic bus, silence in, hear-through at 0 gain; the input routed left and right to the first two
    output channels until `set_route` says otherwise."""
    params = np.zeros(MC_NFIELDS)
    params[MC_CHANNELS] = 1.0
    route = np.zeros((MAX_CHANNELS, channels), dtype=np.float32)
    for c in range(min(MAX_CHANNELS, channels)):
        route[c, c] = 1.0
    return MicStage(np.full(n_buses, -1, dtype=np.int64), np.zeros((MAX_CHANNELS, block_size), dtype=np.float32),
                    params, np.zeros((MAX_CHANNELS, MAX_DELAY), dtype=np.float32), route)


def set_route(route: np.ndarray, left, right) -> None:
    """Control side: the gains per output channel of the input's left and right channels (a mono input
    feeds both)."""
    channels = route.shape[1]
    route[0, :] = np.asarray(left, dtype=np.float32)[:channels]
    route[1, :] = np.asarray(right, dtype=np.float32)[:channels]


def set_input(params: np.ndarray, channels: int, delay_samples: int) -> None:
    """Control side: the input's channel count and the hear-through delay (clamped to the line)."""
    params[MC_CHANNELS] = min(max(channels, 1), MAX_CHANNELS)
    params[MC_DELAY] = min(max(int(delay_samples), 0), MAX_DELAY - 1)


@njit(cache=True, nogil=True)
def mic_block(b, bus_buf, n, channels, ramp, block, params, line, route):
    """Add the input block, delayed and times the ramped hear-through gain, into bus b, each input
    channel on the output channels its route gives."""
    g0 = params[MC_GAIN]
    g1 = params[MC_TARGET]
    if not np.isfinite(g1):
        g1 = 0.0
    params[MC_GAIN] = g1
    src_channels = int(params[MC_CHANNELS])
    delay = int(params[MC_DELAY])
    write = int(params[MC_WRITE])
    mask = MAX_DELAY - 1
    for c in range(min(src_channels, MAX_CHANNELS)):
        for i in range(n):
            x = block[c, i]
            line[c, (write + i) & mask] = x if np.isfinite(x) else np.float32(0.0)
    params[MC_WRITE] = (write + n) & mask
    if g0 == 0.0 and g1 == 0.0:
        return
    g = np.float32(g0)
    dg = np.float32(g1 - g0)
    for c in range(channels):
        for side in range(MAX_CHANNELS):
            k = route[side, c]
            if k == 0.0:
                continue
            src = min(side, src_channels - 1)
            for i in range(n):
                bus_buf[b, c, i] += line[src, (write + i - delay) & mask] * (k * (g + dg * ramp[i]))


@njit(cache=True, nogil=True, inline="always")
def mic_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's microphone stage (core/chain.py)."""
    mic_block(b, bus_buf, n, channels, ramp, st.block, st.params, st.line, st.route)


chain.register(MicStage, mic_stage, chain.MIC)
