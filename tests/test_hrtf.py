"""HRTF tables (scene/hrtf.py): oracles from outside the module.

- interaural delay of the KEMAR set at +-90 degrees: 0.6-0.7 ms, the near ear first (Gardner & Martin's
  head; a sphere of 8.75 cm gives 0.66 ms by Woodworth's formula);
- left/right symmetry of the (mirrored) KEMAR set, equal ears in the median plane;
- the minimum-phase filters keep the measured magnitudes (up to one equalisation common to all
  directions), and are minimum phase (their energy as front-loaded as their magnitude allows, against
  a reconstruction through scipy.signal.hilbert; their zeros inside the unit circle);
- grid nodes at measured directions hold the measured values;
- the decoder turns the SN3D encoding of a plane wave (harmonics from scipy.special.lpmv, written
  out here) into the direct path's response for that direction, within stated errors per band;
- a SOFA file written here by sofar (pure delays with Woodworth's interaural delays) gives those
  delays back; bad files raise ValueError naming the file; every supported rate loads.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal
import scipy.special

from gamemix.scene import hrtf

RATE = 48000
OCTAVES = [125, 250, 500, 1000, 2000, 4000, 8000, 16000]


@pytest.fixture(scope="module")
def kemar():
    return hrtf.load(None, RATE)


def band_db(spectrum: np.ndarray, f: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Power in [lo, hi) Hz of spectra (..., F), in dB."""
    sel = (f >= lo) & (f < hi)
    return 10 * np.log10(np.mean(np.abs(spectrum[..., sel]) ** 2, axis=-1))


def direct_spectrum(tables, k, j, nfft):
    """(2, F) the direct path of node (k, j): each ear's filter delayed by its delay, computed here."""
    f = np.fft.rfftfreq(nfft)
    return np.fft.rfft(tables.hrir[k, j].astype(float), nfft) * np.exp(-2j * np.pi * f * tables.delay[k, j, :, None])


def sn3d(order: int, az_deg, el_deg) -> np.ndarray:
    """ACN/SN3D real harmonics written out from scipy.special.lpmv (which carries the Condon-Shortley
    phase, undone here): N * P_n^|m|(sin el) * (cos m az | sin |m| az)."""
    az, el = np.radians(np.asarray(az_deg, float)), np.radians(np.asarray(el_deg, float))
    out = []
    for n in range(order + 1):
        for m in range(-n, n + 1):
            a = abs(m)
            norm = math.sqrt((2 - (a == 0)) * math.factorial(n - a) / math.factorial(n + a))
            legendre = (-1) ** a * scipy.special.lpmv(a, n, np.sin(el))
            out.append(norm * legendre * (np.cos(a * az) if m >= 0 else np.sin(a * az)))
    return np.stack(out, axis=-1)


# ---------------------------------------------------------------------------------------- the grid

def test_tables_have_the_documented_shapes_and_types(kemar):
    t = kemar
    assert (t.sample_rate, t.taps, t.order) == (RATE, 32, 3)
    assert (t.el0, t.el_step, t.n_el, t.az_step, t.n_az) == (-90.0, 5.0, 37, 5.0, 72)
    assert t.el0 + (t.n_el - 1) * t.el_step == 90.0 and t.n_az * t.az_step == 360.0
    assert t.hrir.shape == (37, 72, 2, 32) and t.hrir.dtype == np.float32 and t.hrir.flags.c_contiguous
    assert t.delay.shape == (37, 72, 2) and t.delay.dtype == np.float32 and t.delay.flags.c_contiguous
    assert t.decoder.shape == (16, 2, 64) and t.decoder.dtype == np.float32 and t.decoder.flags.c_contiguous
    assert t.delay.min() >= 0 and t.max_delay == float(t.delay.max())
    assert not t.hrir.flags.writeable and not t.delay.flags.writeable and not t.decoder.flags.writeable
    assert "KEMAR" in t.description and "Gardner" in t.description
    assert hrtf.load(None, RATE) is t                         # cached per (source, rate)


def test_interaural_delay_at_90_degrees_is_0_6_to_0_7_ms_with_the_near_ear_first(kemar):
    t = kemar
    k, left = t.node(90, 0)          # 90 = the listener's left
    _, right = t.node(270, 0)
    itd_left = (t.delay[k, left, 1] - t.delay[k, left, 0]) / RATE
    itd_right = (t.delay[k, right, 0] - t.delay[k, right, 1]) / RATE
    assert 0.6e-3 < itd_left < 0.7e-3 and 0.6e-3 < itd_right < 0.7e-3
    energy = (t.hrir.astype(float) ** 2).sum(-1)
    assert energy[k, left, 0] > 4 * energy[k, left, 1]       # and louder: the near ear
    assert energy[k, right, 1] > 4 * energy[k, right, 0]


