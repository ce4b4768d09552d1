"""HDR mixing (after Frostbite and Wwise): a loudness window that follows the loudest sound.

Sounds of the HDR categories carry a loudness rating (`loudness_db`, e.g. 140
for a gunshot at its min distance, 60 for speech).  Each block, an instance's
loudness is its rating plus its current gain in dB (volume, distance, ...).
The gain is measured before category gains (ducking and HDR itself), so the
window never chases its own attenuation.  The window's top jumps up to the loudest audible instance (never below
`threshold_db`) and falls back at `release_db_per_s` when it ends.  Every HDR
voice is attenuated by (top - threshold), so the loud sound plays at its
authored level and everything quieter drops relative to it; instances whose
loudness falls below (top - window_db) are made virtual.

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
