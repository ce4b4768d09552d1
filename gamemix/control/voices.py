"""The voice pool: instance rows, limits, stealing and virtual voices.

Every playing sound instance owns a row of the parameter arrays, real or
virtual.  At most `max_voices` rows are *real* (rendered); the rest are
*virtual*: the kernel only advances their read position, so one that becomes
real again resumes where it would have been, with a short fade-in.

Once per block (`assign`), every instance's audibility is computed the way the
engine hears it (volume x fade x sound and category modifiers x distance x bus
gains down the tree) and instances are ranked by priority, then audibility.
The top `max_voices` audible ones are real; the others go virtual.  A small
hysteresis keeps two similar sounds from swapping every block.

Limits act when a sound is played: per sound, per category and globally
(`max_instances`).  The policy chooses a victim (oldest, quietest, lowest
priority, furthest) that is stopped with a short fade, or refuses the new one.

Control side.  The audibility pass is jitted (nogil) because it runs over every
instance (10,000 in the benchmark) once per block; it reuses the kernel's own
distance law so both sides agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from gamemix.control import listeners
from gamemix.core import listeners as core_listeners
from gamemix.core import propagation
from gamemix.core.dsp.distance import distance_gain
from gamemix.units import FLOOR_GAIN, db_to_gain
from gamemix.core.arrays import (
    ENDED, FREE, LF_ENDED, LF_EXTRA_LISTENERS, VI_EXTRA, VX_MOD_GAIN, VX_PROP, PAUSED, LF_X, LF_Y, LF_Z, PLAYING, SM_GAIN, STOPPING, VF_FADE, VF_FADE_TARGET,
    VF_FADE_STEP, VF_MAX_DIST, VF_MIN_DIST, VF_ROLLOFF, VF_VFADE, VF_VFADE_STEP,
    VF_VFADE_TARGET, VF_VOLUME, VF_X, VF_Y, VF_Z, VI_BLOCKS, VI_BUS, VI_CAT, VI_MODEL,
    VI_PAUSE, VI_POS, VI_START_AT_TARGET, VI_SOUND, VI_SPATIAL, VI_STATE, VI_TO_VIRTUAL, VIRTUAL, EngineArrays,
)

HYSTERESIS_DB = 3.0   # a real voice keeps its place against one up to this much louder


@dataclass
class VoiceStats:
    """Counters for the render report and telemetry."""

    plays: int = 0
    refused: int = 0
    steals: int = 0
    virtualizations: int = 0
    devirtualizations: int = 0
    ended: int = 0
    peak_real: int = 0
    peak_virtual: int = 0


@njit(cache=True, nogil=True)
def audibility_all(vi, vf, vx, lf, sound_mod, cat_gain, bus_gain, out, out_own):
    """out[v] = the total gain instance v would have now (0 for free rows), in one pass;
    out_own[v] = the same without the category gains (ducking, HDR), which HDR measures."""
    for v in range(vi.shape[0]):
        state = vi[v, VI_STATE]
        if state == FREE or state == ENDED:
            out[v] = 0.0
            out_own[v] = 0.0
            continue
        g = vf[v, VF_VOLUME] * sound_mod[vi[v, VI_SOUND], SM_GAIN]
        if vi[v, VI_EXTRA] != 0:
            g *= vx[v, VX_MOD_GAIN]
        g *= bus_gain[vi[v, VI_BUS]] * max(vf[v, VF_FADE], vf[v, VF_FADE_TARGET])
        if vi[v, VI_SPATIAL] != 0:
            b = 0                                   # heard from its nearest listener, as the kernel does
            if lf[LF_EXTRA_LISTENERS] > 0.0:
                b = core_listeners.base(core_listeners.nearest(lf, vf[v, VF_X], vf[v, VF_Y], vf[v, VF_Z]))
            dx = vf[v, VF_X] - lf[b + LF_X]
            dy = vf[v, VF_Y] - lf[b + LF_Y]
            dz = vf[v, VF_Z] - lf[b + LF_Z]
            d = math.sqrt(dx * dx + dy * dy + dz * dz)
            g *= distance_gain(vi[v, VI_MODEL], d, vf[v, VF_MIN_DIST], vf[v, VF_MAX_DIST], vf[v, VF_ROLLOFF])
            if vi[v, VI_EXTRA] != 0 and vx[v, VX_PROP] != 0.0:     # its cone, occlusion, obstruction
                inv = -1.0 / d if d > 1e-9 else 0.0
                g *= propagation.voice(vx, v, dx * inv, dy * inv, dz * inv, d, 0.0)[0]
        if not math.isfinite(g):
            g = 0.0
        out_own[v] = g
        out[v] = g * cat_gain[vi[v, VI_CAT]]


@njit(cache=True, nogil=True)
def eligible(vi, audibility, threshold, excluded, score):
    """score[v] = 0 for instances that may be real (playing or virtual, audible, not excluded),
    -inf for the others; returns how many may be real."""
    count = 0
    for v in range(vi.shape[0]):
        state = vi[v, VI_STATE]
        if (state != PLAYING and state != VIRTUAL) or audibility[v] < threshold or excluded[v]:
            score[v] = -np.inf
        else:
            score[v] = 0.0
            count += 1
    return count


@njit(cache=True, nogil=True)
def rank_scores(vi, audibility, priority, hysteresis_db, score):
    """score[v] = priority x 1000 + audibility in dB (+ hysteresis if real) where `eligible`
    left 0.  Only needed when more instances may be real than there are voices."""
    for v in range(vi.shape[0]):
        if score[v] != 0.0:
            continue
        db = 20.0 * math.log10(max(audibility[v], 1e-15))
        if vi[v, VI_STATE] == PLAYING and vi[v, VI_TO_VIRTUAL] == 0:
            db += hysteresis_db
        score[v] = priority[v] * 1000.0 + min(max(db, -300.0), 300.0)


@njit(cache=True, nogil=True)
def plan(vi, score, cutoff, ties, to_virtual, to_real):
    """Which rows change side this block, in one pass over the rows.

    An instance is wanted real if its score is above `cutoff` (-inf: every one that may be
    real), or equal to it while `ties` places are left (in row order).  Fills to_virtual with
    the real rows not wanted and to_real with the wanted rows that are virtual or fading to
    virtual; returns (their counts, the real rows kept)."""
    nv = 0
    nr = 0
    kept = 0
    for v in range(vi.shape[0]):
        state = vi[v, VI_STATE]
        if state != PLAYING and state != VIRTUAL:
            continue
        want = score[v] > cutoff
        if not want and score[v] == cutoff and ties > 0:
            want = True
            ties -= 1
        leaving = vi[v, VI_TO_VIRTUAL] != 0
        if state == PLAYING and not leaving:
            if want:
                kept += 1
            else:
                to_virtual[nv] = v
                nv += 1
        elif want:
            to_real[nr] = v
            nr += 1
    return nv, nr, kept


@njit(cache=True, nogil=True)
def census(vi):
    """(stopping, real, virtual) row counts."""
    stopping = 0
    real = 0
    virtual = 0
    for v in range(vi.shape[0]):
        state = vi[v, VI_STATE]
        if state == STOPPING:
            stopping += 1
            real += 1
        elif state == PLAYING:
            real += 1
        elif state == VIRTUAL:
            virtual += 1
    return stopping, real, virtual


@njit(cache=True, nogil=True)
def kth_largest(values, k, work):
    """The (k+1)-th largest of `values` (k from 0), by Hoare's selection (FIND, CACM 1961) on a copy
    in `work`: expected linear time and no allocation.  np.partition gave the same value, but it
    allocates and it compiled for about 10 s of a cold start (with the np.unique and np.sort it
    calls to check its kth)."""
    n = values.shape[0]
    for i in range(n):
        work[i] = values[i]
    lo, hi = 0, n - 1
    while lo < hi:
        a, b, c = work[lo], work[(lo + hi) >> 1], work[hi]
        pivot = max(min(a, b), min(max(a, b), c))          # median of three
        i, j = lo, hi
        while i <= j:                                      # larger values to the left
            while work[i] > pivot:
                i += 1
            while work[j] < pivot:
                j -= 1
            if i <= j:
                work[i], work[j] = work[j], work[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break                                          # work[j+1 .. i-1] all equal the pivot
    return work[k]


@njit(cache=True, nogil=True)
def decide(vi, vf, vx, lf, sound_mod, cat_gain, bus_gain, priority, threshold, hysteresis_db, excluded, max_voices,
           audibility, own_gain, score, work, to_virtual, to_real):
    """The whole real/virtual decision in one call: audibility, who may be real, the cut at
    the voice budget (scores are ranked only when there are more candidates than voices), and
    the rows that change side (see `plan`).

    Returns (to-virtual count, to-real count, real rows kept, budget, real rows, virtual rows),
    the last two counted before any change.
    """
    audibility_all(vi, vf, vx, lf, sound_mod, cat_gain, bus_gain, audibility, own_gain)
    n = eligible(vi, audibility, threshold, excluded, score)
    stopping, real, virtual = census(vi)
    budget = max(max_voices - stopping, 0)
    cutoff = -np.inf
    ties = 0
    if n > budget:      # exactly `budget` wanted: those above the budget-th best score, then ties
        rank_scores(vi, audibility, priority, hysteresis_db, score)
        cutoff = np.inf if budget == 0 else kth_largest(score, budget - 1, work)
        ties = budget - np.count_nonzero(score > cutoff)
    nv, nr, kept = plan(vi, score, cutoff, ties, to_virtual, to_real)
    return nv, nr, kept, budget, real, virtual


class VoicePool:
    """Rows of the parameter arrays, who owns them, and which are real."""

    def __init__(self, arrays: EngineArrays, sample_rate: int, block_size: int, threshold_db: float,
                 virtual_fade_ms: float, steal_fade_ms: float):
        cap = arrays.max_instances
        self.arrays = arrays
        self.block_size = block_size
        self.sample_rate = sample_rate
        self.threshold = max(db_to_gain(threshold_db), FLOOR_GAIN)   # at the floor: only silence is inaudible
        self.virtual_fade_samples = max(virtual_fade_ms * 1e-3 * sample_rate, block_size)
        self.steal_fade = steal_fade_ms * 1e-3
        self.priority = np.zeros(cap, dtype=np.float64)
        self.started = np.zeros(cap, dtype=np.int64)       # play order, for 'oldest'
        self.free = list(range(cap - 1, -1, -1))
        self.audibility = np.zeros(cap, dtype=np.float64)
        self.own_gain = np.zeros(cap, dtype=np.float64)   # audibility before category gains
        self.score = np.zeros(cap, dtype=np.float64)
        self._work = np.zeros(cap, dtype=np.float64)       # kth_largest's copy of the scores
        self._to_virtual = np.zeros(cap, dtype=np.int64)
        self._to_real = np.zeros(cap, dtype=np.int64)
        self.no_exclusions = np.zeros(cap, dtype=np.bool_)
        self.stats = VoiceStats()
        self._order = 0
        self.on_switch = lambda kind, rows, reason: None   # told of rows gone 'virtual', 'real' or 'stolen', and why


    # ------------------------------------------------------------ allocation
    def live(self) -> np.ndarray:
        """Mask of rows holding an instance that still counts against limits."""
        s = self.arrays.vi[:, VI_STATE]
        return (s == PLAYING) | (s == VIRTUAL) | (s == PAUSED)

    def make_room(self, mask: np.ndarray, limit: int | None, policy: str, priority: float,
                  distance: float, what: str) -> str | None:
        """Enforce `limit` on the rows in `mask`: steal one or refuse.

        Returns None if the new instance may play, else the reason it is refused.
        """
        if limit is None:
            return None
        rows = np.flatnonzero(mask & self.live())
        if len(rows) < limit:
            return None
        victim = self._victim(rows, policy, priority, distance)
        if victim is None:
            return f"{what} limit of {limit} reached (policy {policy})"
        self.stop(int(victim), self.steal_fade)
        self.stats.steals += 1
        self.on_switch("stolen", [int(victim)], f"{what} limit of {limit} (steal: {policy})")
        return None

    def _victim(self, rows, policy, priority, distance):
        if policy == "refuse":
            return None
        if policy == "oldest":
            return rows[np.argmin(self.started[rows])]
        if policy == "quietest":
            return rows[np.argmin(self.audibility[rows])]
        if policy == "lowest_priority":
            lowest = self.priority[rows].min()
            if priority < lowest:
                return None     # the new sound is the least important: it is the one dropped
            candidates = rows[self.priority[rows] == lowest]
            return candidates[np.argmin(self.started[candidates])]
        # furthest
        vf, lf = self.arrays.vf, self.arrays.lf
        d = np.linalg.norm(listeners.nearest(lf, vf[rows, VF_X:VF_Z + 1])[1], axis=1)
        if distance > d.max():
            return None
        return rows[np.argmax(d)]

    def allocate(self, priority: float) -> int:
        """Take a free row for a new instance (the caller fills it); it starts virtual,
        and `assign` makes it real, from its first sample, in the same block."""
        v = self.free.pop()
        self.priority[v] = priority
        self.started[v] = self._order
        self._order += 1
        self.stats.plays += 1
        return v

    def release(self, v: int) -> None:
        """Give back a row that was allocated but never rendered (a play undone)."""
        self.arrays.vi[v, VI_STATE] = FREE
        self.arrays.vi[v, VI_TO_VIRTUAL] = 0
        self.free.append(v)
        self.stats.plays -= 1

    def stop(self, v: int, fade: float) -> None:
        """Stop an instance: a real one fades out over `fade` s (at least one block), a virtual one ends."""
        vi, vf = self.arrays.vi, self.arrays.vf
        vi[v, VI_PAUSE] = 0
        if vi[v, VI_STATE] in (VIRTUAL, PAUSED):
            vi[v, VI_STATE] = ENDED
            self.arrays.lf[LF_ENDED] += 1.0
            return
        samples = max(fade * self.sample_rate, self.block_size)
        vf[v, VF_FADE_TARGET] = 0.0
        vf[v, VF_FADE_STEP] = max(vf[v, VF_FADE], 1e-9) / samples
        vi[v, VI_STATE] = STOPPING

    def reclaim(self) -> list[int]:
        """Free the rows marked ENDED (the kernel counts them, so most blocks skip the scan); returns them."""
        vi, lf = self.arrays.vi, self.arrays.lf
        if lf[LF_ENDED] == 0.0:
            return []
        lf[LF_ENDED] = 0.0
        ended = np.flatnonzero(vi[:, VI_STATE] == ENDED)
        vi[ended, VI_STATE] = FREE
        vi[ended, VI_TO_VIRTUAL] = 0
        self.free.extend(int(v) for v in ended)
        self.stats.ended += len(ended)
        return [int(v) for v in ended]

    # ------------------------------------------------------------ real / virtual
    def assign(self, bus_gain: np.ndarray, hdr_inaudible: np.ndarray | None = None) -> None:
        """Rank every instance and move voices between real and virtual (once per block)."""
        p = self.arrays
        excluded = self.no_exclusions if hdr_inaudible is None else hdr_inaudible
        nv, nr, kept, budget, real, virtual = decide(
            p.vi, p.vf, p.vx, p.lf, p.sound_mod, p.cat_gain, bus_gain, self.priority, self.threshold, HYSTERESIS_DB,
            excluded, p.max_voices, self.audibility, self.own_gain, self.score, self._work, self._to_virtual,
            self._to_real)
        if nv:
            self._virtualize(self._to_virtual[:nv])
        moved = self._devirtualize(self._to_real[:nr], budget - kept) if nr else 0
        stats = self.stats
        if real + moved > stats.peak_real:
            stats.peak_real = real + moved
        if virtual - moved > stats.peak_virtual:
            stats.peak_virtual = virtual - moved

    def _virtualize(self, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        vi, vf = self.arrays.vi, self.arrays.vf
        vi[rows, VI_TO_VIRTUAL] = 1
        vf[rows, VF_VFADE_TARGET] = 0.0
        vf[rows, VF_VFADE_STEP] = 1.0 / self.virtual_fade_samples
        self.stats.virtualizations += len(rows)
        quiet = self.audibility[rows] < self.threshold
        if quiet.any():
            self.on_switch("virtual", rows[quiet], "below the audibility threshold")
        if not quiet.all():
            self.on_switch("virtual", rows[~quiet], f"outranked: max_voices {self.arrays.max_voices}")

    def _devirtualize(self, rows: np.ndarray, room: int) -> int:
        """Make `rows` real (fading to-virtual ones back up), at most `room` virtual ones; returns
        how many virtual rows became real."""
        if len(rows) == 0:
            return 0
        vi, vf, gain = self.arrays.vi, self.arrays.vf, self.arrays.gain
        leaving = rows[vi[rows, VI_TO_VIRTUAL] != 0]
        vi[leaving, VI_TO_VIRTUAL] = 0        # still real: just fade back up
        vf[leaving, VF_VFADE_TARGET] = 1.0
        rows = rows[vi[rows, VI_STATE] == VIRTUAL][:max(room, 0)]
        if len(rows) == 0:
            return 0
        fresh = rows[(vi[rows, VI_BLOCKS] == 0) & (vi[rows, VI_POS] == 0)]
        resumed = rows[(vi[rows, VI_BLOCKS] != 0) | (vi[rows, VI_POS] != 0)]
        # a sound starting at full volume from its first sample needs no ramp (a fade-in ramps itself)
        vi[fresh, VI_START_AT_TARGET] = vf[fresh, VF_FADE] >= 1.0
        vf[fresh, VF_VFADE] = 1.0
        vf[resumed, VF_VFADE] = 0.0
        gain[resumed] = 0.0
        vf[rows, VF_VFADE_TARGET] = 1.0
        vf[rows, VF_VFADE_STEP] = 1.0 / self.virtual_fade_samples
        vi[rows, VI_STATE] = PLAYING
        self.stats.devirtualizations += len(resumed)
        if len(resumed):
            self.on_switch("real", resumed, "a voice came free")
        return len(rows)
