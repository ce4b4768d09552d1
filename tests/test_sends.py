"""Effect sends and reverb returns: levels, decay time, snapshots and parameters moving sends."""

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks
from gamemix.errors import LocatedError
from gamemix.scene.load import load_scene


def reverb_scene(scene_dir, send_db=-6.0, decay=1.0, extra=None):
    click = np.zeros(SR, np.float32)
    click[0] = 1.0
    scene_dir.audio("click.wav", click)
    return scene_dir.mixer(
        {"click": {"files": ["click.wav"], "bus": "sfx"}},
        buses={"master": {}, "sfx": {"sends": {"room": send_db}},
               "room": {"reverb": {"decay_s": decay, "damping": 0.0, "predelay_ms": 0}}},
        extra=extra)


def schroeder_t60(h: np.ndarray) -> float:
    """T60 from the T30 span (-5 to -35 dB) of the backward-integrated energy decay (ISO 3382)."""
    edc = np.cumsum(h[::-1] ** 2)[::-1]
    edc = 10 * np.log10(edc / edc[0] + 1e-30)
    return 2.0 * (np.argmax(edc < -35) - np.argmax(edc < -5)) / SR


def stems(mixer, blocks):
    """Render and return (master, room bus) as float64 arrays of channel 0."""
    room = mixer.bus_index["room"]
    out, rooms = [], []
    block = np.zeros((BLOCK, 2), np.float32)
    for _ in range(blocks):
        mixer.render(block)
        out.append(block[:, 0].copy())
        rooms.append(mixer.arrays.bus_buf[room, 0, :BLOCK].astype(np.float64))
    return np.concatenate(out).astype(np.float64), np.concatenate(rooms)


def test_reverb_return_decays_in_its_t60_and_sends_scale_it(scene_dir):
    mixer = reverb_scene(scene_dir, send_db=-6.0, decay=1.0)
    mixer.play("click", 1)
    master, room = stems(mixer, int(2.5 * SR / BLOCK))
    assert schroeder_t60(room) == pytest.approx(1.0, rel=0.05)
    dry = master - room
    assert dry[0] == pytest.approx(1 / np.sqrt(2), abs=1e-6)     # the dry click reaches master unchanged
    assert np.abs(dry[10:]).max() < 1e-6
    loud = reverb_scene(scene_dir, send_db=0.0, decay=1.0)
    loud.play("click", 1)
    _, room0 = stems(loud, int(2.5 * SR / BLOCK))
    assert 10 * np.log10((room0 ** 2).sum() / (room ** 2).sum()) == pytest.approx(6.0, abs=0.05)


def test_a_snapshot_and_a_parameter_move_the_send(scene_dir):
    extra = {"snapshots": {"cave": {"fade_in": 0, "buses": {"sfx": {"sends": {"room": 0.0}}}}},
             "parameters": {"wet": {"min": 0, "max": 1}},
             "mappings": [{"parameter": "wet", "bus": "sfx", "property": "send_db", "send": "room",
                           "points": [[0, 0], [1, -20]]}]}
    def energy(setup):
        m = reverb_scene(scene_dir, send_db=-12.0, extra=extra)
        setup(m)
        render_blocks(m, 2)            # let the send's ramp finish before the click
        m.play("click", 1)
        _, room = stems(m, 200)
        return (room ** 2).sum()
    base = energy(lambda m: None)
    cave = energy(lambda m: m.snapshot_start("cave"))
    dry = energy(lambda m: m.set_parameter("wet", 1.0))
    assert 10 * np.log10(cave / base) == pytest.approx(12.0, abs=0.05)     # override to 0 dB
    assert 10 * np.log10(dry / base) == pytest.approx(-20.0, abs=0.05)     # mapping adds -20 dB


def test_send_jump_is_ramped_across_a_block(scene_dir):
    scene_dir.audio("dc.wav", np.full(SR, 0.5, np.float32))
    mixer = scene_dir.mixer({"dc": {"files": ["dc.wav"], "loop": True, "bus": "sfx"}},
                            buses={"master": {}, "sfx": {"sends": {"aux": -144}}, "aux": {}},
                            extra={"snapshots": {"wet": {"fade_in": 0, "buses": {"sfx": {"sends": {"aux": 0}}}}}})
    mixer.play("dc", 1)
    render_blocks(mixer, 2)
    mixer.snapshot_start("wet")                     # the send jumps from silence to 0 dB
    out = render_blocks(mixer, 3)[:, 0].astype(np.float64)
    dc = 0.5 / np.sqrt(2)                           # centre-panned DC
    assert out[-1] == pytest.approx(2 * dc, rel=1e-5)
    assert np.abs(np.diff(out)).max() <= dc / BLOCK * 1.01


@pytest.mark.parametrize("buses, message", [
    ({"master": {}, "a": {"sends": {"nowhere": -6}}}, "unknown bus 'nowhere'"),
    ({"master": {}, "a": {"sends": {"master": -6}}}, "already sums into 'master'"),
    ({"master": {}, "a": {"sends": {"b": -6}}, "b": {"sends": {"a": -6}}}, "form a circle"),
])
def test_bad_sends_are_located_errors(scene_dir, buses, message):
    scene_dir.audio("x.wav", np.zeros(100, np.float32))
    path = scene_dir.scene({"x": {"files": ["x.wav"]}}, buses)
    with pytest.raises(LocatedError) as info:
        load_scene(path)
    assert message in str(info.value) and "scene.yaml:" in str(info.value)
