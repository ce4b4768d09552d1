"""Bus filters: exact Butterworth responses (scipy as the oracle), click-free glides and bypass."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import signal

from conftest import BLOCK, SR, render_blocks, sine
from gamemix.core.dsp.filters import filter_bus
from gamemix.core.dsp.filters import FL_HP_TARGET, FL_LP, FL_LP_TARGET


def run(x, lp=(1e9, 1e9), hp=(10.0, 10.0), blocks_per_glide=1, n=BLOCK):
    """Filter a mono signal through one bus, block by block; lp/hp = (start, target) cutoffs."""
    x = np.asarray(x, np.float32)
    buf = np.zeros((1, 1, n), np.float32)
    state = np.zeros((1, 1, 4))
    params = np.array([[lp[0], lp[0], hp[0], hp[0]]], dtype=np.float64)
    out = np.empty_like(x)
    for k in range(len(x) // n):
        if k == 1:
            params[0, FL_LP_TARGET], params[0, FL_HP_TARGET] = lp[1], hp[1]
        buf[0, 0] = x[k * n:(k + 1) * n]
        filter_bus(buf, 0, 1, n, state, params, float(SR))
        out[k * n:(k + 1) * n] = buf[0, 0]
    return out


@pytest.mark.parametrize("kind, fc", [("lowpass", 1000.0), ("lowpass", 12000.0), ("highpass", 200.0), ("highpass", 3000.0)])
def test_static_filter_is_the_bilinear_butterworth(kind, fc):
    impulse = np.zeros(BLOCK * 40, np.float32)
    impulse[0] = 1.0
    if kind == "lowpass":
        y = run(impulse, lp=(fc, fc))
    else:
        y = run(impulse, hp=(fc, fc))
    b, a = signal.butter(2, fc, btype=kind[:-4] if kind == "lowpass" else "highpass", fs=SR)
    expected = signal.lfilter(b, a, impulse.astype(np.float64))
    np.testing.assert_allclose(y, expected, atol=2e-6)


@pytest.mark.parametrize("fc", [250.0, 1000.0, 8000.0])
def test_minus_3_01_db_at_cutoff_and_12_db_per_octave(fc):
    def gain_db(f, lp):
        x = sine(f, 1.0, amp=0.5)[:BLOCK * 180]
        y = run(x, lp=(lp, lp))[BLOCK * 60:]
        return 20 * math.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) / (0.5 / math.sqrt(2)))
    assert gain_db(fc, fc) == pytest.approx(-3.0103, abs=0.02)
    assert gain_db(fc / 16, fc) == pytest.approx(0.0, abs=0.02)
    w, h = signal.freqz(*signal.butter(2, fc, fs=SR), worN=[fc * 4], fs=SR)
    assert gain_db(fc * 4, fc) == pytest.approx(20 * math.log10(abs(h[0])), abs=0.05)   # ~ -24 dB: 12 dB/oct


def test_fast_sweep_makes_no_click_and_open_is_exactly_bypassed():
    x = sine(100.0, 1.0, amp=1.0)[:BLOCK * 60]
    y = run(x, lp=(1e9, 200.0))                           # 20 kHz -> 200 Hz within one block
    max_slope = 2 * math.pi * 100 / SR                    # the sine's own largest step
    assert np.abs(np.diff(y)).max() < max_slope * 1.5
    np.testing.assert_array_equal(run(x), x)              # open: the bus is untouched


def test_engaging_and_releasing_the_filter_is_continuous():
    x = sine(300.0, 1.0, amp=1.0)[:BLOCK * 60]
    buf = np.zeros((1, 1, BLOCK), np.float32)
    state = np.zeros((1, 1, 4))
    params = np.array([[1e9, 1e9, 10.0, 10.0]])
    out = []
    for k in range(60):
        if k == 10:
            params[0, FL_LP_TARGET] = 2000.0              # engage
        if k == 30:
            params[0, FL_LP_TARGET] = 1e9                 # back to open, then bypass
        buf[0, 0] = x[k * BLOCK:(k + 1) * BLOCK]
        filter_bus(buf, 0, 1, BLOCK, state, params, float(SR))
        out.append(buf[0, 0].copy())
    y = np.concatenate(out)
    assert np.abs(np.diff(y)).max() < 2 * math.pi * 300 / SR * 1.5
    assert params[0, FL_LP] >= 0.49 * SR


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=4, max_size=4))
def test_any_cutoffs_give_finite_output(cutoffs):
    x = sine(440.0, 1.0)[:BLOCK * 4]
    buf = np.zeros((1, 1, BLOCK), np.float32)
    state = np.zeros((1, 1, 4))
    params = np.array([cutoffs], dtype=np.float64)
    for k in range(4):
        buf[0, 0] = x[k * BLOCK:(k + 1) * BLOCK]
        filter_bus(buf, 0, 1, BLOCK, state, params, float(SR))
        assert np.all(np.isfinite(buf))


def test_snapshot_lowpass_through_the_mixer(scene_dir):
    """A 4 kHz tone on a bus that a snapshot low-passes at 1 kHz drops by Butterworth's |H(4 kHz)|."""
    scene_dir.audio("tone.wav", sine(4000.0, 1.0))
    mixer = scene_dir.mixer({"t": {"files": ["tone.wav"], "loop": True, "bus": "sfx", "pan": -1}},
                            buses={"master": {}, "sfx": {}},
                            extra={"snapshots": {"muffle": {"fade_in": 0, "buses": {"sfx": {"lowpass_hz": 1000}}}}})
    mixer.play("t", 1)
    before = render_blocks(mixer, 20)[:, 0].astype(np.float64)
    mixer.snapshot_start("muffle")
    after = render_blocks(mixer, 60)[BLOCK * 20:, 0].astype(np.float64)
    _, h = signal.freqz(*signal.butter(2, 1000.0, fs=SR), worN=[4000.0], fs=SR)
    drop = 20 * math.log10(np.sqrt(np.mean(after ** 2)) / np.sqrt(np.mean(before[BLOCK:] ** 2)))
    assert drop == pytest.approx(20 * math.log10(abs(h[0])), abs=0.05)
