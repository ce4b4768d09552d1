"""Events, game parameters and their curves, priority ducking, HDR."""

import math

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks
from gamemix.errors import CommandError
from gamemix.control.parameters import evaluate_curve

DC = 0.5
DT = BLOCK / SR


@pytest.fixture
def dc(scene_dir):
    scene_dir.audio("dc.wav", np.full(48000, DC, np.float32))
    scene_dir.audio("short.wav", np.full(1000, DC, np.float32))
    return scene_dir


def db(x):
    return 20 * math.log10(x)


# ------------------------------------------------------------------ events
def test_event_plays_with_delay_and_stops_a_category(dc):
    mixer = dc.mixer(
        {"music": {"files": ["dc.wav"], "loop": True, "bus": "music", "pan": -1},
         "shot": {"files": ["short.wav"], "bus": "sfx", "pan": 1}},
        buses={"master": {}, "music": {}, "sfx": {}},
        extra={"events": {"start": [{"action": "play", "sound": "music"},
                                    {"action": "play", "sound": "shot", "delay": 10 * DT}],
                          "silence": [{"action": "stop", "category": "music", "fade": 0}]}})
    reply = mixer.post_event("start", 5)
    assert reply == {"id": 5, "refused": []}
    out = render_blocks(mixer, 12)
    assert np.all(out[:, 0] == pytest.approx(DC))
    onset = np.flatnonzero(out[:, 1])[0]
    assert onset == 10 * BLOCK                     # the delayed play lands on its block
    mixer.post_event("silence")
    out = render_blocks(mixer, 3)
    assert out[-1, 0] == 0.0


def test_unknown_event_is_refused_and_the_mixer_goes_on(dc):
    mixer = dc.mixer({"s": {"files": ["dc.wav"], "loop": True}}, extra={"events": {"go": [{"action": "play", "sound": "s"}]}})
    mixer.post_event("go", 1)
    with pytest.raises(CommandError) as info:
        mixer.post_event("goo")
    assert info.value.code == "unknown_event" and "'goo'" in info.value.message and "go" in info.value.message
    assert set(mixer.instances) == {1}
    assert np.abs(render_blocks(mixer, 2)).max() > 0


def test_stopping_an_event_instance_cancels_its_delayed_actions(dc):
    mixer = dc.mixer({"s": {"files": ["dc.wav"], "loop": True}},
                     extra={"events": {"burst": [{"action": "play", "sound": "s"},
                                                 {"action": "play", "sound": "s", "delay": 0.5}]}})
    mixer.post_event("burst", 9)
    render_blocks(mixer, 1)
    mixer.stop(9)
    render_blocks(mixer, int(1.0 / DT))
    assert 9 not in mixer.instances and mixer.stats.plays == 1


def test_weighted_random_container_follows_its_weights(dc):
    mixer = dc.mixer({"s": {"files": ["dc.wav", "short.wav"], "weights": [3, 1]}})
    picks = [mixer.instances.choose_variant("s", mixer.scene.sounds["s"]) for _ in range(4000)]
    assert np.mean(picks) == pytest.approx(0.25, abs=0.03)


def test_random_no_repeat_never_repeats(dc):
    mixer = dc.mixer({"s": {"files": ["dc.wav", "short.wav", "dc.wav"], "mode": "random_no_repeat"}})
    picks = [mixer.instances.choose_variant("s", mixer.scene.sounds["s"]) for _ in range(500)]
    assert all(a != b for a, b in zip(picks, picks[1:])) and set(picks) == {0, 1, 2}


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize("shape, x, expected", [
    ("linear", 0.5, -20.0), ("scurve", 0.25, -40 + 40 * 0.15625), ("step", 0.99, -40.0),
    ("exp", 0.5, -40 + 40 * (10 ** 0.5 - 1) / 9), ("log", 0.5, -40 + 40 * math.log10(5.5)),
    ("linear", -3.0, -40.0), ("linear", 7.0, 0.0),
])
def test_curve_shapes(shape, x, expected):
    assert evaluate_curve(shape, [(0.0, -40.0), (1.0, 0.0)], x) == pytest.approx(expected)


