"""VCAs (FMOD Studio's): a volume control over a group of buses, not in the signal path.  Oracle:
dB arithmetic on the level heard (a VCA at -6 dB over a bus at -3 dB plays it at -9 dB), the buses
it does not control unchanged, ramps without steps, and located errors for bad references."""

import math

import numpy as np
import pytest

from conftest import BLOCK, render_blocks, sine
from gamemix.errors import CommandError, LocatedError
from gamemix.protocol import messages as m


def rms_db(x) -> float:
    return 10 * math.log10(np.mean(np.square(x, dtype=np.float64)))


def mixer_with(scene_dir, vcas: dict, sfx_db: float = 0.0):
    scene_dir.audio("a.wav", sine(375.0, 1.0))
    scene_dir.audio("b.wav", sine(750.0, 1.0))
    return scene_dir.mixer(
        {"shot": {"files": ["a.wav"], "loop": True, "bus": "sfx", "pan": -1.0},
         "theme": {"files": ["b.wav"], "loop": True, "bus": "music", "pan": 1.0}},
        buses={"master": {}, "sfx": {"volume_db": sfx_db}, "ui": {}, "music": {}},
        extra={"vcas": vcas})


def levels(mixer, blocks=20) -> tuple[float, float]:
    """(sfx on the left, music on the right) in dB, after the ramps settled."""
    out = render_blocks(mixer, blocks)[10 * BLOCK:]
    return rms_db(out[:, 0]), rms_db(out[:, 1])


def test_a_vcas_level_adds_to_its_buses_and_leaves_the_others(scene_dir):
    plain = mixer_with(scene_dir, {}, sfx_db=-3.0)
    under = mixer_with(scene_dir, {"effects": {"buses": ["sfx", "ui"], "volume_db": -6.0}}, sfx_db=-3.0)
    for mixer in (plain, under):
        mixer.apply(m.Play(sound="shot", id=1))
        mixer.apply(m.Play(sound="theme", id=2))
    (sfx0, music0), (sfx1, music1) = levels(plain), levels(under)
    assert sfx1 - sfx0 == pytest.approx(-6.0, abs=0.01)
    assert music1 == pytest.approx(music0, abs=1e-6)
    assert under.bus_values.volume_db[under.bus_index["sfx"]] == pytest.approx(-9.0, abs=1e-6)


def test_moving_a_vca_glides_and_vcas_over_one_bus_add(scene_dir):
    mixer = mixer_with(scene_dir, {"effects": {"buses": ["sfx"]}, "all": {"buses": ["sfx", "music"]}})
    mixer.apply(m.Play(sound="shot", id=1))
    mixer.apply(m.Play(sound="theme", id=2))
    sfx0, music0 = levels(mixer)
    mixer.apply(m.VcaVolume(vca="effects", volume_db=-12.0, fade=0.1))
    mixer.apply(m.VcaVolume(vca="all", volume_db=-3.0, fade=0.1))
    glide = render_blocks(mixer, 30)[:, 0]
    sfx1, music1 = levels(mixer)
    assert sfx1 - sfx0 == pytest.approx(-15.0, abs=0.01) and music1 - music0 == pytest.approx(-3.0, abs=0.01)
    env = np.abs(glide[:len(glide) // 128 * 128]).reshape(-1, 128).max(axis=1)
    assert np.all(np.diff(env) <= 1e-3) and env[0] > 0.45            # a ramp, no step
    assert mixer.buses.vca_db() == {"effects": pytest.approx(-12.0), "all": pytest.approx(-3.0)}


def test_an_unknown_vca_is_refused_naming_the_vcas_and_nothing_moves(scene_dir):
    mixer = mixer_with(scene_dir, {"effects": {"buses": ["sfx"]}})
    with pytest.raises(CommandError) as info:
        mixer.apply(m.VcaVolume(vca="effect", volume_db=-6.0))
    assert info.value.code == "unknown_vca" and "effects" in info.value.message
    assert mixer.buses.vca_db() == {"effects": 0.0}


def test_a_vca_naming_an_unknown_bus_is_a_located_error(scene_dir):
    with pytest.raises(LocatedError) as info:
        mixer_with(scene_dir, {"effects": {"buses": ["sfx", "voices", "sfx"]}})
    text = str(info.value)
    assert "vcas.effects.buses[1]" in text and "unknown bus 'voices'" in text and "scene.yaml:" in text
    assert "vcas.effects.buses[2]" in text and "listed twice" in text
