"""HDR mixing: a loudness window that follows the loudest sound (the model of Wwise's HDR bus).

Sounds of the HDR categories carry a loudness rating (`loudness_db`, e.g. 140
for a gunshot at its min distance, 60 for speech).  Each block, an instance's
loudness is its rating plus its current gain in dB (volume, distance, ...),
measured before category gains (ducking and HDR itself), so the window
never chases its own attenuation.  Then, in dB:

    top(t)      = max(threshold, loudest(t), top(t - dt) - release * dt)
    attenuation = top(t) - threshold               (every HDR voice, >= 0)
    virtual     = loudness < top(t) - window        (out of the window)

Which sound is the reference: the *threshold*, not the loudest sound.
Authored levels are the mix as heard while nothing rated above the
threshold plays.  A sound rated above it pushes the top up and turns every
HDR voice down by the excess, itself included: a 140 dB gun with a 90 dB
threshold plays 50 dB under its authored level, and speech 50 dB under its
own, so their difference is kept and the quiet sounds fall out of the
window.  (Frostbite's description maps the loudest sound to full scale
instead; that is this formula with the threshold at the loudest rating the
scene has.)  docs/scene-format.md gives the formula; tests/test_mixing_rules.py
tests it.

Control side.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from gamemix.core.arrays import PAUSED, PLAYING, VI_CAT, VI_STATE, VIRTUAL
from gamemix.scene.model import Hdr


class HdrWindow:
    """State of the HDR window: where its top is now."""

    def __init__(self, spec: Hdr, hdr_categories: np.ndarray, rows: int):
        self.spec = spec
        self.categories = hdr_categories      # bool mask over category indices
        self.top_db = spec.threshold_db
        self._rows = np.zeros(rows, dtype=np.int64)        # the rows in the window this block
        self._loudness = np.zeros(rows)                    # and their loudness
        self._below = np.zeros(rows, dtype=np.bool_)

    def tick(self, dt: float, rating_db: np.ndarray, gain: np.ndarray, vi: np.ndarray) -> tuple[float, np.ndarray]:
        """Move the window; return (attenuation dB for HDR categories, mask of instances below it).
        The rows that count (live, rated, of an HDR category, sounding) are found in one jitted
        pass; their gains go to dB through NumPy's log10 of an array, as always (its vectorised
        log10 and the scalar one differ in the last bit now and then)."""
        n = rated_rows(vi, rating_db, gain, self.categories, self._rows, self._loudness)
        loud = self._loudness[:n]
        np.log10(loud, out=loud)
        spec = self.spec
        self.top_db = move_window(self._rows, rating_db, loud, spec.threshold_db, self.top_db,
                                  spec.release_db_per_s * dt, spec.window_db, self._below)
        return spec.threshold_db - self.top_db, self._below


@njit(cache=True, nogil=True)
def rated_rows(vi, rating_db, gain, categories, rows, gains):
    """The rows that count for the window (playing, virtual or paused; rated; of an HDR category;
    gain > 0) into rows[:n] and their gains into gains[:n]; returns n."""
    n = 0
    for v in range(gain.shape[0]):
        state = vi[v, VI_STATE]
        if ((state == PLAYING or state == VIRTUAL or state == PAUSED) and not math.isnan(rating_db[v])
                and categories[vi[v, VI_CAT]] and gain[v] > 0.0):
            rows[n] = v
            gains[n] = gain[v]
            n += 1
    return n


@njit(cache=True, nogil=True)
def move_window(rows, rating_db, level_db, threshold_db, top_db, release_db, window_db, below):
    """level_db[k] (the dB of row k's gain) becomes its loudness, rating + 20 log10(gain); the top
    follows the loudest (at least the threshold) up at once and down by at most release_db; below[v]
    = True for the rows under the window's floor, False elsewhere.  Returns the new top."""
    loudest = -math.inf
    for k in range(level_db.shape[0]):
        level_db[k] = rating_db[rows[k]] + 20.0 * level_db[k]
        loudest = max(loudest, level_db[k])
    loudest = max(threshold_db, loudest)
    top_db = loudest if loudest >= top_db else max(loudest, top_db - release_db)
    floor_db = top_db - window_db
    below[:] = False
    for k in range(level_db.shape[0]):
        below[rows[k]] = level_db[k] < floor_db
    return top_db
