"""Parameters with a value per instance (FMOD's local parameters) and the built-in ones (distance,
azimuth, elevation, speed), mapped onto each voice.  Oracles: the authored curve's dB and semitones
on the level and frequency heard, and the geometry of the listener's frame."""

import math

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks, sine
from gamemix.errors import CommandError, LocatedError
from gamemix.protocol import messages as m


def rms_db(x) -> float:
    return 10 * math.log10(np.mean(np.square(x, dtype=np.float64)))


def engines(scene_dir, spatial=None, mappings=(), parameters=None):
    scene_dir.audio("tone.wav", sine(375.0, 1.0))
    sound = {"files": ["tone.wav"], "loop": True}
    if spatial is not None:
        sound["spatial"] = spatial
    return scene_dir.mixer({"engine": {**sound, "pan": -1.0}, "other": {**sound, "pan": 1.0}},
                           extra={"parameters": parameters or {}, "mappings": list(mappings)})


def test_each_instance_has_its_own_value_of_a_local_parameter(scene_dir):
    mixer = engines(scene_dir, parameters={"rpm": {"scope": "instance", "min": 0, "max": 1, "default": 0}},
                    mappings=[{"parameter": "rpm", "sound": "engine", "property": "volume_db",
                               "points": [[0, -20], [1, 0]]}])
    mixer.apply(m.Play(sound="engine", id=1))                   # left (pan -1)
    mixer.apply(m.Play(sound="engine", id=2, pan=1.0))          # right
    mixer.apply(m.SetParameter(name="rpm", value=0.75, id=1))
    out = render_blocks(mixer, 30)[10 * BLOCK:]
    # the full-scale tone at 0 dB is 20 log10(0.5 / sqrt 2) dBFS
    full = 20 * math.log10(0.5 / math.sqrt(2))
    assert rms_db(out[:, 0]) - full == pytest.approx(-5.0, abs=0.01)      # rpm 0.75: -20 + 0.75 x 20
    assert rms_db(out[:, 1]) - full == pytest.approx(-20.0, abs=0.01)     # its default, 0
    assert mixer.parameters.values == {}                                   # nothing global moved
    mixer.apply(m.Stop(id=1))
    render_blocks(mixer, 4)
    assert 1 not in mixer.local.values                                     # dropped with its instance


def test_the_distance_built_in_drives_an_authored_attenuation(scene_dir):
    mixer = engines(scene_dir, spatial={"rolloff": "none", "doppler": 0.0},
                    mappings=[{"parameter": "distance", "sound": "engine", "property": "volume_db",
                               "points": [[0, 0], [10, -12], [20, -40]]}])
    levels = []
    for i, d in enumerate((1.0, 5.0, 15.0)):
        mixer.apply(m.Play(sound="engine", id=10 + i, position=(d, 0.0, 0.0)))    # to the right
        levels.append(rms_db(render_blocks(mixer, 30)[10 * BLOCK:, 1]))
        mixer.apply(m.Stop(id=10 + i))
        render_blocks(mixer, 3)
    assert levels[1] - levels[0] == pytest.approx(-6.0 + 1.2, abs=0.01)
    assert levels[2] - levels[0] == pytest.approx(-26.0 + 1.2, abs=0.01)


def test_the_speed_built_in_drives_pitch(scene_dir):
    mixer = engines(scene_dir, spatial={"rolloff": "none", "doppler": 0.0},
                    mappings=[{"parameter": "speed", "sound": "engine", "property": "pitch_semitones",
                               "points": [[0, 0], [10, 12]]}])
    mixer.apply(m.Play(sound="engine", id=1, position=(0.0, 0.0, -2.0), velocity=(10.0, 0.0, 0.0)))
    out = render_blocks(mixer, 60)[20 * BLOCK:].sum(axis=1)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert np.argmax(spectrum) * SR / len(out) == pytest.approx(750.0, abs=SR / len(out))   # an octave up


@pytest.mark.parametrize("forward, position, azimuth, elevation", [
    ((0, 0, -1), (0, 0, -3), 0.0, 0.0), ((0, 0, -1), (2, 0, 0), 90.0, 0.0), ((0, 0, -1), (-2, 0, 0), -90.0, 0.0),
    ((0, 0, -1), (0, 0, 3), 180.0, 0.0), ((0, 0, -1), (1, 1, -1), 45.0, math.degrees(math.asin(1 / math.sqrt(3)))),
    ((1, 0, 0), (0, 0, 2), 90.0, 0.0), ((1, 0, 0), (0, -2, 0), 0.0, -90.0),
])
def test_azimuth_and_elevation_are_in_the_listeners_frame(scene_dir, forward, position, azimuth, elevation):
    mixer = engines(scene_dir, spatial={}, mappings=[{"parameter": "azimuth", "sound": "engine",
                                                      "property": "volume_db", "points": [[-180, 0], [180, 0]]}])
    mixer.apply(m.Listener(position=(0.0, 0.0, 0.0), forward=forward, up=(0.0, 1.0, 0.0)))
    mixer.apply(m.Play(sound="engine", id=1, position=position))
    values = mixer.local._builtins(np.array(mixer.rows_of(1)))
    assert abs(values["azimuth"][0]) == pytest.approx(abs(azimuth), abs=1e-9)       # +-180 are one direction
    if abs(azimuth) != 180.0:
        assert values["azimuth"][0] == pytest.approx(azimuth, abs=1e-9)
    assert values["elevation"][0] == pytest.approx(elevation, abs=1e-9)
    assert values["distance"][0] == pytest.approx(float(np.linalg.norm(position)))


