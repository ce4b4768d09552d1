"""A mix check cannot pass a broken script: strict renders, `validate --script`, and honest reports
(silence is null, not -474 LUFS).  Run through the real command line (`gamemix.cli.main`)."""

import json
import os

import numpy as np
import pytest

from conftest import SR, sine
from gamemix.cli import main
from gamemix.offline.render import render

GOOD = """\
version: 1
duration: 1.5
messages:
  - {at: 0.0, type: play, sound: tone, id: 1}
  - {at: 0.2, type: event, name: blip}
  - {at: 0.3, type: set_parameter, name: rain, value: 0.5}
  - {at: 0.4, type: bus_volume, bus: music, volume_db: -6}
"""


@pytest.fixture
def project(scene_dir):
    scene_dir.audio("tone.wav", sine(440.0, 0.5, amp=0.3))
    scene = scene_dir.scene({"tone": {"files": ["tone.wav"], "bus": "music"}},
                            buses={"master": {}, "music": {}, "quiet": {}},
                            extra={"events": {"blip": [{"action": "play", "sound": "tone"}]},
                                   "parameters": {"rain": {"min": 0, "max": 1}}})
    return scene, scene_dir.root


def write(root, text, name="script.yaml"):
    path = root / name
    path.write_text(text)
    return path


def test_validate_checks_a_script_against_the_scene(project, capsys):
    scene, root = project
    assert main(["validate", str(scene), "--no-decode", "--script", str(write(root, GOOD))]) == 0
    assert "ok against" in capsys.readouterr().out
    bad = GOOD.replace("sound: tone", "sound: tnoe").replace("name: blip", "name: blop") \
              .replace("bus: music", "bus: musik").replace("name: rain", "name: snow")
    assert main(["validate", str(scene), "--no-decode", "--script", str(write(root, bad, "bad.yaml"))]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml:4:" in err and "messages[0].sound: unknown sound 'tnoe'" in err and "did you mean 'tone'" in err
    assert "bad.yaml:5:" in err and "unknown event 'blop'" in err
    assert "bad.yaml:6:" in err and "unknown parameter 'snow'" in err
    assert "bad.yaml:7:" in err and "unknown bus 'musik'" in err and "did you mean 'music'" in err
    assert "4 errors" in err


def test_render_refuses_a_script_naming_what_the_scene_lacks(project, capsys):
    scene, root = project
    bad = write(root, GOOD.replace("name: blip", "name: blop"))
    out = root / "mix.wav"
    assert main(["render", str(scene), "--script", str(bad), "--out", str(out)]) == 1
    assert "unknown event 'blop'" in capsys.readouterr().err and not out.exists()
    # exploring: the render goes on, and the report lists what was refused
    assert main(["render", str(scene), "--script", str(bad), "--out", str(out), "--allow-errors",
                 "--report", str(root / "r.json")]) == 0
    report = json.loads((root / "r.json").read_text())
    assert [e["code"] for e in report["errors"]] == ["unknown_event"] and out.exists()


def test_render_fails_when_the_mixer_refuses_a_command(project, capsys):
    """Names all exist, but instance 7 was never played: the mixer refuses the stop at run time."""
    scene, root = project
    script = write(root, GOOD + "  - {at: 0.5, type: stop, id: 7}\n")
    assert main(["render", str(scene), "--script", str(script), "--out", str(root / "m.wav")]) == 1
    captured = capsys.readouterr()
    assert "1 command was refused" in captured.err and "error at" in captured.out
    assert main(["render", str(scene), "--script", str(script), "--out", str(root / "m.wav"),
                 "--allow-errors"]) == 0


def test_silent_buses_report_null_loudness(project):
    """A bus that never sounds, and one whose sound ended seconds ago, report no momentary or
    short-term loudness (null), never the log of a decaying filter state."""
    scene, root = project
    report = render(scene, write(root, GOOD.replace("duration: 1.5", "duration: 5.0")), root / "m.wav")
    quiet, music = report["loudness"]["quiet"], report["loudness"]["music"]
    assert quiet["momentary_lufs"] is None and quiet["short_term_lufs"] is None
    assert quiet["integrated_lufs"] is None and quiet["true_peak_dbtp"] is None
    assert music["momentary_lufs"] is None and music["short_term_lufs"] is None    # 4 s after the tone
    assert music["integrated_lufs"] is not None and music["max_momentary_lufs"] > -30
    for bus in report["loudness"].values():
        for key, value in bus.items():
            assert value is None or (np.isfinite(value) and value > -71), (key, value)


def test_a_symlink_out_of_the_scene_folder_is_named(scene_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere")
    scene_dir.audio("tone.wav", sine(440.0, 0.2))
    os.replace(scene_dir.root / "tone.wav", outside / "tone.wav")
    os.symlink(outside, scene_dir.root / "shared")
    scene = scene_dir.scene({"tone": {"files": ["shared/tone.wav"]}})
    from gamemix.errors import LocatedError
    from gamemix.scene.load import load_scene
    from gamemix.scene.assets import build_bank
    with pytest.raises((LocatedError, ValueError), match="through the symlink 'shared'"):
        build_bank(load_scene(scene))
