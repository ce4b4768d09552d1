"""Output layouts beyond stereo: VBAP over speaker layouts, AmbiX encoding, and the files they make.

Oracles: Pulkki's VBAP properties (a source at a speaker drives it alone, halfway between two is
-3.01 dB on each, unit power everywhere, no negative gain); the real spherical harmonics from SciPy
with the SN3D normalisation written out here; what soundfile and ffprobe read from the WAV files."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import soundfile
import yaml
from scipy.special import sph_harm_y

from conftest import render_blocks, sine
from gamemix.core.panning import PannerContext, ambisonics, layout, vbap
from gamemix.core.panning.layouts import SPECS
from gamemix.offline.render import render

SPEAKER_LAYOUTS = ["quad", "5.1", "7.1", "7.1.4"]
CTX = PannerContext(48000, 256, 16, 1, ())


def unit(az_right: float, el: float) -> tuple[float, float, float]:
    a, e = math.radians(az_right), math.radians(el)
    return math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)


def gains(name: str, az: float, el: float = 0.0, spread: float = 0.0) -> np.ndarray:
    p = layout(name).make_panner(CTX)
    return np.array(vbap.direction_gains(p, *unit(az, el), spread))[:len(SPECS[name].channels)]


# ---------------------------------------------------------------------------------------------- VBAP
@pytest.mark.parametrize("name", SPEAKER_LAYOUTS)
def test_a_source_at_a_speaker_drives_that_speaker_alone(name):
    for c, spk in enumerate(SPECS[name].speakers):
        if spk.name == "LFE":
            continue
        expected = np.zeros(len(SPECS[name].channels))
        expected[c] = 1.0
        np.testing.assert_allclose(gains(name, spk.azimuth, spk.elevation), expected, atol=1e-9, err_msg=spk.name)


@pytest.mark.parametrize("name", ["quad", "5.1", "7.1"])
def test_halfway_between_two_speakers_both_get_minus_3_01_db(name):
    ring = sorted((s.azimuth, c) for c, s in enumerate(SPECS[name].speakers) if s.name != "LFE")
    for (a0, c0), (a1, c1) in zip(ring, ring[1:] + [(ring[0][0] + 360.0, ring[0][1])]):
        g = gains(name, (a0 + a1) / 2.0)
        assert 20 * np.log10(g[c0]) == pytest.approx(-3.0103, abs=1e-3)
        assert 20 * np.log10(g[c1]) == pytest.approx(-3.0103, abs=1e-3)
        assert np.count_nonzero(g > 1e-9) == 2


@pytest.mark.parametrize("name", SPEAKER_LAYOUTS)
def test_power_is_constant_and_no_gain_is_negative_in_every_direction(name):
    lfe = SPECS[name].channels.index("LFE") if "LFE" in SPECS[name].channels else -1
    for el in (-60.0, -20.0, 0.0, 30.0, 60.0, 89.0):
        for az in np.arange(-180.0, 180.0, 7.5):
            g = gains(name, az, el)
            assert np.sum(g ** 2) == pytest.approx(1.0, abs=1e-9)
            assert g.min() >= 0.0
            if lfe >= 0:
                assert g[lfe] == 0.0                      # the LFE takes only a sound's own send


@pytest.mark.parametrize("name", ["5.1", "7.1.4"])
def test_spread_keeps_the_power_and_at_one_spreads_evenly(name):
    for spread in (0.25, 0.5, 1.0):
        for az in (0.0, 50.0, 135.0):
            assert np.sum(gains(name, az, 10.0, spread) ** 2) == pytest.approx(1.0, abs=1e-9)
    mains = [c for c, s in enumerate(SPECS[name].speakers) if s.name != "LFE"]
    point, wide = gains(name, 30.0)[mains], gains(name, 30.0, 0.0, 1.0)[mains]
    assert np.count_nonzero(point > 1e-6) == 1 and np.count_nonzero(wide > 1e-3) == len(mains)


def scene_for(tmp_path, channels: str, sounds: dict) -> dict:
    soundfile.write(tmp_path / "tone.wav", sine(1000.0, 1.0, amp=0.5), 48000, subtype="FLOAT")
    return {"version": 1, "output": {"channels": channels, "max_voices": 8}, "buses": {"master": {}},
            "sounds": sounds}


def mix(scene_dir, channels: str, sounds: dict, plays: list[dict], blocks: int = 40) -> np.ndarray:
    soundfile.write(scene_dir.root / "tone.wav", sine(1000.0, 1.0, amp=0.5), 48000, subtype="FLOAT")
    m = scene_dir.mixer(sounds, channels=channels)
    for p in plays:
        m.play(**p)
    return render_blocks(m, blocks)[20 * 256:]                   # after the first gains have settled


def rms_db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2, axis=0) + 1e-30)


def test_a_3d_sound_at_the_surround_left_speaker_is_heard_there_only(scene_dir):
    az, _ = SPECS["5.1"].speakers[4].azimuth, 0        # SL, 110 degrees to the left
    x, y, z = unit(az, 0.0)
    out = mix(scene_dir, "5.1", {"t": {"files": ["tone.wav"], "loop": True, "spatial": {}}},
                [{"sound": "t", "position": (10 * x, 10 * y, -10 * z)}])     # the scene's frame faces -Z
    levels = rms_db(out)
    assert levels[4] > -40 and np.all(np.delete(levels, 4) < levels[4] - 100)


def test_the_lfe_send_and_the_centre_share_of_2d_sounds(scene_dir):
    sounds = {"line": {"files": ["tone.wav"], "loop": True, "centre": 1.0, "lfe_db": -6.0},
              "music": {"files": ["tone.wav"], "loop": True}}
    line = rms_db(mix(scene_dir, "5.1", sounds, [{"sound": "line"}]))
    assert line[2] == pytest.approx(20 * np.log10(0.5 / math.sqrt(2)), abs=0.01)     # the centre, at full level
    assert line[3] == pytest.approx(line[2] - 6.0, abs=0.01)                         # the LFE send, -6 dB
    assert np.all(line[[0, 1, 4, 5]] < -200)
    music = rms_db(mix(scene_dir, "5.1", sounds, [{"sound": "music"}]))
    assert music[0] == pytest.approx(music[2 - 1], abs=1e-6)                         # a phantom centre:
    assert music[0] == pytest.approx(20 * np.log10(0.5 / math.sqrt(2)) - 3.0103, abs=0.01)   # -3.01 dB each
    assert np.all(music[[2, 3, 4, 5]] < -200)


# ---------------------------------------------------------------------------------------------- ambisonics
def sn3d(order: int, azimuth: float, elevation: float) -> np.ndarray:
    """Real SN3D spherical harmonics in ACN order, from SciPy's complex orthonormal ones."""
    colat = math.pi / 2 - elevation
    out = []
    for n in range(order + 1):
        for m in range(-n, n + 1):
            y = sph_harm_y(n, abs(m), colat, azimuth)          # orthonormal, Condon-Shortley phase included
            real = math.sqrt(2) * (-1) ** m * (y.imag if m < 0 else y.real) if m != 0 else y.real
            n3d_to_sn3d = math.sqrt(4 * math.pi / (2 * n + 1))
            out.append(real * n3d_to_sn3d)
    return np.array(out)


