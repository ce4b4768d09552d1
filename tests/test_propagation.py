"""Propagation: cones, air absorption, occlusion and obstruction, aux sends and zones, heard in the output.

Oracles: OpenAL 1.1's cone law (linear between the inner and outer angles), OpenAL EFX's air
absorption (0.99426 per metre at 5 kHz), the one-pole low-pass's response from scipy.signal.freqz,
and the zone weight law (1 inside, linear to 0 across the fade)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import freqz

from conftest import sine
from gamemix.core.arrays import BF_SUMSQ
from gamemix.errors import CommandError
from gamemix.protocol import messages as protocol

SR, BLOCK = 48000, 256


def level_db(mixer, bus: str, blocks: int = 40, settle: int = 20) -> float:
    """The bus's post-fader level (dB of the mean square over its channels) after `settle` blocks."""
    out = np.zeros((BLOCK, mixer.channels), np.float32)
    b = mixer.bus_index[bus]
    total = 0.0
    for k in range(settle + blocks):
        mixer.render(out)
        if k >= settle:
            total += mixer.arrays.bf[b, BF_SUMSQ]
    return 10 * math.log10(total / (blocks * BLOCK * mixer.channels) + 1e-30)


def tone_scene(scene_dir, spatial: dict, freq: float = 5000.0, extra: dict | None = None, buses=None):
    scene_dir.audio("tone.wav", sine(freq, 1.0, amp=0.5))
    sounds = {"t": {"files": ["tone.wav"], "loop": True, "bus": "direct",
                    "spatial": {"rolloff": "none", **spatial}}}
    return scene_dir.mixer(sounds, buses or {"master": {}, "direct": {}}, extra=extra)


def one_pole_db(cutoff_hz: float, freq: float) -> float:
    """The voices' one-pole low-pass (a = 1 - exp(-2 pi fc / fs)) at `freq`, from scipy."""
    a = 1.0 - math.exp(-2.0 * math.pi * cutoff_hz / SR)
    _, h = freqz([a], [1.0, -(1.0 - a)], worN=[freq], fs=SR)
    return 20 * math.log10(abs(h[0]))


# ---------------------------------------------------------------------------------------------- cone
def test_the_cone_gives_the_outer_gain_outside_and_openal_s_law_between(scene_dir):
    cone = {"inner_angle": 60.0, "outer_angle": 180.0, "outer_volume_db": -12.0}

    def heard(facing) -> float:
        m = tone_scene(scene_dir, {"cone": cone}, freq=500.0)
        m.play("t", 1, position=(0.0, 0.0, -5.0), direction=facing)       # the listener is at +z from it
        return level_db(m, "direct")
    front = heard((0.0, 0.0, 1.0))
    assert heard((0.0, 0.0, -1.0)) - front == pytest.approx(-12.0, abs=0.01)          # facing away: outer gain
    assert heard((1.0, 0.0, 0.0)) - front == pytest.approx(-12.0, abs=0.01)           # 90 deg: doubled 180
    assert heard((0.0, 0.0, 0.0)) == pytest.approx(front, abs=0.01)                   # no direction: no cone
    a = math.radians(60.0)                       # 60 deg off axis: 120 of the doubled angle, a third of the way
    expected = 1.0 + (120.0 - 60.0) / (180.0 - 60.0) * (10 ** (-12 / 20) - 1.0)
    assert heard((math.sin(a), 0.0, math.cos(a))) - front == pytest.approx(20 * math.log10(expected), abs=0.01)


