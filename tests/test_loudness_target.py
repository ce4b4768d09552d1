"""Loudness management, the live meters and the master's limiter, inside the engine."""

import numpy as np
import pyloudnorm as pyln
import pytest

from conftest import BLOCK, SR, render_blocks
from gamemix.offline.meter import Meter


def noise(seconds, level, seed=0):
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR)) * level
    return np.stack([x, np.roll(x, 37)], 1).astype(np.float32)


@pytest.fixture
def bed(scene_dir):
    scene_dir.audio("noise.wav", noise(2.0, 0.02))          # about -28 LUFS as a loop

    def make(master, **out):
        m = scene_dir.mixer({"bed": {"files": ["noise.wav"], "loop": True}}, buses={"master": master}, **out)
        m.play("bed", 1)
        return m
    return make


def short_term(x):
    """pyloudnorm's BS.1770 loudness of the last 3 s of x: the short-term loudness there."""
    return pyln.Meter(SR).integrated_loudness(x[-3 * SR:].astype(np.float64))


def test_master_is_brought_to_its_short_term_target(bed):
    m = bed({"loudness": {"target_lufs": -24, "max_boost_db": 12, "boost_db_per_s": 3}})
    out = render_blocks(m, int(12 * SR / BLOCK))
    source = pyln.Meter(SR).integrated_loudness(noise(2.0, 0.02).astype(np.float64))     # about -28
    assert short_term(out) == pytest.approx(-24.0, abs=0.5)
    reading = m.chains.readings()["master"]
    assert reading["loudness_gain_db"] == pytest.approx(-24.0 - source, abs=0.5)
    assert reading["loudness_in_lufs"] == pytest.approx(source, abs=0.2)
    assert reading["loudness_out_lufs"] == pytest.approx(-24.0, abs=0.5)
    assert short_term(out[: 3 * SR]) == pytest.approx(source, abs=0.3)     # the first window: measured, not moved


def test_gain_is_bounded_and_rises_and_falls_at_its_own_rates(scene_dir):
    """Quiet (-37 LUFS), then loud (-11 LUFS): the gain rises at boost_db_per_s to max_boost,
    then falls at cut_db_per_s."""
    scene_dir.audio("quiet.wav", noise(2.0, 0.005))
    scene_dir.audio("loud.wav", noise(2.0, 0.1, seed=1))
    m = scene_dir.mixer({"quiet": {"files": ["quiet.wav"], "loop": True}, "loud": {"files": ["loud.wav"], "loop": True}},
                        buses={"master": {"loudness": {"target_lufs": -24, "max_boost_db": 3, "max_cut_db": 10,
                                                       "boost_db_per_s": 2, "cut_db_per_s": 8, "tolerance_lu": 0}}})
    m.play("quiet", 1)
    gains = []
    block = np.zeros((BLOCK, 2), np.float32)
    for k in range(int(10 * SR / BLOCK)):
        if k == int(5 * SR / BLOCK):
            m.stop(1)
            m.play("loud", 2)
        m.render(block)
        gains.append(m.chains.readings()["master"]["loudness_gain_db"])
    steps = np.diff(gains)
    assert max(gains) == pytest.approx(3.0, abs=0.01)                      # max boost
    assert min(gains) == pytest.approx(-10.0, abs=0.01)                    # max cut
    assert steps.max() <= 2.0 * BLOCK / SR + 0.011                         # 2 dB/s up (0.01 rounding)
    assert steps.min() >= -8.0 * BLOCK / SR - 0.011                        # 8 dB/s down
    assert steps.min() < -7.0 * BLOCK / SR                                 # and it does use that rate


