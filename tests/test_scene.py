"""Scene files: real YAML on disk, located errors for every kind of mistake."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gamemix.scene.assets import build_bank
from gamemix.errors import LocatedError
from gamemix.scene.load import load_scene

GOOD = """\
version: 1
output: {sample_rate: 48000, block_size: 256}
buses:
  master: {}
  music: {volume_db: -6}
sounds:
  tone:
    files: [tone.wav]
    bus: music
"""


@pytest.fixture
def folder(scene_dir):
    scene_dir.audio("tone.wav", np.zeros(480, np.float32))
    return scene_dir.root


def errors_of(folder, text):
    path = folder / "scene.yaml"
    path.write_text(text)
    with pytest.raises(LocatedError) as info:
        load_scene(path)
    return [str(p) for p in info.value.problems], str(path)


def test_good_scene_loads(folder):
    (folder / "scene.yaml").write_text(GOOD)
    scene = load_scene(folder / "scene.yaml")
    assert scene.bus_order() == ["music", "master"]
    assert scene.sounds["tone"].bus == "music"


@pytest.mark.parametrize("edit, expected", [
    (("volume_db: -6", "volume_db: 30"), ":5:22 buses.music.volume_db: must be less than or equal to 24 (got 30)"),
    (("volume_db: -6", "volume_db: loud"), ":5:22 buses.music.volume_db: must be a valid number"),
    (("bus: music", "buss: music"), ":9:5 sounds.tone.buss: unknown key"),
    (("bus: music", "bus: musik"), ":9:10 sounds.tone.bus: unknown bus 'musik'"),
    (("[tone.wav]", "[missing.wav]"), ":8:13 sounds.tone.files[0]: audio file not found: missing.wav"),
    (("[tone.wav]", "[../tone.wav]"), ":8:13 sounds.tone.files[0]: path '../tone.wav' leaves the scene's folder"),
    (("[tone.wav]", "[/etc/passwd]"), ":8:13 sounds.tone.files[0]: absolute paths are not allowed"),
    (("block_size: 256}", "block_size: 256"), ":3:6 invalid YAML: while parsing a flow mapping"),
    (("  music: {volume_db: -6}", "  music: {volume_db: -6}\n  music: {}"), ":6:3 buses.music: duplicate key"),
    (("  music: {volume_db: -6}", "  music: {parent: fx}\n  fx: {parent: music}"),
     ":5:19 buses.music.parent: bus tree has a cycle: music -> fx -> music"),
    (("sample_rate: 48000", "sample_rate: 1"), ":2:23 output.sample_rate: must be greater than or equal to 8000"),
])
def test_broken_scene_gives_located_error(folder, edit, expected):
    problems, path = errors_of(folder, GOOD.replace(*edit))
    assert any(p.startswith(path + expected) for p in problems), problems


def test_every_error_is_reported_at_once(folder):
    text = GOOD.replace("volume_db: -6", "volume_db: 30, colour: red").replace("bus: music", "bus: nope")
    problems, _ = errors_of(folder, text)
    assert len(problems) == 3
    assert [p.split(" ")[1] for p in problems] == ["buses.music.volume_db:", "buses.music.colour:", "sounds.tone.bus:"]


def test_undecodable_audio_is_a_located_error(folder):
    (folder / "bad.wav").write_bytes(b"RIFF not really a wave file")
    (folder / "scene.yaml").write_text(GOOD.replace("tone.wav", "bad.wav"))
    scene = load_scene(folder / "scene.yaml")
    with pytest.raises(LocatedError) as info:
        build_bank(scene)
    assert str(info.value).startswith(f"{folder / 'scene.yaml'}:8:13 sounds.tone.files[0]: cannot decode bad.wav")


@pytest.mark.parametrize("subtype, fmt, ext", [("PCM_16", "WAV", "wav"), ("PCM_24", "WAV", "wav"),
                                               ("FLOAT", "WAV", "wav"), ("PCM_24", "FLAC", "flac"),
                                               ("VORBIS", "OGG", "ogg")])
def test_formats_decode_to_the_same_signal(scene_dir, subtype, fmt, ext):
    import soundfile
    from conftest import sine
    tone = sine(1000.0, 0.5, amp=0.5)
    soundfile.write(str(scene_dir.root / f"t.{ext}"), tone, 48000, subtype=subtype, format=fmt)
    scene = load_scene(scene_dir.scene({"t": {"files": [f"t.{ext}"]}}))
    bank = build_bank(scene)
    lane = bank.variants["t"][0].lanes[0]
    data = bank.pool[bank.lane_offset[lane]:bank.lane_offset[lane] + bank.lane_length[lane]]
    tolerance = {"PCM_16": 1e-4, "PCM_24": 1e-6, "FLOAT": 0, "VORBIS": 0.05}[subtype]
    assert len(data) == len(tone)
    assert np.abs(data - tone).max() <= tolerance


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gamemix", *args], capture_output=True, text=True)


def test_cli_validate_exit_codes(folder):
    (folder / "scene.yaml").write_text(GOOD)
    ok = run_cli("validate", str(folder / "scene.yaml"))
    assert ok.returncode == 0 and "ok" in ok.stdout
    (folder / "scene.yaml").write_text(GOOD.replace("bus: music", "bus: nope").replace("-6", "99"))
    bad = run_cli("validate", str(folder / "scene.yaml"))
    assert bad.returncode == 1
    assert "sounds.tone.bus: unknown bus 'nope'" in bad.stderr
    assert "buses.music.volume_db" in bad.stderr and "2 errors" in bad.stderr


def test_cli_schema_is_json_schema_that_forbids_unknown_keys():
    out = run_cli("schema")
    schema = json.loads(out.stdout)
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Sound"]["additionalProperties"] is False
    assert "folder" not in schema["properties"]
