"""Audio assets: decoded once at scene load into one float32 pool.

Every file is decoded with libsndfile (WAV 16/24/32-bit and float, FLAC, OGG)
and, when its rate differs from the output's, resampled with soxr's
band-limited VHQ converter.  Each channel of each file becomes a *lane*: a
contiguous run of samples in the pool followed by GUARD samples, so the
interpolating reader never needs a bounds check: for a looping sound the
guard repeats the start of the clip, for a one-shot it is silence.  The pool
ends with TAIL zeros, as far as the resampler's vector loads reach past an
index (what they read there is never used).

Control side: runs at load, never per block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import soundfile
import soxr

from gamemix.core.dsp.playback import WINDOW
from gamemix.errors import LocatedError
from gamemix.scene.model import Scene

GUARD = 4  # samples after each lane, read by the interpolator past the end
TAIL = WINDOW  # zeros after the last lane: the resampler's window loads read this far past an index


@dataclass(frozen=True)
class Variant:
    """One playable file of a sound: its lanes (1 mono, 2 stereo) and length in frames."""

    lanes: tuple[int, ...]
    frames: int
    file: str


@dataclass
class ClipBank:
    """All lanes of a scene in one pool, plus each sound's variants."""

    pool: np.ndarray
    lane_offset: np.ndarray  # int64, start of each lane in pool
    lane_length: np.ndarray  # int64, frames of each lane (guard excluded)
    variants: dict[str, list[Variant]] = field(default_factory=dict)


def decode(path, sample_rate: int) -> np.ndarray:
    """Decode a file to float32 (frames, channels) at `sample_rate`, NaN/Inf zeroed."""
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if rate != sample_rate and len(data):
        data = soxr.resample(data, rate, sample_rate, quality="VHQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float32)


def build_bank(scene: Scene) -> ClipBank:
    """Decode every file the scene's sounds use; LocatedError names any that fail.

    3D sounds are mixed down to mono (a point source has one signal); 2D sounds
    keep mono or stereo.  Files with more than two channels are refused.
    """
    rate = scene.output.sample_rate
    decoded: dict[str, np.ndarray] = {}
    problems = []
    plan: list[tuple[str, int, str, np.ndarray, bool]] = []
    for name, sound in scene.sounds.items():
        for i, rel in enumerate(sound.files):
            loc = ("sounds", name, "files", i)
            try:
                if rel not in decoded:
                    decoded[rel] = decode(scene.asset_path(rel), rate)
            except (ValueError, RuntimeError, OSError, soundfile.LibsndfileError) as exc:
                problems.append(scene.problem(loc, f"cannot decode {rel}: {exc}"))
                continue
            data = decoded[rel]
            if data.shape[1] > 2:
                problems.append(scene.problem(loc, f"{rel} has {data.shape[1]} channels; mono or stereo only"))
                continue
            if len(data) == 0:
                problems.append(scene.problem(loc, f"{rel} has no audio frames"))
                continue
            if sound.spatial is not None and data.shape[1] > 1:
                data = data.mean(axis=1, keepdims=True, dtype=np.float32)
            plan.append((name, i, rel, data, sound.loop))
    if problems:
        raise LocatedError(problems)
    return _pack(plan)


def _pack(plan) -> ClipBank:
    """Lay every lane out in one pool with its guard samples."""
    nlanes = sum(d.shape[1] for _, _, _, d, _ in plan)
    total = sum((len(d) + GUARD) * d.shape[1] for _, _, _, d, _ in plan)
    pool = np.zeros(total + TAIL, dtype=np.float32)
    offset = np.zeros(max(nlanes, 1), dtype=np.int64)
    length = np.zeros(max(nlanes, 1), dtype=np.int64)
    bank = ClipBank(pool, offset, length)
    lane = pos = 0
    for name, _, rel, data, loop in plan:
        lanes = []
        n = len(data)
        for ch in range(data.shape[1]):
            pool[pos:pos + n] = data[:, ch]
            if loop:
                pool[pos + n:pos + n + GUARD] = np.resize(data[:, ch], GUARD)
            offset[lane], length[lane] = pos, n
            lanes.append(lane)
            lane += 1
            pos += n + GUARD
        bank.variants.setdefault(name, []).append(Variant(tuple(lanes), n, rel))
    return bank
