"""Per-play and per-instance control, heard in the output: sample-accurate starts and stops, pan,
loop counts, pause and resume, seek, volume and pitch changes of a playing instance, and what an
instance and a sound report.  Oracles: the sample numbers asked for, the source file's samples,
the equal-power pan law (cos/sin of (pan + 1) pi / 4), and dB arithmetic."""

import math

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks, sine
from gamemix.errors import CommandError
from gamemix.protocol import messages as m


def click_scene(scene_dir, **sound):
    """A 2D mono sound that is one full-scale sample followed by silence."""
    click = np.zeros(4800, dtype=np.float32)
    click[0] = 1.0
    scene_dir.audio("click.wav", click)
    return scene_dir.mixer({"click": {"files": ["click.wav"], "pan": -1.0, **sound}})


def onsets(x: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.abs(x) > 1e-3)]


@pytest.mark.parametrize("first", [0, 5 * BLOCK + 37, 40 * BLOCK + 255])
def test_plays_timed_to_a_sample_start_on_that_sample(scene_dir, first):
    mixer = click_scene(scene_dir)
    mixer.apply(m.Play(sound="click", id=1, at_sample=first))
    mixer.apply(m.Play(sound="click", id=2, at_sample=first + 1000))
    out = render_blocks(mixer, 50)[:, 0]
    assert onsets(out) == [first, first + 1000]
    assert out[first] == pytest.approx(1.0, abs=1e-6)          # the start is not ramped away


def test_a_time_already_past_starts_at_the_next_block_and_a_timed_stop_cuts_there(scene_dir):
    scene_dir.audio("dc.wav", np.full(SR, 0.5, dtype=np.float32))
    mixer = scene_dir.mixer({"dc": {"files": ["dc.wav"], "pan": -1.0}})
    render_blocks(mixer, 4)
    mixer.apply(m.Play(sound="dc", id=1, at_sample=10))         # 10 is in the past: now
    mixer.apply(m.Stop(id=1, at_sample=8 * BLOCK))
    out = render_blocks(mixer, 12)[:, 0]
    assert out[0] > 0.0                                         # started at the first sample of the block
    assert np.all(out[:4 * BLOCK] == 0.5)                       # until block 8 (4 + 4) ...
    fade = out[4 * BLOCK:5 * BLOCK]                             # ... which ramps it out (no click) ...
    assert np.all(np.diff(fade) < 0) and fade[-1] < 0.5 / BLOCK + 1e-6
    assert np.all(out[5 * BLOCK:] == 0.0) and 1 not in mixer.instances   # ... and then it is gone


def test_pan_of_a_2d_sound_follows_the_equal_power_law(scene_dir):
    scene_dir.audio("tone.wav", sine(375.0, 1.0))                # 128 samples a period: whole periods per block
    mixer = scene_dir.mixer({"tone": {"files": ["tone.wav"], "loop": True}})
    for i, pan in enumerate((-1.0, -0.5, 0.0, 0.5, 1.0)):
        mixer.apply(m.Play(sound="tone", id=10 + i, pan=pan))
        out = render_blocks(mixer, 20)[10 * BLOCK:]
        mixer.apply(m.Stop(id=10 + i))
        render_blocks(mixer, 2)
        theta = (pan + 1.0) * math.pi / 4
        rms = np.sqrt(np.mean(np.square(out, dtype=np.float64), axis=0)) / (0.5 / math.sqrt(2))
        assert rms[0] == pytest.approx(math.cos(theta), abs=1e-3)
        assert rms[1] == pytest.approx(math.sin(theta), abs=1e-3)


def test_loops_counts_the_passes_and_then_the_instance_ends(scene_dir):
    src = sine(480.0, 0.1)                                      # 4,800 samples
    scene_dir.audio("tone.wav", src)
    mixer = scene_dir.mixer({"tone": {"files": ["tone.wav"], "pan": -1.0}})
    mixer.apply(m.Play(sound="tone", id=1, loops=2))          # 3 passes
    out = render_blocks(mixer, 80)[:, 0]
    np.testing.assert_allclose(out[:3 * 4800], np.tile(src, 3), atol=1e-6)
    assert np.all(out[3 * 4800:] == 0.0) and 1 not in mixer.instances


