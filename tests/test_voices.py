"""Voice limits, stealing policies and virtual voices."""

import numpy as np
import pytest

from conftest import BLOCK, render_blocks
from gamemix.errors import CommandError

DC = 0.5


def dc_scene(scene_dir, sound_extra=None, extra=None, **output):
    scene_dir.audio("dc.wav", np.full(48000, DC, np.float32))
    sound = {"files": ["dc.wav"], "loop": True, "pan": -1.0, **(sound_extra or {})}
    return scene_dir.mixer({"s": sound}, extra=extra, **output)


def sounding(mixer, instance):
    """True if the instance still has a voice being rendered or tracked."""
    return instance in mixer.instances


def test_limit_two_steal_oldest_stops_the_first(scene_dir):
    mixer = dc_scene(scene_dir, {"max_instances": 2, "steal": "oldest"})
    for i in (1, 2):
        mixer.play("s", i)
        render_blocks(mixer, 1)
    mixer.play("s", 3)
    out = render_blocks(mixer, 3)[:, 0]
    assert not sounding(mixer, 1) and sounding(mixer, 2) and sounding(mixer, 3)
    assert out[-1] == pytest.approx(2 * DC, abs=1e-6)          # two voices left
    assert np.abs(np.diff(out)).max() <= DC / BLOCK * 1.001     # the stolen one faded, no click
    assert mixer.stats.steals == 1


def test_limit_two_refuse_the_third_never_sounds(scene_dir):
    mixer = dc_scene(scene_dir, {"max_instances": 2, "steal": "refuse"})
    mixer.play("s", 1)
    mixer.play("s", 2)
    with pytest.raises(CommandError) as info:
        mixer.play("s", 3)
    assert info.value.code == "voice_limit"
    out = render_blocks(mixer, 4)[:, 0]
    assert np.all(out[BLOCK:] == pytest.approx(2 * DC))
    assert 3 not in mixer.instances and mixer.stats.refused == 1


def test_category_limit_steal_lowest_priority(scene_dir):
    scene_dir.audio("dc.wav", np.full(48000, DC, np.float32))
    mixer = scene_dir.mixer(
        {"low": {"files": ["dc.wav"], "loop": True, "category": "fx", "priority": 10},
         "high": {"files": ["dc.wav"], "loop": True, "category": "fx", "priority": 200}},
        extra={"categories": {"fx": {"max_instances": 2, "steal": "lowest_priority"}}})
    mixer.play("high", 1)
    mixer.play("low", 2)
    render_blocks(mixer, 1)
    mixer.play("high", 3)         # steals the low-priority one
    render_blocks(mixer, 2)
    assert set(mixer.instances) == {1, 3}
    with pytest.raises(CommandError):
        mixer.play("low", 4)      # the newcomer is the least important: it is the one refused
    assert set(mixer.instances) == {1, 3}


def test_steal_quietest_and_furthest(scene_dir):
    mixer = dc_scene(scene_dir, {"max_instances": 2, "steal": "quietest", "spatial": {"max_distance": 100}})
    mixer.play("s", 1, position=(0, 0, -2))
    mixer.play("s", 2, position=(0, 0, -8))
    render_blocks(mixer, 1)
    mixer.play("s", 3, position=(0, 0, -1))
    render_blocks(mixer, 2)
    assert set(mixer.instances) == {1, 3}
    scene_dir.root.joinpath("scene.yaml").unlink()
    mixer = dc_scene(scene_dir, {"max_instances": 2, "steal": "furthest", "spatial": {"max_distance": 100}})
    mixer.play("s", 1, position=(0, 0, -30))
    mixer.play("s", 2, position=(0, 0, -3))
    render_blocks(mixer, 1)
    with pytest.raises(CommandError):
        mixer.play("s", 3, position=(0, 0, -50))   # further than both: refused
    mixer.play("s", 4, position=(0, 0, -10))       # steals the furthest
    render_blocks(mixer, 2)
    assert set(mixer.instances) == {2, 4}


def test_budget_keeps_the_most_important_real_and_the_rest_virtual(scene_dir):
    scene_dir.audio("dc.wav", np.full(48000, DC, np.float32))
    mixer = scene_dir.mixer({f"p{p}": {"files": ["dc.wav"], "loop": True, "priority": p, "pan": -1}
                             for p in (10, 20, 30, 40)}, max_voices=2)
    for i, p in enumerate((10, 20, 30, 40)):
        mixer.play(f"p{p}", i)
    render_blocks(mixer, 3)
    assert [mixer.state_of(i) for i in range(4)] == ["virtual", "virtual", "real", "real"]
    assert mixer.active_voices() == 2 and mixer.virtual_voices() == 2
    mixer.stop(3)               # the most important ends: the next in line takes its voice
    render_blocks(mixer, 4)
    assert [mixer.state_of(i) for i in range(3)] == ["virtual", "real", "real"]
    assert mixer.stats.peak_real <= 3   # the budget plus the one fading out