def test_game_like_content_lands_on_target_without_pumping(scene_dir):
    """A quiet intro (-30 LUFS), a loud combat (-18), silence between scenes, then a calm scene
    (-27): pyloudnorm's integrated loudness of the whole is on target, the short-term loudness
    settles within tolerance in every scene, the gain holds through the silence (and the
    0.4 s after it), and it does not hunt (one correction per scene, then still).
    """
    scene_dir.audio("quiet.wav", noise(2.0, 0.015, seed=1))
    scene_dir.audio("loud.wav", noise(2.0, 0.06, seed=2))
    scene_dir.audio("calm.wav", noise(2.0, 0.0224, seed=3))
    sounds = {k: {"files": [f"{k}.wav"], "loop": True} for k in ("quiet", "loud", "calm")}
    m = scene_dir.mixer(sounds, buses={"master": {"loudness": {"target_lufs": -24}}})
    plan = {0: ("quiet", 1), 15: ("loud", 2), 30: (None, None), 34: ("calm", 3)}
    out, gains, playing = [], [], None
    block = np.zeros((BLOCK, 2), np.float32)
    for k in range(int(50 * SR / BLOCK)):
        second = k * BLOCK // SR
        if k * BLOCK % SR < BLOCK and second in plan:
            if playing is not None:
                m.stop(playing)
            sound, playing = plan[second]
            if sound:
                m.play(sound, playing)
        m.render(block)
        out.append(block.copy())
        gains.append(m.chains.readings()["master"]["loudness_gain_db"])
    out, gains = np.concatenate(out), np.array(gains)
    meter = pyln.Meter(SR)
    assert meter.integrated_loudness(out.astype(np.float64)) == pytest.approx(-24.0, abs=1.0)
    for end in (15, 30, 50):                                            # the last 3 s of each scene
        assert meter.integrated_loudness(out[(end - 3) * SR: end * SR].astype(np.float64)) == pytest.approx(-24, abs=0.5)
    at = lambda s: gains[int(s * SR / BLOCK)]
    assert at(34.3) == pytest.approx(at(30.5), abs=0.05)                # silence (and 0.4 s after it): held
    moving = np.abs(np.diff(gains)) > 1e-6
    still = np.convolve(moving, np.ones(40), "same") == 0             # no move within 0.1 s either side
    edges = np.flatnonzero(np.diff(still.astype(int)) != 0) + 1
    segments = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if not still[a]]
    corrections = [b for a, b in segments if abs(gains[min(b, len(gains) - 1)] - gains[a]) > 0.2]
    assert len(corrections) <= 4, corrections                         # one per scene, no hunting
    assert not moving[int(26 * SR / BLOCK): int(30 * SR / BLOCK)].any()  # settled in combat: still


@pytest.mark.parametrize("setting, named", [({"max_slew_db_per_s": 2}, "boost_db_per_s"),
                                            ({"measure": "integrated"}, "short_term")])
def test_an_old_spelling_is_a_located_error_that_names_the_new_one(scene_dir, setting, named):
    from gamemix.errors import LocatedError
    with pytest.raises(LocatedError) as error:
        scene_dir.mixer({}, buses={"master": {"loudness": {"target_lufs": -24, **setting}}})
    message = "\n".join(str(p) for p in error.value.problems)
    assert "buses.master.loudness" in message and named in message, message


def test_live_meter_matches_the_offline_meter_and_limiter_holds(bed):
    m = bed({"volume_db": 24, "limiter": {"ceiling_dbtp": -1.0}})          # driven hard into the limiter
    out = render_blocks(m, int(5 * SR / BLOCK))
    live = m.chains.readings()["master"]
    offline = Meter(SR, 2).measure(out)
    assert live["integrated_lufs"] == pytest.approx(offline["integrated_lufs"], abs=0.01)
    assert live["true_peak_dbtp"] <= -1.0 + 0.1 and offline["true_peak_dbtp"] <= -1.0 + 0.1
    assert live["limiter_gr_db"] < -1.0


def test_reset_meters_message_restarts_integrated(bed):
    from gamemix.protocol import messages as protocol
    m = bed({})
    render_blocks(m, int(1.0 * SR / BLOCK))
    assert m.chains.readings()["master"]["integrated_lufs"] is not None
    m.apply(protocol.ResetMeters())
    render_blocks(m, 2)
    assert m.chains.readings()["master"]["integrated_lufs"] is None      # < 400 ms since the reset
    render_blocks(m, int(0.5 * SR / BLOCK))
    assert m.chains.readings()["master"]["integrated_lufs"] is not None
