"""Loudness management, the live meters and the master's limiter, inside the engine."""

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks
from gamemix.offline.meter import Meter


def noise(seconds, level, seed=0):
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR)) * level
    return np.stack([x, np.roll(x, 37)], 1).astype(np.float32)


@pytest.fixture
def bed(scene_dir):
    scene_dir.audio("noise.wav", noise(2.0, 0.02))          # about -31 LUFS as a loop

    def make(master, **out):
        m = scene_dir.mixer({"bed": {"files": ["noise.wav"], "loop": True}}, buses={"master": master}, **out)
        m.play("bed", 1)
        return m
    return make


def test_master_is_brought_to_its_integrated_target(bed):
    m = bed({"loudness": {"target_lufs": -24, "measure": "integrated", "tolerance_lu": 0.5,
                          "max_boost_db": 12, "max_slew_db_per_s": 3}})
    out = render_blocks(m, int(12 * SR / BLOCK))
    before = Meter(SR, 2).measure(out[:int(0.3 * SR)])       # not yet corrected
    after = Meter(SR, 2).measure(out[-4 * SR:])
    assert after["integrated_lufs"] == pytest.approx(-24.0, abs=0.5)
    gain = m.chains.readings()["master"]["loudness_gain_db"]
    source = Meter(SR, 2).measure(noise(2.0, 0.02))["integrated_lufs"]
    assert gain == pytest.approx(-24.0 - source, abs=0.5)
    assert before["sample_peak_dbfs"] < after["sample_peak_dbfs"]


def test_gain_is_bounded_and_slew_limited(bed):
    m = bed({"loudness": {"target_lufs": -10, "measure": "short_term", "max_boost_db": 3,
                          "max_slew_db_per_s": 2, "tolerance_lu": 0}})
    gains = []
    block = np.zeros((BLOCK, 2), np.float32)
    for _ in range(int(6 * SR / BLOCK)):
        m.render(block)
        gains.append(m.chains.readings()["master"]["loudness_gain_db"])
    gains = np.array(gains)
    assert gains.max() == pytest.approx(3.0, abs=0.01)                     # max boost
    assert np.diff(gains).max() <= 2.0 * BLOCK / SR + 0.011                # 2 dB/s (0.01 rounding)


def test_live_meter_matches_the_offline_meter_and_limiter_holds(bed):
    m = bed({"volume_db": 24, "limiter": {"ceiling_dbtp": -1.0}})          # driven hard into the limiter
    out = render_blocks(m, int(5 * SR / BLOCK))
    live = m.chains.readings()["master"]
    offline = Meter(SR, 2).measure(out)
    assert live["integrated_lufs"] == pytest.approx(offline["integrated_lufs"], abs=0.01)
    assert live["true_peak_dbtp"] <= -1.0 + 0.1 and offline["true_peak_dbtp"] <= -1.0 + 0.1
    assert live["limiter_gr_db"] < -1.0


def test_reset_meters_message_restarts_integrated(bed):
    from gamemix.protocol import messages as protocol
    m = bed({})
    render_blocks(m, int(1.0 * SR / BLOCK))
    assert m.chains.readings()["master"]["integrated_lufs"] is not None
    m.apply(protocol.ResetMeters())
    render_blocks(m, 2)
    assert m.chains.readings()["master"]["integrated_lufs"] is None      # < 400 ms since the reset
    render_blocks(m, int(0.5 * SR / BLOCK))
    assert m.chains.readings()["master"]["integrated_lufs"] is not None
