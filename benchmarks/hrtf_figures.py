"""The HRTF tables' figures (scene/hrtf.py): load time, data size, interaural delay, and the errors the
minimum-phase truncation and the ambisonic decoder leave, for the lengths the binaural kernels may use.

- load: `hrtf.load(None, 48000)` in a fresh process, SciPy's import counted apart, then every rate;
- minimum phase: each measured direction's filter against its measured magnitude (the equalisation all
  directions share taken out), 1/3-octave bands 200 Hz - 16 kHz, |dB| median / 95th percentile / max,
  for taps = 32, 48, 64 at 48 kHz;
- decoder: plane waves from every grid node from -40 to +90 degrees elevation, SN3D-encoded and decoded,
  against the direct path, octave bands, |dB| median / 95th percentile, for decoder lengths 48-128.

Run: .venv/bin/python benchmarks/hrtf_figures.py
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gamemix.scene import hrtf  # noqa: E402

RATE = 48000
OCTAVES = [125, 250, 500, 1000, 2000, 4000, 8000, 16000]


def band_db(x, f, lo, hi):
    sel = (f >= lo) & (f < hi)
    return 10 * np.log10(np.mean(np.abs(x[..., sel]) ** 2, axis=-1))


def load_times() -> None:
    code = ("import time; t0 = time.perf_counter(); import scipy.signal, scipy.spatial, scipy.special, soxr; "
            "t1 = time.perf_counter(); from gamemix.scene import hrtf; hrtf.load(None, 48000); "
            "t2 = time.perf_counter(); hrtf.load(None, 48000); t3 = time.perf_counter(); "
            "print(f'{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.6f}')")
    root = Path(__file__).resolve().parent.parent
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                           check=True).stdout.split() for _ in range(5)]
    imports, loads, again = (sorted(float(r[i]) for r in runs) for i in range(3))
    print(f"load(None, 48000) in a fresh process: {loads[2]:.3f} s median of 5 (min {loads[0]:.3f}, "
          f"max {loads[-1]:.3f}); SciPy + soxr imports before it {imports[2]:.3f} s; cached {again[2] * 1e6:.0f} us")
    size = hrtf.DEFAULT_FILE.stat().st_size
    print(f"bundled data: {hrtf.DEFAULT_FILE.name} {size / 1e6:.2f} MB")
    hrtf.load(None, 48000)
    print("other rates, the set already read (its onsets are kept per set):")
    for rate in (8000, 16000, 22050, 44100, 96000, 192000):
        t = time.perf_counter()
        tables = hrtf.load(None, rate)
        print(f"  {rate:6d} Hz: {time.perf_counter() - t:.3f} s, taps {tables.taps}, decoder_taps "
              f"{tables.decoder_taps}, max_delay {tables.max_delay:.1f} samples")


def itd() -> None:
    t = hrtf.load(None, RATE)
    for az in (90, 270):
        k, j = t.node(az, 0)
        d = t.delay[k, j]
        print(f"azimuth {az}: delays L {d[0]:.2f} R {d[1]:.2f} samples, ITD {(d[1] - d[0]) / RATE * 1e3:+.3f} ms")


def minimum_phase_error() -> None:
    measured = hrtf.read_default()
    mesh = hrtf.SphereMesh(measured.azimuth, measured.elevation)
    rate = int(measured.sample_rate)
    mag = hrtf.equalised_magnitudes(measured, rate, mesh)
    nfft = 4096
    f = np.fft.rfftfreq(nfft, 1 / rate)
    theirs0 = np.fft.rfft(measured.hrir, nfft, axis=-1)
    centres = 1000 * 2.0 ** (np.arange(-7, 13) / 3)
    for taps48 in (32, 48, 64):
        taps = hrtf.taps_for(rate, taps48)
        ours = np.fft.rfft(hrtf.minimum_phase(mag, taps), nfft, axis=-1)
        common = np.median(np.log(np.abs(ours) + 1e-12) - np.log(np.abs(theirs0) + 1e-12), axis=(0, 1))
        theirs = theirs0 * np.exp(common)
        diff = np.stack([band_db(ours, f, c * 2 ** (-1 / 6), c * 2 ** (1 / 6)) -
                         band_db(theirs, f, c * 2 ** (-1 / 6), c * 2 ** (1 / 6)) for c in centres], axis=-1)
        err = np.abs(diff - diff.mean(axis=(0, 1)))
        high = err[..., centres >= 2000]
        print(f"  taps {taps48} at 48 kHz: all bands {np.median(err):.2f} / {np.percentile(err, 95):.2f} / "
              f"{err.max():.2f} dB; >= 2 kHz {np.median(high):.2f} / {np.percentile(high, 95):.2f} / {high.max():.2f}")


def decoder_error() -> None:
    measured = hrtf.read_default()
    onsets = hrtf.onset_times(measured.hrir, measured.sample_rate)
    t = hrtf.load(None, RATE)
    nfft = 4096
    f = np.fft.rfftfreq(nfft, 1 / RATE)
    el = t.el0 + t.el_step * np.arange(t.n_el)
    az = t.az_step * np.arange(t.n_az)
    ge, ga = np.meshgrid(el, az, indexing="ij")
    sel = ge >= -40
    target = hrtf.direct_response(t.hrir.astype(float), t.delay.astype(float), nfft)[sel]
    print("  taps   " + "  ".join(f"{c:>9d}" for c in OCTAVES) + "   (Hz: |dB| median/95th)")
    for length in (48, 56, 64, 72, 80, 96, 128):
        tables = hrtf.prepare(measured, RATE, onsets, decoder_taps=length)
        got = hrtf.decoded_response(tables.decoder.astype(float), ga[sel], ge[sel], nfft)
        cells = []
        for c in OCTAVES:
            e = np.abs(band_db(got, f, c / math.sqrt(2), c * math.sqrt(2)) -
                       band_db(target, f, c / math.sqrt(2), c * math.sqrt(2)))
            cells.append(f"{np.median(e):4.1f}/{np.percentile(e, 95):4.1f}")
        print(f"  {length:4d}   " + "  ".join(cells))


if __name__ == "__main__":
    load_times()
    print("interaural delay:")
    itd()
    print("minimum-phase truncation, 1/3-octave |dB| median / 95th / max:")
    minimum_phase_error()
    print("decoder (order 3, MagLS) against the direct path, octave bands:")
    decoder_error()
