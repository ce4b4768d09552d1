"""Real-time safety oracles: ramped gains (no clicks), finite output, the ceiling."""


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import BLOCK, render_blocks
from gamemix.core.arrays import VF_VOLUME, VF_X, VF_Y, VF_Z

DC = 0.8


@pytest.fixture
def dc(scene_dir):
    scene_dir.audio("dc.wav", np.full(9600, DC, np.float32))
    return scene_dir


def test_volume_jump_to_silence_is_a_one_block_ramp(dc):
    mixer = dc.mixer({"dc": {"files": ["dc.wav"], "loop": True, "pan": -1.0}},
                     buses={"master": {}, "a": {}})
    mixer.play("dc", 1)
    before = render_blocks(mixer, 2)[:, 0]
    mixer.set_bus_volume("master", -144.0)
    after = render_blocks(mixer, 2)[:, 0]
    signal = np.concatenate([before, after])
    steps = np.abs(np.diff(signal))
    assert steps.max() <= DC / BLOCK * 1.0001      # the ramp's own slope, nothing steeper
    assert after[0] == pytest.approx(DC, abs=1e-6)  # starts from where it was ...
    assert abs(after[BLOCK]) < 1e-6                 # ... and is silent one block later


def test_stop_with_fade_is_linear_over_the_fade_time_and_frees_the_voice(dc):
    mixer = dc.mixer({"dc": {"files": ["dc.wav"], "loop": True, "pan": -1.0}})
    mixer.play("dc", 1)
    render_blocks(mixer, 1)
    mixer.stop(1, fade=0.1)   # 4800 samples = 18.75 blocks
    out = render_blocks(mixer, 22)[:, 0]
    assert np.abs(np.diff(out)).max() <= DC / 4800 * 1.01
    assert out[2400] == pytest.approx(DC * 0.5, abs=DC / BLOCK)   # halfway at half the fade time
    assert np.all(out[19 * BLOCK:] == 0.0)
    assert mixer.active_voices() == 0 and 1 not in mixer.instances


def test_fade_in_rises_linearly(dc):
    mixer = dc.mixer({"dc": {"files": ["dc.wav"], "loop": True, "pan": -1.0}})
    mixer.play("dc", 1, fade_in=0.05)   # 2400 samples
    out = render_blocks(mixer, 12)[:, 0]
    assert out[0] == 0.0
    assert out[1200] == pytest.approx(DC * 0.5, abs=DC / BLOCK)
    assert out[-1] == pytest.approx(DC, abs=1e-6)


def test_pan_sweep_has_no_steps(dc):
    mixer = dc.mixer({"dc": {"files": ["dc.wav"], "loop": True, "spatial": {}}})
    mixer.play("dc", 1, position=(-1.0, 0.0, 0.0))
    render_blocks(mixer, 1)
    mixer.set_emitter(1, (1.0, 0.0, 0.0))   # hard left to hard right in one game frame
    out = render_blocks(mixer, 2)
    assert np.abs(np.diff(out, axis=0)).max() <= DC / BLOCK * 1.0001


def test_output_is_clamped_to_the_ceiling(dc):
    mixer = dc.mixer({"dc": {"files": ["dc.wav"], "loop": True, "volume_db": 24.0}},
                     ceiling_dbfs=-1.0)
    for i in range(4):
        mixer.play("dc", i)
    out = render_blocks(mixer, 4)
    ceiling = 10 ** (-1 / 20)
    assert np.abs(out).max() == pytest.approx(ceiling, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(-1e30, 1e30)), min_size=4, max_size=4))
def test_output_is_finite_whatever_the_arrays_hold(dc_mixer_session, values):
    """Even if a bad value bypassed validation into the arrays, output stays finite."""
    mixer = dc_mixer_session
    v = mixer.rows_of(1)[0]
    x, y, z, vol = values
    mixer.arrays.vf[v, [VF_X, VF_Y, VF_Z, VF_VOLUME]] = (x, y, z, vol)
    out = render_blocks(mixer, 2)
    assert np.all(np.isfinite(out)) and np.abs(out).max() <= 1.0
    mixer.arrays.vf[v, [VF_X, VF_Y, VF_Z, VF_VOLUME]] = (0.0, 0.0, -2.0, 1.0)
    out = render_blocks(mixer, 2)
    assert np.all(np.isfinite(out))  # and it recovers once the values are sane again
    assert np.abs(out[-1]).max() > 0.0


@pytest.fixture(scope="module")
def dc_mixer_session(tmp_path_factory):
    from conftest import SceneDir
    d = SceneDir(tmp_path_factory.mktemp("dc"))
    d.audio("dc.wav", np.full(9600, DC, np.float32))
    mixer = d.mixer({"dc": {"files": ["dc.wav"], "loop": True, "spatial": {}}})
    mixer.play("dc", 1, position=(0.0, 0.0, -2.0))
    return mixer
