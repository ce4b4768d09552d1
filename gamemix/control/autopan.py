"""Cross-adaptive auto-pan (after Perez-Gonzalez & Reiss 2007, 2010): the 2D voices of a bus that
sound at once are spread across the stereo field by how much their spectra overlap.

Two sources whose spectra overlap mask each other; placed apart in the stereo
field they mask each other less (spatial release from masking).  So, for a
bus with `auto_pan`:

1. Every sound's *spectral profile* is measured once, at load, from its
   clips: the share of its energy in each of BANDS (Welch's averaged
   periodogram of up to PROFILE_S of each variant, mixed to mono).  The
   overlap of two sounds is the histogram intersection of their profiles,
   O_ij = sum_b min(P_i(b), P_j(b)): 1 for the same spectrum, 0 for
   disjoint ones.
2. Every EVERY_S, the bus's sounding 2D voices (at most MAX_SOURCES, the
   most audible first, within RANGE_DB of the loudest) are placed on a grid
   of pans in [-width, +width], one at a time, the bass-heaviest first (its
   low-frequency share decides: as in Perez-Gonzalez & Reiss, low-frequency
   sources stay centred, where both speakers carry them), each where its
   cost is least:

       cost(p) = sum_placed O'_ij exp(-((p - p_j) / SIGMA)^2) + (CENTRE low_i + HOME) p^2

   where O' = (O - MASKING) / (1 - MASKING), clipped at 0, counts only
   overlaps that mask.  The first term pushes overlapping sources apart,
   the second keeps bass in the middle and leaves a source that masks
   nothing where it was authored to be, the centre.  The placement is a
   function of the set of sources alone (no feedback from where the voices
   are now), so the same sources always get the same places: nothing
   wanders or creeps.
3. Every block, each voice's pan glides towards its place at `speed` per
   second, so a move is a slow drift, never a jump.  The stereo panner's
   constant-power law (core/panning/stereo.py) keeps each voice's energy
   the same wherever it goes.

`figure` gives the mix's spectral-overlap figure: sum over pairs of O_ij
times the cosine between their (left, right) gain vectors, over the same sum
with everything centred: 1 with no spread, lower as overlapping sources
move apart.  Control side: a few small array operations per bus every 50 ms.
"""

from __future__ import annotations

import math

import numpy as np

from gamemix.core.arrays import PLAYING, VF_AUDIBILITY, VF_PAN, VI_BUS, VI_SOUND, VI_SPATIAL, VI_STATE

BANDS = (20.0, 150.0, 300.0, 600.0, 1200.0, 2400.0, 4800.0, 9600.0, 24000.0)   # Hz: 8 bands, octaves above 150
LOW_HZ = 300.0           # "low frequency" for keeping a source centred
PROFILE_S = 10.0         # seconds of each variant analysed at load
EVERY_S = 0.05           # placement interval
MAX_SOURCES = 16
RANGE_DB = 30.0
GRID = 33
SIGMA = 0.5
CENTRE = 2.0
HOME = 0.02
MASKING = 0.1            # an overlap below this does not count as masking
SWEEPS = 3               # passes that re-place each source given all the others, after the first


def profile(x: np.ndarray, sample_rate: float) -> np.ndarray:
    """Share of the energy of mono signal x in each band of BANDS (sums to 1; uniform if silent)."""
    from scipy.signal import welch     # here: importing scipy.signal takes ~1 s, and most scenes never auto-pan
    n = len(BANDS) - 1
    if len(x) < 64 or not np.any(x):
        return np.full(n, 1.0 / n)
    f, psd = welch(x, fs=sample_rate, nperseg=min(4096, len(x)))
    energy = np.array([psd[(f >= lo) & (f < hi)].sum() for lo, hi in zip(BANDS[:-1], BANDS[1:])])
    total = energy.sum()
    return energy / total if total > 0 else np.full(n, 1.0 / n)


def sound_profiles(bank, sound_names: list[str], sample_rate: float) -> np.ndarray:
    """(sounds, bands): each sound's profile, the mean over its variants (uniform when its audio is
    not known at load: an upload or a stream)."""
    out = np.full((len(sound_names), len(BANDS) - 1), 1.0 / (len(BANDS) - 1))
    limit = int(PROFILE_S * sample_rate)
    for s, name in enumerate(sound_names):
        variants = [v for v in bank.variants.get(name, []) if v.frames > 0 and v.file != "<upload>"]
        if not variants:
            continue
        shares = []
        for v in variants:
            frames = min(v.frames, limit)
            mono = sum(bank.pool[int(bank.lane_offset[lane]):int(bank.lane_offset[lane]) + frames]
                       for lane in v.lanes) / len(v.lanes)
            shares.append(profile(np.asarray(mono, np.float64), sample_rate))
        out[s] = np.mean(shares, axis=0)
    return out


