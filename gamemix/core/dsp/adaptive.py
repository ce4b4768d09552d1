"""HOT PATH.  The gains the real world puts on a bus: ambient-adaptive boost and speech ducking.

What the microphone tells the mix (AR mode) reaches the kernels as two
numbers the control side writes at each block start into `inputs`: the
ambient noise estimate (LUFS, NaN while unknown) and whether a person is
speaking (1 or 0).  Per bus that follows or ducks, once per block:

1. boost wanted = clamp(ambient + margin - level, 0, max boost): the bus is
   to stay `margin` LU above the room's noise (its `level` is its loudness in
   the mix), never more than `max boost` above its own level ("adaptive
   volume"), and never below it (the room getting quiet gives the boost
   back).  A one-pole in dB moves the boost towards it with the attack time
   constant when it rises and the release one when it falls (63 % of the
   way after one time constant, as compressors count);
2. duck: while speech is on, towards `depth` with the attack time constant;
   when it stops, held for `hold`, then back with the release one, so gaps
   between words do not pump the music ("conversation awareness");
3. the gain 10^((boost - duck) / 20) is ramped linearly across the block from
   the last block's, so no change clicks.

The stage runs after loudness management and before the fader (order 65), so
a bus's leveler does not undo the boost, and before the master's true-peak
limiter, which keeps any boost under the ceiling.

Arrays (AdaptiveStage): params[b, AD_*] (settings, per-block coefficients and
state), inputs[IN_*] (the control side's two numbers).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.core.dsp.mixing import scale_ramped
from gamemix.units import LN10_20

# params[b, FIELD]
AD_FOLLOW = 0        # 1 = the bus follows the ambience
AD_MARGIN = 1        # LU the bus keeps over the ambience
AD_LEVEL = 2         # the bus's loudness in the mix, LUFS
AD_MAX_BOOST = 3     # dB >= 0
AD_BOOST_ATTACK = 4  # per-block one-pole coefficients exp(-block / (tau fs))
AD_BOOST_RELEASE = 5
AD_DUCK = 6          # 1 = the bus ducks under speech
AD_DEPTH = 7         # duck depth, dB >= 0
AD_DUCK_ATTACK = 8
AD_DUCK_RELEASE = 9
AD_HOLD = 10         # blocks the duck holds after speech stops
AD_BOOST_DB = 11     # state: the boost now, dB
AD_DUCK_DB = 12      # state: the duck now, dB >= 0
AD_HOLD_LEFT = 13    # state: blocks of hold left
AD_GAIN = 14         # state: the linear gain at the end of the last block
AD_NFIELDS = 15

# inputs[FIELD]
IN_AMBIENT = 0       # ambient noise estimate, LUFS (NaN: not known yet)
IN_SPEECH = 1        # 1 while a person speaks
IN_NFIELDS = 2


class AdaptiveStage(NamedTuple):
    """Every bus's ambient boost and speech duck (see the module docstring)."""

    slot: np.ndarray         # slot[b] >= 0: bus b follows or ducks (core/chain.py)
    params: np.ndarray       # (buses, AD_NFIELDS)
    inputs: np.ndarray       # (IN_NFIELDS,)


def allocate(n_buses: int) -> AdaptiveStage:
    """No bus follows or ducks; ambient unknown, no speech."""
    params = np.zeros((n_buses, AD_NFIELDS))
    params[:, AD_GAIN] = 1.0
    inputs = np.zeros(IN_NFIELDS)
    inputs[IN_AMBIENT] = math.nan
    return AdaptiveStage(np.full(n_buses, -1, dtype=np.int64), params, inputs)


def block_coef(seconds: float, block_size: int, sample_rate: float) -> float:
    """A one-pole coefficient stepped once per block: exp(-block period / tau); 0 for tau 0."""
    return math.exp(-block_size / (seconds * sample_rate)) if seconds > 0 else 0.0


def set_follow(params: np.ndarray, b: int, attack_s: float, release_s: float, block_size: int,
               sample_rate: float) -> None:
    """Control side: bus b follows the ambience with these time constants (margin, level and
    max boost are movables, written every block they move)."""
    params[b, AD_FOLLOW] = 1.0
    params[b, AD_BOOST_ATTACK] = block_coef(attack_s, block_size, sample_rate)
    params[b, AD_BOOST_RELEASE] = block_coef(release_s, block_size, sample_rate)


def set_duck(params: np.ndarray, b: int, attack_ms: float, hold_ms: float, release_ms: float, block_size: int,
             sample_rate: float) -> None:
    """Control side: bus b ducks under speech (the depth is a movable)."""
    params[b, AD_DUCK] = 1.0
    params[b, AD_DUCK_ATTACK] = block_coef(attack_ms * 1e-3, block_size, sample_rate)
    params[b, AD_DUCK_RELEASE] = block_coef(release_ms * 1e-3, block_size, sample_rate)
    params[b, AD_HOLD] = round(hold_ms * 1e-3 * sample_rate / block_size)


@njit(cache=True, nogil=True, inline="always")
def _boost(p, ambient):
    """Move the bus's boost one block towards what the ambience asks for; returns it (dB)."""
    wanted = 0.0
    if p[AD_FOLLOW] != 0.0 and math.isfinite(ambient):
        wanted = min(max(ambient + p[AD_MARGIN] - p[AD_LEVEL], 0.0), max(p[AD_MAX_BOOST], 0.0))
    boost = p[AD_BOOST_DB]
    coef = p[AD_BOOST_ATTACK] if wanted > boost else p[AD_BOOST_RELEASE]
    boost = wanted + (boost - wanted) * coef
    if not math.isfinite(boost):
        boost = 0.0
    p[AD_BOOST_DB] = boost
    return boost


@njit(cache=True, nogil=True, inline="always")
def _duck(p, speech):
    """Move the bus's duck one block: attack while speech is on, hold, then release; returns it (dB >= 0)."""
    duck = p[AD_DUCK_DB]
    depth = max(p[AD_DEPTH], 0.0) if p[AD_DUCK] != 0.0 else 0.0
    if speech != 0.0 and depth > 0.0:
        duck = depth + (duck - depth) * p[AD_DUCK_ATTACK]
        p[AD_HOLD_LEFT] = p[AD_HOLD]
    elif p[AD_HOLD_LEFT] > 0.0:
        p[AD_HOLD_LEFT] -= 1.0
        duck = min(duck, depth)           # a shallower depth set while holding is reached at once (ramped)
    else:
        duck = duck * p[AD_DUCK_RELEASE]
    if not math.isfinite(duck):
        duck = 0.0
    p[AD_DUCK_DB] = duck
    return duck


@njit(cache=True, nogil=True)
def adaptive_block(b, bus_buf, n, channels, ramp, params, inputs):
    """Bus b times its ambient boost and speech duck, ramped across the block from the last block's gain."""
    p = params[b]
    db = _boost(p, inputs[IN_AMBIENT]) - _duck(p, inputs[IN_SPEECH])
    g0 = p[AD_GAIN]
    g1 = math.exp(db * LN10_20)
    p[AD_GAIN] = g1
    if g0 == 1.0 and g1 == 1.0:
        return
    for c in range(channels):
        scale_ramped(bus_buf, b, c, g0, g1, ramp, n)


@njit(cache=True, nogil=True, inline="always")
def adaptive_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's ambient-boost and speech-duck stage (core/chain.py)."""
    adaptive_block(b, bus_buf, n, channels, ramp, st.params, st.inputs)


chain.register(AdaptiveStage, adaptive_stage, chain.ADAPTIVE)
