"""Echo safety: the game's own output as the reference for what the microphone hears of it.

With loudspeakers the microphone hears the game.  Left alone, a line of game
dialogue would read as a person speaking (and duck the game under itself) and
loud music would read as a noisy room (and boost the game over itself).  The
output is known, so it serves as the reference, in three parts:

1. **Delay** (`DelayEstimator`): the output reaches the microphone D samples
   later (the output's latency, the air, the input's latency).  D is the lag
   of the peak of the generalised cross-correlation with phase transform
   (GCC-PHAT; C. Knapp and G. Carter, "The generalized correlation method for
   estimation of time delay", IEEE Trans. ASSP 24(4), 1976) between the
   reference and the microphone over the last two seconds, computed once a
   second while the reference sounds; a peak that does not stand out
   (< PEAK_RATIO times the correlation's mean magnitude) is not taken.  A
   scene can give the delay instead (`echo.delay_ms`).
2. **Canceller** (`Canceller`, optional): a partitioned-block
   frequency-domain NLMS adaptive filter (PBFDAF: J. Shynk, "Frequency-domain
   and multirate adaptive filtering", IEEE SP Magazine 9(1), 1992; J. Soo and
   K. Pang, "Multidelay block frequency domain adaptive filter", IEEE Trans.
   ASSP 38(2), 1990) on the delay-aligned reference: 8 partitions of 10 ms
   (80 ms of echo path), its step normalised per bin by the reference's
   smoothed power, adapted only while the reference sounds.  It subtracts
   the predicted echo (measured here: 14-24 dB less echo after a few seconds
   on tests/test_ar.py's loudspeaker path), so in the frames the gate lets
   through (a person speaking over the game) the detector hears less game.
3. **Gate** (`Gate`), on the microphone as it is: per 10 ms frame, the echo the reference predicts is
   its aligned energy (the loudest over the frame and the 80 ms before it, so
   a room's decay is covered) times the echo path's gain (ERL), learned as
   the median of mic / reference energy ratios over the frames where the
   reference sounds loud (within 20 dB of its peak of the last seconds, so
   the echo rather than the room dominates them; 3 s of such frames); until
   it is learned, an ERL of 0 dB (the safe side).  A frame in which the microphone is not `margin` dB above
   that prediction is the echo's: it neither counts as speech nor enters the
   ambient estimate, nor do the 150 ms after it (the echo's tail, and the
   frames between two syllables of the game's line).  Double talk (a person speaking over loud game
   dialogue) is lost while the game is louder at the mic than the person by
   less than the margin: the gate errs towards not ducking.

Headphones mode uses none of this (the microphone cannot hear the output).

Control side (the analysis thread live, the render loop offline).
"""

from __future__ import annotations

import collections
import math

import numpy as np

FRAME = 160                 # 10 ms at 16 kHz
TAIL_FRAMES = 8             # the gate's reference covers the frame and the 80 ms before it
ERL_FRAMES = 300            # ratios kept for the ERL (3 s of active reference)
ERL_MIN_FRAMES = 50
ERL_PERCENTILE = 50.0
LOUD = 0.01                 # a frame teaches the ERL when its reference is within 20 dB of the recent peak
PEAK_DECAY = 0.997          # per frame: the recent peak falls 13 dB in 10 s
HOLD_FRAMES = 15            # a frame the echo explained makes the next 150 ms the echo's too (its tail)
REF_FLOOR = 1e-7            # reference energy (mean square) under which it does not sound (-70 dBFS)
PEAK_RATIO = 8.0
MAX_DELAY_S = 0.5
REGULARISE = 0.01           # the canceller's step is normalised by each bin's power plus 1 % of the mean power


class History:
    """The last `length` samples of a signal, oldest first, with the index of the next sample."""

    def __init__(self, length: int):
        self.buf = np.zeros(length, dtype=np.float32)
        self.end = 0                       # samples pushed so far

    def push(self, x: np.ndarray) -> None:
        n = len(x)
        if n == 0:
            return
        if n >= len(self.buf):
            self.buf[:] = x[-len(self.buf):]
        else:
            self.buf[:-n] = self.buf[n:]
            self.buf[-n:] = x
        self.end += n

    def span(self, start: int, n: int) -> np.ndarray:
        """Samples [start, start + n) of the signal (zeros for what is not kept)."""
        out = np.zeros(n, dtype=np.float32)
        first = self.end - len(self.buf)
        lo, hi = max(start, first), min(start + n, self.end)
        if hi > lo:
            out[lo - start:hi - start] = self.buf[lo - first:hi - first]
        return out


def gcc_phat_delay(mic: np.ndarray, ref: np.ndarray, max_lag: int) -> int | None:
    """The lag (samples, >= 0, mic later than ref) of the GCC-PHAT peak, or None if it does not stand out."""
    n = 1 << int(math.ceil(math.log2(len(mic) + len(ref))))
    cross = np.fft.rfft(mic, n) * np.conj(np.fft.rfft(ref, n))
    cross /= np.maximum(np.abs(cross), 1e-12)
    cc = np.fft.irfft(cross, n)[:max_lag + 1]
    lag = int(np.argmax(cc))
    mean = float(np.mean(np.abs(cc))) + 1e-12
    return lag if cc[lag] > PEAK_RATIO * mean else None


