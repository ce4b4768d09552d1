"""Spatial oracles: constant-power pan law, OpenAL distance models, Doppler."""

import math

import numpy as np
import pytest

from conftest import render_blocks

DC = 0.5  # a constant clip makes the rendered sample equal DC x gain


@pytest.fixture
def dc_mixer(scene_dir):
    def make(**spatial):
        scene_dir.audio("dc.wav", np.full(4800, DC, np.float32))
        return scene_dir.mixer({"dc": {"files": ["dc.wav"], "loop": True,
                                       "spatial": {"min_distance": 1.0, **spatial}}})
    return make


def gains_at(mixer, position, blocks=2):
    """(L, R) gain of a DC emitter held at `position`, once the ramp has settled."""
    if 7 in mixer.instances:
        mixer.set_emitter(7, position)
    else:
        mixer.play("dc", 7, position=position)
    out = render_blocks(mixer, blocks)
    return out[-1] / DC


def test_centre_is_minus_3_01_db_each_side(dc_mixer):
    left, right = gains_at(dc_mixer(), (0.0, 0.0, -1.0))
    assert 20 * math.log10(left) == pytest.approx(-3.0103, abs=0.001)
    assert 20 * math.log10(right) == pytest.approx(-3.0103, abs=0.001)


def test_power_constant_across_azimuth_and_sides_silent_opposite(dc_mixer):
    mixer = dc_mixer()
    for deg in range(-180, 181, 15):
        a = math.radians(deg)
        left, right = gains_at(mixer, (math.sin(a), 0.0, -math.cos(a)))
        assert left ** 2 + right ** 2 == pytest.approx(1.0, abs=1e-5), deg
    left, right = gains_at(mixer, (-1.0, 0.0, 0.0))  # hard left
    assert right == 0.0 and left == pytest.approx(1.0, abs=1e-6)
    left, right = gains_at(mixer, (1.0, 0.0, 0.0))   # hard right
    assert abs(left) < 1e-6 and right == pytest.approx(1.0, abs=1e-6)


def test_listener_orientation_turns_the_image(dc_mixer):
    mixer = dc_mixer()
    mixer.set_listener((0, 0, 0), forward=(1, 0, 0), up=(0, 1, 0))  # facing +X: -Z is now on the left
    left, right = gains_at(mixer, (0.0, 0.0, -1.0))
    assert right < 1e-6 and left == pytest.approx(1.0, abs=1e-6)


def test_inverse_clamped_minus_6_02_db_per_doubling_held_at_max(dc_mixer):
    mixer = dc_mixer(max_distance=16.0, rolloff="inverse", rolloff_factor=1.0)
    levels = []
    for d in (1, 2, 4, 8, 16, 32, 64):
        left, right = gains_at(mixer, (0.0, 0.0, -float(d)))
        levels.append(20 * math.log10(math.hypot(left, right)))
    steps = np.diff(levels)
    assert steps[:4] == pytest.approx([-6.0206] * 4, abs=0.001)
    assert steps[4:] == pytest.approx([0.0, 0.0], abs=1e-6)  # clamped beyond max_distance


@pytest.mark.parametrize("model, factor, d, expected", [
    # OpenAL 1.1 spec, 3.4.2 / 3.4.4 / 3.4.6 with reference 1, max 20
    ("inverse", 2.0, 5.0, 1.0 / (1.0 + 2.0 * 4.0)),
    ("linear", 1.0, 5.0, 1.0 - 4.0 / 19.0),
    ("linear", 1.0, 40.0, 0.0),
    ("exponential", 1.5, 4.0, 4.0 ** -1.5),
    ("none", 1.0, 10.0, 1.0),
    ("inverse", 1.0, 0.2, 1.0),  # inside the reference distance: full gain
])
def test_distance_models_match_openal_formulas(dc_mixer, model, factor, d, expected):
    mixer = dc_mixer(max_distance=20.0, rolloff=model, rolloff_factor=factor)
    left, right = gains_at(mixer, (0.0, 0.0, -d))
    assert math.hypot(left, right) == pytest.approx(expected, abs=1e-6)


def test_doppler_approaching_source_raises_pitch_by_openal_formula(scene_dir):
    from conftest import sine
    scene_dir.audio("tone.wav", sine(1000.0, 1.0))
    mixer = scene_dir.mixer({"tone": {"files": ["tone.wav"], "loop": True, "spatial": {"max_distance": 1e6}}})
    speed = 34.33  # m/s towards the listener: f' = f c / (c - v) = 1111.1 Hz
    mixer.play("tone", 1, position=(0, 0, -500.0), velocity=(0, 0, speed))
    out = render_blocks(mixer, 200)[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out)), 1 << 20))
    peak = np.argmax(spectrum) * 48000 / (1 << 20)
    assert peak == pytest.approx(1000.0 * 343.3 / (343.3 - speed), abs=1.0)
