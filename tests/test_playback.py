"""Playback oracles: pitch, load-time resampling, exact gains, loops and one-shots."""

import math

import numpy as np
import pytest
import soxr

from conftest import SR, render_blocks, sine


def peak_frequency(x: np.ndarray, sr: int = SR) -> float:
    """Frequency of the largest FFT bin (Hann window, zero-padded to 1 Hz bins or finer)."""
    n = 1 << 20
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x)), n))
    k = int(np.argmax(spectrum))
    # parabolic interpolation of the peak bin
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / n


def rms_db(x: np.ndarray) -> float:
    return 20 * math.log10(math.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_pitch_up_an_octave_doubles_the_frequency(scene_dir):
    scene_dir.audio("tone.wav", sine(1000.0, 1.0))
    mixer = scene_dir.mixer({"tone": {"files": ["tone.wav"], "loop": True, "pitch_semitones": 12}})
    mixer.play("tone", 1)
    out = render_blocks(mixer, 100)[:, 0]
    assert peak_frequency(out) == pytest.approx(2000.0, abs=0.5)


def test_resampled_44k1_file_keeps_frequency_and_level(scene_dir):
    tone = sine(997.0, 2.0, amp=0.5, sr=44100)
    scene_dir.audio("tone44.wav", tone, sr=44100)
    mixer = scene_dir.mixer({"tone": {"files": ["tone44.wav"], "pan": -1.0}})
    mixer.play("tone", 1)
    out = render_blocks(mixer, 150)[:, 0]           # hard left: unity gain on L
    body = out[4800:4800 + 48000]
    assert peak_frequency(body) == pytest.approx(997.0, abs=0.2)
    assert rms_db(body) == pytest.approx(rms_db(tone[4410:4410 + 44100]), abs=0.1)


def test_one_voice_equals_source_times_analytic_gains(scene_dir):
    rng = np.random.default_rng(3)
    src = (rng.standard_normal(12000) * 0.2).astype(np.float32)
    scene_dir.audio("noise.wav", src)
    mixer = scene_dir.mixer({"n": {"files": ["noise.wav"], "volume_db": -6.0, "bus": "fx"}},
                            buses={"master": {"volume_db": -1.5}, "fx": {"volume_db": -3.0}})
    mixer.play("n", 1)
    out = render_blocks(mixer, 50)
    gain = 10 ** ((-6.0 - 3.0 - 1.5) / 20) * math.cos(math.pi / 4)
    np.testing.assert_allclose(out[:12000, 0], src * gain, atol=2e-7)
    np.testing.assert_allclose(out[:12000, 1], src * gain, atol=2e-7)
    assert np.all(out[12000:] == 0.0)   # a one-shot ends cleanly ...
    assert mixer.active_voices() == 0   # ... and frees its voice


def test_stereo_2d_sound_keeps_its_channels(scene_dir):
    left, right = sine(440.0, 0.5), sine(660.0, 0.5, amp=0.25)
    scene_dir.audio("st.wav", np.stack([left, right], axis=1))
    mixer = scene_dir.mixer({"st": {"files": ["st.wav"]}})
    mixer.play("st", 1)
    out = render_blocks(mixer, 100)
    np.testing.assert_allclose(out[:len(left), 0], left, atol=1e-7)
    np.testing.assert_allclose(out[:len(right), 1], right, atol=1e-7)


def test_loop_is_seamless_across_the_wrap(scene_dir):
    # 480 samples = exactly 10 cycles of 1 kHz: a seamless loop shorter than two blocks
    clip = sine(1000.0, 0.01)
    scene_dir.audio("cycle.wav", clip)
    mixer = scene_dir.mixer({"c": {"files": ["cycle.wav"], "loop": True, "pan": -1.0}})
    mixer.play("c", 1)
    out = render_blocks(mixer, 40)[:, 0]
    np.testing.assert_allclose(out, np.tile(clip, 40 * 256 // 480 + 1)[:len(out)], atol=1e-6)


def test_fractional_pitch_reads_by_linear_interpolation(scene_dir):
    ramp = np.arange(2000, dtype=np.float32) / 2000  # interpolating a ramp is exact
    scene_dir.audio("ramp.wav", ramp)
    mixer = scene_dir.mixer({"r": {"files": ["ramp.wav"], "pan": -1.0,
                                   "pitch_semitones": 12 * math.log2(0.75)}})
    mixer.play("r", 1)
    out = render_blocks(mixer, 4)[:, 0]
    expected = np.arange(1024) * 0.75 / 2000
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_soxr_is_band_limited_not_nearest_sample():
    # a 20 kHz tone at 44.1 kHz resampled to 48 kHz must not alias below 19 kHz
    x = sine(20000.0, 1.0, sr=44100)
    y = soxr.resample(x, 44100, 48000, quality="VHQ")
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 48000)
    assert freqs[np.argmax(spectrum)] == pytest.approx(20000, abs=2)
    assert spectrum[freqs < 19000].max() < spectrum.max() * 1e-4


@pytest.mark.parametrize("ratio", [0.37, 1.0, 1.01, 2.5, 15.9])
def test_resampler_matches_linear_interpolation_at_any_run_length(ratio):
    # the 8-lane path and the scalar tail must both interpolate: any start, any count, any offset
    from gamemix.core.dsp.playback import interpolate_run, pitch_to_step
    from gamemix.core.arrays import FRAC_BITS
    rng = np.random.default_rng(7)
    pool = rng.uniform(-1, 1, 40000).astype(np.float32)
    step = int(pitch_to_step(ratio))
    for count in (1, 7, 8, 9, 63, 256, 1000):
        for start in (0, 3):
            off = int(rng.integers(0, 100))
            pos = (int(rng.integers(0, 1000)) << FRAC_BITS) + int(rng.integers(0, 1 << FRAC_BITS))
            out = np.full(start + count + 5, 9.0, np.float32)
            interpolate_run(pool, off, pos, step, out, start, count)
            at = (pos + np.arange(count, dtype=np.int64) * step) / 2.0 ** FRAC_BITS  # source position
            i = np.floor(at).astype(np.int64)
            frac = at - i
            expected = pool[off + i] + (pool[off + i + 1].astype(np.float64) - pool[off + i]) * frac
            # the kernel keeps 16 fraction bits: the position may be up to 2^-16 of a sample early
            np.testing.assert_allclose(out[start:start + count], expected, atol=2 * 2.0 ** -16 + 1e-6)
            assert (out[:start] == 9.0).all() and (out[start + count:] == 9.0).all()
