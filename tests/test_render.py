"""Offline render: determinism, stems, report, located script errors."""

import hashlib
import json

import numpy as np
import pytest
import soundfile

from gamemix.errors import LocatedError
from gamemix.offline.render import render

SCRIPT = """\
version: 1
duration: 1.0
messages:
  - {at: 0.0, type: play, sound: hit, id: 1, position: [3, 0, -1]}
  - {at: 0.1, type: play, sound: hit, position: [-3, 0, -1]}
  - {at: 0.2, type: play, sound: pad, id: 2}
  - {at: 0.3, type: emitter, id: 1, position: [0, 0, -2], velocity: [0, 0, 5]}
  - {at: 0.5, type: bus_volume, bus: music, volume_db: -12, fade: 0.2}
  - {at: 0.6, type: play, sound: nothing_by_that_name}
  - {at: 0.7, type: stop, id: 2, fade: 0.1}
"""


@pytest.fixture
def project(scene_dir):
    rng = np.random.default_rng(0)
    scene_dir.audio("hit1.wav", (rng.standard_normal(9000) * 0.1).astype(np.float32))
    scene_dir.audio("hit2.wav", (rng.standard_normal(7000) * 0.1).astype(np.float32))
    scene_dir.audio("pad.wav", (rng.standard_normal((48000, 2)) * 0.05).astype(np.float32))
    scene = scene_dir.scene(
        {"hit": {"files": ["hit1.wav", "hit2.wav"], "bus": "sfx", "volume_random_db": [-6, 0],
                 "pitch_random_semitones": [-2, 2], "loop": True, "spatial": {"max_distance": 50}},
         "pad": {"files": ["pad.wav"], "bus": "music", "loop": True}},
        buses={"master": {}, "sfx": {}, "music": {"volume_db": -3}})
    script = scene_dir.root / "script.yaml"
    script.write_text(SCRIPT)
    return scene, script, scene_dir.root


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_scene_script_seed_is_bit_identical(project):
    scene, script, root = project
    render(scene, script, root / "a.wav", seed=5)
    render(scene, script, root / "b.wav", seed=5)
    render(scene, script, root / "c.wav", seed=6)
    assert digest(root / "a.wav") == digest(root / "b.wav")
    assert digest(root / "a.wav") != digest(root / "c.wav")  # the seed drives the randomization


def test_stems_sum_to_master_and_report_has_figures(project):
    scene, script, root = project
    report = render(scene, script, root / "mix.wav", seed=1, stems_dir=root / "stems",
                    report_path=root / "report.json")
    mix, sr = soundfile.read(root / "mix.wav", dtype="float32")
    sfx, _ = soundfile.read(root / "stems" / "sfx.wav", dtype="float32")
    music, _ = soundfile.read(root / "stems" / "music.wav", dtype="float32")
    master, _ = soundfile.read(root / "stems" / "master.wav", dtype="float32")
    assert sr == 48000 and mix.shape == (188 * 256, 2)
    np.testing.assert_allclose(sfx + music, mix, atol=1e-6)   # master fader at 0 dB
    np.testing.assert_array_equal(master, mix)
    assert json.loads((root / "report.json").read_text()) == report
    assert report["voices"]["plays"] == 3 and report["voices"]["peak_real"] == 3
    peak = 20 * np.log10(np.abs(mix).max())
    assert report["master"]["peak_dbfs"] == pytest.approx(peak, abs=0.01)
    rms = 10 * np.log10(np.mean(np.square(music, dtype=np.float64)))
    assert report["buses"]["music"]["rms_dbfs"] == pytest.approx(rms, abs=0.01)
    [error] = report["errors"]
    assert error["code"] == "unknown_sound" and error["where"].endswith("script.yaml:9:5")


@pytest.mark.parametrize("line, expected", [
    ("  - {at: 0.0, type: plya, sound: hit}", ":4:21 messages[0].type: unknown message type 'plya'"),
    ("  - {at: 0.0, type: play}", ":4:5 messages[0].sound: required field is missing"),
    ("  - {at: 0.0, type: emitter, id: 1, position: [.nan, 0, 0]}", ":4:48 messages[0].position[0]: must be a finite number"),
    ("  - {at: -1, type: stop, id: 1}", ":4:10 messages[0].at: must be a time in seconds >= 0"),
    ("  - {type: stop, id: 1}", ":4:5 messages[0]: give exactly one of 'at' (seconds) or 'block'"),
    ("  - {at: 0, type: stop, id: 1, colour: red}", ":4:32 messages[0].colour: unknown key"),
])
def test_script_errors_are_located(project, line, expected):
    scene, script, root = project
    script.write_text(f"version: 1\nduration: 1.0\nmessages:\n{line}\n")
    with pytest.raises(LocatedError) as info:
        render(scene, script, root / "x.wav")
    assert str(info.value).startswith(str(script) + expected), str(info.value)


def test_messages_take_effect_at_the_block_that_starts_at_or_after_them(project):
    scene, script, root = project
    script.write_text("duration: 0.1\nmessages:\n  - {at: 0.01, type: play, sound: pad}\n")
    render(scene, script, root / "late.wav")
    out, _ = soundfile.read(root / "late.wav")
    first = np.flatnonzero(np.abs(out[:, 0]) > 0)[0]
    assert first == 512   # 0.01 s = 480 samples -> block 2 starts at 512


@pytest.mark.parametrize("fmt, subtype, tolerance", [("float", "FLOAT", 0.0), ("pcm24", "PCM_24", 2 ** -23),
                                                     ("pcm16", "PCM_16", 2 ** -15)])
def test_wav_writer_round_trips_through_libsndfile(tmp_path, fmt, subtype, tolerance):
    from gamemix.io.wav import WavWriter
    rng = np.random.default_rng(2)
    x = np.clip(rng.standard_normal((1000, 2)) * 0.3, -1, 1).astype(np.float32)
    with WavWriter(tmp_path / "x.wav", 44100, 2, fmt) as w:
        w.write(x[:300])
        w.write(x[300:])
    info = soundfile.info(str(tmp_path / "x.wav"))
    y, sr = soundfile.read(str(tmp_path / "x.wav"), dtype="float32")
    assert (sr, info.subtype, y.shape) == (44100, subtype, x.shape)
    assert np.abs(y - x).max() <= tolerance
