"""The time and frequency grid every analysis shares: 100 ms steps and ERB-number bands.

Time: step t covers [0.1 t, 0.1 (t + 1)) s, the BS.1770 meter's own step, so a
loudness reading, a masking frame and a voice count at step t describe the
same 100 ms.  Frequency: bands one ERB wide on the ERB-number (Cam) scale of
Glasberg & Moore (1990), "Derivation of auditory filter shapes from
notched-noise data", Hearing Research 47: Cam(f) = 21.4 log10(4.37 f / 1000 + 1),
the scale the loudness models of Moore, Glasberg & Baer (1997) integrate over.
Report bands group them by octave for tables and sentences ("2–4 kHz").
"""

from __future__ import annotations

import math

import numpy as np

STEP_S = 0.1                # one analysis step (the BS.1770 meter's 100 ms)
FFT_S = 0.17                # analysis window for band powers (8192 at 48 kHz: 6 Hz bins, enough for 50 Hz ERBs)
LOW_HZ, HIGH_HZ = 50.0, 16000.0
OCTAVE_EDGES = (20.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 24000.0)
SILENT_DB = -200.0          # the level written for no energy (JSON has no -inf)


def cam(f_hz):
    """ERB-number (Cam) of a frequency (Glasberg & Moore 1990)."""
    return 21.4 * np.log10(4.37 * np.asarray(f_hz, dtype=float) / 1000.0 + 1.0)


def cam_to_hz(c):
    """Frequency of an ERB-number, the inverse of `cam`."""
    return (10.0 ** (np.asarray(c, dtype=float) / 21.4) - 1.0) / 0.00437


def erb_bands(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres (Hz) and edges (Hz, one more) of 1-Cam bands from LOW_HZ to HIGH_HZ (or near Nyquist)."""
    top = min(HIGH_HZ, 0.45 * sample_rate)
    lo, hi = float(cam(LOW_HZ)), float(cam(top))
    n = max(1, int(math.floor(hi - lo)))
    centres_cam = lo + 0.5 + np.arange(n)
    edges = cam_to_hz(np.concatenate([centres_cam - 0.5, [centres_cam[-1] + 0.5]]))
    return cam_to_hz(centres_cam), edges


def octave_of(centres_hz: np.ndarray) -> np.ndarray:
    """Index of the report (octave) band each ERB band's centre falls in."""
    return np.searchsorted(np.array(OCTAVE_EDGES), centres_hz, side="right") - 1


def octave_label(i: int) -> str:
    """'250–500 Hz', '2–4 kHz': the report band's range as people write it."""
    lo, hi = OCTAVE_EDGES[i], OCTAVE_EDGES[i + 1]
    if lo >= 1000.0:
        return f"{lo / 1000:g}–{hi / 1000:g} kHz"
    if hi >= 1000.0:
        return f"{lo / 1000:g}–{hi / 1000:g} kHz"
    return f"{lo:g}–{hi:g} Hz"


def steps(frames: int, sample_rate: int) -> int:
    """Whole 100 ms steps in a signal of this many frames."""
    return frames // int(round(STEP_S * sample_rate))


def band_powers(x: np.ndarray, sample_rate: int, edges: np.ndarray) -> np.ndarray:
    """Mean-square power per channel, step and band: shape (channels, steps, bands).

    Each step's window (Hann, FFT_S long) is centred on the step; powers are
    scaled by Parseval so a full-scale sine reads 0.5 (-3 dB) in its band.
    `x` is (frames, channels)."""
    hop = int(round(STEP_S * sample_rate))
    n = 1 << int(math.ceil(math.log2(FFT_S * sample_rate)))
    n_steps = steps(len(x), sample_rate)
    window = np.hanning(n).astype(np.float32)
    norm = 2.0 / (n * float(np.sum(window.astype(np.float64) ** 2)))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    band = np.searchsorted(edges, freqs, side="right") - 1
    inside = (band >= 0) & (band < len(edges) - 1)
    onehot = np.zeros((len(freqs), len(edges) - 1))
    onehot[np.flatnonzero(inside), band[inside]] = 1.0
    pad = (n - hop) // 2
    padded = np.pad(np.asarray(x, dtype=np.float32), ((pad, n), (0, 0)))
    out = np.zeros((x.shape[1], n_steps, len(edges) - 1))
    for c in range(x.shape[1]):
        for start in range(0, n_steps, 256):             # chunks of frames bound the memory
            idx = np.arange(start, min(start + 256, n_steps))
            frames = np.lib.stride_tricks.sliding_window_view(padded[:, c], n)[idx * hop]
            power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2 * norm
            out[c, idx] = power @ onehot
    return out


def db(power, floor: float = SILENT_DB):
    """10 log10 of a power, `floor` for none."""
    p = np.asarray(power, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(p > 0, 10.0 * np.log10(np.maximum(p, 1e-300)), floor)


def rounded(x, digits: int = 2):
    """A JSON-ready float (None for non-finite)."""
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None