def test_mirrored_azimuths_swap_the_ears(kemar):
    """KEMAR's set is mirrored: node (el, az) holds node (el, -az) with the ears swapped.  Tolerance:
    the triangulation of the grid's interpolation is not itself mirrored (0.1 % measured)."""
    t = kemar
    j = np.arange(t.n_az)
    mirror = (-j) % t.n_az
    h, d = t.hrir.astype(float), t.delay.astype(float)
    assert np.abs(h - h[:, mirror, ::-1]).max() < 2e-3 * np.abs(h).max()
    assert np.abs(d - d[:, mirror, ::-1]).max() < 0.05        # samples
    chan_m = np.array([m for n in range(4) for m in range(-n, n + 1)])
    flip = np.where(chan_m < 0, -1.0, 1.0)[:, None, None]       # sin(m az) channels change sign
    dec = t.decoder.astype(float)
    assert np.abs(dec - flip * dec[:, ::-1]).max() < 2e-3 * np.abs(dec).max()


def test_the_median_plane_gives_both_ears_the_same_delay_and_magnitude(kemar):
    t = kemar
    f = np.fft.rfftfreq(1024, 1 / RATE)
    for az in (0, 180):
        for el in range(-90, 91, 5):
            k, j = t.node(az, el)
            assert abs(t.delay[k, j, 0] - t.delay[k, j, 1]) < 0.01
            mag = 20 * np.log10(np.abs(np.fft.rfft(t.hrir[k, j].astype(float), 1024)) + 1e-12)
            assert np.abs(mag[0] - mag[1])[f < 16000].max() < 0.1, (az, el)


def test_grid_nodes_at_measured_directions_hold_the_measured_filters_and_delays(kemar):
    measured = hrtf.read_default()
    _, fir, delay = hrtf.measured_filters(measured, RATE)
    on_grid = np.flatnonzero((np.abs(measured.azimuth / 5 - np.round(measured.azimuth / 5)) < 1e-4)
                             & (np.abs(measured.elevation / 5 - np.round(measured.elevation / 5)) < 1e-4))
    assert len(on_grid) > 400
    for i in on_grid:
        k, j = kemar.node(measured.azimuth[i], measured.elevation[i])
        np.testing.assert_allclose(kemar.hrir[k, j], fir[i], rtol=0, atol=2e-6)
        np.testing.assert_allclose(kemar.delay[k, j], delay[i], rtol=0, atol=1e-4)


def test_below_the_lowest_ring_values_move_continuously_to_the_pole(kemar):
    t = kemar
    bottom = t.delay[0]
    assert np.abs(bottom - bottom[0]).max() < 1e-4                          # one value at the pole
    assert np.abs(bottom[:, 0] - bottom[:, 1]).max() < 1e-4                  # no ITD straight below
    assert np.abs(np.diff(t.delay[:11].astype(float), axis=0)).max() < 2.0   # no jumps down there (samples)


# ---------------------------------------------------------------------------- minimum-phase filters

def test_minimum_phase_filters_keep_the_measured_magnitudes():
    """At 44.1 kHz (no resampling) every measured direction's filter against the measured response's
    own spectrum, in 1/3-octave bands from 200 Hz to 16 kHz, once the one equalisation every direction
    shares (the mean difference per band) is taken out.  32 taps keep the spectral cues: above 2 kHz
    95 % within 1 dB; below, what 0.7 ms cannot resolve (torso reflections, the measurement's ripple)
    is smoothed, so there the bound is on the median and the spread."""
    measured = hrtf.read_default()
    _, fir, _ = hrtf.measured_filters(measured, 44100)
    nfft = 4096
    f = np.fft.rfftfreq(nfft, 1 / 44100)
    ours = np.fft.rfft(fir, nfft, axis=-1)
    theirs = np.fft.rfft(measured.hrir, nfft, axis=-1)
    # the equalisation common to all: per frequency, the median over directions and ears of the ratio
    common = np.median(np.log(np.abs(ours) + 1e-12) - np.log(np.abs(theirs) + 1e-12), axis=(0, 1))
    theirs = theirs * np.exp(common)
    centres = 1000 * 2.0 ** (np.arange(-7, 13) / 3)                          # 198 Hz .. 16 kHz
    diff = np.stack([band_db(ours, f, c * 2 ** (-1 / 6), c * 2 ** (1 / 6)) - band_db(theirs, f, c * 2 ** (-1 / 6),
                     c * 2 ** (1 / 6)) for c in centres], axis=-1)            # (M, 2, bands)
    err = np.abs(diff - diff.mean(axis=(0, 1)))
    high = err[..., centres >= 2000]
    assert np.median(err) < 0.5 and np.percentile(err, 90) < 1.0 and err.max() < 4.0
    assert np.percentile(high, 95) < 1.0 and high.max() < 2.5