# ---------------------------------------------------------------------------------------------- air, occlusion
def test_air_absorption_takes_0_05_db_a_metre_at_5_khz(scene_dir):
    def heard(air: float) -> float:
        m = tone_scene(scene_dir, {"air_absorption": air})
        m.play("t", 1, position=(0.0, 0.0, -50.0))
        return level_db(m, "direct")
    assert heard(1.0) - heard(0.0) == pytest.approx(20 * math.log10(0.99426 ** 50), abs=0.02)
    assert heard(2.0) - heard(0.0) == pytest.approx(20 * math.log10(0.99426 ** 100), abs=0.02)


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_occlusion_gives_its_gain_and_low_pass_scaled_by_the_factor(scene_dir, factor):
    def heard(freq, occ) -> float:
        m = tone_scene(scene_dir, {"occlusion": {"volume_db": -18.0, "lowpass_hz": 800.0}}, freq=freq)
        m.play("t", 1, position=(0.0, 0.0, -2.0))
        if occ:
            m.apply(protocol.Occlusion(id=1, occlusion=factor))
        return level_db(m, "direct")
    at_5k = heard(5000.0, True) - heard(5000.0, False)
    assert at_5k == pytest.approx(factor * (-18.0 + one_pole_db(800.0, 5000.0)), abs=0.05)
    low = heard(100.0, True) - heard(100.0, False)          # well below the cutoff: mostly the gain
    assert -18.0 * factor - 1.0 < low < -18.0 * factor + 0.01


def test_obstruction_muffles_the_direct_sound_only_and_occlusion_the_sends_too(scene_dir):
    buses = {"master": {}, "direct": {}, "room": {"auxiliary": True}}

    def heard(**factors) -> tuple[float, float]:
        m = tone_scene(scene_dir, {"obstruction": {"volume_db": -9.0, "lowpass_hz": 24000.0},
                                   "occlusion": {"volume_db": -18.0, "lowpass_hz": 24000.0}}, freq=500.0,
                       buses=buses)
        m.play("t", 1, position=(0.0, 0.0, -2.0))
        m.apply(protocol.AuxSends(id=1, sends={"room": -6.0}))
        if factors:
            m.apply(protocol.Occlusion(id=1, **factors))
        out = np.zeros((BLOCK, m.channels), np.float32)
        for _ in range(20):
            m.render(out)
        return level_db(m, "direct", settle=0), level_db(m, "room", settle=0)
    direct, room = heard()
    assert room - direct == pytest.approx(-6.0, abs=0.01)     # the send level (both at unit power: a centred
    #                                                           direct sound, an unpanned send)
    obstructed = heard(obstruction=1.0)
    assert obstructed[0] - direct == pytest.approx(-9.0, abs=0.01) and obstructed[1] == pytest.approx(room, abs=0.01)
    occluded = heard(occlusion=1.0)
    assert occluded[0] - direct == pytest.approx(-18.0, abs=0.01) and occluded[1] - room == pytest.approx(-18.0, abs=0.01)


def test_sends_name_auxiliary_buses_and_refuse_others_changing_nothing(scene_dir):
    m = tone_scene(scene_dir, {}, freq=500.0, buses={"master": {}, "direct": {}, "room": {"auxiliary": True}})
    m.play("t", 1, position=(0.0, 0.0, -2.0))
    with pytest.raises(CommandError) as refused:
        m.apply(protocol.AuxSends(id=1, sends={"room": -3.0, "direct": 0.0}))
    assert refused.value.code == "unknown_bus" and "'direct' is not an auxiliary bus" in refused.value.message
    assert level_db(m, "room") < -200                          # nothing was sent
    with pytest.raises(CommandError):
        m.apply(protocol.Occlusion(zone="nowhere", occlusion=1.0))


# ---------------------------------------------------------------------------------------------- zones
def zone_scene(scene_dir, applies_to="emitter", snapshot=None, snapshots=None):
    zones = {"cave": {"shape": "box", "center": [0.0, 0.0, -20.0], "size": [10.0, 10.0, 10.0], "fade": 4.0,
                      "sends": {"room": 0.0}, "applies_to": applies_to, "snapshot": snapshot}}
    extra = {"zones": zones, "snapshots": snapshots or {}}
    return tone_scene(scene_dir, {}, freq=500.0, extra=extra,
                      buses={"master": {}, "direct": {}, "room": {}})


