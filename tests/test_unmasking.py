"""Unmasking: a masker is cut where it covers the target, by the rule's amount, and nowhere else."""

import numpy as np
import pytest

from gamemix.core.dsp import unmasking as U

FS = 48000
BLOCK = 256


def band_noise(lo, hi, seconds, level_db, seed):
    """Noise with a flat spectrum between lo and hi Hz, at level_db RMS per channel (FFT-built)."""
    n = int(seconds * FS)
    spec = np.zeros(n // 2 + 1, complex)
    f = np.fft.rfftfreq(n, 1 / FS)
    band = (f >= lo) & (f <= hi)
    spec[band] = np.exp(2j * np.pi * np.random.default_rng(seed).uniform(size=band.sum()))
    x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x ** 2)) * 10 ** (level_db / 20)


def band_db(x, lo, hi):
    """Energy of x between lo and hi Hz, dB (independent FFT analysis)."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / FS)
    return 10 * np.log10(spec[(f >= lo) & (f <= hi)].sum())


def run(masker, target, margin=0.0, depth=9.0, attack=20.0, release=300.0):
    """Process (masker, target) mono signals as centre stereo buses; return masker out and cuts per block."""
    st, _ = U.allocate(1, 1, 1, FS)
    U.set_masker(st.maskers, 0, 0, FS, depth, margin, -60.0, attack, release)
    out = np.zeros_like(masker)
    cuts = []
    for s in range(0, masker.size - BLOCK + 1, BLOCK):
        t = np.ascontiguousarray(np.stack([target[s:s + BLOCK]] * 2).astype(np.float32))
        U.analyse_target(0, t, BLOCK, 2, st.lane_bands, st.targets, st.steps)
        m = np.ascontiguousarray(np.stack([masker[s:s + BLOCK]] * 2).astype(np.float32))
        U.unmask_block(0, m, BLOCK, 2, st.bands, st.lane_bands, st.targets, st.maskers, st.masker_bands, st.cuts,
                       st.bells, st.levels, st.steps)
        out[s:s + BLOCK] = m[0]
        cuts.append(st.cuts[0, 0].copy())
    return out, np.array(cuts)


@pytest.fixture(scope="module")
def scene():
    music = band_noise(1000, 4000, 6, -20, 1) + 0.1 * np.sin(2 * np.pi * 150 * np.arange(6 * FS) / FS)
    speech = band_noise(1000, 4000, 6, -24, 2)                # 4 dB under the music in its band
    speech[3 * FS:] = 0.0                                     # the line ends at 3 s
    return music, speech, run(music, speech)


def test_cut_in_the_shared_bands_by_the_rule(scene):
    music, speech, (out, cuts) = scene
    a, b = 2 * FS, 3 * FS                                      # settled, dialogue on
    # the 2 kHz band lies wholly inside both signals: masker 4 dB over the target, margin 0 -> 4 dB
    assert cuts[b // BLOCK - 1, U.BANDS.index(2000.0)] == pytest.approx(4.0, abs=0.5)
    measured = band_db(music[a:b], 1600, 2500) - band_db(out[a:b], 1600, 2500)
    assert measured == pytest.approx(4.0, abs=1.0)
    assert abs(band_db(music[a:b], 100, 200) - band_db(out[a:b], 100, 200)) < 0.5     # 150 Hz untouched
    assert cuts[b // BLOCK - 1, U.BANDS.index(250.0)] == 0.0


def test_released_when_the_target_stops(scene):
    music, speech, (out, cuts) = scene
    a, b = int(4.5 * FS), 6 * FS
    assert cuts[-1].max() < 0.05
    assert abs(band_db(music[a:b], 1000, 4000) - band_db(out[a:b], 1000, 4000)) < 0.3


def test_no_cut_when_the_masker_is_well_under_the_target():
    music = band_noise(1000, 4000, 2, -40, 3)
    speech = band_noise(1000, 4000, 2, -20, 4)
    _, cuts = run(music, speech, margin=6.0)
    assert cuts[-1].max() == 0.0


def test_depth_is_bounded_and_ramped():
    music = band_noise(1000, 4000, 2, -5, 5)
    speech = band_noise(1000, 4000, 2, -45, 6)
    _, cuts = run(music, speech, margin=6.0, depth=9.0, attack=20.0)
    assert cuts.max() <= 9.0 + 1e-9 and cuts[-1].max() == pytest.approx(9.0, abs=0.05)
    assert np.abs(np.diff(cuts, axis=0)).max() < 9.0 * 0.5    # ~5 ms blocks vs a 20 ms attack: no jump


def test_non_finite_input_stays_finite():
    music = band_noise(1000, 4000, 1, -20, 7)
    music[1000:1200] = np.nan
    out, cuts = run(music, band_noise(1000, 4000, 1, -24, 8))
    assert np.all(np.isfinite(out[2000:])) and np.all(np.isfinite(cuts))