def test_filters_are_minimum_phase(kemar):
    """Energy oracle: a minimum-phase filter's energy is as front-loaded as its magnitude allows; the
    reference with the same magnitude is rebuilt here through scipy.signal.hilbert (phase = -Hilbert
    transform of the log magnitude).  Zeros: inside the unit circle, up to the precision with which
    deep notches (zeros next to the circle) can be placed."""
    measured = hrtf.read_default()
    _, fir, _ = hrtf.measured_filters(measured, RATE)
    h = fir.reshape(-1, fir.shape[-1])
    nfft = 8192
    logmag = np.log(np.maximum(np.abs(np.fft.fft(h, nfft, axis=-1)), 1e-9))
    phase = -np.imag(scipy.signal.hilbert(logmag, axis=-1))
    ref = np.real(np.fft.ifft(np.exp(logmag + 1j * phase), axis=-1))[:, :nfft // 2]
    ours = np.cumsum(h ** 2, axis=-1)
    best = np.cumsum(ref ** 2, axis=-1)[:, :h.shape[1]]
    assert np.all(ours >= best - 0.005 * best[:, -1:])
    radius = np.array([np.abs(np.roots(x)).max() for x in h[::3]])
    assert np.mean(radius < 1.0) > 0.97 and radius.max() < 1.005
    # the grid's filters, blends of these, are front-loaded too: half their energy in the first quarter
    e = np.cumsum(kemar.hrir.astype(float) ** 2, axis=-1)
    assert np.all(e[..., 7] >= 0.5 * e[..., -1])


def test_diffuse_field_power_is_one_half_per_ear(kemar):
    """Equalisation: over the sphere (the grid, weighted by area) each ear's power is 1/2, as the stereo
    panner's centre, in every 1/3-octave band (within 1 dB: the grid's pole cap is not measured)."""
    t = kemar
    nfft = 1024
    f = np.fft.rfftfreq(nfft, 1 / RATE)
    el = np.radians(t.el0 + t.el_step * np.arange(t.n_el))
    half = np.radians(t.el_step / 2)
    area = np.sin(np.minimum(el + half, np.pi / 2)) - np.sin(np.maximum(el - half, -np.pi / 2))
    power = np.abs(np.fft.rfft(t.hrir.astype(float), nfft, axis=-1)) ** 2
    avg = np.einsum("k,kjef->ef", area, power) / (area.sum() * t.n_az)
    for c in 1000 * 2.0 ** (np.arange(-6, 13) / 3):
        level = band_db(np.sqrt(avg), f, c * 2 ** (-1 / 6), c * 2 ** (1 / 6))
        assert np.all(np.abs(level - 10 * np.log10(0.5)) < 1.0), c


# ---------------------------------------------------------------------------------------- ambisonics

def test_sn3d_harmonics_are_the_ambix_ones():
    rng = np.random.default_rng(1)
    az, el = rng.uniform(0, 360, 200), np.degrees(np.arcsin(rng.uniform(-1, 1, 200)))
    ours = hrtf.sh_sn3d(3, az, el)
    np.testing.assert_allclose(ours, sn3d(3, az, el), atol=1e-12)
    a, e = np.radians(az), np.radians(el)
    np.testing.assert_allclose(ours[:, :4], np.stack([np.ones_like(a), np.sin(a) * np.cos(e), np.sin(e),
                                                      np.cos(a) * np.cos(e)], axis=-1), atol=1e-12)


def test_decoder_reproduces_plane_waves_within_the_stated_errors(kemar):
    """Every grid node from -40 to +90 degrees elevation (the measured span): the SN3D encoding of a
    plane wave from it, decoded, against its direct path.  Octave-band level errors, |dB| median / 95th
    percentile over nodes and ears: order 3 resolves the head up to about 2 kHz; above, MagLS keeps the
    levels but not every direction's notches and shadow."""
    t = kemar
    nfft = 4096
    f = np.fft.rfftfreq(nfft, 1 / RATE)
    k, j = np.meshgrid(np.arange(10, t.n_el), np.arange(t.n_az), indexing="ij")
    az, el = j.ravel() * t.az_step, t.el0 + k.ravel() * t.el_step
    coeff = sn3d(3, az, el)                                                     # (P, 16)
    decoded = np.einsum("pc,cef->pef", coeff, np.fft.rfft(t.decoder.astype(float), nfft, axis=-1))
    direct = np.stack([direct_spectrum(t, a, b, nfft) for a, b in zip(k.ravel(), j.ravel())])
    bounds = {125: (0.6, 1.5), 250: (0.6, 1.5), 500: (0.6, 1.5), 1000: (1.2, 3.0), 2000: (1.5, 5.0),
              4000: (1.5, 4.5), 8000: (2.0, 5.5), 16000: (2.0, 9.0)}
    for c, (median, p95) in bounds.items():
        lo, hi = c / math.sqrt(2), c * math.sqrt(2)
        err = np.abs(band_db(decoded, f, lo, hi) - band_db(direct, f, lo, hi))
        assert np.median(err) < median and np.percentile(err, 95) < p95, (c, np.median(err), np.percentile(err, 95))
    for az_deg, near in ((90, 0), (270, 1)):           # the near ear louder in every octave
        y = sn3d(3, az_deg, 0.0)
        out = np.einsum("c,cef->ef", y, np.fft.rfft(t.decoder.astype(float), nfft, axis=-1))
        for c in OCTAVES:
            ild = band_db(out[near], f, c / math.sqrt(2), c * math.sqrt(2)) - \
                band_db(out[1 - near], f, c / math.sqrt(2), c * math.sqrt(2))
            assert ild > 1.0, (az_deg, c, ild)


# ---------------------------------------------------------------------------------------- SOFA files

def woodworth(az, el, radius=0.0875, c=343.0):
    """Interaural delay (s, > 0 when the source is on the left) of a sphere, Woodworth's formula."""
    s = np.cos(np.radians(el)) * np.sin(np.radians(az))
    return radius / c * (np.arcsin(s) + s)


def pulse(t, at):
    """A band-limited impulse at `at` seconds (a Hann-windowed sinc, 3 ms long)."""
    x = (t - at) * RATE
    return np.sinc(x) * np.where(np.abs(t - at) < 1.5e-3, 0.5 + 0.5 * np.cos(np.pi * (t - at) / 1.5e-3), 0.0)


def write_sofa(path, ir, az, el, convention="SimpleFreeFieldHRIR", **extra):
    sofar = pytest.importorskip("sofar")
    sofa = sofar.Sofa(convention)
    sofa.Data_IR = ir
    sofa.Data_SamplingRate = RATE
    sofa.SourcePosition = np.stack([az, el, np.full_like(az, 1.5)], axis=1)
    for key, value in extra.items():
        setattr(sofa, key, value)
    sofar.write_sofa(str(path), sofa)
    return path


@pytest.fixture(scope="module")
def delays_sofa(tmp_path_factory):
    el, az = np.meshgrid(np.arange(-80.0, 90.0, 10.0), np.arange(0.0, 360.0, 10.0), indexing="ij")
    az = np.concatenate([az.ravel(), [0.0, 0.0]])
    el = np.concatenate([el.ravel(), [90.0, -90.0]])
    t = np.arange(256) / RATE
    itd = woodworth(az, el)
    ir = np.stack([[pulse(t, 2e-3 - d / 2), pulse(t, 2e-3 + d / 2)] for d in itd])
    return write_sofa(tmp_path_factory.mktemp("sofa") / "delays.sofa", ir, az, el), az, el, itd


def test_a_sofa_file_of_pure_delays_gives_those_delays_back(delays_sofa):
    path, az, el, itd = delays_sofa
    t = hrtf.load(path, RATE)
    assert t.description.startswith("delays.sofa")
    got = np.array([np.subtract(*t.delay[t.node(a, e)][::-1]) for a, e in zip(az, el)]) / RATE
    assert np.abs(got - itd).max() < 2e-6
    k, j = t.node(90, 0)
    assert t.delay[k, j, 0] < t.delay[k, j, 1]                    # left ear first
    f = np.fft.rfftfreq(1024, 1 / RATE)
    mag = np.abs(np.fft.rfft(t.hrir.astype(float), 1024, axis=-1))[..., f < 0.9 * RATE / 2]
    assert np.abs(20 * np.log10(mag / math.sqrt(0.5))).max() < 0.1     # flat, at the diffuse-field level
    assert hrtf.load(str(path), RATE) is t


def test_a_sofa_files_data_delay_is_added_to_its_responses(tmp_path):
    el, az = np.meshgrid(np.arange(-90.0, 91.0, 30.0), np.arange(0.0, 360.0, 30.0), indexing="ij")
    az, el = az.ravel(), el.ravel()
    ir = np.zeros((len(az), 2, 64))
    ir[:, :, 4] = 1.0
    path = write_sofa(tmp_path / "d.sofa", ir, az, el, Data_Delay=np.array([0.0, 12.25]))
    t = hrtf.load(path, RATE)
    assert np.allclose(t.delay[..., 1] - t.delay[..., 0], 12.25, atol=0.02)
    # a file whose first receiver is the right ear (negative y) is read ears swapped
    swapped = write_sofa(tmp_path / "s.sofa", ir, az, el, Data_Delay=np.array([12.25, 0.0]),
                         ReceiverPosition=np.array([[0, -0.09, 0], [0, 0.09, 0]], dtype=float))
    s = hrtf.load(swapped, RATE)
    np.testing.assert_allclose(s.delay, t.delay, atol=1e-4)


def test_bad_files_raise_value_errors_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match="nothere.sofa"):
        hrtf.load(tmp_path / "nothere.sofa", RATE)
    junk = tmp_path / "junk.sofa"
    junk.write_text("not a SOFA file")
    with pytest.raises(ValueError, match="junk.sofa.*not a readable SOFA file"):
        hrtf.load(junk, RATE)
    az, el = np.array([0.0, 90, 180, 270, 0, 0]), np.array([0.0, 0, 0, 0, 90, -90])
    other = write_sofa(tmp_path / "other.sofa", np.ones((6, 2, 8)), az, el, convention="GeneralFIR",
                       Data_Delay=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="other.sofa.*SimpleFreeFieldHRIR"):
        hrtf.load(other, RATE)
    ir = np.ones((6, 2, 8))
    ir[2, 1, 3] = np.nan
    nan = write_sofa(tmp_path / "nan.sofa", ir, az, el)
    with pytest.raises(ValueError, match="nan.sofa.*non-finite"):
        hrtf.load(nan, RATE)
    silent = write_sofa(tmp_path / "silent.sofa", np.zeros((6, 2, 8)), az, el)
    with pytest.raises(ValueError, match="silent.sofa.*silent"):
        hrtf.load(silent, RATE)
    ring = write_sofa(tmp_path / "front.sofa", np.ones((3, 2, 8)), np.array([0.0, 30, 330]), np.zeros(3))
    with pytest.raises(ValueError, match="front.sofa.*surround"):
        hrtf.load(ring, RATE)
    for rate in (7999, 192001, 48000.0, True):
        with pytest.raises(ValueError, match="sample rate"):
            hrtf.load(None, rate)