@pytest.mark.parametrize("order", [1, 3])
def test_the_encoding_is_the_sn3d_spherical_harmonics(order):
    rng = np.random.default_rng(1)
    for _ in range(200):
        az, el = rng.uniform(-math.pi, math.pi), rng.uniform(-math.pi / 2, math.pi / 2)
        # azimuth counterclockwise (to the left), so the listener frame's x (right) is -sin(az)
        x, y, z = -math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)
        got = np.array(ambisonics.encode(x, y, z, order, 0.0))
        n = (order + 1) ** 2
        np.testing.assert_allclose(got[:n], sn3d(order, az, el), atol=1e-12)
        assert not got[n:].any()


def test_decoding_to_a_regular_ring_puts_the_energy_maximum_at_the_source():
    ring = np.radians(np.arange(0.0, 360.0, 5.0))
    decoder = np.array([sn3d(3, a, 0.0) for a in ring])        # a sampling (basic) decoder
    for theta in np.radians([0.0, 37.0, 90.0, 200.0, 315.0]):
        g = np.array(ambisonics.encode(-math.sin(theta), 0.0, math.cos(theta), 3, 0.0))
        energy = (decoder @ g) ** 2
        peak = ring[np.argmax(energy)]
        assert abs((peak - theta + math.pi) % (2 * math.pi) - math.pi) <= math.radians(2.5)


def test_spread_keeps_the_pressure_and_tapers_the_orders():
    point = np.array(ambisonics.encode(0.0, 0.0, 1.0, 3, 0.0))
    wide = np.array(ambisonics.encode(0.0, 0.0, 1.0, 3, 0.5))
    full = np.array(ambisonics.encode(0.0, 0.0, 1.0, 3, 1.0))
    assert wide[0] == point[0] == full[0] == 1.0
    assert wide[3] == pytest.approx(0.5 * point[3]) and wide[6] == pytest.approx(0.25 * point[6])
    assert not full[1:].any()


