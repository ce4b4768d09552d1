"""Split screen: up to four listeners, each 3D voice heard from the nearest one (as FMOD and Wwise
do).  Oracles: the inverse-distance law and the equal-power pan law against each listener's own
position and facing."""

import math

import numpy as np
import pytest

from conftest import BLOCK, render_blocks, sine
from gamemix.errors import CommandError
from gamemix.protocol import messages as m


def rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def mixer_3d(scene_dir):
    scene_dir.audio("tone.wav", sine(375.0, 1.0))
    return scene_dir.mixer({"bird": {"files": ["tone.wav"], "loop": True,
                                     "spatial": {"min_distance": 1.0, "max_distance": 1000.0, "doppler": 0.0}}})


def heard(mixer, position) -> np.ndarray:
    """(left, right) rms of a voice at `position`, after its ramps settled."""
    mixer.apply(m.Play(sound="bird", id=1, position=position))
    out = render_blocks(mixer, 30)[10 * BLOCK:]
    mixer.apply(m.Stop(id=1))
    render_blocks(mixer, 3)
    return np.array([rms(out[:, 0]), rms(out[:, 1])])


def test_each_voice_is_heard_from_its_nearest_listener(scene_dir):
    mixer = mixer_3d(scene_dir)
    alone = heard(mixer, (102.0, 0.0, 0.0))                     # 102 m right of listener 0
    # a second player 100 m away, facing the other way (forward +z): the bird is 2 m to its left
    mixer.apply(m.Listener(index=1, position=(100.0, 0.0, 0.0), forward=(0.0, 0.0, 1.0)))
    near = heard(mixer, (102.0, 0.0, 0.0))
    unit = 0.5 / math.sqrt(2)                                    # the tone's rms at gain 1
    np.testing.assert_allclose(alone, [0.0, unit / 102.0], atol=1e-6)      # inverse law, hard right
    np.testing.assert_allclose(near, [unit / 2.0, 0.0], atol=1e-6)         # 2 m, hard left of player 2
    # a voice nearer listener 0 is still heard from it
    np.testing.assert_allclose(heard(mixer, (0.0, 0.0, -4.0)), [unit / 4 * math.cos(math.pi / 4)] * 2, atol=1e-6)
    mixer.apply(m.Listener(index=1, remove=True))
    np.testing.assert_allclose(heard(mixer, (102.0, 0.0, 0.0)), alone, atol=1e-7)


def test_ranking_and_builtins_use_the_nearest_listener_too(scene_dir):
    mixer = mixer_3d(scene_dir)
    mixer.apply(m.Listener(index=2, position=(0.0, 0.0, -500.0)))
    mixer.apply(m.Play(sound="bird", id=1, position=(0.0, 0.0, -503.0)))
    render_blocks(mixer, 2)
    rows = np.array(mixer.rows_of(1))
    assert mixer.local._builtins(rows)["distance"][0] == pytest.approx(3.0)
    from gamemix.core.arrays import VF_AUDIBILITY
    assert mixer.arrays.vf[rows[0], VF_AUDIBILITY] == pytest.approx(1.0 / 3.0, rel=1e-6)


@pytest.mark.parametrize("msg", [m.Listener(index=1, remove=False, forward=(0.0, 1.0, 0.0)),
                                 m.Listener(index=0, remove=True)])
def test_bad_listener_messages_are_refused_and_change_nothing(scene_dir, msg):
    mixer = mixer_3d(scene_dir)
    before = mixer.arrays.lf.copy()
    with pytest.raises(CommandError) as info:
        mixer.apply(msg)
    assert info.value.code == "bad_value"
    np.testing.assert_array_equal(mixer.arrays.lf, before)