def overlap(profiles: np.ndarray) -> np.ndarray:
    """Histogram intersection of every pair of profiles, (k, k)."""
    return np.minimum(profiles[:, None, :], profiles[None, :, :]).sum(axis=2)


def low_share(profiles: np.ndarray) -> np.ndarray:
    """Each profile's share below LOW_HZ."""
    edges = np.array(BANDS[1:])
    return profiles[:, edges <= LOW_HZ].sum(axis=1)


def place(profiles: np.ndarray, width: float) -> np.ndarray:
    """Pans in [-width, width] for sources with these profiles, in this order (module docstring)."""
    k = len(profiles)
    o, low = np.clip((overlap(profiles) - MASKING) / (1.0 - MASKING), 0.0, None), low_share(profiles)
    grid = np.linspace(-width, width, GRID)
    pans = np.zeros(k)
    np.fill_diagonal(o, 0.0)
    order = sorted(range(k), key=lambda j: -low[j])
    near = np.zeros((k, GRID))          # near[j] = exp(-((grid - p_j) / SIGMA)^2) of each placed source
    home = HOME * grid ** 2
    centre = CENTRE * grid ** 2
    for sweep in range(1 + SWEEPS):
        for i in order:
            cost = home + low[i] * centre + o[i] @ near
            pans[i] = grid[int(np.argmin(cost))]
            near[i] = np.exp(-((grid - pans[i]) / SIGMA) ** 2)
    return pans


def figure(profiles: np.ndarray, pans: np.ndarray) -> float:
    """The spectral-overlap figure of sources at these pans (module docstring); 1.0 if under two."""
    if len(pans) < 2:
        return 1.0
    theta = (np.clip(pans, -1, 1) + 1.0) * math.pi / 4.0
    gains = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    o = overlap(profiles)
    upper = np.triu_indices(len(pans), 1)
    together = o[upper].sum()
    return float((o[upper] * (gains @ gains.T)[upper]).sum() / together) if together > 0 else 1.0


class AutoPanner:
    """Every auto-panned bus of a loaded scene; `tick` once per block before the kernel."""

    def __init__(self, scene, bank, arrays, bus_index: dict[str, int], sound_names: list[str],
                 sample_rate: float, block_size: int):
        self.arrays = arrays
        self.buses = {bus_index[name]: bus.auto_pan for name, bus in scene.buses.items() if bus.auto_pan}
        self.profiles = sound_profiles(bank, sound_names, sample_rate) if self.buses else None
        self.every = max(1, round(EVERY_S * sample_rate / block_size))
        self.dt = block_size / sample_rate
        self.targets: dict[int, float] = {}     # row -> the pan it glides to
        self.figures: dict[int, float] = {}     # bus -> spectral-overlap figure at the last placement

    def tick(self, block_index: int) -> None:
        if not self.buses:
            return
        vi, vf = self.arrays.vi, self.arrays.vf
        if block_index % self.every == 0:
            self.targets = {}
            for b, spec in self.buses.items():
                self._place(b, spec, vi, vf)
        for v, target in self.targets.items():
            if vi[v, VI_STATE] != PLAYING:
                continue
            step = self.buses[int(vi[v, VI_BUS])].speed * self.dt
            p = vf[v, VF_PAN]
            vf[v, VF_PAN] = min(p + step, target) if p < target else max(p - step, target)

    def _place(self, b: int, spec, vi, vf) -> None:
        rows = np.flatnonzero((vi[:, VI_STATE] == PLAYING) & (vi[:, VI_BUS] == b) & (vi[:, VI_SPATIAL] == 0))
        if len(rows) == 0:
            return
        level = vf[rows, VF_AUDIBILITY]
        rows = rows[level >= level.max() * 10 ** (-RANGE_DB / 20)]
        rows = rows[np.argsort(-vf[rows, VF_AUDIBILITY], kind="stable")][:MAX_SOURCES]
        rows = np.sort(rows)                      # a stable order: the placement depends on the set only
        profiles = self.profiles[vi[rows, VI_SOUND]]
        pans = place(profiles, spec.width)
        self.targets.update({int(v): float(p) for v, p in zip(rows, pans)})
        self.figures[b] = figure(profiles, vf[rows, VF_PAN])