def test_an_emitter_crossing_a_zone_s_fade_moves_its_send_monotonically_by_the_weight_law(scene_dir):
    m = zone_scene(scene_dir)
    m.play("t", 1, position=(0.0, 0.0, -35.0))
    levels = []
    for z in np.arange(-31.0, -22.9, 1.0):        # the box spans z -25..-15; its fade starts at -29
        m.set_emitter(1, (0.0, 0.0, z))
        levels.append(level_db(m, "room", blocks=4, settle=2))
    gains = np.power(10.0, np.array(levels) / 20.0)
    assert np.all(np.diff(gains) >= -1e-9) and gains[0] < 1e-6
    inside = gains[-1]
    for z, g in zip(np.arange(-31.0, -22.9, 1.0), gains):
        weight = min(max(1.0 - (-25.0 - z) / 4.0, 0.0), 1.0)
        assert g == pytest.approx(weight * inside, abs=1e-3 * inside)


def test_a_listener_zone_sends_every_voice_by_the_listener_s_weight_and_holds_its_snapshot(scene_dir):
    m = zone_scene(scene_dir, applies_to="listener", snapshot="cave_mix",
                   snapshots={"cave_mix": {"buses": {"direct": {"volume_db": -12.0}}}})
    m.play("t", 1, position=(0.0, 0.0, 5.0))                      # far from the zone itself
    assert level_db(m, "room") < -200 and "cave_mix" not in m.snapshots.active
    m.set_listener((0.0, 0.0, -27.0))                            # halfway across the fade
    started = m.block_index * m.dt
    level_db(m, "room")
    assert m.snapshots.levels()["cave_mix"] == pytest.approx(50.0, abs=0.01)
    assert [e["t"] for e in m.snapshots.timeline if e["snapshot"] == "cave_mix"] == [pytest.approx(started)]
    m.set_listener((0.0, 0.0, -20.0))                            # inside
    level_db(m, "room")
    assert m.snapshots.levels()["cave_mix"] == pytest.approx(100.0)
    m.set_listener((0.0, 0.0, 10.0))                             # out again: the snapshot fades out
    for _ in range(200):
        level_db(m, "room", blocks=1, settle=0)
    assert "cave_mix" not in m.snapshots.active and level_db(m, "room") < -200


def test_a_snapshot_moves_a_zone_s_send(scene_dir):
    m = zone_scene(scene_dir, snapshots={"quiet_cave": {"fade_in": 0.0, "zones": {"cave": {"sends": {"room": -10.0}}}}})
    m.play("t", 1, position=(0.0, 0.0, -20.0))
    before = level_db(m, "room")
    m.snapshot_start("quiet_cave")
    assert level_db(m, "room") - before == pytest.approx(-10.0, abs=0.01)


def test_a_room_occludes_its_emitters_for_a_listener_outside_it(scene_dir):
    m = zone_scene(scene_dir)                            # (its occlusion is 0 in the scene; the game sets it)
    m.play("t", 1, position=(0.0, 0.0, -20.0))
    open_ = level_db(m, "direct")
    m.apply(protocol.Occlusion(zone="cave", occlusion=1.0))
    assert level_db(m, "direct") - open_ == pytest.approx(-18.0 + one_pole_db(800.0, 500.0), abs=0.05)
    m.set_listener((0.0, 0.0, -16.0))                    # inside the room: its walls are not between
    assert level_db(m, "direct") == pytest.approx(open_, abs=0.01)


def test_zone_problems_are_located(scene_dir):
    from gamemix.errors import LocatedError
    from gamemix.scene.load import load_scene
    scene_dir.audio("tone.wav", sine(500.0, 0.1))
    path = scene_dir.scene({"t": {"files": ["tone.wav"]}}, {"master": {}},
                           extra={"zones": {"z": {"sends": {"nope": 0.0}, "snapshot": "gone"}},
                                  "snapshots": {"s": {"zones": {"other": {"sends": {"x": 0.0}}}}}})
    with pytest.raises(LocatedError) as info:
        load_scene(path)
    text = str(info.value)
    assert "zones.z.sends.nope" in text and "unknown bus 'nope'" in text
    assert "zones.z.snapshot" in text and "unknown snapshot 'gone'" in text
    assert "snapshots.s.zones.other" in text and "unknown zone 'other'" in text
