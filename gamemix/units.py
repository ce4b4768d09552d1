"""Units: decibels, gains and semitones, converted in one place.

Levels are amplitude decibels: gain = 10^(dB / 20).  FLOOR_DB is the level
that counts as silence: at or below it a gain is exactly 0, and a gain of 0
reads as FLOOR_DB (or None in reports, since JSON has no -inf).  Pitch offsets
are equal-tempered semitones: ratio = 2^(st / 12).  Numba kernels use
LN10_20 to compute 10^(dB / 20) as exp(dB * LN10_20).
"""

from __future__ import annotations

import math

import numpy as np

FLOOR_DB = -144.0
FLOOR_GAIN = 10.0 ** (FLOOR_DB / 20.0)
LN10_20 = math.log(10.0) / 20.0


def db_to_gain(db: float) -> float:
    """Linear amplitude of a level in dB (at or below FLOOR_DB: 0)."""
    return 0.0 if db <= FLOOR_DB else 10.0 ** (db / 20.0)


def db_to_gain_array(db: np.ndarray) -> np.ndarray:
    """db_to_gain of every element."""
    return np.where(db <= FLOOR_DB, 0.0, 10.0 ** (db / 20.0))


def gain_to_db(gain: float) -> float:
    """Level in dB of a linear amplitude, floored at FLOOR_DB."""
    return 20.0 * math.log10(gain) if gain > FLOOR_GAIN else FLOOR_DB


def level_db(x: float, digits: int) -> float | None:
    """dB of a linear level, rounded, for reports: None for silence (JSON has no -inf)."""
    return round(20.0 * math.log10(x), digits) if x > 0.0 else None


def semitones_to_ratio(st: float) -> float:
    """Playback-rate ratio of a pitch offset in semitones."""
    return 2.0 ** (st / 12.0)
