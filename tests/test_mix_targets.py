"""The automatic mix meets its targets on a game-like scene (scenes/firefight), measured on the
rendered mix and stems with pyloudnorm and SciPy, never with gamemix's own meters.

The scene: a quiet intro with a line, a silence between scenes, a line under music that a
snapshot raises, and a radio call and a repeat under 74 gunshots in 18 s, louder than the
speech.  Targets: -24 +/- 1 LUFS integrated, true peak (8x oversampled) <= -1 dBTP, and every
line >= 10 LU over the sum of the other buses in its worst 3 s window.  The same render without
the intelligibility rule shows that the rule is what meets the last one.
"""

import shutil
from pathlib import Path

import numpy as np
import pyloudnorm as pyln
import pytest
import soundfile
import yaml
from scipy.signal import resample_poly

from gamemix.offline.render import render

SCENE = Path(__file__).resolve().parent.parent / "scenes" / "firefight"
OTHERS = ("music", "sfx", "ambience")


def _render(tmp: Path, rule: bool) -> tuple[dict, dict, np.ndarray]:
    folder = tmp / ("with" if rule else "without")
    shutil.copytree(SCENE, folder)
    scene = folder / "scene.yaml"
    if not rule:
        text = scene.read_text()
        assert "intelligibility: {margin_lu: 10}" in text
        scene.write_text(text.replace("intelligibility: {margin_lu: 10}", "mute: false"))
    report = render(scene, folder / "script.yaml", folder / "mix.wav", stems_dir=folder / "stems", strict=True)
    stems = {p.stem: soundfile.read(p)[0] for p in (folder / "stems").glob("*.wav")}
    return report, stems, soundfile.read(folder / "mix.wav")[0]


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("firefight")
    return {"with": _render(tmp, True), "without": _render(tmp, False)}


def worst_margin(stems, start, end, sr=48000):
    """Dialogue over the sum of the others, in LU, in the line's worst 3 s window (pyloudnorm)."""
    meter = pyln.Meter(sr)
    rest = sum(stems[name] for name in OTHERS)
    width = min(3.0, end - start)
    worst = np.inf
    for s in np.arange(start, end - width + 1e-9, 0.1):
        a, b = int(s * sr), int((s + width) * sr)
        worst = min(worst, meter.integrated_loudness(stems["dialogue"][a:b]) - meter.integrated_loudness(rest[a:b]))
    return worst


def test_loudness_and_true_peak_meet_their_targets(renders):
    report, _, mix = renders["with"]
    assert not report["errors"]
    assert pyln.Meter(48000).integrated_loudness(mix) == pytest.approx(-24.0, abs=1.0)
    true_peak = 20 * np.log10(np.abs(resample_poly(mix, 8, 1, axis=0)).max())
    assert true_peak <= -1.0


def test_every_line_stays_ten_lu_over_the_rest_and_the_report_says_so(renders):
    report, stems, _ = renders["with"]
    _, bare, _ = renders["without"]
    lines = report["lines"]
    assert [line["sound"] for line in lines] == ["line_storm", "line_contact", "line_clear", "line_storm"]
    shots = [m for m in lines if m["start"] > 25]
    sr, meter = 48000, pyln.Meter(48000)
    a, b = int(shots[0]["start"] * sr), int(shots[0]["end"] * sr)
    assert meter.integrated_loudness(bare["sfx"][a:b]) > meter.integrated_loudness(bare["dialogue"][a:b])  # gunfire louder
    for line in lines:
        heard = worst_margin(stems, line["start"], line["end"])
        without = worst_margin(bare, line["start"], line["end"])
        assert heard >= 10.0, (line, heard, without)
        assert without < 6.0, (line, without)                        # the rule is what gets it there
        assert 10.0 <= line["worst_3s_margin_lu"] <= heard + 0.5     # the report's (ungated) figure agrees


def test_steals_are_listed_with_time_victim_and_reason(renders):
    report, _, _ = renders["with"]
    voices = report["voices"]
    stolen = [e for e in voices["log"] if e["event"] == "stolen"]
    assert voices["steals"] > 0 and len(stolen) == voices["steals"] == voices["log_total"]
    assert all(e["sound"] == "gunshot" and "'weapons' limit of 6" in e["reason"] and 25 <= e["t"] <= 44
               for e in stolen)
    assert len({e["id"] for e in stolen}) == len(stolen)


def _largest_step(x, sr, start, end):
    a, b = max(int(start * sr), 1), int(end * sr)
    return float(np.abs(np.diff(x[a - 1:b], axis=0)).max())


def test_steals_and_snapshot_changes_do_not_click(renders):
    """Around each snapshot change, the music and ambience (continuous content) step no more than
    they do in the second around it; around each steal, the weapons step no more than a shot's
    own onset does anywhere in the render."""
    report, stems, _ = renders["with"]
    sr = 48000
    for change in report["snapshots"]["events"]:
        t = change["t"]
        for bus in ("music", "ambience"):
            at = _largest_step(stems[bus], sr, t - 0.01, t + 0.1)
            around = max(_largest_step(stems[bus], sr, t - 1.0, t - 0.02), _largest_step(stems[bus], sr, t + 0.2, t + 1.0))
            assert at <= 1.1 * around, (change, bus, at, around)
    script = yaml.safe_load((SCENE / "script.yaml").read_text())
    onsets = [m["at"] for m in script["messages"] if m.get("sound") == "gunshot"]
    content = max(_largest_step(stems["weapons"], sr, t, t + 0.05) for t in onsets)
    for steal in (e for e in report["voices"]["log"] if e["event"] == "stolen"):
        assert _largest_step(stems["weapons"], sr, steal["t"] - 0.01, steal["t"] + 0.05) <= content
