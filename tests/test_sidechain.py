"""Sidechain ducking: music under the measured signal of dialogue (fixed depth, ratio, band, keys)."""

import math

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks, sine

DC = 0.5


@pytest.fixture
def duck(scene_dir):
    """Music: DC hard left.  Dialogue: a tone hard right, played on demand."""
    scene_dir.audio("dc.wav", np.full(SR, DC, np.float32))
    scene_dir.audio("tone1k.wav", sine(1000, 1.0, amp=0.1))        # -20 dBFS peak, -23 dBFS RMS
    scene_dir.audio("tone100.wav", sine(100, 1.0, amp=0.1))
    scene_dir.audio("loud1k.wav", sine(1000, 1.0, amp=0.5))         # -9 dBFS RMS

    def make(keys, extra=None, **dialogue_bus):
        m = scene_dir.mixer(
            {"music": {"files": ["dc.wav"], "loop": True, "bus": "music", "pan": -1},
             "line": {"files": ["tone1k.wav"], "loop": True, "bus": "dialogue", "pan": 1},
             "low": {"files": ["tone100.wav"], "loop": True, "bus": "dialogue", "pan": 1},
             "loud": {"files": ["loud1k.wav"], "loop": True, "bus": "dialogue", "pan": 1},
             "fx": {"files": ["tone1k.wav"], "loop": True, "bus": "sfx", "pan": 1}},
            buses={"master": {}, "dialogue": dialogue_bus, "sfx": {}, "music": {"sidechain": keys}}, extra=extra)
        m.play("music", 1)
        return m
    return make


def music_gain_db(mixer, blocks):
    """The music's gain per sample (dB) over the next blocks: left channel / hard-left DC."""
    left = render_blocks(mixer, blocks)[:, 0].astype(np.float64)
    return 20 * np.log10(np.maximum(left, 1e-12) / DC)


def test_fixed_depth_attack_hold_release(duck):
    m = duck([{"key": "dialogue", "threshold_db": -40, "depth_db": -9,
               "attack_ms": 30, "hold_ms": 200, "release_ms": 600}])
    assert music_gain_db(m, 10)[-1] == pytest.approx(0.0, abs=1e-4)
    m.play("line", 2)
    g = music_gain_db(m, int(0.5 * SR / BLOCK))
    # one time constant after the key crosses the threshold (a few ms in): 63 % of the depth
    t63 = np.argmax(g <= -9 * (1 - 1 / math.e)) / SR
    assert 0.030 <= t63 <= 0.030 + 0.006
    assert g[-1] == pytest.approx(-9.0, abs=0.05)
    m.stop(2)
    g = music_gain_db(m, int(6 * SR / BLOCK))
    fall = np.argmax(g > -9 + 0.05) / SR            # hold, after the key's RMS falls under the threshold
    assert 0.200 <= fall <= 0.200 + 0.05
    t37 = np.argmax(g > -9 / math.e) / SR - fall     # release: 63 % of the way back in one time constant
    assert t37 == pytest.approx(0.600, rel=0.05)
    assert g[-1] == pytest.approx(0.0, abs=0.01)


def test_ratio_mode_follows_the_key_level(duck):
    m = duck([{"key": "dialogue", "threshold_db": -40, "depth_db": None, "ratio": 4, "range_db": 40,
               "attack_ms": 5, "release_ms": 50}])
    m.play("line", 2)
    g = music_gain_db(m, int(0.5 * SR / BLOCK))
    level = 20 * math.log10(0.1 / math.sqrt(2))   # the key's RMS, however it is panned
    over = level - (-40)
    expected = -(over - over / 4)
    assert np.median(g[-4800:]) == pytest.approx(expected, abs=0.15)


def test_the_deepest_key_wins(duck):
    m = duck([{"key": "dialogue", "threshold_db": -50, "depth_db": -6, "attack_ms": 5},
              {"key": "sfx", "threshold_db": -50, "depth_db": -12, "attack_ms": 5}])
    m.play("line", 2)
    assert music_gain_db(m, 40)[-1] == pytest.approx(-6.0, abs=0.05)
    m.play("fx", 3)
    assert music_gain_db(m, 40)[-1] == pytest.approx(-12.0, abs=0.05)


def test_key_band_ignores_what_is_outside_it(duck):
    keys = [{"key": "dialogue", "threshold_db": -40, "depth_db": -9, "attack_ms": 5,
             "key_band_hz": [300, 4000]}]
    m = duck(keys)
    m.play("low", 2)                 # 100 Hz rumble: 1.6 octaves under the band, ~19 dB down -> under threshold
    assert music_gain_db(m, 40).min() > -0.01
    m.play("line", 3)                # 1 kHz, inside the band
    assert music_gain_db(m, 40)[-1] == pytest.approx(-9.0, abs=0.05)


def test_a_snapshot_moves_the_depth_and_nothing_clicks(duck):
    m = duck([{"key": "dialogue", "threshold_db": -40, "depth_db": -9, "attack_ms": 20}],
             extra={"snapshots": {"combat": {"fade_in": 0, "buses": {"music": {"sidechain_depth_db": -20}}}}})
    m.play("loud", 2)
    out = render_blocks(m, 60)[:, 0].astype(np.float64)
    assert np.abs(np.diff(out)).max() < DC * 0.01      # a smooth duck: no step at the key's onset
    assert 20 * np.log10(out[-1] / DC) == pytest.approx(-9.0, abs=0.05)
    m.snapshot_start("combat")
    out = render_blocks(m, 60)[:, 0].astype(np.float64)
    assert np.abs(np.diff(out)).max() < DC * 0.01
    assert 20 * np.log10(out[-1] / DC) == pytest.approx(-20.0, abs=0.05)
