"""True-peak limiter: an independent 16x oversampled meter never sees the ceiling exceeded by 0.1 dB."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.signal import resample_poly

from gamemix.core.dsp import limiter as L

FS = 48000
CEILING = -1.0


def limit(x, ceiling=CEILING, lookahead_ms=1.5, release_ms=50.0, block=256):
    st = L.allocate(1, 2, FS)
    L.set_limiter(st.params, st.env, FS, ceiling, lookahead_ms, release_ms)
    y = np.array(x, dtype=np.float32)
    for s in range(0, y.shape[1], block):
        chunk = np.ascontiguousarray(y[:, s:s + block])
        L.limit_block(chunk, chunk.shape[1], 2, st.params, st.line, st.needed, st.env, st.tp_coef, st.tp)
        y[:, s:s + block] = chunk
    return y, L.latency(st.params)


def true_peak_db(y, edge=300):
    """Independent meter: scipy's polyphase resampler at 16x; the ends are cut (its own edge ringing)."""
    up = np.abs(resample_poly(y.astype(np.float64), 16, 1, axis=1))[:, 16 * edge:-16 * edge]
    return 20 * np.log10(up.max())


def stereo(x):
    return np.stack([x, x])


t = np.arange(FS) / FS
rng = np.random.default_rng(7)
SIGNALS = {
    **{f"square {f} Hz": stereo(np.sign(np.sin(2 * np.pi * f * t))) for f in (100, 997, 5000, 11000)},
    **{f"fs/4 sine at {p} deg, +6 dBFS": stereo(2 * np.sin(2 * np.pi * FS / 4 * t + np.radians(p)))
       for p in (0, 45, 60)},
    "random bursts": rng.standard_normal((2, FS)) * np.repeat(rng.uniform(0, 4, 100), FS // 100),
    "clipped noise": np.clip(rng.standard_normal((2, FS)) * 3, -2, 2),
}


@pytest.mark.parametrize("name", list(SIGNALS))
def test_ceiling_holds(name):
    y, _ = limit(SIGNALS[name])
    assert true_peak_db(y) <= CEILING + 0.1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-30, 12), st.integers(50, 4000), st.floats(20, 20000), st.booleans()),
                min_size=2, max_size=8), st.integers(0, 2 ** 31))
def test_ceiling_holds_for_any_burst_sequence(bursts, seed):
    r = np.random.default_rng(seed)
    parts = []
    for level, length, freq, noisy in bursts:
        amp = 10 ** (level / 20)
        k = np.arange(length)
        s = r.standard_normal(length) if noisy else np.sin(2 * np.pi * freq * k / FS + r.uniform(0, 6.28))
        parts.append(amp * s)
    x = np.concatenate([np.zeros(600)] + parts + [np.zeros(600)])
    y, _ = limit(stereo(x))
    assert np.all(np.isfinite(y))
    assert true_peak_db(y) <= CEILING + 0.1


def test_transparent_below_the_ceiling():
    x = stereo(0.3 * np.sin(2 * np.pi * 440 * t))
    y, delay = limit(x)
    assert np.abs(y[:, delay:] - x[:, :-delay]).max() < 1e-6


def test_gain_glides_without_steps():
    x = stereo(np.where(t < 0.5, 0.1, 4.0) * np.sin(2 * np.pi * 100 * t))    # +12 dB jump
    y, delay = limit(x, lookahead_ms=1.5)
    src = x[0, :-delay]
    gain = y[0, delay:] / np.where(np.abs(src) > 0.05, src, np.nan)
    steps = np.abs(np.diff(gain))
    look = round(1.5e-3 * FS)
    assert np.nanmax(steps) <= 1.0 / look + 1e-3     # a linear glide over the look-ahead at worst


def test_non_finite_input_is_silence():
    x = stereo(np.sin(2 * np.pi * 300 * t))
    x[:, 1000:1100] = np.nan
    x[0, 5000] = np.inf
    y, _ = limit(x)
    assert np.all(np.isfinite(y)) and np.abs(y).max() <= 10 ** (CEILING / 20) + 1e-6


def test_block_size_does_not_change_the_output():
    x = SIGNALS["random bursts"]
    reference, _ = limit(x, block=256)
    for block in (37, 100, 1000):       # shorter than the detector's taps, uneven, several chunks a block
        y, _ = limit(x, block=block)
        assert np.array_equal(y, reference), block