def test_virtual_voice_resumes_where_it_would_have_been(scene_dir):
    """A ramp clip makes the read position audible: sample value = position / length."""
    n = 48000
    scene_dir.audio("ramp.wav", (np.arange(n) / n).astype(np.float32))
    mixer = scene_dir.mixer({"r": {"files": ["ramp.wav"], "loop": True, "pitch_semitones": 3.0,
                                   "spatial": {"min_distance": 1, "max_distance": 10, "rolloff": "linear"}}},
                            virtual_fade_ms=10.0)
    ratio = 2 ** (3 / 12)
    mixer.play("r", 1, position=(-1.0, 0, 0))      # hard left, distance gain 1
    render_blocks(mixer, 10)
    mixer.set_emitter(1, (-20.0, 0, 0))            # beyond max distance: gain 0 -> virtual
    render_blocks(mixer, 5)
    assert mixer.state_of(1) == "virtual" and mixer.active_voices() == 0
    render_blocks(mixer, 40)
    mixer.set_emitter(1, (-1.0, 0, 0))
    out = render_blocks(mixer, 10)[:, 0]
    assert mixer.state_of(1) == "real" and mixer.stats.devirtualizations == 1
    # after the fade-in (2 blocks here) the value is the ramp at the position it would have reached
    for k in (4 * BLOCK, 9 * BLOCK):
        frames_played = ((10 + 5 + 40) * BLOCK + k) * ratio
        expected = (round(frames_played * 65536) / 65536 % n) / n
        assert out[k] == pytest.approx(expected, abs=2e-4)
    assert abs(out[0]) < 0.02      # it came back with a fade-in, not a jump


def test_inaudible_sounds_cost_no_voice(scene_dir):
    mixer = dc_scene(scene_dir, {"spatial": {"max_distance": 10, "rolloff": "linear"}}, max_voices=4)
    for i in range(50):
        mixer.play("s", i, position=(0, 0, -100.0 - i))
    render_blocks(mixer, 2)
    assert mixer.active_voices() == 0 and mixer.virtual_voices() == 50
    mixer.set_emitter(7, (0, 0, -2.0))
    render_blocks(mixer, 2)
    assert mixer.active_voices() == 1 and mixer.state_of(7) == "real"


def test_one_shot_that_ends_while_virtual_is_reclaimed(scene_dir):
    scene_dir.audio("short.wav", np.full(2000, DC, np.float32))
    mixer = scene_dir.mixer({"s": {"files": ["short.wav"], "spatial": {"max_distance": 10, "rolloff": "linear"}}})
    mixer.play("s", 1, position=(0, 0, -50))
    render_blocks(mixer, 10)
    assert 1 not in mixer.instances and mixer.stats.ended == 1


def test_global_limit_applies_the_output_policy(scene_dir):
    mixer = dc_scene(scene_dir, max_instances=3, steal="oldest")
    for i in range(5):
        mixer.play("s", i)
        render_blocks(mixer, 1)
    render_blocks(mixer, 2)
    assert set(mixer.instances) == {2, 3, 4} and mixer.stats.steals == 2


def test_batched_emitters_move_known_ids_and_refuse_nan_whole(scene_dir):
    from gamemix.core.arrays import VF_X
    mixer = dc_scene(scene_dir, {"spatial": {"max_distance": 100}},
                     extra={"events": {"pair": [{"action": "play", "sound": "s"}, {"action": "play", "sound": "s"}]}})
    mixer.play("s", 1, position=(0, 0, -1))
    mixer.post_event("pair", 2, position=(0, 0, -1))       # one id, two voices
    unknown = mixer.set_emitters([1, 2, 99], [(1, 0, 0), (2, 0, 0), (3, 0, 0)])
    assert unknown == 1
    vf = mixer.arrays.vf
    assert vf[mixer.rows_of(1), VF_X].tolist() == [1.0]
    assert vf[mixer.rows_of(2), VF_X].tolist() == [2.0, 2.0]
    with pytest.raises(CommandError) as info:
        mixer.set_emitters([1, 2], [(5, 0, 0), (float("nan"), 0, 0)])
    assert info.value.code == "bad_value"
    assert vf[mixer.rows_of(1), VF_X].tolist() == [1.0]     # nothing moved


def test_kth_largest_matches_numpy_partition():
    """The budget cut's selection gives np.partition's value (the oracle) for every k, with ties,
    infinities (rows that may not be real score -inf) and sizes from 1 to 2,048."""
    from gamemix.control.voices import kth_largest
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 7, 64, 257, 2048):
        for trial in range(6):
            values = rng.normal(size=n)
            if trial % 2:
                values = np.round(values * 2) / 2                      # many ties
            if trial >= 3:
                values[rng.random(n) < 0.3] = -np.inf
            work = np.empty(n)
            for k in sorted({0, n // 3, n // 2, n - 1}):
                expected = -np.partition(-values, k)[k]
                assert kth_largest(values, k, work) == expected, (n, trial, k)
