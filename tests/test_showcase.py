"""The bundled showcase: real scene and script files, rendered in part."""

from pathlib import Path

import numpy as np
import pytest

from gamemix.control.mixer import Mixer
from gamemix.scene.load import load_scene
from gamemix.scene.script import load_script

SHOWCASE = Path(__file__).resolve().parent.parent / "scenes" / "showcase"


@pytest.fixture(scope="module")
def run():
    scene = load_scene(SHOWCASE / "scene.yaml")
    script = load_script(SHOWCASE / "script.yaml", 48000, 256)
    mixer = Mixer(scene, seed=script.seed)
    blocks = round(13.0 * 48000 / 256)
    out = np.zeros((blocks * 256, 2), np.float32)
    stems = {b: np.zeros((blocks * 256, 2), np.float32) for b in ("music", "dialogue", "foley")}
    block = np.zeros((256, 2), np.float32)
    pending = list(script.messages)
    virtual_seen = 0
    for b in range(blocks):
        while pending and pending[0].block <= b:
            mixer.apply(pending.pop(0).message)
        mixer.render(block)
        out[b * 256:(b + 1) * 256] = block
        for name in stems:
            stems[name][b * 256:(b + 1) * 256] = mixer.arrays.bus_buf[mixer.bus_index[name]].T
        virtual_seen = max(virtual_seen, mixer.virtual_voices())
    return mixer, out, stems, virtual_seen


def rms_db(x, a, b):
    seg = x[int(a * 48000):int(b * 48000)]
    return 10 * np.log10(np.mean(np.square(seg, dtype=np.float64)) + 1e-20)


def test_showcase_is_finite_and_under_its_ceiling(run):
    mixer, out, _, _ = run
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() <= 10 ** (-1 / 20) + 1e-6
    assert rms_db(out, 0, 13) > -40


def test_showcase_has_more_emitters_than_voices(run):
    mixer, _, _, virtual_seen = run
    assert mixer.stats.peak_real <= mixer.scene.output.max_voices + 8
    assert virtual_seen > 0


def test_showcase_dialogue_is_on_top_and_ducks_the_music(run):
    _, _, stems, _ = run
    music_before = rms_db(stems["music"], 1.0, 2.5)
    music_during = rms_db(stems["music"], 3.6, 5.0)
    assert music_during < music_before - 5          # ducked by the dialogue rule (-9 dB)
    assert rms_db(stems["dialogue"], 3.2, 5.5) > music_during + 10


def test_showcase_footsteps_move_left_to_right(run):
    _, _, stems, _ = run
    def balance(t):
        s = stems["foley"][int(t * 48000):int((t + 0.3) * 48000)].astype(np.float64)
        return 10 * np.log10(np.sum(s[:, 1] ** 2) / np.sum(s[:, 0] ** 2))
    assert balance(6.0) < -10 and balance(12.5) > 10
