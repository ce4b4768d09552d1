"""One name per meaning: an old or other-mode spelling is a located error that names the right one,
and the right one does what it says (heard in the samples)."""

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks, sine
from gamemix.errors import LocatedError


def problems(scene_dir, **extra):
    with pytest.raises(LocatedError) as error:
        scene_dir.mixer({"tone": {"files": ["tone.wav"]}}, buses={"master": {}, "music": {}}, extra=extra)
    return "\n".join(str(p) for p in error.value.problems)


@pytest.fixture
def tone(scene_dir):
    scene_dir.audio("tone.wav", sine(440.0, 2.0, amp=0.5))
    return scene_dir


@pytest.mark.parametrize("action, names", [({"action": "play", "sound": "tone", "fade": 1.0}, "`fade_in`"),
                                           ({"action": "stop", "sound": "tone", "fade_in": 1.0}, "takes `fade`")])
def test_an_event_action_s_fade_has_the_protocol_s_name(tone, action, names):
    message = problems(tone, events={"go": [action]})
    assert "events.go[0]" in message and names in message, message


@pytest.mark.parametrize("mode, key, names", [("blend", "lowpass_hz", "lowpass_octaves"),
                                              ("override", "highpass_octaves", "highpass_hz")])
def test_a_snapshot_key_of_the_other_mode_is_named(tone, mode, key, names):
    message = problems(tone, snapshots={"dull": {"mode": mode, "buses": {"music": {key: 1000 if "hz" in key else -1}}}})
    assert "snapshots.dull" in message and names in message, message


def test_a_play_action_fades_in_over_fade_in(tone):
    m = tone.mixer({"tone": {"files": ["tone.wav"]}}, extra={"events": {"go": [{"action": "play", "sound": "tone",
                                                                                 "fade_in": 0.5}]}})
    m.post_event("go", 1)
    out = render_blocks(m, int(1.0 * SR / BLOCK))[:, 0]
    rms = [np.sqrt(np.mean(out[int(t * SR): int(t * SR) + 960] ** 2)) for t in (0.1, 0.25, 0.6)]
    steady = 0.5 / np.sqrt(2) * np.sqrt(0.5)            # a centred mono sound: -3 dB per channel
    assert rms[0] < rms[1] < 0.8 * steady and rms[2] == pytest.approx(steady, rel=0.05)
