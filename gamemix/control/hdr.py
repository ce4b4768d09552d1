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

import numpy as np

from gamemix.scene.model import Hdr


class HdrWindow:
    """State of the HDR window: where its top is now."""

    def __init__(self, spec: Hdr, hdr_categories: np.ndarray):
        self.spec = spec
        self.categories = hdr_categories      # bool mask over category indices
        self.top_db = spec.threshold_db

    def tick(self, dt: float, rating_db: np.ndarray, gain: np.ndarray, cat: np.ndarray,
             live: np.ndarray) -> tuple[float, np.ndarray]:
        """Move the window; return (attenuation dB for HDR categories, mask of instances below it)."""
        in_hdr = live & ~np.isnan(rating_db) & self.categories[cat] & (gain > 0.0)
        loudness = np.full(len(gain), -np.inf)
        loudness[in_hdr] = rating_db[in_hdr] + 20.0 * np.log10(gain[in_hdr])
        loudest = max(self.spec.threshold_db, float(loudness.max(initial=-np.inf)))
        if loudest >= self.top_db:
            self.top_db = loudest
        else:
            self.top_db = max(loudest, self.top_db - self.spec.release_db_per_s * dt)
        below = in_hdr & (loudness < self.top_db - self.spec.window_db)
        return self.spec.threshold_db - self.top_db, below
