"""Cross-adaptive auto-pan: sources that overlap in spectrum are spread apart, bass and sources
that mask nothing stay centred, moves are slow and settle, energy is kept; the masking reduction
is measured on rendered audio (Welch spectra per channel), not on gamemix's own figure."""

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, welch

from conftest import BLOCK, SR, render_blocks
from gamemix.core.arrays import VF_PAN

NAMES = ("bass", "gtr1", "gtr2", "hat")
BANDS = {"bass": (40, 200), "gtr1": (500, 3000), "gtr2": (600, 3500), "hat": (6000, 12000)}


def band_noise(lo, hi, seed, seconds=2.0):
    """A looping band of noise (filtered around the loop, so it wraps without a click), RMS 0.1."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR))
    x = sosfilt(butter(4, [lo, hi], "bandpass", fs=SR, output="sos"), np.tile(x, 3))[len(x): 2 * len(x)]
    return (0.1 * x / np.std(x)).astype(np.float32)


@pytest.fixture
def band(scene_dir):
    for k, name in enumerate(NAMES):
        scene_dir.audio(f"{name}.wav", band_noise(*BANDS[name], seed=k))

    def make(names, auto_pan=True, pans=None):
        sounds = {n: {"files": [f"{n}.wav"], "loop": True, "bus": "music"} for n in NAMES}
        music = {"auto_pan": {"width": 0.8, "speed": 0.5}} if auto_pan else {}
        m = scene_dir.mixer(sounds, buses={"master": {}, "music": music})
        for k, name in enumerate(names):
            m.play(name, k + 1, pan=None if pans is None else pans[k])
        return m
    return make


def pans_over_time(m, n, seconds):
    block = np.zeros((BLOCK, 2), np.float32)
    out = []
    for _ in range(int(seconds * SR / BLOCK)):
        m.render(block)
        out.append([m.arrays.vf[m.rows_of(k + 1)[0], VF_PAN] for k in range(n)])
    return np.array(out)


def test_overlapping_sources_spread_and_the_rest_stay_centred(band):
    m = band(NAMES)
    pans = pans_over_time(m, 4, 4.0)
    final = dict(zip(NAMES, pans[-1]))
    assert abs(final["bass"]) < 0.05 and abs(final["hat"]) < 0.05
    assert final["gtr1"] * final["gtr2"] < 0 and abs(final["gtr1"] - final["gtr2"]) >= 0.8
    assert np.abs(np.diff(pans, axis=0)).max() <= 0.5 * BLOCK / SR + 1e-9     # glides at `speed`
    assert np.ptp(pans[-int(2.0 * SR / BLOCK):], axis=0).max() == 0.0         # settled: still for 2 s
    assert m.autopan.figures[m.bus_index["music"]] < 0.7


def channel_spectra(out):
    return np.stack([welch(out[:, c], fs=SR, nperseg=4096)[1] for c in range(2)])


def overlap(a, b):
    """Spectral overlap of two rendered sources over both channels: sum of per-bin minima over the
    smaller total (1: same spectrum in the same place; 0: nothing shared)."""
    return np.minimum(a, b).sum() / min(a.sum(), b.sum())


def test_the_masking_between_overlapping_sources_goes_down_and_energy_is_kept(band):
    m = band(("gtr1", "gtr2"))
    placed = pans_over_time(m, 2, 3.0)[-1]
    alone = {}
    for label, pans in (("centre", (0.0, 0.0)), ("placed", tuple(placed))):
        for k, name in enumerate(("gtr1", "gtr2")):
            solo = band((name,), auto_pan=False, pans=(pans[k],))
            alone[label, name] = render_blocks(solo, int(2.0 * SR / BLOCK))[BLOCK * 20:]
    before = overlap(channel_spectra(alone["centre", "gtr1"]), channel_spectra(alone["centre", "gtr2"]))
    after = overlap(channel_spectra(alone["placed", "gtr1"]), channel_spectra(alone["placed", "gtr2"]))
    assert before > 0.6 and after < 0.7 * before
    for name in ("gtr1", "gtr2"):                                # constant power: the same energy anywhere
        energy = [np.sum(alone[label, name].astype(np.float64) ** 2) for label in ("centre", "placed")]
        assert 10 * np.log10(energy[1] / energy[0]) == pytest.approx(0.0, abs=0.05)


def test_a_bus_without_auto_pan_and_3d_voices_are_left_alone(band, scene_dir):
    m = band(("gtr1", "gtr2"), auto_pan=False)
    assert np.all(pans_over_time(m, 2, 1.0) == 0.0)
    sounds = {"gtr1": {"files": ["gtr1.wav"], "loop": True, "bus": "music", "spatial": {}},
              "gtr2": {"files": ["gtr2.wav"], "loop": True, "bus": "music", "spatial": {}}}
    m = scene_dir.mixer(sounds, buses={"master": {}, "music": {"auto_pan": {}}})
    m.play("gtr1", 1, position=(1.0, 0.0, -1.0))
    m.play("gtr2", 2, position=(1.0, 0.0, -1.0))
    assert np.all(pans_over_time(m, 2, 1.0) == 0.0)