def test_parameter_drives_sound_volume_with_its_seek_speed(dc):
    mixer = dc.mixer({"rain": {"files": ["dc.wav"], "loop": True, "pan": -1}},
                     extra={"parameters": {"rain": {"min": 0, "max": 1, "default": 0, "seek_speed": 0.5}},
                            "mappings": [{"parameter": "rain", "sound": "rain", "property": "volume_db",
                                          "points": [[0, -40], [1, 0]]}]})
    mixer.play("rain", 1)
    render_blocks(mixer, 2)
    mixer.set_parameter("rain", 0.5)       # glides at 0.5/s: reaches 0.5 after 1 s
    out = render_blocks(mixer, round(0.5 / DT))
    assert db(out[-1, 0] / DC) == pytest.approx(-30.0, abs=0.2)
    out = render_blocks(mixer, round(0.6 / DT))
    assert db(out[-1, 0] / DC) == pytest.approx(-20.0, abs=1e-3)


def test_parameter_drives_bus_volume_once_the_mix_has_settled(dc):
    # the mixer rewrites bus targets only when their inputs move: a parameter change after
    # many still blocks must still reach the bus
    mixer = dc.mixer({"s": {"files": ["dc.wav"], "loop": True, "bus": "music", "pan": -1}},
                     buses={"master": {}, "music": {}},
                     extra={"parameters": {"p": {"min": 0, "max": 1, "default": 0}},
                            "mappings": [{"parameter": "p", "bus": "music", "property": "volume_db",
                                          "points": [[0, 0], [1, -12]]}]})
    mixer.play("s", 1)
    assert db(render_blocks(mixer, 20)[-1, 0] / DC) == pytest.approx(0.0, abs=1e-4)
    mixer.set_parameter("p", 0.5)
    assert db(render_blocks(mixer, 2)[-1, 0] / DC) == pytest.approx(-6.0, abs=1e-4)
    mixer.set_bus_mute("music", True)
    assert np.all(render_blocks(mixer, 10)[-1] == 0.0)
    mixer.set_bus_mute("music", False)
    assert db(render_blocks(mixer, 10)[-1, 0] / DC) == pytest.approx(-6.0, abs=1e-4)
    mixer.set_bus_volume("music", -6.0)
    assert db(render_blocks(mixer, 2)[-1, 0] / DC) == pytest.approx(-12.0, abs=1e-4)


def test_parameter_errors_change_nothing(dc):
    mixer = dc.mixer({"s": {"files": ["dc.wav"]}}, extra={"parameters": {"p": {"min": 0, "max": 10, "default": 3}}})
    for name, value, code in [("p", 11, "out_of_range"), ("q", 1, "unknown_parameter"), ("p", float("nan"), "bad_value")]:
        with pytest.raises(CommandError) as info:
            mixer.set_parameter(name, value)
        assert info.value.code == code
    assert mixer.parameters.targets["p"] == 3 and mixer.parameters.values["p"] == 3


def test_parameter_drives_snapshot_intensity(dc):
    mixer = dc.mixer({"s": {"files": ["dc.wav"], "loop": True, "bus": "music", "pan": -1}},
                     buses={"master": {}, "music": {}},
                     extra={"parameters": {"danger": {"min": 0, "max": 1}},
                            "snapshots": {"combat": {"fade_in": 0, "buses": {"music": {"volume_db": -20}}}},
                            "mappings": [{"parameter": "danger", "snapshot": "combat", "property": "intensity",
                                          "points": [[0, 0], [1, 100]]}]})
    mixer.play("s", 1)
    mixer.snapshot_start("combat")
    mixer.set_parameter("danger", 0.3)
    out = render_blocks(mixer, 3)
    assert db(out[-1, 0] / DC) == pytest.approx(-6.0, abs=1e-4)


