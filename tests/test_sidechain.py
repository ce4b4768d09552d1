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


# ------------------------------------------------------------ the kernel against the sample-by-sample loop
def test_kernel_matches_the_sample_by_sample_loop_bit_for_bit():
    """sidechain_block (a key at a time, log10 only near the threshold, exp only where the
    attenuation changes) against the plain per-sample loop it replaced: a band-limited fixed-depth
    key on noise bursts, a ratio-mode key, and a DC key whose mean square settles exactly on its
    threshold (the log10 path near it)."""
    from numba import njit
    from gamemix.core.dsp import sidechain as S

    @njit
    def reference(b, bus_buf, n, channels, keys, band_state, duck):
        total = 0.0
        for i in range(n):
            total = 0.0
            for k in range(S.MAX_KEYS):
                row = keys[b, k]
                key = int(row[S.SC_KEY])
                if key < 0:
                    break
                sq = 0.0
                for c in range(channels):
                    x = np.float64(bus_buf[key, c, i])
                    if not math.isfinite(x):
                        x = 0.0
                    if row[S.SC_BAND] != 0.0:
                        f = band_state[b, k, c]
                        v3 = x - f[1]
                        v1 = row[S.SC_HP_A1] * f[0] + row[S.SC_HP_A2] * v3
                        v2 = f[1] + row[S.SC_HP_A2] * f[0] + row[S.SC_HP_A3] * v3
                        f[0] = 2.0 * v1 - f[0]
                        f[1] = 2.0 * v2 - f[1]
                        x = x - S.SVF_K * v1 - v2
                        v3 = x - f[3]
                        v1 = row[S.SC_LP_A1] * f[2] + row[S.SC_LP_A2] * v3
                        v2 = f[3] + row[S.SC_LP_A2] * f[2] + row[S.SC_LP_A3] * v3
                        f[2] = 2.0 * v1 - f[2]
                        f[3] = 2.0 * v2 - f[3]
                        x = v2
                    sq += x * x
                ms = sq + (row[S.SC_MS] - sq) * row[S.SC_RMS]
                row[S.SC_MS] = ms
                wanted = S._wanted(row, 10.0 * math.log10(ms + 1e-20))
                att = row[S.SC_ATT]
                if wanted >= att:
                    att = wanted + (att - wanted) * row[S.SC_ATTACK]
                    row[S.SC_HOLD_LEFT] = row[S.SC_HOLD]
                elif row[S.SC_HOLD_LEFT] > 0.0:
                    row[S.SC_HOLD_LEFT] -= 1.0
                else:
                    att = wanted + (att - wanted) * row[S.SC_RELEASE]
                row[S.SC_ATT] = att
                total = max(total, att)
            g = math.exp(-total * S.LN10_20)
            for c in range(channels):
                bus_buf[b, c, i] *= g
        duck[b] = total

    rng = np.random.default_rng(5)
    n, blocks = 256, 120
    noise = rng.standard_normal((2, n * blocks)) * 0.1
    gate = (np.sin(np.arange(n * blocks) / 9000.0) > 0.2).astype(float)
    dc = 0.01
    source = np.zeros((4, 2, n * blocks), np.float32)
    source[1] = noise * gate
    source[2] = noise[::-1] * 0.5 * (1 - gate)
    source[3] = dc
    states = []
    for _ in range(2):
        st = S.allocate(4)
        S.set_key(st.keys, 0, 0, 1, SR, -30.0, -9.0, None, 24.0, 20.0, 100.0, 300.0, (300.0, 4000.0))
        S.set_key(st.keys, 0, 1, 2, SR, -40.0, None, 3.0, 12.0, 5.0, 0.0, 200.0, None)
        S.set_key(st.keys, 0, 2, 3, SR, 10.0 * math.log10(2 * np.float64(np.float32(dc)) ** 2 + 1e-20), -6.0,
                  None, 24.0, 1.0, 0.0, 50.0, None)
        states.append(st)
    outs = []
    for st, kernel in zip(states, (lambda *a: S.sidechain_block(*a, states[0].scratch), reference)):
        out = np.zeros((2, n * blocks), np.float32)
        for k in range(blocks):
            buf = np.ascontiguousarray(source[:, :, k * n:(k + 1) * n])
            buf[0] = 0.5
            kernel(0, buf, n, 2, st.keys, st.band_state, st.duck)
            out[:, k * n:(k + 1) * n] = buf[0]
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])
    assert np.array_equal(states[0].keys, states[1].keys) and states[0].duck[0] == states[1].duck[0]
    assert outs[0].min() < 0.5 * 10 ** (-5 / 20)          # it did duck