def test_local_parameter_refusals_name_the_problem(scene_dir):
    mixer = engines(scene_dir, parameters={"rpm": {"scope": "instance"}, "rain": {}})
    mixer.apply(m.Play(sound="engine", id=1))
    for msg, code in ((m.SetParameter(name="rpm", value=0.5), "bad_value"),            # needs an id
                      (m.SetParameter(name="rain", value=0.5, id=1), "bad_value"),     # a global one
                      (m.SetParameter(name="distance", value=3.0, id=1), "bad_value"),  # computed
                      (m.SetParameter(name="rpm", value=2.0, id=1), "out_of_range"),
                      (m.SetParameter(name="rpm", value=0.5, id=99), "unknown_instance")):
        with pytest.raises(CommandError) as info:
            mixer.apply(msg)
        assert info.value.code == code
    assert mixer.local.values == {}


@pytest.mark.parametrize("extra, where, says", [
    ({"parameters": {"distance": {}}}, "parameters.distance", "is a built-in parameter"),
    ({"parameters": {"rpm": {"scope": "instance"}},
      "mappings": [{"parameter": "rpm", "bus": "master", "property": "volume_db", "points": [[0, 0], [1, -6]]}]},
     "mappings[0].bus", "has a value per instance"),
    ({"mappings": [{"parameter": "speed", "snapshot": "x", "property": "intensity", "points": [[0, 0], [1, 1]]}]},
     "mappings[0].snapshot", "has a value per instance"),
])
def test_scene_errors_for_local_and_built_in_parameters_are_located(scene_dir, extra, where, says):
    scene_dir.audio("tone.wav", sine(375.0, 0.1))
    with pytest.raises(LocatedError) as info:
        scene_dir.mixer({"engine": {"files": ["tone.wav"]}}, extra=extra)
    assert where in str(info.value) and says in str(info.value)


def one_pole_gain(fc: float, f: float, fs: float = SR) -> float:
    """|H| of y += a (x - y) with a = 1 - exp(-2 pi fc / fs), at frequency f (J. O. Smith)."""
    a = 1.0 - math.exp(-2.0 * math.pi * fc / fs)
    w = 2.0 * math.pi * f / fs
    return a / abs(1.0 - (1.0 - a) * complex(math.cos(w), -math.sin(w)))


@pytest.mark.parametrize("driver", ["distance", "global"])
def test_a_sounds_low_pass_follows_its_curve_per_voice(scene_dir, driver):
    scene_dir.audio("hi.wav", sine(4000.0, 1.0))
    spatial = {"rolloff": "none", "doppler": 0.0}
    sound = {"files": ["hi.wav"], "loop": True, **({"spatial": spatial} if driver == "distance" else {"pan": -1.0})}
    mapping = {"parameter": "distance" if driver == "distance" else "water", "sound": "s", "property": "lowpass_hz",
               "shape": "linear", "points": [[0, 20000], [10, 1000]]}
    mixer = scene_dir.mixer({"s": sound}, extra={"parameters": {"water": {"min": 0, "max": 10}}, "mappings": [mapping]})
    position = (0.0, 0.0, -10.0) if driver == "distance" else None
    mixer.apply(m.Play(sound="s", id=1, position=position))
    if driver == "global":
        mixer.apply(m.SetParameter(name="water", value=10.0))
    out = render_blocks(mixer, 200)[40 * BLOCK:].sum(axis=1)
    expected = one_pole_gain(1000.0, 4000.0)
    unfiltered = 0.5 / math.sqrt(2) * (math.sqrt(2) if driver == "distance" else 1.0)   # centre: both channels
    assert rms_db(out) - 20 * math.log10(unfiltered) == pytest.approx(20 * math.log10(expected), abs=0.05)


def test_spread_blends_a_point_source_towards_every_direction_keeping_its_energy(scene_dir):
    scene_dir.audio("tone.wav", sine(375.0, 1.0))
    mixer = scene_dir.mixer({"s": {"files": ["tone.wav"], "loop": True,
                                   "spatial": {"rolloff": "none", "doppler": 0.0}}},
                            extra={"parameters": {"width": {}},
                                   "mappings": [{"parameter": "width", "sound": "s", "property": "spread",
                                                 "points": [[0, 0], [1, 1]]}]})
    mixer.apply(m.Play(sound="s", id=1, position=(2.0, 0.0, 0.0)))            # hard right
    unit = 0.5 / math.sqrt(2)
    levels = {}
    for width in (0.0, 0.5, 1.0):
        mixer.apply(m.SetParameter(name="width", value=width))
        out = render_blocks(mixer, 30)[10 * BLOCK:]
        levels[width] = np.sqrt(np.mean(np.square(out, dtype=np.float64), axis=0)) / unit
    np.testing.assert_allclose(levels[0.0], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(levels[0.5], [math.sqrt(0.25), math.sqrt(0.75)], atol=1e-6)   # sqrt((1-s) g^2 + s/2)
    np.testing.assert_allclose(levels[1.0], [math.sqrt(0.5)] * 2, atol=1e-6)
    assert all(np.sum(v ** 2) == pytest.approx(1.0, abs=1e-6) for v in levels.values())         # energy kept