# ---------------------------------------------------------------------------------------- rates

@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 88200, 96000, 176400, 192000])
def test_every_supported_rate_loads(rate, kemar):
    t = hrtf.load(None, rate)
    taps = max(8, 8 * math.ceil(32 * rate / 48000 / 8))
    assert t.sample_rate == rate and t.taps == taps and t.hrir.shape == (37, 72, 2, taps)
    assert t.decoder.shape == (16, 2, max(8, 8 * math.ceil(64 * rate / 48000 / 8)))
    for a in (t.hrir, t.delay, t.decoder):
        assert a.dtype == np.float32 and a.flags.c_contiguous and np.isfinite(a).all()
    assert t.delay.min() >= 0 and t.max_delay == float(t.delay.max())
    k, j = t.node(90, 0)
    itd = (t.delay[k, j, 1] - t.delay[k, j, 0]) / rate
    itd48 = (kemar.delay[k, j, 1] - kemar.delay[k, j, 0]) / RATE
    assert itd == pytest.approx(itd48, abs=1e-6)                 # delays are times: the same at every rate
    f = np.fft.rfftfreq(4096, 1 / rate)
    front = np.abs(np.fft.rfft(t.hrir[t.node(0, 0)].astype(float), 4096, axis=-1))
    ref = np.abs(np.fft.rfft(kemar.hrir[kemar.node(0, 0)].astype(float), 4096, axis=-1))
    fr = np.fft.rfftfreq(4096, 1 / RATE)
    top = min(0.4 * rate, 16000.0)
    ours, theirs = band_db(front, f, 500, top), band_db(ref, fr, 500, top)
    assert np.abs(ours - theirs).max() < 1.0                      # the same level whatever the rate


def test_the_default_set_loads_with_neither_slab_nor_sofar():
    code = ("import sys; sys.modules['slab'] = None; sys.modules['sofar'] = None\n"
            "from gamemix.scene import hrtf; t = hrtf.load(None, 48000); print(t.hrir.shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "(37, 72, 2, 32)" in out.stdout, out.stderr
