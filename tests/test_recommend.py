"""`gamemix recommend`: solving for bus gains and duck depths from a scene's targets.

The oracle of the main test is a scene mis-balanced by known offsets (the music bus
6 dB too loud, its duck 6 dB too shallow) against targets measured on the
well-balanced scene: the recommendation must give the offsets back within 1 dB.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile
import yaml

from conftest import SR
from gamemix.cli import main
from gamemix.offline.analysis import layout
from gamemix.offline.analysis import recommend as rec
from gamemix.scene.load import load_scene
from test_analyze import band_noise, two_bus_scene

SCENE = """\
# a small scene for recommend: music under dialogue lines
version: 1
name: lines
output: {sample_rate: 48000, block_size: 256}
buses:
  master:
    loudness: {target_lufs: -24}   # the mix's loudness
  music:
    volume_db: MUSIC_DB            # the fader under test
    sidechain: [{key: dialogue, threshold_db: -45, depth_db: DEPTH_DB, attack_ms: 40, hold_ms: 200, release_ms: 400}]
  dialogue:
    volume_db: 0
    intelligibility: {margin_lu: 10, against: [music]}
sounds:
  music: {files: [music.wav], loop: true, bus: music}
  line: {files: [line.wav], bus: dialogue}
"""
LINES_AT = (2.0, 6.0, 10.0)           # three 2 s lines
SCRIPT = {"version": 1, "duration": 14.0, "seed": 1,
          "messages": [{"at": 0.0, "type": "play", "sound": "music", "id": 1}] +
                      [{"at": t, "type": "play", "sound": "line", "id": 10 + i} for i, t in enumerate(LINES_AT)]}
TRUE_MUSIC_DB, TRUE_DEPTH_DB = -12.0, -9.0
OFFSET_MUSIC_DB, OFFSET_DEPTH_DB = 6.0, 6.0           # too loud by 6 dB, ducked 6 dB too little


def write_scene(folder, music_db: float, depth_db: float):
    path = folder / f"scene_{music_db:g}_{depth_db:g}.yaml"
    path.write_text(SCENE.replace("MUSIC_DB", f"{music_db:g}").replace("DEPTH_DB", f"{depth_db:g}"))
    return path


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    root = tmp_path_factory.mktemp("lines")
    music = band_noise([(80, 8000)], 4.0, -8.0, 11)[:, 0]
    t = np.arange(2 * SR) / SR
    line = band_noise([(300, 3400)], 2.0, -20.0, 12)[:, 0] * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    soundfile.write(str(root / "music.wav"), music, SR, subtype="FLOAT")
    soundfile.write(str(root / "line.wav"), line.astype(np.float32), SR, subtype="FLOAT")
    (root / "script.yaml").write_text(yaml.safe_dump(SCRIPT, sort_keys=False))
    return root


def static_figures(scene_path, script, work, targets):
    """The targets' figures measured on a render of the scene with its target stages off."""
    scene = load_scene(scene_path)
    measured = rec.measure_folder(layout.render_folder(rec.static_variant(scene), script, work), False)
    return rec.figures(rec.Model(scene, measured, {}, [], {}), np.zeros(0), targets)


def test_recommend_recovers_a_known_fader_offset_and_duck_depth_within_1_db(lines, tmp_path):
    good = write_scene(lines, TRUE_MUSIC_DB, TRUE_DEPTH_DB)
    bad = write_scene(lines, TRUE_MUSIC_DB + OFFSET_MUSIC_DB, TRUE_DEPTH_DB + OFFSET_DEPTH_DB)
    probe = rec.Targets(lufs={"master": 0.0}, margins={"dialogue": (0.0, ("music",))})
    f = static_figures(good, lines / "script.yaml", tmp_path / "good", probe)
    targets = rec.Targets(lufs={"master": f["lufs:master"]}, margins={"dialogue": (f["margin:dialogue"], ("music",))})
    result = rec.recommend(bad, lines / "script.yaml", targets,
                           vary=["music", "buses.music.sidechain[0].depth_db"], work=tmp_path / "work")
    change = {c["path"]: c["change"] for c in result.changes}
    assert change["buses.music.volume_db"] == pytest.approx(-OFFSET_MUSIC_DB, abs=1.0)
    assert change["buses.music.sidechain[0].depth_db"] == pytest.approx(-OFFSET_DEPTH_DB, abs=1.0)
    assert result.before["margin:dialogue"] < targets.margins["dialogue"][0] - 5      # it was mis-balanced
    for key, value in result.verified.items():                      # the mixer agrees with the model
        assert value == pytest.approx(result.predicted[key], abs=0.5), key


def test_the_patch_applies_to_the_scene_keeping_its_comments_and_meets_the_declared_targets(lines, tmp_path, capsys):
    folder = tmp_path / "scene"
    shutil.copytree(lines, folder)
    scene = write_scene(folder, TRUE_MUSIC_DB + OFFSET_MUSIC_DB, TRUE_DEPTH_DB + OFFSET_DEPTH_DB)
    patch = tmp_path / "patch.yaml"
    assert main(["recommend", str(scene), "--script", str(folder / "script.yaml"), "--vary", "music",
                 "--vary", "dialogue", "--out", str(patch), "--apply"]) == 0
    printed = capsys.readouterr().out
    changes = rec.read_patch(patch.read_text())
    assert printed == patch.read_text() and "# targets: master at -24 LUFS" in printed
    assert {c["path"] for c in changes} <= {"buses.music.volume_db", "buses.dialogue.volume_db"} and changes
    text = scene.read_text()
    assert "# the mix's loudness" in text and "# the fader under test" in text      # comments kept
    assert "sidechain: [{key: dialogue, threshold_db: -45" in text                 # flow style kept
    applied = load_scene(scene)
    for c in changes:
        assert rec.get_path(applied, c["path"]) == pytest.approx(c["to"])
    targets = rec.targets_from_scene(applied)
    f = static_figures(scene, folder / "script.yaml", tmp_path / "after", targets)
    assert f["lufs:master"] == pytest.approx(-24.0, abs=0.5)
    assert f["margin:dialogue"] >= 10.0 - 0.5


def test_a_masking_limit_is_met_by_differential_evolution(tmp_path):
    """Bus b masks bus a at 2-4 kHz all the time; a 20 % limit, with b's fader free to move, is not smooth
    (it counts steps), so least squares stops where it starts and differential evolution takes over."""
    scene, script = two_bus_scene(tmp_path / "two")
    result = rec.recommend(scene, script, rec.Targets(max_masked_percent=20.0), vary=["b"], verify=False)
    assert result.masked_before["a"] >= 95.0
    assert result.masked_after["a"] <= 20.0
    assert "differential evolution" in result.method
    cut = {(p["bus"], p["band"]): p["cut_db"] for p in result.eq_proposals}
    gain = {c["path"]: c["change"] for c in result.changes}.get("buses.b.volume_db", 0.0)
    assert gain < -1.0 or cut.get(("b", "2–4 kHz"), 0.0) < -1.0       # b moved down where it masks a


def test_vary_refuses_what_recommend_cannot_move(lines, tmp_path):
    scene = write_scene(lines, -6, -3)
    with pytest.raises(ValueError, match="cannot vary 'buses.music.lowpass_hz'"):
        rec.recommend(scene, lines / "script.yaml", vary=["buses.music.lowpass_hz"], verify=False)