class DelayEstimator:
    """The output-to-mic delay by GCC-PHAT every second over the last two (see the module docstring)."""

    WINDOW_S, EVERY_S = 2.0, 1.0

    def __init__(self, rate: int, fixed_s: float | None):
        self.rate = rate
        self.delay = int(round(fixed_s * rate)) if fixed_s is not None else 0
        self.fixed = fixed_s is not None
        self.measured = fixed_s is not None
        self._since = 0

    def update(self, mic: History, ref: History, samples: int) -> None:
        self._since += samples
        if self.fixed or self._since < self.EVERY_S * self.rate or ref.end < self.WINDOW_S * self.rate:
            return
        self._since = 0
        n = int(self.WINDOW_S * self.rate)
        start = mic.end - n
        r = ref.span(start, n)
        if float(np.mean(r * r)) < REF_FLOOR * 10:
            return
        lag = gcc_phat_delay(mic.span(start, n), r, int(MAX_DELAY_S * self.rate))
        if lag is not None:
            self.delay, self.measured = lag, True


class Canceller:
    """Partitioned-block frequency-domain NLMS echo canceller (see the module docstring): PARTITIONS
    partitions of FRAME samples (80 ms of echo path after the bulk delay), overlap-save with 2 x FRAME
    transforms; `process(mic, ref)` on FRAME-sample frames returns the residual."""

    PARTITIONS = 8
    MU = 0.2
    SMOOTH = 0.5

    def __init__(self):
        n = FRAME
        self.w = np.zeros((self.PARTITIONS, n + 1), dtype=np.complex128)
        self.x = np.zeros((self.PARTITIONS, n + 1), dtype=np.complex128)   # reference spectra, newest first
        self.ref = np.zeros(2 * n)
        self.power = np.full(n + 1, 1e-6)

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        n = FRAME
        self.ref[:n] = self.ref[n:]
        self.ref[n:] = ref
        self.x[1:] = self.x[:-1]
        self.x[0] = np.fft.rfft(self.ref)
        y = np.fft.irfft(np.sum(self.x * self.w, axis=0), 2 * n)[n:]
        e = mic - y
        p = np.sum(self.x.real ** 2 + self.x.imag ** 2, axis=0)
        self.power = self.SMOOTH * self.power + (1 - self.SMOOTH) * p
        if float(np.mean(ref * ref)) > REF_FLOOR:
            big_e = np.fft.rfft(np.concatenate([np.zeros(n), e]))
            # regularised per bin by a share of the mean power: a narrowband reference (a tone in the
            # music) leaves most bins near zero power, and dividing by that alone blows the filter up
            reg = REGULARISE * float(np.mean(self.power)) + 1e-10
            grad = np.fft.irfft(np.conj(self.x) * big_e / (self.power + reg), 2 * n, axis=1)
            grad[:, n:] = 0.0                                  # gradient constraint: linear, causal partitions
            self.w += self.MU * np.fft.rfft(grad, axis=1)
        if not np.all(np.isfinite(self.w)):
            self.w[:] = 0.0
        return e.astype(np.float32)


class Gate:
    """Per 10 ms frame: is the microphone explained by the aligned reference (see the module docstring)?"""

    def __init__(self, margin_db: float):
        self.margin = 10.0 ** (margin_db / 10.0)
        self.ref_energy = collections.deque(maxlen=TAIL_FRAMES + 1)
        self.ratios = collections.deque(maxlen=ERL_FRAMES)
        self.erl = 1.0
        self.learned = False
        self.peak = 0.0
        self.hold = 0

    def frame(self, mic: np.ndarray, aligned_ref: np.ndarray) -> bool:
        """True if this frame is the echo's; learns the ERL on the way."""
        e_mic = float(np.mean(mic * mic))
        self.ref_energy.append(float(np.mean(aligned_ref * aligned_ref)))
        e_ref = max(self.ref_energy)
        self.peak = max(e_ref, self.peak * PEAK_DECAY)
        echo = self._explained(e_mic, e_ref)
        self.hold = HOLD_FRAMES if echo else max(self.hold - 1, 0)
        return echo or self.hold > 0

    def _explained(self, e_mic: float, e_ref: float) -> bool:
        if e_ref <= REF_FLOOR:
            return False
        if e_ref >= LOUD * self.peak:
            self.ratios.append(e_mic / e_ref)
        if len(self.ratios) >= ERL_MIN_FRAMES:
            self.erl = float(np.percentile(np.fromiter(self.ratios, float), ERL_PERCENTILE))
            self.learned = True
        return e_mic <= self.margin * self.erl * e_ref

    @property
    def erl_db(self) -> float:
        return 10.0 * math.log10(self.erl) if self.erl > 0 else -math.inf
