"""HOT PATH.  Loudness management: a slow, bounded gain that holds a bus at a loudness target.

A bus with a `loudness` target is metered (BS.1770, dsp/bs1770.py, by a
meter of its own) just *before* this gain, which comes before the bus's fader: the measurement is of
the mix itself, so the loop is open, and the fader (and the snapshots that
move it, such as a pause menu pulling everything down) still acts on top of
the managed level instead of being slowly undone by it: the gain the bus needs is simply target - measured, clamped to
[-max_cut, +max_boost].  The applied gain moves towards it at no more than
max_slew dB/s, so the mix keeps its own dynamics: a 1 dB/s slew cannot follow
a gunshot or a line of dialogue, only the level of a whole scene.

Tolerance works as a thermostat: while the managed output (measured + gain)
is within `tolerance` of the target the gain holds still; once it drifts
outside, the gain corrects all the way to the target, then holds again.  The
measurement is the integrated (since reset), short-term (3 s) or momentary
(0.4 s) loudness; until it exists (the first 0.4 s, or silence under the
-70 LUFS gate) the gain holds.  Time constants: the meter's window plus
|error| / max_slew seconds to correct an error.

Arrays (LevelerStage): params[b, LV_*] float64, what the control side writes
and the gain state the kernel keeps; meter, a BS.1770 meter bank with one
slot per managed bus (LV_SLOT).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.units import LN10_20
from gamemix.core.dsp import bs1770

LV_ENABLED = 0
LV_TARGET = 1       # LUFS
LV_MEASURE = 2      # which meter reading, see MEASURE_*
LV_TOLERANCE = 3    # LU
LV_MAX_BOOST = 4    # dB >= 0
LV_MAX_CUT = 5      # dB >= 0
LV_SLEW = 6         # dB per sample
LV_SLOT = 7         # slot of `meter` that measures the bus before this gain
LV_GAIN = 8         # state: applied gain, dB
LV_CORRECTING = 9   # state: 1 while moving towards the target
LV_WANTED = 10      # out: the gain the measurement asks for, dB
LV_NFIELDS = 11

MEASURE_MOMENTARY, MEASURE_SHORT_TERM, MEASURE_INTEGRATED = 0, 1, 2
MEASURES = {"momentary": MEASURE_MOMENTARY, "short_term": MEASURE_SHORT_TERM, "integrated": MEASURE_INTEGRATED}
SETTLED_DB = 0.05


class LevelerStage(NamedTuple):
    """Every bus's loudness management: params (buses, LV_NFIELDS), LV_ENABLED = 0 where a bus has
    none; meter, one slot per managed bus."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    params: np.ndarray
    meter: bs1770.MeterBank


def allocate(n_buses: int, n_managed: int, channels: int, sample_rate: float) -> LevelerStage:
    return LevelerStage(np.full(n_buses, -1, dtype=np.int64), np.zeros((n_buses, LV_NFIELDS), dtype=np.float64),
                        bs1770.allocate(n_managed, channels, sample_rate))


def set_target(lv: np.ndarray, b: int, slot: int, sample_rate: float, target_lufs: float, measure: str,
               tolerance_lu: float, max_boost_db: float, max_cut_db: float, max_slew_db_per_s: float) -> None:
    """Control side: configure bus b's loudness target (the gain state is kept)."""
    row = lv[b]
    row[LV_ENABLED] = 1.0
    row[LV_TARGET] = target_lufs
    row[LV_MEASURE] = MEASURES[measure]
    row[LV_TOLERANCE] = tolerance_lu
    row[LV_MAX_BOOST] = max_boost_db
    row[LV_MAX_CUT] = max_cut_db
    row[LV_SLEW] = max_slew_db_per_s / sample_rate
    row[LV_SLOT] = slot


@njit(cache=True, nogil=True)
def next_gain(row, measured, n):
    """Move the gain state one block of n samples; return (gain before, gain after) in dB."""
    g0 = row[LV_GAIN]
    if not math.isfinite(measured):
        return g0, g0
    wanted = min(max(row[LV_TARGET] - measured, -row[LV_MAX_CUT]), row[LV_MAX_BOOST])
    row[LV_WANTED] = wanted
    if row[LV_CORRECTING] == 0.0 and abs(measured + g0 - row[LV_TARGET]) > row[LV_TOLERANCE]:
        row[LV_CORRECTING] = 1.0
    if row[LV_CORRECTING] == 0.0:
        return g0, g0
    step = row[LV_SLEW] * n
    g1 = min(max(wanted, g0 - step), g0 + step)
    if abs(g1 - wanted) < SETTLED_DB:
        row[LV_CORRECTING] = 0.0
    row[LV_GAIN] = g1
    return g0, g1


@njit(cache=True, nogil=True)
def leveler_block(b, bus_buf, n, channels, lv, measured, ramp):
    """Apply bus b's managed gain in place, ramped from last block's value (ramp[i] = i / n)."""
    row = lv[b]
    if row[LV_ENABLED] == 0.0:
        return
    g0, g1 = next_gain(row, measured, n)
    if g0 == 0.0 and g1 == 0.0:
        return
    a = math.exp(g0 * LN10_20)
    d = math.exp(g1 * LN10_20) - a
    for c in range(channels):
        x = bus_buf[b, c]
        for i in range(n):
            x[i] *= a + d * ramp[i]


@njit(cache=True, nogil=True)
def leveler_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's loudness stage (core/chain.py): meter bus b, then apply its managed gain."""
    if st.params[b, LV_ENABLED] == 0.0:
        return
    slot = int(st.params[b, LV_SLOT])
    bs1770.meter_block(slot, bus_buf[b], n, st.meter)
    measure = int(st.params[b, LV_MEASURE])
    field = bs1770.LM_INTEGRATED if measure == MEASURE_INTEGRATED else (
        bs1770.LM_SHORT_TERM if measure == MEASURE_SHORT_TERM else bs1770.LM_MOMENTARY)
    leveler_block(b, bus_buf, n, channels, st.params, st.meter.out[slot, field], ramp)


chain.register(LevelerStage, leveler_stage, chain.LOUDNESS)
