"""HOT PATH.  Loudness management: a slow, bounded gain that holds a bus at a loudness target.

The stage meters the bus twice (BS.1770, dsp/bs1770.py): its input, just
before the managed gain, and its output, just after it.  Both meters read
the same window, `short_term` (3 s, the default, which suits a game bus: it
follows a change of scene within seconds and does not follow single shots or
words) or `momentary` (0.4 s).  Integrated loudness since a reset is not a
measure a gain can steer by: early content weighs on it for the rest of the
session, so a quiet intro keeps the gain up through the loud combat after it
(the open loop this module used to have).  A mix whose short-term loudness
is held at the target has its integrated loudness there too.

Control law, per block (`next_gain`):

- *When* to act is decided on the measured output, a closed loop: while the
  output is within `tolerance` of the target the gain holds still; once it
  leaves that band the gain corrects all the way to the target, then holds
  again (a thermostat, so the mix keeps its own dynamics and nothing pumps).
- *How far* to go is taken from the input: wanted = target - input, clamped
  to [-max_cut, +max_boost].  With the gain constant over the window the
  output is exactly input + gain, so this is where the output lands; taking
  it from the output instead would act on a reading 3 s late and hunt.
- The gain moves towards `wanted` at no more than `boost_slew` dB/s up and
  `cut_slew` dB/s down: a loud scene is caught quickly, a quiet one is
  lifted slowly (the asymmetry of broadcast loudness controllers).
- While the input's momentary loudness is below `gate` LUFS (silence between
  scenes, a pause) the gain holds: quiet content is not boosted into a noise
  floor, and what follows starts from the gain the last scene had.  When
  sound returns, the window's reading is scaled to the part of it that
  holds sound (see `next_gain`), so a window half full of silence is not
  read as a quiet scene.

The fader comes after this stage, so a fader move or a snapshot (a pause
menu pulling everything down) still acts on top of the managed level
instead of being slowly undone by it.  Time constants: the window, then
|error| / slew seconds.

Arrays (LevelerStage): params[b, LV_*] float64, what the control side writes
and the gain state the kernel keeps; meter, a BS.1770 meter bank with two
slots per managed bus (LV_SLOT before the gain, LV_SLOT_OUT after it).
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
LV_BOOST_SLEW = 6   # dB per sample, upwards
LV_CUT_SLEW = 7     # dB per sample, downwards
LV_GATE = 8         # LUFS: below this at the input the gain holds
LV_SLOT = 9         # slot of `meter` that measures the bus before this gain
LV_SLOT_OUT = 10    # slot of `meter` that measures it after this gain
LV_GAIN = 11        # state: applied gain, dB
LV_CORRECTING = 12  # state: 1 while moving towards the target
LV_WANTED = 13      # out: the gain the input measurement asks for, dB
LV_INPUT = 14       # out: the measured input, LUFS (-inf until it exists)
LV_OUTPUT = 15      # out: the measured output, LUFS (-inf until it exists)
LV_OPEN = 16        # state: samples since the input's momentary loudness last fell below the gate
LV_WINDOW = 17      # samples in the measured window (3 s or 0.4 s)
LV_WINDOW_S = 18    # the same in seconds
LV_NFIELDS = 19

MEASURE_MOMENTARY, MEASURE_SHORT_TERM = 0, 1
MEASURES = {"momentary": MEASURE_MOMENTARY, "short_term": MEASURE_SHORT_TERM}
SETTLED_DB = 0.05
FIRST_S = 0.4       # after a silence, the gain waits this long (a momentary window) before it reads


class LevelerStage(NamedTuple):
    """Every bus's loudness management: params (buses, LV_NFIELDS), LV_ENABLED = 0 where a bus has
    none; meter, two slots per managed bus."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    params: np.ndarray
    meter: bs1770.MeterBank


def allocate(n_buses: int, n_managed: int, channels: int, sample_rate: float,
             weights: tuple | None = None) -> LevelerStage:
    """`weights`: the output layout's BS.1770 channel weights (default 1.0 each)."""
    return LevelerStage(np.full(n_buses, -1, dtype=np.int64), np.zeros((n_buses, LV_NFIELDS), dtype=np.float64),
                        bs1770.allocate(2 * n_managed, channels, sample_rate, weights))


