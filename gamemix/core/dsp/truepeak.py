"""HOT PATH.  True-peak detection: the peak of the signal between its samples.

A digital signal's waveform (what a DAC reconstructs) can peak between
samples, up to ~3 dB above the largest sample for a sine near fs/4 and more
for clipped material.  ITU-R BS.1770-4 Annex 2 measures it by oversampling
(at least 4x) with a polyphase interpolator and taking the largest absolute
value.  Here the interpolator is a Kaiser-windowed sinc (design() below, built
once at load): phase p of `oversample` estimates the signal at p/oversample of
a sample between x[i - HALF] and x[i - HALF + 1]; phase 0 is the sample itself.
Each phase is normalised to unity gain at DC.  The meter uses 4 phases of 12
taps (as BS.1770's reference filter); the limiter 8 phases of 32 taps so its
detector under-reads less near Nyquist.

The detector works on chunks of up to CHUNK samples (longer blocks go in
several): `load` puts each channel's chunk after its history (the last
taps - 1 samples, float64), `chunk_peaks` filters them all and moves the
history on.

Most chunks need no filtering at all: a point between samples is a weighted
sum of the samples around it, so it is at most the largest |sample| of its
window times the largest sum of |weights| of a phase (`could_exceed`).  A
caller that only compares the peaks with a level (the meter with its maximum
so far, the limiter with its ceiling) skips `chunk_peaks` for a chunk whose
bound is at or under that level, and only moves the history on
(`shift_history`): every comparison comes out as it would have.
"""

import math

import numpy as np
from numba import njit

CHUNK = 256     # samples the detector takes at a time


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


def allocate(channels: int, taps: int) -> np.ndarray:
    """A detector's state: rows 0..channels-1 each hold a channel's last taps - 1 samples
    followed by room for a chunk; row `channels` is a scratch accumulator, row `channels + 1`
    the chunk's peaks."""
    return np.zeros((channels + 2, taps - 1 + CHUNK))


@njit(cache=True, nogil=True)
def load(state, c, src, start, k):
    """Put src[start:start + k] (k <= CHUNK) after channel c's history, non-finite as 0."""
    at = state.shape[1] - CHUNK
    for i in range(k):
        x = np.float64(src[start + i])
        state[c, at + i] = x if math.isfinite(x) else 0.0


@njit(cache=True, nogil=True)
def chunk_peaks(state, coefs, channels, k):
    """For each of the k samples loaded, the largest |value| of the oversampled points from the
    sample taps/2 back up to (not including) the next one, over all channels, into
    state[channels + 1, :k]; returns the largest of them.  Then keeps each channel's last
    taps - 1 samples as the next chunk's history.  The filter's latency is taps/2.

    Phase by phase, tap by tap over the whole chunk: each point's dot product is summed in tap
    order, as a sample-by-sample loop would, but the chunk's samples are independent lanes, so
    the loop vectorises without reordering a sum (~10x faster than sample by sample)."""
    taps = coefs.shape[1]
    hist = taps - 1
    acc = state[channels]
    peaks = state[channels + 1]
    for i in range(k):
        peaks[i] = 0.0
    for c in range(channels):
        x = state[c]
        for i in range(k):
            peaks[i] = max(peaks[i], abs(x[i + hist - taps // 2]))
        for p in range(coefs.shape[0]):
            for i in range(k):
                acc[i] = 0.0
            for j in range(taps):
                w = coefs[p, j]
                for i in range(k):
                    acc[i] += w * x[i + j]
            for i in range(k):
                peaks[i] = max(peaks[i], abs(acc[i]))
    shift_history(state, channels, k, hist)
    top = 0.0
    for i in range(k):
        top = max(top, peaks[i])
    return top


@njit(cache=True, nogil=True)
def shift_history(state, channels, k, hist):
    """Keep each channel's last `hist` samples (of its history and the k loaded) as the next chunk's history."""
    for c in range(channels):
        x = state[c]
        for i in range(hist):
            x[i] = x[i + k]


# Covers the rounding of a dot product of up to ~10^6 taps (each product and each sum is off by
# at most 2^-53 of its size), so the bound is never below a point chunk_peaks computes.
ROUNDING_MARGIN = 1.0 + 1e-9


@njit(cache=True, nogil=True)
def reach(coefs):
    """The most a point chunk_peaks computes can be, per unit of the largest |sample| of its window:
    the largest sum of |weights| of a phase (at least 1: phase 0 is the sample itself), with a
    margin for the rounding."""
    weights = 1.0
    for p in range(coefs.shape[0]):
        total = 0.0
        for j in range(coefs.shape[1]):
            total += abs(coefs[p, j])
        weights = max(weights, total)
    return weights * ROUNDING_MARGIN


@njit(cache=True, nogil=True)
def could_exceed(state, coefs, channels, k, level):
    """Whether a point chunk_peaks would find for the k samples loaded could exceed `level`: not when
    the largest |sample| of their window (each channel's history and the k samples) times `reach`
    is at most `level`."""
    top = 0.0
    for c in range(channels):
        top = max(top, largest_abs(state[c], 0, coefs.shape[1] - 1 + k, 1))
    return top * reach(coefs) > level


@njit(cache=True, nogil=True)
def largest_abs(x, start, k, stride):
    """max |x[start + i * stride]| for i < k, of finite values (0 for none), in four running maxima:
    max is exact in any order, and four independent chains run about four times faster than one."""
    m0 = m1 = m2 = m3 = 0.0
    i = 0
    while i + 4 <= k:
        at = start + i * stride
        m0 = max(m0, abs(x[at]))
        m1 = max(m1, abs(x[at + stride]))
        m2 = max(m2, abs(x[at + 2 * stride]))
        m3 = max(m3, abs(x[at + 3 * stride]))
        i += 4
    while i < k:
        m0 = max(m0, abs(x[start + i * stride]))
        i += 1
    return max(max(m0, m1), max(m2, m3))


def latency(coefs: np.ndarray) -> int:
    """Samples by which the detector's reading lags its input."""
    return coefs.shape[1] // 2
