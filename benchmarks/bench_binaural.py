"""Localisation cues of the two binaural paths against the measured HRTF set they come from.

For directions of the bundled MIT KEMAR set (every 30 degrees of azimuth at elevations -30, 0, 30,
60), the same noise is heard three ways at 48 kHz:

- reference: convolved with the *measured* head-related impulse responses of that direction (the
  set as published, resampled; no minimum phase, no grid, no truncation);
- direct: gamemix's binaural output with that voice in a filter slot (`hrtf_voices` 16);
- ambisonic: the same with no slots (`hrtf_voices` 0): encoded in third order, decoded once per bus.

and each is reduced to the cues listeners localise by (Blauert 1997): the interaural time difference
below 1.5 kHz (cross-correlation peak, in microseconds) and the interaural level difference in
octave bands 500 Hz - 8 kHz (dB).  Printed: per path, the median and 95th percentile of the absolute
errors against the reference, and the share of directions whose ITD error is under 50 us (about the
just-noticeable difference at the front; Mills 1958) and whose broadband ILD error is under 1 dB.
The cost of each path is bench_engine's `--layout binaural-direct binaural-ambisonic` rows.

    .venv/bin/python benchmarks/bench_binaural.py
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile
import yaml
from scipy.signal import butter, fftconvolve, sosfiltfilt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gamemix.control.mixer import Mixer  # noqa: E402
from gamemix.scene import hrtf  # noqa: E402
from gamemix.scene.load import load_scene  # noqa: E402

SR, BLOCK = 48000, 256
BANDS = [500, 1000, 2000, 4000, 8000]


def noise(seconds: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(5).standard_normal(int(seconds * SR)) * 0.1).astype(np.float32)


def itd_us(left: np.ndarray, right: np.ndarray) -> float:
    """Right ear's lead over the left below 1.5 kHz, from the cross-correlation peak (parabolic)."""
    sos = butter(4, 1500, "low", fs=SR, output="sos")
    a, b = sosfiltfilt(sos, left), sosfiltfilt(sos, right)
    lags = np.arange(-60, 61)
    corr = np.array([np.dot(a[60:-60], np.roll(b, k)[60:-60]) for k in lags])
    k = int(np.argmax(corr))
    y0, y1, y2 = corr[k - 1], corr[k], corr[k + 1]
    return (lags[k] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)) / SR * 1e6


def ild_db(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Right minus left level in octave bands, then broadband (last)."""
    out = []
    for f in BANDS:
        sos = butter(4, [f / math.sqrt(2), min(f * math.sqrt(2), 0.45 * SR)], "band", fs=SR, output="sos")
        out.append(10 * math.log10(np.mean(sosfiltfilt(sos, right) ** 2) / np.mean(sosfiltfilt(sos, left) ** 2)))
    out.append(10 * math.log10(np.mean(right ** 2) / np.mean(left ** 2)))
    return np.array(out)


def reference(measured: hrtf.Measured, m: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ir = hrtf.resample_rows(measured.hrir[m].astype(np.float64), measured.sample_rate, SR)
    return fftconvolve(x, ir[0])[:len(x)], fftconvolve(x, ir[1])[:len(x)]


def rendered(folder: Path, hrtf_voices: int, az_left: float, el: float, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """gamemix's ears for a source in direction (azimuth counterclockwise, elevation), 3 m away."""
    a, e = math.radians(az_left), math.radians(el)
    # SOFA: x front, y left, z up; the scene's frame: -Z ahead, +X right, +Y up
    pos = (-3 * math.cos(e) * math.sin(a), 3 * math.sin(e), -3 * math.cos(e) * math.cos(a))
    m = Mixer(load_scene(folder / f"scene{hrtf_voices}.yaml"))
    m.play("n", 1, position=pos)
    out = np.zeros((BLOCK, 2), np.float32)
    blocks = []
    for _ in range(len(x) // BLOCK):
        m.render(out)
        blocks.append(out.copy())
    y = np.concatenate(blocks).astype(np.float64)
    return y[:, 0], y[:, 1]


def main() -> int:
    measured = hrtf.read_default()
    x = noise()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        soundfile.write(folder / "n.wav", x, SR, subtype="FLOAT")
        for voices in (16, 0):
            (folder / f"scene{voices}.yaml").write_text(yaml.safe_dump({
                "output": {"channels": "binaural", "hrtf_voices": voices},
                "sounds": {"n": {"files": ["n.wav"], "loop": True, "spatial": {"rolloff": "none"}}}}))
        picks = [m for m in range(len(measured.azimuth))
                 if measured.elevation[m] in (-30, 0, 30, 60) and round(measured.azimuth[m]) % 30 == 0]
        errors = {"direct": ([], []), "ambisonic": ([], [])}
        skip = 4 * BLOCK
        for m in picks:
            ref_l, ref_r = reference(measured, m, x.astype(np.float64))
            ref_itd, ref_ild = itd_us(ref_l[skip:], ref_r[skip:]), ild_db(ref_l[skip:], ref_r[skip:])
            for path, voices in (("direct", 16), ("ambisonic", 0)):
                left, right = rendered(folder, voices, float(measured.azimuth[m]), float(measured.elevation[m]), x)
                errors[path][0].append(abs(itd_us(left[skip:], right[skip:]) - ref_itd))
                errors[path][1].append(np.abs(ild_db(left[skip:], right[skip:]) - ref_ild))
    print(f"interaural cues of gamemix's binaural paths against the measured MIT KEMAR set, {len(picks)} directions"
          f" (elevations -30..60, every 30 degrees of azimuth), noise at {SR} Hz")
    print(f"{'path':<10}{'ITD err us median':>18}{'95th':>7}{'<50 us':>8}   "
          + "".join(f"{f'ILD {f} Hz':>14}" for f in BANDS) + f"{'ILD broadband':>15}{'<1 dB':>7}")
    for path, (itd, ild) in errors.items():
        itd, ild = np.array(itd), np.array(ild)
        bands = "".join(f"{np.median(ild[:, k]):>7.2f}/{np.percentile(ild[:, k], 95):<6.2f}" for k in range(len(BANDS)))
        print(f"{path:<10}{np.median(itd):>18.1f}{np.percentile(itd, 95):>7.1f}{np.mean(itd < 50) * 100:>7.0f}%   "
              f"{bands}{np.median(ild[:, -1]):>8.2f}/{np.percentile(ild[:, -1], 95):<6.2f}"
              f"{np.mean(ild[:, -1] < 1.0) * 100:>6.0f}%")
    print("(ILD columns: median/95th percentile of |error| in dB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
