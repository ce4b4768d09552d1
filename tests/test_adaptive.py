"""AR mode's gains on the bus tree (core/dsp/adaptive.py, core/dsp/mic.py through processors/microphone.py):
driven through the mixer with the analysis's two numbers set by hand, so every expected value follows
from the scene's settings alone."""

import math

import numpy as np
import pytest

from conftest import SR, BLOCK, render_blocks

DC = 0.25
CENTRE = 10 ** (-3.0103 / 20)       # a centred mono sound: -3 dB on each side (sine-cosine law)


def scene(scene_dir, extra_mic=None, snapshots=None, mappings=None, parameters=None):
    scene_dir.audio("dc.wav", np.full(SR, DC, np.float32))
    mic = {"bus": "mic", "hear_through_db": None,
           "follow": {"dialogue": {"margin_db": 10, "level_lufs": -23, "max_boost_db": 6, "attack_s": 0.2,
                                   "release_s": 0.4}},
           "duck": {"music": {"depth_db": -12, "attack_ms": 20, "hold_ms": 100, "release_ms": 200}},
           **(extra_mic or {})}
    extra = {"microphone": mic}
    for key, value in (("snapshots", snapshots), ("mappings", mappings), ("parameters", parameters)):
        if value:
            extra[key] = value
    return scene_dir.mixer({"m": {"files": ["dc.wav"], "loop": True, "bus": "music"},
                            "d": {"files": ["dc.wav"], "loop": True, "bus": "dialogue"}},
                           buses={"master": {"limiter": {"ceiling_dbtp": -1.0}}, "mic": {}, "music": {},
                                  "dialogue": {}}, extra=extra)


def gain_of(mixer, bus, blocks):
    """The bus's post-fader signal (its buffer after the block) of a DC source, per sample: its gain x DC."""
    out = []
    block = np.zeros((BLOCK, 2), np.float32)
    b = mixer.bus_index[bus]
    for _ in range(blocks):
        mixer.render(block)
        out.append(mixer.arrays.bus_buf[b, 0].copy() / (DC * CENTRE))
    return np.concatenate(out)


def test_speech_ducks_to_the_depth_holds_and_releases_and_every_change_is_ramped(scene_dir):
    mixer = scene(scene_dir)
    mixer.play("m", 1)
    gain_of(mixer, "music", 5)
    mixer.microphone.update(math.nan, True)
    on = gain_of(mixer, "music", 60)                               # 320 ms of speech
    mixer.microphone.update(math.nan, False)
    off = gain_of(mixer, "music", 400)                             # 2.1 s: hold, then 10 release time constants
    depth = 10 ** (-12 / 20)
    assert on[-1] == pytest.approx(depth, rel=1e-3)
    hold = int(round(0.1 * SR / BLOCK)) * BLOCK
    assert np.allclose(off[:hold - BLOCK], depth, rtol=1e-3)      # held for hold_ms
    assert off[-1] == pytest.approx(1.0, abs=1e-3)                 # released
    env = np.concatenate([on, off])
    steps = np.abs(np.diff(env))
    assert steps.max() <= (1 - depth) / BLOCK + 1e-6               # ramped: no step bigger than a block's share


def test_the_boost_follows_the_ambience_within_its_bounds_and_goes_back(scene_dir):
    mixer = scene(scene_dir)
    mixer.play("d", 1)
    for ambient, want in ((-40.0, 0.0), (-30.0, 3.0), (-10.0, 6.0), (-60.0, 0.0)):   # -30 + 10 - (-23) = 3 dB
        mixer.microphone.update(ambient, False)
        g = gain_of(mixer, "dialogue", 600)                        # 3.2 s: 8 release time constants
        assert 20 * np.log10(g[-1]) == pytest.approx(want, abs=0.01), ambient
        assert mixer.chains.readings()["dialogue"]["ambient_boost_db"] == pytest.approx(want, abs=0.01)
    assert np.all(np.isfinite(g))


def test_a_snapshot_and_a_mapping_move_the_duck_depth_and_the_boost_bound(scene_dir):
    mixer = scene(scene_dir, snapshots={"calm": {"mode": "override", "fade_in": 0.0,
                                                 "buses": {"music": {"speech_duck_depth_db": -3}}}},
                  parameters={"noise_care": {"min": 0, "max": 1, "default": 0}},
                  mappings=[{"parameter": "noise_care", "bus": "dialogue", "property": "ambient_max_boost_db",
                             "points": [[0, 0], [1, -4]]}])
    mixer.play("m", 1)
    mixer.play("d", 2)
    mixer.microphone.update(-10.0, True)
    gain_of(mixer, "music", 300)
    assert mixer.chains.readings()["music"]["speech_duck_db"] == pytest.approx(-12.0, abs=0.01)
    mixer.snapshot_start("calm")
    mixer.set_parameter("noise_care", 1.0)
    gain_of(mixer, "music", 700)                                   # 3.7 s: 9 release time constants
    readings = mixer.chains.readings()
    assert readings["music"]["speech_duck_db"] == pytest.approx(-3.0, abs=0.01)
    assert readings["dialogue"]["ambient_boost_db"] == pytest.approx(2.0, abs=0.01)   # max boost 6 - 4


def test_a_boost_never_takes_the_output_past_the_ceiling_or_to_nan(scene_dir):
    mixer = scene(scene_dir, extra_mic={"follow": {"dialogue": {"margin_db": 40, "level_lufs": -23,
                                                                "max_boost_db": 24, "attack_s": 0.0}}})
    mixer.play("d", 1)
    mixer.microphone.update(-3.0, False)                           # a deafening room asks for the most boost
    out = render_blocks(mixer, 400)
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() <= 10 ** (-1.0 / 20) + 1e-6
    mixer.microphone.update(math.inf, True)                        # garbage from the analysis
    mixer.microphone.update(math.nan, True)
    out = render_blocks(mixer, 50)
    assert np.all(np.isfinite(out)) and np.abs(out).max() <= 10 ** (-1.0 / 20) + 1e-6


@pytest.mark.parametrize("layout, front", [("5.1", (0, 1)), ("7.1.4", (0, 1)), ("binaural", (0, 1))])
def test_the_hear_through_reaches_the_front_pair_of_any_layout(scene_dir, layout, front):
    """The microphone is heard as a head-locked stereo sound: on a surround layout its left and right
    go to the front left and right speakers (the layouts table), not to the centre, the LFE or the
    surrounds; a mono mic feeds both."""
    scene_dir.audio("dc.wav", np.full(SR, DC, np.float32))
    m = scene_dir.mixer({"d": {"files": ["dc.wav"], "bus": "music"}}, buses={"master": {}, "mic": {}, "music": {}},
                        extra={"microphone": {"bus": "mic", "channels": 2, "hear_through_db": 0}}, channels=layout)
    block = np.zeros((BLOCK, m.channels), np.float32)
    capture = np.stack([np.full(BLOCK, 0.5, np.float32), np.full(BLOCK, -0.25, np.float32)], axis=1)
    for _ in range(3):
        m.microphone.feed(capture)
        m.render(block)
    heard = block[-1]
    assert heard[front[0]] == pytest.approx(0.5) and heard[front[1]] == pytest.approx(-0.25)
    assert not np.delete(heard, list(front)).any()