# ------------------------------------------------------------------ ducking
@pytest.mark.parametrize("combine, expected", [("deepest", -12.0), ("sum", -18.0)])
def test_priority_duck_attack_hold_release(dc, combine, expected):
    attack, hold, release = 40 * DT, 20 * DT, 80 * DT
    mixer = dc.mixer(
        {"music": {"files": ["dc.wav"], "loop": True, "category": "music", "pan": -1},
         "line": {"files": ["dc.wav"], "loop": True, "category": "dialogue", "pan": 1},
         "ui": {"files": ["dc.wav"], "loop": True, "category": "ui", "pan": 1}},
        extra={"categories": {"music": {}, "dialogue": {"priority": 250}, "ui": {}},
               "ducking_combine": combine,
               "ducking": [{"when": ["dialogue"], "duck": ["music"], "depth_db": -12,
                            "attack": attack, "hold": hold, "release": release},
                           {"when": ["ui"], "duck": ["music"], "depth_db": -6, "attack": 0, "hold": 0, "release": 0}]})
    mixer.play("music", 1)
    render_blocks(mixer, 2)
    mixer.play("line", 2)
    mixer.play("ui", 3)
    out = render_blocks(mixer, 40)[:, 0]
    assert db(out[-1] / DC) == pytest.approx(expected, abs=12 / 40 + 1e-6)   # within one block's move
    half = db(out[19 * BLOCK + BLOCK - 1] / DC)
    assert -12 * 0.5 - 1 < half if combine == "deepest" else True
    mixer.stop(2)
    mixer.stop(3)
    out = render_blocks(mixer, 20)[:, 0]                 # hold: stays down ...
    assert db(out[-1] / DC) == pytest.approx(-12.0, abs=12 / 80 + 1e-6)
    out = render_blocks(mixer, 82)[:, 0]                 # ... then releases fully
    assert db(out[-1] / DC) == pytest.approx(0.0, abs=1e-6)
    assert np.abs(np.diff(out)).max() < DC / BLOCK


# ------------------------------------------------------------------ HDR
def test_hdr_window_attenuates_relative_to_the_loudest_and_releases(dc):
    mixer = dc.mixer(
        {"gun": {"files": ["dc.wav"], "loop": True, "loudness_db": 130, "pan": 1},
         "talk": {"files": ["dc.wav"], "loop": True, "loudness_db": 60, "pan": -1},
         "bird": {"files": ["dc.wav"], "loop": True, "loudness_db": 30, "pan": 1}},
        extra={"hdr": {"window_db": 80, "threshold_db": 70, "release_db_per_s": 100}},
        audibility_threshold_db=-100)
    mixer.play("talk", 1)
    mixer.play("bird", 2)
    out = render_blocks(mixer, 3)
    assert db(out[-1, 0] / DC) == pytest.approx(0.0, abs=1e-4)     # below threshold: untouched
    assert db(out[-1, 1] / DC) == pytest.approx(0.0, abs=1e-4)
    mixer.play("gun", 3)
    out = render_blocks(mixer, 6)
    # top = 130: everything down 130 - 70 = 60 dB; the bird (30 < 130 - 80) drops out of the window
    assert db(out[-1, 1] / DC) == pytest.approx(-60.0, abs=1e-3)    # the gun alone on the right
    assert mixer.state_of(2) == "virtual" and mixer.state_of(1) == "real"
    assert db(out[-1, 0] / DC) == pytest.approx(-60.0, abs=1e-3)
    mixer.stop(3)
    out = render_blocks(mixer, 30)                       # releases 100 dB/s: 16 dB back after 30 blocks
    assert db(out[-1, 0] / DC) == pytest.approx(-60.0 + 100 * 30 * DT, abs=0.6)
    assert mixer.state_of(2) == "virtual"                # 30 dB is still below 114 - 80
    render_blocks(mixer, round(0.3 / DT))
    assert mixer.state_of(2) == "real"