def test_pause_holds_the_place_and_resume_goes_on_from_it(scene_dir):
    ramp = (np.arange(SR, dtype=np.float32) / SR * 0.5).astype(np.float32)   # each sample names its place
    scene_dir.audio("ramp.wav", ramp)
    mixer = scene_dir.mixer({"ramp": {"files": ["ramp.wav"], "pan": -1.0}})
    mixer.apply(m.Play(sound="ramp", id=1))
    render_blocks(mixer, 10)
    mixer.apply(m.Pause(id=1, paused=True))
    render_blocks(mixer, 2)
    assert mixer.instances.info(1)["state"] == "paused"
    held = mixer.instances.info(1)["position_s"]
    silent = render_blocks(mixer, 30)
    assert np.all(silent == 0.0) and mixer.instances.info(1)["position_s"] == held
    mixer.apply(m.Pause(id=1, paused=False))
    out = render_blocks(mixer, 4)[:, 0]
    start = int(round(held * SR))
    np.testing.assert_allclose(out[2 * BLOCK:3 * BLOCK], ramp[start + 2 * BLOCK:start + 3 * BLOCK], atol=1e-6)
    assert np.max(np.abs(np.diff(out))) < 0.5 / BLOCK + 1e-3   # faded back in, no step


def test_seek_jumps_to_the_time_asked_for(scene_dir):
    ramp = (np.arange(SR, dtype=np.float32) / SR * 0.5).astype(np.float32)
    scene_dir.audio("ramp.wav", ramp)
    mixer = scene_dir.mixer({"ramp": {"files": ["ramp.wav"], "pan": -1.0}})
    mixer.apply(m.Play(sound="ramp", id=1))
    render_blocks(mixer, 4)
    mixer.apply(m.Seek(id=1, seconds=0.5))
    out = render_blocks(mixer, 6)[:, 0]
    # one block fades out where it was; from the next one it reads from 0.5 s on (fading in over a block)
    assert out[BLOCK] == 0.0 and out[2 * BLOCK - 1] == pytest.approx(ramp[SR // 2 + BLOCK - 1], rel=0.01)
    np.testing.assert_allclose(out[2 * BLOCK:4 * BLOCK], ramp[SR // 2 + BLOCK:SR // 2 + 3 * BLOCK], atol=1e-6)


def test_set_instance_glides_the_volume_and_changes_pitch_and_pan(scene_dir):
    scene_dir.audio("tone.wav", sine(1000.0, 1.0))
    mixer = scene_dir.mixer({"tone": {"files": ["tone.wav"], "loop": True, "pan": -1.0}})
    mixer.apply(m.Play(sound="tone", id=1))
    before = render_blocks(mixer, 10)[5 * BLOCK:, 0]
    mixer.apply(m.SetInstance(id=1, volume_db=-12.0, fade=0.05))
    glide = render_blocks(mixer, 20)[:, 0]
    after = render_blocks(mixer, 10)[:, 0]
    ratio_db = 20 * math.log10(np.sqrt(np.mean(after.astype(np.float64) ** 2) / np.mean(before.astype(np.float64) ** 2)))
    assert ratio_db == pytest.approx(-12.0, abs=0.05)
    env = np.abs(glide[:len(glide) // 48 * 48]).reshape(-1, 48).max(axis=1)            # the peak of each 1 kHz period falls smoothly
    assert np.all(np.diff(env) <= 1e-3)
    mixer.apply(m.SetInstance(id=1, pitch_semitones=12.0, pan=1.0))
    out = render_blocks(mixer, 40)[20 * BLOCK:]
    spectrum = np.abs(np.fft.rfft(out[:, 1] * np.hanning(len(out))))
    assert np.argmax(spectrum) * SR / len(out) == pytest.approx(2000.0, abs=SR / len(out))
    assert np.max(np.abs(out[:, 0])) < 1e-6                     # hard right now


def test_instance_and_sound_info_say_what_plays(scene_dir):
    scene_dir.audio("tone.wav", sine(1000.0, 0.5))
    mixer = scene_dir.mixer({"tone": {"files": ["tone.wav"], "loop": True}})
    mixer.apply(m.Play(sound="tone", id=1, loops=3))
    render_blocks(mixer, 10)
    info = mixer.instances.info(1)
    assert info["state"] == "real" and info["length_s"] == 0.5 and info["loops_left"] == 3
    assert info["position_s"] == pytest.approx(10 * BLOCK / SR, abs=1e-6)
    sound = mixer.sound_info("tone")
    assert sound["files"] == [{"file": "tone.wav", "length_s": 0.5, "channels": 1}]
    assert sound["loop"] is True and sound["bus"] == "master" and sound["voices"] == 1


@pytest.mark.parametrize("msg, code", [
    (m.SetInstance(id=99, volume_db=-3.0), "unknown_instance"),
    (m.Pause(id=99, paused=True), "unknown_instance"),
    (m.Seek(id=99, seconds=1.0), "unknown_instance"),
    (m.SoundInfo(sound="nope"), "unknown_sound"),
])
def test_control_of_what_does_not_exist_is_refused_and_changes_nothing(scene_dir, msg, code):
    scene_dir.audio("tone.wav", sine(1000.0, 0.5))
    mixer = scene_dir.mixer({"tone": {"files": ["tone.wav"], "loop": True}})
    mixer.apply(m.Play(sound="tone", id=1))
    before = render_blocks(mixer, 4)
    with pytest.raises(CommandError) as info:
        if isinstance(msg, m.SoundInfo):
            mixer.sound_info(msg.sound)
        else:
            mixer.apply(msg)
    assert info.value.code == code
    assert mixer.instances.info(1)["state"] == "real" and np.any(before != 0.0)


def _tone_on_sfx(scene_dir, sfx_db: float):
    from conftest import SR as rate
    from gamemix.control.mixer import Mixer
    from gamemix.scene.load import load_scene
    scene_dir.audio("tone.wav", sine(375.0, 1.0))
    path = scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True, "bus": "sfx", "pan": -1.0}},
                           buses={"master": {}, "sfx": {"volume_db": sfx_db}})
    assert rate == SR
    return Mixer(load_scene(path))


def _rms_db(x) -> float:
    return 10 * math.log10(np.mean(np.square(x, dtype=np.float64)))


@pytest.mark.parametrize("game_moved_it", [False, True])
def test_a_reload_is_heard_ramped_and_keeps_only_what_the_game_set(scene_dir, game_moved_it):
    mixer = _tone_on_sfx(scene_dir, 0.0)
    mixer.apply(m.Play(sound="tone", id=1))
    if game_moved_it:
        mixer.apply(m.BusVolume(bus="sfx", volume_db=-6.0))
    before = render_blocks(mixer, 20)[10 * BLOCK:, 0]
    edited = _tone_on_sfx(scene_dir, -12.0)                       # the designer turns sfx down 12 dB
    edited.adopt(mixer)
    glide = render_blocks(edited, 60)[:, 0]                         # 0.32 s: the 0.25 s glide and more
    after = render_blocks(edited, 20)[10 * BLOCK:, 0]
    heard = _rms_db(after) - _rms_db(before)
    if game_moved_it:                                               # the game's -6 stays
        assert heard == pytest.approx(0.0, abs=0.01) and edited.bus_values.volume_db[edited.bus_index["sfx"]] \
            == pytest.approx(-6.0, abs=0.01)
    else:                                                           # the edit is heard ...
        assert heard == pytest.approx(-12.0, abs=0.01)
        assert edited.bus_values.volume_db[edited.bus_index["sfx"]] == pytest.approx(-12.0, abs=0.01)
        env = np.abs(glide).reshape(-1, 128).max(axis=1)           # ... ramped: the peak falls period by period
        assert np.all(np.diff(env) <= 1e-3) and env[0] > 0.45 and env[-1] < 0.13
