"""Intelligibility targets: a protected bus kept a margin above the sum of the others, measured
on the buses' own signals (the stems) with pyloudnorm, never with gamemix's meters."""

import numpy as np
import pyloudnorm as pyln
import pytest
from scipy.signal import butter, sosfilt

from conftest import BLOCK, SR
from gamemix.errors import LocatedError

LINE_START, LINE_SECONDS = 2.0, 6.0


def speech_like(seconds, seed=0, amp=0.3):
    """Speech-band noise (300-3400 Hz) in syllables at 4 Hz, with a 0.6 s pause every 2 s."""
    x = sosfilt(butter(4, [300, 3400], "bandpass", fs=SR, output="sos"),
                np.random.default_rng(seed).standard_normal(int(seconds * SR)))
    t = np.arange(len(x)) / SR
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5 * (np.sin(2 * np.pi * 0.5 * t) > -0.6)
    return (x * envelope * amp).astype(np.float32)


def bed(seconds, level, seed, band=None):
    """A looping stereo noise bed (band-limited around the loop, so it loops without a click)."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR)) * level
    if band is not None:
        x = sosfilt(butter(4, band, "bandpass", fs=SR, output="sos"), np.tile(x, 3))[len(x): 2 * len(x)]
    return np.stack([x, np.roll(x, 37)], 1).astype(np.float32)


def render_stems(scene_dir, rule, bed_audio, seconds=10.0):
    """Play a looping bed on `music` and, from LINE_START, one line on `dialogue`; return each
    bus's signal as the mix hears it, and the dialogue bus's readings every block."""
    scene_dir.audio("line.wav", speech_like(LINE_SECONDS))
    scene_dir.audio("bed.wav", bed_audio)
    buses = {"master": {}, "dialogue": {"intelligibility": rule} if rule else {}, "music": {}}
    m = scene_dir.mixer({"line": {"files": ["line.wav"], "bus": "dialogue"},
                         "bed": {"files": ["bed.wav"], "loop": True, "bus": "music"}}, buses=buses)
    m.play("bed", 1)
    stems = {name: [] for name in m.bus_names}
    readings = []
    block = np.zeros((BLOCK, 2), np.float32)
    for k in range(int(seconds * SR / BLOCK)):
        if k == int(LINE_START * SR / BLOCK):
            m.play("line", 2)
        m.render(block)
        for i, name in enumerate(m.bus_names):
            stems[name].append(m.arrays.bus_buf[i].T.copy())
        readings.append(m.chains.readings()["dialogue"])
    return {name: np.concatenate(v).astype(np.float64) for name, v in stems.items()}, readings


def margins(stems, against="music"):
    """Dialogue over `against` in every 3 s window inside the line, every 0.25 s (pyloudnorm)."""
    meter = pyln.Meter(SR)
    out = []
    for start in np.arange(LINE_START, LINE_START + LINE_SECONDS - 3.0 + 1e-9, 0.25):
        a, b = int(start * SR), int((start + 3.0) * SR)
        out.append(meter.integrated_loudness(stems["dialogue"][a:b]) - meter.integrated_loudness(stems[against][a:b]))
    return np.array(out)


def test_the_line_stays_ten_lu_above_the_rest_in_its_worst_window(scene_dir):
    loud_music = bed(2.0, 0.05, seed=1)                       # as loud as the voice: margins about -3 LU
    without, _ = render_stems(scene_dir, None, loud_music, seconds=13.0)
    with_rule, readings = render_stems(scene_dir, {"margin_lu": 10}, loud_music, seconds=13.0)
    assert margins(without).min() < 0
    assert margins(with_rule).min() >= 10.0
    assert margins(with_rule).mean() < 12.5                   # as much as needed, not far more
    cuts = np.array([r["intelligibility_cut_db"] for r in readings])
    assert cuts.min() >= -18.0                                 # bounded by max_cut_db
    meter = pyln.Meter(SR)
    before = slice(0, int(LINE_START * SR))
    assert meter.integrated_loudness(with_rule["music"][before]) == pytest.approx(
        meter.integrated_loudness(without["music"][before]), abs=0.05)      # untouched before the line
    end = int((LINE_START + LINE_SECONDS) * SR / BLOCK)
    assert cuts[end + int(4.0 * SR / BLOCK) - 1] > -1.0       # released within 4 s of the line's end
    assert cuts[end:].min() >= cuts[:end].min() - 0.5         # the line's tail asks for no deeper cut
    heard = [r["intelligibility_margin_lu"] for r in readings[int(3 * SR / BLOCK): end]]
    assert sum(h is not None for h in heard) > 0.75 * len(heard)   # reported while it speaks (its pauses: null)


def test_a_mix_that_already_meets_the_margin_is_not_touched(scene_dir):
    quiet_music = bed(2.0, 0.003, seed=1)                      # about 25 LU under the voice
    without, _ = render_stems(scene_dir, None, quiet_music)
    with_rule, readings = render_stems(scene_dir, {"margin_lu": 10}, quiet_music)
    assert max(abs(r["intelligibility_cut_db"]) for r in readings) < 0.01
    assert np.max(np.abs(with_rule["music"] - without["music"])) < 1e-6


def test_the_speech_band_is_weighted(scene_dir):
    """A rumble under the voice's band and a hiss inside it, each 3 LU under the voice: held in
    loudness both are cut; held in the speech band only the hiss is, and the default (both)
    cuts each at least as deep as either measure asks."""
    meter = pyln.Meter(SR)
    voice = meter.integrated_loudness(np.stack([speech_like(LINE_SECONDS)] * 2, 1).astype(np.float64))
    beds = {"rumble": bed(2.0, 0.2, seed=1, band=[30, 100]), "hiss": bed(2.0, 0.05, seed=2, band=[800, 3000])}
    cut = {}
    for name, audio in beds.items():
        audio = audio * 10 ** ((voice - 3.0 - meter.integrated_loudness(audio.astype(np.float64))) / 20)
        for weighting in ("loudness", "speech_band", "both"):
            _, readings = render_stems(scene_dir, {"margin_lu": 10, "weighting": weighting}, audio.astype(np.float32))
            cut[name, weighting] = -min(r["intelligibility_cut_db"] for r in readings)
    assert cut["rumble", "loudness"] > 8 and cut["hiss", "loudness"] > 8
    assert cut["rumble", "speech_band"] < 1 and cut["hiss", "speech_band"] > 8
    for name in beds:
        assert cut[name, "both"] >= max(cut[name, "loudness"], cut[name, "speech_band"]) - 0.5


@pytest.mark.parametrize("against, says", [(["nope"], "unknown bus 'nope'"),
                                           (["master"], "cut the protected bus itself"),
                                           (["radio"], "cut the protected bus itself"),
                                           (["sfx", "weapons"], "counted twice")])
def test_a_rule_that_names_the_wrong_buses_is_a_located_error(scene_dir, against, says):
    buses = {"master": {}, "dialogue": {"intelligibility": {"against": against}},
             "radio": {"parent": "dialogue"}, "sfx": {}, "weapons": {"parent": "sfx"}}
    with pytest.raises(LocatedError) as error:
        scene_dir.mixer({}, buses=buses)
    message = "\n".join(str(p) for p in error.value.problems)
    assert "buses.dialogue.intelligibility.against" in message and says in message, message


def test_by_default_it_is_measured_against_every_other_branch():
    from gamemix.processors.intelligibility import default_against
    parent = {"master": None, "music": "master", "sfx": "master", "weapons": "sfx", "voice": "master",
              "dialogue": "voice", "radio": "voice", "barks": "dialogue"}
    assert sorted(default_against(parent, "dialogue")) == ["music", "radio", "sfx"]