@pytest.mark.parametrize("gun_rating", [80.0, 95.0, 120.0, 140.0])
def test_hdr_follows_its_documented_formula(dc, gun_rating):
    """docs/scene-format.md: attenuation = max(threshold, loudest) - threshold on every HDR voice
    (the loud one included), virtual below top - window; here threshold 90, window 50."""
    mixer = dc.mixer(
        {"gun": {"files": ["dc.wav"], "loop": True, "loudness_db": gun_rating, "volume_db": -6, "pan": 1},
         "talk": {"files": ["dc.wav"], "loop": True, "loudness_db": 60, "volume_db": -3, "pan": -1}},
        extra={"hdr": {"window_db": 50, "threshold_db": 90, "release_db_per_s": 20}},
        audibility_threshold_db=-120)
    mixer.play("talk", 1)
    mixer.play("gun", 2)
    out = render_blocks(mixer, 8)[-1]
    top = max(90.0, gun_rating - 6.0)                  # the gun's loudness: its rating plus its -6 dB
    assert db(out[1] / DC) == pytest.approx(-6.0 - (top - 90.0), abs=1e-3)
    talk_loudness = 60.0 - 3.0
    if talk_loudness < top - 50.0:
        assert mixer.state_of(1) == "virtual"
    else:
        assert mixer.state_of(1) == "real" and db(out[0] / DC) == pytest.approx(-3.0 - (top - 90.0), abs=1e-3)


def test_a_scene_reload_keeps_ducks_and_queued_event_actions(dc):
    from gamemix.control.mixer import Mixer
    from gamemix.scene.load import load_scene
    sounds = {"music": {"files": ["dc.wav"], "loop": True, "category": "music", "pan": -1},
              "line": {"files": ["dc.wav"], "loop": True, "category": "dialogue", "pan": 1},
              "blip": {"files": ["short.wav"], "category": "ui", "pan": 1}}

    def extra(release):
        return {"categories": {"music": {}, "dialogue": {"priority": 250}, "ui": {}},
                "ducking": [{"when": ["dialogue"], "duck": ["music"], "depth_db": -12,
                             "attack": 40 * DT, "hold": 0, "release": release}],
                "events": {"later": [{"action": "play", "sound": "blip", "delay": 20 * DT}]}}
    mixer = dc.mixer(sounds, extra=extra(80 * DT))
    mixer.play("music", 1)
    mixer.play("line", 2)
    render_blocks(mixer, 45)                                  # the duck has reached its depth
    posted = mixer.block_index
    mixer.post_event("later", 7)
    render_blocks(mixer, 5)
    edited = Mixer(load_scene(dc.scene(sounds, extra=extra(160 * DT))))   # an edit: a longer release
    edited.adopt(mixer)
    out = render_blocks(edited, 1)[:, 0]
    assert db(out[0] / DC) == pytest.approx(-12.0, abs=1e-4) and db(out[-1] / DC) == pytest.approx(-12.0, abs=1e-4)
    while edited.block_index < posted + 20:                   # the play is due 20 blocks after the post
        assert not edited.rows_of(7)
        render_blocks(edited, 1)
    render_blocks(edited, 1)
    assert len(edited.rows_of(7)) == 1


def test_a_scene_reload_keeps_the_hdr_window_where_it_is(dc):
    from gamemix.control.mixer import Mixer
    from gamemix.scene.load import load_scene
    sounds = {"gun": {"files": ["dc.wav"], "loop": True, "loudness_db": 130, "pan": 1},
              "talk": {"files": ["dc.wav"], "loop": True, "loudness_db": 60, "pan": -1}}
    extra = {"hdr": {"window_db": 80, "threshold_db": 70, "release_db_per_s": 100}}
    mixer = dc.mixer(sounds, extra=extra, audibility_threshold_db=-100)
    mixer.play("talk", 1)
    mixer.play("gun", 3)
    render_blocks(mixer, 6)
    mixer.stop(3)
    render_blocks(mixer, 10)                             # the window's top falls from 130 at 100 dB/s
    edited = Mixer(load_scene(dc.scene(sounds, extra=extra, audibility_threshold_db=-100)))
    edited.adopt(mixer)
    out = render_blocks(edited, 1)
    assert db(out[-1, 0] / DC) == pytest.approx(-60.0 + 100 * 11 * DT, abs=0.6)   # still releasing
