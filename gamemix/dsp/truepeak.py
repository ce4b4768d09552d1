"""HOT PATH.  True-peak detection: the peak of the signal between its samples.

A digital signal's waveform (what a DAC reconstructs) can peak between
samples, up to ~3 dB above the largest sample for a sine near fs/4 and more
for clipped material.  ITU-R BS.1770-4 Annex 2 measures it by oversampling
(at least 4x) with a polyphase interpolator and taking the largest absolute
value.  Here the interpolator is a Kaiser-windowed sinc (design() below, built
once at load): phase p of `oversample` estimates the signal at p/oversample of
a sample between x[i - HALF] and x[i - HALF + 1]; phase 0 is the sample itself.
Each phase is normalised to unity gain at DC.  The meter uses 4 phases of 12
taps (as BS.1770's reference filter); the limiter 8 phases of 16 taps so its
detector under-reads less near Nyquist.

State per channel: the last `taps` input samples, written twice into a
buffer of 2 x taps (float64), plus the write position.
"""

import math

import numpy as np
from numba import njit


def design(oversample: int, taps: int, beta: float = 6.0) -> np.ndarray:
    """(oversample - 1, taps) interpolator coefficients (taps a multiple of 4) of the phases between samples (phase 0 is the
    sample itself), each row reversed so it runs oldest to newest over the history (taps even)."""
    half = taps // 2
    coefs = np.zeros((oversample - 1, taps))
    for p in range(1, oversample):
        f = p / oversample
        d = half - np.arange(taps) - f            # distance of tap j's sample (x[i - j]) from the point estimated
        w = np.i0(beta * np.sqrt(np.clip(1.0 - (d / (half + 0.5)) ** 2, 0.0, None))) / np.i0(beta)
        h = np.sinc(d) * w
        coefs[p - 1] = (h / h.sum())[::-1]
    return coefs


@njit(cache=True, nogil=True, inline="always")
def push_and_peak(hist, pos, coefs, x):
    """Add sample x to the history and return the largest |value| of the oversampled points from
    the sample taps/2 back up to (not including) the next one: the filter's latency is taps/2.

    hist has 2 x taps entries: each sample is written twice (pos and pos + taps), so the last
    `taps` samples are always the contiguous slice hist[pos + 1: pos + taps + 1], oldest first,
    and the dot products run over contiguous memory (they vectorise)."""
    taps = coefs.shape[1]
    hist[pos] = x
    hist[pos + taps] = x
    base = pos + 1
    peak = abs(hist[base + taps - 1 - taps // 2])
    for p in range(coefs.shape[0]):
        acc = 0.0
        for j in range(taps):
            acc += coefs[p, j] * hist[base + j]
        a = abs(acc)
        if a > peak:
            peak = a
    return peak


def latency(coefs: np.ndarray) -> int:
    """Samples by which the detector's reading lags its input."""
    return coefs.shape[1] // 2
