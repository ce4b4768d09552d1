"""Binaural output heard at the ears: interaural time and level differences, symmetry, smooth motion.

Oracles: the interaural time difference of a head (0.6-0.7 ms at 90 degrees; Woodworth's formula
gives 0.66 ms for an 8.75 cm head), measured here by cross-correlating the two ears' signals;
equal ears for a source straight ahead; a moving source's output changes no faster than the signal
itself allows (a click would)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import render_blocks

SR = 48000


def noise(seconds: float, seed: int = 3) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.1).astype(np.float32)


def binaural_mixer(scene_dir, hrtf_voices: int, signal: np.ndarray, rolloff: str = "none"):
    scene_dir.audio("src.wav", signal)
    return scene_dir.mixer({"s": {"files": ["src.wav"], "loop": True, "spatial": {"rolloff": rolloff}}},
                           channels="binaural", hrtf_voices=hrtf_voices)


def ears(scene_dir, hrtf_voices: int, azimuth_right: float, blocks: int = 120) -> np.ndarray:
    m = binaural_mixer(scene_dir, hrtf_voices, noise(1.0))
    a = math.radians(azimuth_right)
    m.play("s", 1, position=(3.0 * math.sin(a), 0.0, -3.0 * math.cos(a)))    # the scene's listener faces -Z
    return render_blocks(m, blocks)[20 * 256:]


def itd_ms(x: np.ndarray, below_hz: float | None = None) -> float:
    """Right ear's lead over the left (ms, > 0: the right ear hears it first): the peak of the two
    ears' cross-correlation, to a tenth of a sample; `below_hz`: of the signals low-passed there."""
    from scipy.signal import butter, sosfiltfilt
    left, right = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
    if below_hz is not None:
        sos = butter(4, below_hz, "low", fs=SR, output="sos")
        left, right = sosfiltfilt(sos, left), sosfiltfilt(sos, right)
    lags = np.arange(-48, 49)
    corr = np.array([np.dot(left[48:-48], np.roll(right, k)[48:-48]) for k in lags])
    k = int(np.argmax(corr))
    y0, y1, y2 = corr[k - 1], corr[k], corr[k + 1]               # parabolic peak
    lag = lags[k] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return lag / SR * 1e3


def level_db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2, axis=0))


def test_a_source_on_the_right_is_louder_and_earlier_in_the_right_ear(scene_dir):
    """The filtered (direct) path: the interaural time difference across the band, 0.6-0.7 ms."""
    x = ears(scene_dir, 16, 90.0)
    itd = itd_ms(x)
    assert 0.6 <= itd <= 0.7, itd
    left, right = level_db(x)
    assert right - left > 6.0
    y = ears(scene_dir, 16, -90.0)
    assert itd_ms(y) == pytest.approx(-itd, abs=0.02)                # the mirror image
    assert level_db(y)[0] - level_db(y)[1] == pytest.approx(right - left, abs=0.5)


@pytest.mark.parametrize("azimuth", [90.0, 45.0, -60.0, 150.0])
def test_the_ambisonic_path_keeps_the_time_and_level_cues_of_the_direct_one(scene_dir, azimuth):
    """Decoded from third order, the time difference holds where it is heard (below 1.5 kHz: above,
    the decoder keeps magnitudes, not phases; Schoerkhuber et al. 2018) and the level difference
    keeps its side."""
    direct, ambisonic = ears(scene_dir, 16, azimuth), ears(scene_dir, 0, azimuth)
    assert itd_ms(ambisonic, 1500.0) == pytest.approx(itd_ms(direct, 1500.0), abs=0.04)
    ild_direct, ild_ambisonic = np.diff(level_db(direct))[0], np.diff(level_db(ambisonic))[0]
    assert np.sign(ild_ambisonic) == np.sign(ild_direct) and abs(ild_ambisonic - ild_direct) < 3.0


@pytest.mark.parametrize("hrtf_voices", [16, 0], ids=["direct", "ambisonic"])
def test_a_source_straight_ahead_reaches_both_ears_alike(scene_dir, hrtf_voices):
    x = ears(scene_dir, hrtf_voices, 0.0)
    assert abs(itd_ms(x)) < 0.02
    left, right = level_db(x)
    assert abs(left - right) < 0.5


@pytest.mark.parametrize("hrtf_voices", [16, 0], ids=["direct", "ambisonic"])
def test_a_source_turning_once_a_second_makes_no_click(scene_dir, hrtf_voices):
    """A 200 Hz tone circling the head at 1 rev/s: the ears' signals change no faster than a 200 Hz
    tone of their own amplitude can (2 pi f / rate times the peak), with a margin for the filters'
    own colour; a step from a filter switch or an unramped gain would far exceed it."""
    f = 200.0
    t = np.arange(SR) / SR
    m = binaural_mixer(scene_dir, hrtf_voices, (0.4 * np.sin(2 * np.pi * f * t)).astype(np.float32))
    m.play("s", 1, position=(0.0, 0.0, -3.0))
    out = np.zeros((256, 2), np.float32)
    blocks = []
    for k in range(2 * SR // 256):
        a = 2 * math.pi * k * 256 / SR                             # 1 rev/s
        m.set_emitter(1, (3.0 * math.sin(a), 0.0, -3.0 * math.cos(a)))
        m.render(out)
        blocks.append(out.copy())
    x = np.concatenate(blocks)[4 * 256:]
    peak = np.abs(x).max()
    natural = 2 * math.pi * f / SR * peak
    assert np.abs(np.diff(x, axis=0)).max() < 1.5 * natural
    assert peak > 0.05


def test_voices_beyond_the_filter_slots_share_the_ambisonic_path_and_fade_between_paths(scene_dir):
    """Four voices, two slots: the two loudest are filtered one by one, the others encoded; moving
    the quiet ones close swaps them in, crossfaded (no step at the swap)."""
    t = np.arange(SR) / SR
    m = binaural_mixer(scene_dir, 2, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), "inverse")
    for i, d in enumerate((1.0, 1.5, 8.0, 9.0)):
        m.play("s", i, position=(0.0, 0.0, -d))
    out = np.zeros((256, 2), np.float32)
    for _ in range(10):
        m.render(out)
    panner = m.arrays.panner
    slots = {m.instances.row_instance[v] for v in panner.slot_voice if v >= 0}
    assert len(slots) == 2
    blocks = []
    for k in range(60):
        for i in (2, 3):
            m.set_emitter(i, (0.0, 0.0, -(8.0 - 7.5 * min(k / 30, 1.0)) - 0.1 * i))
        for i in (0, 1):
            m.set_emitter(i, (0.0, 0.0, -(1.0 + 8.0 * min(k / 30, 1.0)) - 0.1 * i))
        m.render(out)
        blocks.append(out.copy())
    now = {m.instances.row_instance[v] for v in panner.slot_voice if v >= 0}
    assert now == {2, 3}
    x = np.concatenate(blocks)
    assert np.abs(np.diff(x, axis=0)).max() < 1.5 * 2 * math.pi * 300 / SR * np.abs(x).max()
