"""Offline loudness measurement of a signal or file: `gamemix meter` and the render report.

Runs the engine's own BS.1770-4 meter kernel (dsp/bs1770.py) over the whole
signal block by block, so a file measured here and a bus metered live give the
same figures.  Control side.
"""

from __future__ import annotations

import numpy as np

from gamemix.core.dsp import bs1770
from gamemix.core.panning.layouts import SPECS

BLOCK = 4096
LAYOUTS = {1: "mono", 2: "stereo", 4: "ambix1", 6: "5.1", 8: "7.1", 12: "7.1.4", 16: "ambix3"}


class Meter:
    """BS.1770-4 / EBU R128 meter for whole signals of one rate and channel count."""

    def __init__(self, sample_rate: int, channels: int, layout: str | None = None):
        self.sample_rate = sample_rate
        self.channels = channels
        self.layout = layout or LAYOUTS.get(channels, "stereo")

    def measure(self, samples: np.ndarray) -> dict:
        """Integrated, LRA, max momentary / short-term, true and sample peak of (frames, channels)."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {x.shape[1]}")
        weights = (1.0,) if self.layout == "mono" else SPECS[self.layout].weights
        bank = bs1770.allocate(1, self.channels, self.sample_rate, weights)
        planar = np.ascontiguousarray(x.T)
        for start in range(0, planar.shape[1], BLOCK):
            chunk = planar[:, start:start + BLOCK]
            bs1770.meter_block(0, np.ascontiguousarray(chunk), chunk.shape[1], bank)
        result = bs1770.read(bank, 0)
        result.update(duration_s=round(x.shape[0] / self.sample_rate, 3), sample_rate=self.sample_rate,
                      channels=self.channels)
        return result


def measure_file(path) -> dict:
    """Measure an audio file (anything libsndfile reads)."""
    import soundfile
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    result = Meter(rate, data.shape[1]).measure(data)
    result["file"] = str(path)
    return result


def format_report(result: dict) -> str:
    """A few aligned lines for people."""
    def v(key, unit):
        value = result.get(key)
        return "-" if value is None else f"{value:.1f} {unit}"

    rows = [("Integrated", v("integrated_lufs", "LUFS")), ("Loudness range", v("lra_lu", "LU")),
            ("Max momentary", v("max_momentary_lufs", "LUFS")), ("Max short-term", v("max_short_term_lufs", "LUFS")),
            ("True peak", v("true_peak_dbtp", "dBTP")), ("Sample peak", v("sample_peak_dbfs", "dBFS")),
            ("Duration", f"{result['duration_s']:.2f} s")]
    head = [result["file"]] if "file" in result else []
    return "\n".join(head + [f"  {name:<15} {value}" for name, value in rows])