def set_target(lv: np.ndarray, b: int, slot: int, sample_rate: float, target_lufs: float, measure: str,
               tolerance_lu: float, max_boost_db: float, max_cut_db: float, boost_db_per_s: float,
               cut_db_per_s: float, gate_lufs: float) -> None:
    """Control side: configure bus b's loudness target, metered by slots 2*slot (in) and 2*slot+1
    (out); the gain state is kept."""
    row = lv[b]
    row[LV_ENABLED] = 1.0
    row[LV_TARGET] = target_lufs
    row[LV_MEASURE] = MEASURES[measure]
    row[LV_TOLERANCE] = tolerance_lu
    row[LV_MAX_BOOST] = max_boost_db
    row[LV_MAX_CUT] = max_cut_db
    row[LV_BOOST_SLEW] = boost_db_per_s / sample_rate
    row[LV_CUT_SLEW] = cut_db_per_s / sample_rate
    row[LV_GATE] = gate_lufs
    row[LV_SLOT] = 2 * slot
    row[LV_SLOT_OUT] = 2 * slot + 1
    row[LV_INPUT] = -math.inf
    row[LV_OUTPUT] = -math.inf
    row[LV_WINDOW_S] = 3.0 if measure == "short_term" else 0.4
    row[LV_WINDOW] = row[LV_WINDOW_S] * sample_rate


@njit(cache=True, nogil=True)
def next_gain(row, measured_in, measured_out, momentary_in, n):
    """Move the gain state one block of n samples (the control law in the module docstring);
    return (gain before, gain after) in dB.  The gate looks at the input's momentary loudness,
    so it closes within 0.4 s of a silence.  When sound comes back, the gain waits 0.4 s, then
    reads the part of the window that holds sound: the window's energy scaled by window / time
    open (exact for steady content), so a scene that starts after a silence is levelled within
    a second instead of after a whole window, and a window half full of silence is not read as a
    quiet scene."""
    g0 = row[LV_GAIN]
    row[LV_INPUT] = measured_in
    row[LV_OUTPUT] = measured_out
    if not math.isfinite(momentary_in) or momentary_in < row[LV_GATE]:
        row[LV_OPEN] = 0.0
    else:
        row[LV_OPEN] += n
    if row[LV_OPEN] < FIRST_S * row[LV_WINDOW] / row[LV_WINDOW_S] or not measured_in >= bs1770.LOW:
        row[LV_CORRECTING] = 0.0
        return g0, g0
    if row[LV_OPEN] < row[LV_WINDOW]:       # the window still holds the silence before: read only the rest
        fill = 10.0 * math.log10(row[LV_WINDOW] / row[LV_OPEN])
        measured_in += fill
        measured_out += fill
    wanted = min(max(row[LV_TARGET] - measured_in, -row[LV_MAX_CUT]), row[LV_MAX_BOOST])
    row[LV_WANTED] = wanted
    out = measured_out if math.isfinite(measured_out) else measured_in + g0
    if row[LV_CORRECTING] == 0.0 and abs(out - row[LV_TARGET]) > row[LV_TOLERANCE]:
        row[LV_CORRECTING] = 1.0
    if row[LV_CORRECTING] == 0.0:
        return g0, g0
    g1 = min(max(wanted, g0 - row[LV_CUT_SLEW] * n), g0 + row[LV_BOOST_SLEW] * n)
    if abs(g1 - wanted) < SETTLED_DB:
        row[LV_CORRECTING] = 0.0
    row[LV_GAIN] = g1
    return g0, g1


@njit(cache=True, nogil=True)
def apply_gain(b, bus_buf, n, channels, g0, g1, ramp):
    """Scale bus b in place by a gain ramped from g0 to g1 dB over the block (ramp[i] = i / n)."""
    if g0 == 0.0 and g1 == 0.0:
        return
    a = math.exp(g0 * LN10_20)
    d = math.exp(g1 * LN10_20) - a
    for c in range(channels):
        x = bus_buf[b, c]
        for i in range(n):
            x[i] *= a + d * ramp[i]


@njit(cache=True, nogil=True, inline="always")
def _reading(bank, slot, measure):
    """The measured window's loudness; in the first 3 s after a reset, before BS.1770 gives a
    short-term value, the momentary one (so a session starts levelled within a second)."""
    if measure == MEASURE_SHORT_TERM and bank.out[slot, bs1770.LM_SHORT_TERM] > -math.inf:
        return bank.out[slot, bs1770.LM_SHORT_TERM]
    return bank.out[slot, bs1770.LM_MOMENTARY]


@njit(cache=True, nogil=True, inline="always")
def leveler_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's loudness stage (core/chain.py): meter bus b, move and apply its managed gain,
    meter the result (read at the next block)."""
    row = st.params[b]
    if row[LV_ENABLED] == 0.0:
        return
    slot_in, slot_out = int(row[LV_SLOT]), int(row[LV_SLOT_OUT])
    measure = int(row[LV_MEASURE])
    bs1770.meter_block(slot_in, bus_buf[b], n, st.meter)
    g0, g1 = next_gain(row, _reading(st.meter, slot_in, measure), _reading(st.meter, slot_out, measure),
                       st.meter.out[slot_in, bs1770.LM_MOMENTARY], n)
    apply_gain(b, bus_buf, n, channels, g0, g1, ramp)
    bs1770.meter_block(slot_out, bus_buf[b], n, st.meter)


chain.register(LevelerStage, leveler_stage, chain.LOUDNESS)
