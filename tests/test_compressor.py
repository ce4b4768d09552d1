"""Compressor: the published static curve and its time constants (Giannoulis, Massberg & Reiss 2012)."""

import math

import numpy as np
import pytest

from gamemix.core.dsp import compressor as C

FS = 48000


def expected_output_db(x, t, r, w):
    """The paper's soft-knee gain computer, eq. (4), written out independently."""
    if 2 * (x - t) < -w:
        return x
    if w > 0 and 2 * abs(x - t) <= w:
        return x + (1 / r - 1) * (x - t + w / 2) ** 2 / (2 * w)
    return t + (x - t) / r


def run(signal, threshold=-20.0, ratio=4.0, knee=0.0, attack=5.0, release=50.0, makeup=0.0, block=256):
    comp = C.allocate(1).params
    C.set_compressor(comp, 0, FS, threshold, ratio, knee, attack, release, makeup)
    ramp = (np.arange(block) / block).astype(np.float32)
    buf = np.zeros((1, 2, block), np.float32)
    out = np.zeros_like(signal)
    for s in range(0, signal.shape[1], block):
        n = min(block, signal.shape[1] - s)
        buf[0, :, :n] = signal[:, s:s + n]
        C.compress_block(0, buf, n, 2, comp, ramp)
        out[:, s:s + n] = buf[0, :, :n]
    return out


@pytest.mark.parametrize("knee", [0.0, 6.0, 12.0])
def test_static_curve(knee):
    # a square wave holds |x| constant, so the settled gain is exactly the static curve's
    for level in np.arange(-60.0, 0.1, 2.5):
        amp = 10 ** (level / 20)
        sq = amp * np.sign(np.sin(2 * np.pi * 50 * np.arange(FS // 2) / FS) + 1e-9)
        out = run(np.stack([sq, sq]).astype(np.float32), knee=knee, makeup=3.0)
        got = 20 * np.log10(np.abs(out[0, -1000:]).mean())
        assert got == pytest.approx(expected_output_db(level, -20.0, 4.0, knee) + 3.0, abs=0.1), level


def test_attack_and_release_time_constants():
    n = FS
    env = np.where(np.arange(n) < n // 2, 10 ** (-40 / 20), 1.0)           # a 40 dB step up at 0.5 s
    x = np.stack([env, env]).astype(np.float32)
    out = run(x, threshold=-20.0, ratio=4.0, attack=10.0, release=100.0)
    gr = 20 * np.log10(np.abs(out[0]) / env)                                   # applied gain, dB
    final = -15.0                                                              # 0 dBFS in, -20 + 20/4 out
    reached = np.argmax(gr[n // 2:] <= final * (1 - 1 / math.e)) / FS
    assert reached == pytest.approx(0.010, rel=0.2)
    down = np.stack([env[::-1], env[::-1]]).astype(np.float32)                  # and back down at 0.5 s
    out = run(down, threshold=-20.0, ratio=4.0, attack=10.0, release=100.0)
    gr = 20 * np.log10(np.abs(out[0]) / env[::-1])
    back = np.argmax(gr[n // 2:] >= final / math.e) / FS
    assert back == pytest.approx(0.100, rel=0.2)


def test_below_threshold_is_untouched_and_output_finite():
    x = (0.01 * np.random.default_rng(0).standard_normal((2, FS // 4))).astype(np.float32)
    assert np.array_equal(run(x, threshold=0.0, knee=0.0), x)
    x[0, 100] = np.nan
    assert np.all(np.isfinite(run(x, threshold=-60.0)[1]))


def test_kernel_matches_the_sample_by_sample_loop_bit_for_bit():
    """compress_block skips the log10 of a peak known to lie under the knee (no reduction asked
    there); against the plain loop that takes it for every sample: the same bits, on bursts that
    cross the knee, quiet passages, silence and a sample a hair under the knee's start."""
    from numba import njit

    @njit
    def reference(b, bus_buf, n, channels, comp, ramp):
        row = comp[b]
        t, r, w = row[C.CP_THRESHOLD], row[C.CP_RATIO], row[C.CP_KNEE]
        aa, ar = row[C.CP_ATTACK], row[C.CP_RELEASE]
        y = row[C.CP_REDUCTION]
        m0 = row[C.CP_MAKEUP_NOW]
        dm = row[C.CP_MAKEUP] - m0
        worst = 0.0
        for i in range(n):
            peak = 0.0
            for c in range(channels):
                a = abs(bus_buf[b, c, i])
                if a > peak:
                    peak = a
            x_db = 20.0 * math.log10(peak) if peak > 1e-10 else -200.0
            want = x_db - C.gain_computer_db(x_db, t, r, w)
            if want > y:
                y = aa * y + (1.0 - aa) * want
            else:
                y = ar * y + (1.0 - ar) * want
            if not math.isfinite(y):
                y = 0.0
            worst = max(worst, y)
            g = math.exp((m0 + dm * ramp[i] - y) * C.LN10_20)
            for c in range(channels):
                bus_buf[b, c, i] *= g
        row[C.CP_REDUCTION] = y
        row[C.CP_MAKEUP_NOW] = row[C.CP_MAKEUP]
        row[C.CP_MAX_REDUCTION] = worst

    rng = np.random.default_rng(2)
    block, blocks = 256, 200
    x = rng.standard_normal((2, block * blocks)) * 0.05
    x[:, 10000:14000] *= 12.0
    x[:, 30000:31000] = 0.0
    x = x.astype(np.float32)
    x[0, 100] = np.float32(10 ** ((-20.0 - 3.0) / 20.0) * (1 - 1e-7))     # just under the knee's start
    ramp = (np.arange(block) / block).astype(np.float32)
    outs, rows = [], []
    for kernel in (C.compress_block, reference):
        comp = C.allocate(1).params
        C.set_compressor(comp, 0, FS, -20.0, 4.0, 6.0, 2.0, 120.0, 2.0)
        out = np.empty_like(x)
        for s in range(0, x.shape[1], block):
            buf = np.ascontiguousarray(x[None, :, s:s + block])
            kernel(0, buf, block, 2, comp, ramp)
            out[:, s:s + block] = buf[0]
        outs.append(out)
        rows.append(comp[0].copy())
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(rows[0], rows[1])
    assert rows[0][C.CP_MAX_REDUCTION] >= 0.0 and outs[0].max() < x.max()
