"""The ambient noise estimate: a low percentile of the microphone's momentary loudness over a few seconds.

The room's noise is what the microphone hears when nobody speaks and the game
is not what it hears.  Minimum statistics (R. Martin, "Noise power spectral
density estimation based on optimal smoothing and minimum statistics", IEEE
Trans. Speech Audio Proc. 9(5), 2001) track the floor of a smoothed power
because speech leaves short gaps in which only the noise sounds; the minimum
is biased low, which Martin corrects with a factor derived for stationary
noise.  Here the tracked quantity is loudness (ITU-R BS.1770-4: K-weighted
mean square, momentary = 400 ms, stepped every 100 ms as EBU Tech 3341
does), and a low percentile replaces the minimum: over a window of a few
seconds it is far less biased (0.1-0.3 dB for stationary noise) and still
ignores what is louder than the floor most of the time.  Steps that the
detector calls speech, or that the echo gate says the game's own output
explains, are left out before the percentile is taken, so neither a person
talking nor the game raises the estimate (ar/echo.py).  If the detector
calls everything speech for a whole window (webrtc in street noise does),
the 5th percentile of every step but the echo's over two windows takes over:
minimum statistics' own defence against speech (it is biased low by about
the noise's own spread, ~1 dB for traffic, which is the price of not being
raised by a person who talks on).

The K-weighting runs at the microphone's own rate (its band above 8 kHz
counts, as it does for pyloudnorm or any BS.1770 meter), before the signal
is resampled for the detector.

Control side (the analysis thread live, the render loop offline).
"""

from __future__ import annotations

import collections
import math

import numpy as np
from numba import njit

from gamemix.core.dsp.bs1770 import OFFSET_DB, k_coefficients, k_filter, k_weighting

STEP_S = 0.1            # a loudness step (BS.1770's gating-block hop)
MOMENTARY_STEPS = 4     # 400 ms
MIN_VALUES = 10         # momentary values (1 s) before the first estimate
FALLBACK_WINDOWS = 2    # the fallback (no clean steps for a window) looks twice as far back ...
FALLBACK_PERCENTILE = 5.0   # ... and lower: the speech it may contain must fill 95 % of it to raise it


@njit(cache=True, nogil=True)
def k_weighted_sum(x, coef, z):
    """Sum of squares of x (float32, one channel) after the two K-weighting biquads, their state z[0:4]
    carried from call to call (direct form II transposed)."""
    kc = k_coefficients(coef)
    s = (z[0], z[1], z[2], z[3])
    acc = 0.0
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        if not math.isfinite(v):
            v = 0.0
        y, s = k_filter(v, s, kc)
        acc += y * y
    z[0], z[1], z[2], z[3] = s
    if not math.isfinite(acc):
        z[:] = 0.0
        return 0.0
    return acc


def lufs(mean_square: float) -> float:
    """BS.1770 loudness of a mono K-weighted mean square (channel weight 1); -inf for silence."""
    return OFFSET_DB + 10.0 * math.log10(mean_square) if mean_square > 0.0 else -math.inf


class AmbientEstimate:
    """Feeds on the mic's samples (mono, at its rate); every 100 ms step is kept until the caller says
    whether it was clean (neither speech nor echo), then momentary values of clean steps feed the
    percentile over the last `window_s` seconds.  `value` is the estimate in LUFS: NaN until a second
    of clean steps; while fewer than a second's are in the window (a person talking on), it holds, for
    one window at most: then the percentile of every step but the echo's takes over (`_update`)."""

    def __init__(self, sample_rate: int, window_s: float, percentile: float, calibration_db: float = 0.0):
        self.coef = k_weighting(sample_rate)
        self.z = np.zeros(4)
        self.step_len = int(round(STEP_S * sample_rate))
        self.percentile = percentile
        self.calibration_db = calibration_db
        self._acc = 0.0
        self._count = 0
        self.steps_done = 0                                   # steps completed (their index is 0, 1, ...)
        self.pending: collections.deque = collections.deque()  # (step index, mean square) awaiting a verdict
        self._recent = collections.deque(maxlen=MOMENTARY_STEPS)   # (mean square, clean) of the last steps
        self.window_steps = max(MIN_VALUES, int(round(window_s / STEP_S)))
        self.values: collections.deque = collections.deque()   # (step, momentary LUFS) of clean steps in the window
        self.heard: collections.deque = collections.deque()    # ... of steps without the game's echo (speech or not)
        self.held = 0                                          # steps since the clean values last sufficed
        self.value = math.nan

    def feed(self, x: np.ndarray) -> None:
        """Add samples; every completed step waits in `pending` for its verdict."""
        at = 0
        while at < len(x):
            take = min(len(x) - at, self.step_len - self._count)
            self._acc += k_weighted_sum(x[at:at + take], self.coef, self.z)
            self._count += take
            at += take
            if self._count == self.step_len:
                self.pending.append((self.steps_done, self._acc / self.step_len))
                self.steps_done += 1
                self._acc, self._count = 0.0, 0

    def judge(self, clean_until_step: int, is_clean, is_echo=None) -> None:
        """Give the verdict of every pending step below `clean_until_step`: `is_clean(step)` (neither speech
        nor echo) and `is_echo(step)` (the game's echo in it)."""
        while self.pending and self.pending[0][0] < clean_until_step:
            step, ms = self.pending.popleft()
            sound = ms > 0.0                                    # digital silence: no mic, not a room
            self._recent.append((ms, sound and bool(is_clean(step)),
                                 sound and not (is_echo is not None and is_echo(step))))
            for window, length in ((self.values, self.window_steps), (self.heard, FALLBACK_WINDOWS * self.window_steps)):
                while window and window[0][0] <= step - length:
                    window.popleft()                            # older than the window
            if len(self._recent) == MOMENTARY_STEPS:
                momentary = lufs(sum(m for m, _, _ in self._recent) / MOMENTARY_STEPS)
                if all(clean for _, clean, _ in self._recent):
                    self.values.append((step, momentary))
                if all(heard for _, _, heard in self._recent):
                    self.heard.append((step, momentary))
            self._update()

    def _update(self) -> None:
        """The percentile of the clean values; if the detector has called everything speech for a whole
        window (a detector that hears speech in noise, or a person talking on), the 5th percentile of
        every value but the echo's over two windows, as minimum statistics would; else the last
        estimate holds."""
        if len(self.values) >= MIN_VALUES:
            window, percentile, self.held = self.values, self.percentile, 0
        else:
            self.held += 1
            if self.held < self.window_steps or len(self.heard) < MIN_VALUES:
                return
            window, percentile = self.heard, min(self.percentile, FALLBACK_PERCENTILE)
        values = np.fromiter((v for _, v in window), float, len(window))
        self.value = float(np.percentile(values, percentile)) + self.calibration_db
