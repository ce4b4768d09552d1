"""Build the bundled default HRTF set: `python -m gamemix.scene.make_hrtf` (needs the `build-data` extra).

Reads the MIT KEMAR measurements (Gardner & Martin, MIT Media Lab, 1994; the "normal pinna" set,
710 directions from -40 to +90 degrees elevation, 512 samples at 44.1 kHz) from the copy the `slab`
package ships (slab/data/mit_kemar_normal_pinna.bz2: a bz2-compressed pickle of slab's HRTF object,
converted by slab's authors from the SOFA file of the set, loaded here with slab.HRTF.kemar()), and
writes gamemix/scene/data/mit_kemar.npz:

    sample_rate  int             44100 (the measured rate; gamemix resamples at load)
    azimuth      (M,) float32    degrees, counterclockwise from straight ahead (90 = left), SOFA's convention
    elevation    (M,) float32    degrees, up
    hrir         (M, 2, N) float32  ear 0 left, 1 right: the measured responses, trimmed (below)
    description  str             source and attribution

Trimming: the leading samples before the earliest onset of the whole set (less a margin of 8
samples) are dropped from every response alike, so every onset and interaural delay is kept, and
the next N = 256 samples (5.8 ms) are kept with a half-Hann fade over the last 32.  The set is
left-right symmetric as published (both ears are the left, normal-pinna ear mirrored); nothing is
equalised here: gamemix.scene.hrtf equalises, separates delays and makes the filters at load, the
same way for this set and for any SOFA file.  Attribution and terms: data/MIT_KEMAR.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "mit_kemar.npz"
LENGTH = 256      # samples kept at 44.1 kHz
FADE = 32         # half-Hann fade at the end
MARGIN = 8        # samples kept before the earliest onset


def build(out: Path = OUT) -> Path:
    try:
        import slab
    except ImportError:
        sys.exit("make_hrtf needs slab: pip install 'gamemix[build-data]'")
    kemar = slab.HRTF.kemar()
    if kemar.datatype != "FIR" or float(kemar.samplerate) != 44100.0:
        raise SystemExit(f"unexpected KEMAR data in slab {slab.__version__}: {kemar.datatype} at {kemar.samplerate} Hz")
    polar = np.asarray(kemar.sources.vertical_polar, dtype=np.float64)        # azimuth, elevation, distance
    ir = np.stack([np.asarray(f.data, dtype=np.float64) for f in kemar.data])  # (M, samples, 2)
    hrir = np.ascontiguousarray(ir.transpose(0, 2, 1))                        # (M, 2, samples)
    peak = np.abs(hrir).max()
    first = int(np.argmax(np.abs(hrir).max(axis=(0, 1)) > peak * 1e-3))        # earliest onset, -60 dB
    start = max(first - MARGIN, 0)
    kept = hrir[:, :, start:start + LENGTH].copy()
    kept[:, :, -FADE:] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(FADE) + 1) / FADE)
    description = (f"MIT KEMAR, normal pinna (Gardner & Martin, MIT Media Lab, 1994): {len(kept)} directions "
                   f"at 44.1 kHz, via slab {slab.__version__} (MIT licence); free with no restrictions on use "
                   "provided the authors are cited")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, sample_rate=np.int64(44100),
                        azimuth=np.mod(polar[:, 0], 360.0).astype(np.float32),
                        elevation=polar[:, 1].astype(np.float32),
                        hrir=kept.astype(np.float32), description=np.str_(description))
    return out


if __name__ == "__main__":
    path = build()
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")
