"""Snapshots: fades, override vs blend, priority order, intensity; bus filters and pitch."""

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks
from gamemix.errors import CommandError
from gamemix.core.arrays import BF_GAIN

DC = 0.5
FADE_BLOCKS = 100
FADE = FADE_BLOCKS * BLOCK / SR   # a fade of exactly 100 blocks


def make(scene_dir, snapshots, music_db=0.0):
    scene_dir.audio("dc.wav", np.full(4800, DC, np.float32))
    return scene_dir.mixer({"pad": {"files": ["dc.wav"], "loop": True, "pan": -1.0, "bus": "music"}},
                           buses={"master": {}, "music": {"volume_db": music_db}},
                           extra={"snapshots": snapshots})


def music_db(mixer):
    return 20 * np.log10(mixer.arrays.bf[mixer.bus_index["music"], BF_GAIN])


def test_override_is_halfway_in_db_at_half_the_fade(scene_dir):
    mixer = make(scene_dir, {"combat": {"fade_in": FADE, "fade_out": FADE, "buses": {"music": {"volume_db": -20}}}})
    mixer.play("pad", 1)
    render_blocks(mixer, 2)
    mixer.snapshot_start("combat")
    out = render_blocks(mixer, FADE_BLOCKS // 2)
    assert music_db(mixer) == pytest.approx(-10.0, abs=1e-6)
    # the output follows: the block after half the fade starts exactly at -10 dB
    nxt = render_blocks(mixer, 1)
    assert 20 * np.log10(nxt[0, 0] / DC) == pytest.approx(-10.0, abs=1e-4)
    render_blocks(mixer, FADE_BLOCKS)
    assert music_db(mixer) == pytest.approx(-20.0, abs=1e-6)
    mixer.snapshot_stop("combat")
    render_blocks(mixer, FADE_BLOCKS // 2)
    assert music_db(mixer) == pytest.approx(-10.0, abs=1e-6)
    render_blocks(mixer, FADE_BLOCKS // 2 + 1)
    assert music_db(mixer) == pytest.approx(0.0, abs=1e-6) and not mixer.snapshots.active
    assert np.abs(np.diff(out[:, 0])).max() < DC / BLOCK   # a glide, no steps


def test_scurve_is_also_halfway_at_half_time_but_slower_at_first(scene_dir):
    mixer = make(scene_dir, {"s": {"fade_in": FADE, "curve": "scurve", "buses": {"music": {"volume_db": -20}}}})
    mixer.snapshot_start("s")
    render_blocks(mixer, FADE_BLOCKS // 4)
    assert music_db(mixer) == pytest.approx(-20 * (3 * 0.25 ** 2 - 2 * 0.25 ** 3), abs=1e-6)
    render_blocks(mixer, FADE_BLOCKS // 4)
    assert music_db(mixer) == pytest.approx(-10.0, abs=1e-6)


def test_two_blending_snapshots_add_in_db(scene_dir):
    mixer = make(scene_dir, {"a": {"mode": "blend", "fade_in": 0, "buses": {"music": {"volume_db": -6}}},
                             "b": {"mode": "blend", "fade_in": 0, "buses": {"music": {"volume_db": -4.5}}}},
                 music_db=-3.0)
    mixer.snapshot_start("a")
    mixer.snapshot_start("b")
    render_blocks(mixer, 2)
    assert music_db(mixer) == pytest.approx(-13.5, abs=1e-6)


@pytest.mark.parametrize("blend_priority, expected", [(0, -20.0), (20, -26.0)])
def test_priority_orders_override_and_blend(scene_dir, blend_priority, expected):
    mixer = make(scene_dir, {"pause": {"priority": 10, "fade_in": 0, "buses": {"music": {"volume_db": -20}}},
                             "tense": {"mode": "blend", "priority": blend_priority, "fade_in": 0,
                                       "buses": {"music": {"volume_db": -6}}}})
    mixer.snapshot_start("tense")
    mixer.snapshot_start("pause")
    render_blocks(mixer, 2)
    assert music_db(mixer) == pytest.approx(expected, abs=1e-6)


def test_intensity_scales_the_override(scene_dir):
    mixer = make(scene_dir, {"s": {"fade_in": 0, "buses": {"music": {"volume_db": -20}}}})
    mixer.snapshot_start("s", intensity=25)
    render_blocks(mixer, 2)
    assert music_db(mixer) == pytest.approx(-5.0, abs=1e-6)
    mixer.snapshots.set_intensity("s", 50)
    render_blocks(mixer, 1)
    assert music_db(mixer) == pytest.approx(-10.0, abs=1e-6)


def test_snapshot_pitch_bends_the_bus(scene_dir):
    from test_playback import peak_frequency
    from conftest import sine
    scene_dir.audio("tone.wav", sine(1000.0, 1.0))
    mixer = scene_dir.mixer({"t": {"files": ["tone.wav"], "loop": True, "bus": "music", "pan": -1}},
                            buses={"master": {}, "music": {}},
                            extra={"snapshots": {"slowmo": {"fade_in": 0, "buses": {"music": {"pitch_semitones": -12}}}}})
    mixer.play("t", 1)
    mixer.snapshot_start("slowmo")
    out = render_blocks(mixer, 100)[BLOCK * 2:, 0]
    assert peak_frequency(out) == pytest.approx(500.0, abs=0.5)


def test_unknown_snapshot_is_refused_and_changes_nothing(scene_dir):
    mixer = make(scene_dir, {"s": {"buses": {"music": {"volume_db": -20}}}})
    with pytest.raises(CommandError) as info:
        mixer.snapshot_start("nope")
    assert info.value.code == "unknown_snapshot" and "nope" in info.value.message
    with pytest.raises(CommandError):
        mixer.snapshots.set_intensity("s", 150)
    render_blocks(mixer, 2)
    assert not mixer.snapshots.active and music_db(mixer) == pytest.approx(0.0)