# ---------------------------------------------------------------------------------------------- files
# what ffprobe names each file's layout: stereo files are plain WAVE_FORMAT_IEEE_FLOAT, which has no mask
# (players take two channels as left and right); the ambisonic ones carry mask 0 (no speakers)
FFMPEG_LAYOUT = {"stereo": "", "quad": "quad", "5.1": "5.1(side)", "7.1": "7.1", "7.1.4": "7.1.4",
                 "binaural": "", "ambix1": "", "ambix3": ""}


@pytest.mark.parametrize("name", list(SPECS))
def test_a_wav_of_every_layout_has_its_channels_and_mask(tmp_path, name):
    soundfile.write(tmp_path / "tone.wav", sine(500.0, 0.5, amp=0.3), 48000, subtype="FLOAT")
    (tmp_path / "scene.yaml").write_text(yaml.safe_dump(
        {"version": 1, "output": {"max_voices": 4}, "buses": {"master": {}},
         "sounds": {"t": {"files": ["tone.wav"], "spatial": {}}}}))
    (tmp_path / "script.yaml").write_text(yaml.safe_dump(
        {"duration": 0.3, "messages": [{"at": 0.0, "type": "play", "sound": "t", "position": [2.0, 0.0, -1.0]}]}))
    out = tmp_path / "out.wav"
    render(tmp_path / "scene.yaml", tmp_path / "script.yaml", out, layout=name)
    info = soundfile.info(str(out))
    assert info.channels == len(SPECS[name].channels)
    raw = out.read_bytes()
    if info.channels > 2:
        assert int.from_bytes(raw[20:22], "little") == 0xFFFE                        # WAVE_FORMAT_EXTENSIBLE
        assert int.from_bytes(raw[40:44], "little") == SPECS[name].mask
    else:
        assert int.from_bytes(raw[20:22], "little") == 3                             # plain IEEE float
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed (make test installs ffmpeg)")
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
                                      capture_output=True, text=True, check=True).stdout)["streams"][0]
    assert probe["channels"] == len(SPECS[name].channels)
    listed = f"{len(SPECS[name].channels)} channels ({'+'.join(SPECS[name].channels)})"   # older ffmpeg: no name
    assert probe.get("channel_layout", "") in (FFMPEG_LAYOUT[name], listed)
    assert soundfile.read(str(out))[0].any()


@pytest.mark.parametrize("name", ["quad", "7.1", "7.1.4", "ambix3"])
def test_a_source_circling_fast_makes_no_step_larger_than_the_ramp_allows(scene_dir, name):
    """A constant (DC) source turning 20 degrees a block around the listener: each channel's output
    is its gain times the level, ramped across each block, so no sample-to-sample step exceeds
    the largest gain change of a block spread over its 256 samples."""
    scene_dir.audio("dc.wav", np.full(48000, 0.5, np.float32))
    m = scene_dir.mixer({"dc": {"files": ["dc.wav"], "loop": True, "spatial": {"rolloff": "none"}}}, channels=name)
    m.play("dc", 1, position=(0.0, 0.0, -2.0))
    out = np.zeros((256, m.channels), np.float32)
    blocks = []
    for k in range(72):
        a = math.radians(20.0 * k)
        m.set_emitter(1, (2.0 * math.sin(a), 0.5, -2.0 * math.cos(a)))
        m.render(out)
        blocks.append(out.copy())
    x = np.concatenate(blocks)[256:]
    steps = np.abs(np.diff(x, axis=0)).max()
    assert steps <= 0.5 * 1.0 / 256 + 1e-6           # a gain moves at most 1 in a block (SN3D: |Y| <= 1)
    assert np.abs(x).max() > 0.2                     # and it was heard


def test_an_hrtf_file_outside_the_folder_missing_or_unreadable_is_a_located_error(tmp_path):
    import subprocess
    import sys
    from gamemix.errors import LocatedError
    from gamemix.scene.load import load_scene
    for name, hrtf, says in (("out.yaml", "../../etc/passwd", "leaves the scene's folder"),
                             ("missing.yaml", "nope.sofa", "HRTF file not found")):
        (tmp_path / name).write_text(yaml.safe_dump({"output": {"channels": "binaural", "hrtf": hrtf}}))
        with pytest.raises(LocatedError, match=says) as info:
            load_scene(tmp_path / name)
        assert "output.hrtf" in str(info.value)
    (tmp_path / "bad.sofa").write_text("not a SOFA file")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"output": {"channels": "binaural", "hrtf": "bad.sofa"}}))
    done = subprocess.run([sys.executable, "-m", "gamemix", "validate", str(tmp_path / "bad.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "output.hrtf" in done.stderr + done.stdout
    assert "not a readable SOFA file" in done.stderr + done.stdout
