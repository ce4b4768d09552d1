"""HOT PATH.  Unmasking: cut a bus only in the bands where it masks a priority bus.

A cross-adaptive dynamic EQ in the spirit of Wichern et al. (2015) and
Hafezi & Reiss (2015): while dialogue (the *target*) sounds, music and
ambience (the *maskers*) step aside in the bands where they would cover it,
and nowhere else.

Analysis, per band k of BANDS (octaves from 250 Hz to 8 kHz, where speech
carries its intelligibility): two band-passes in series (TPT SVF, constant
peak gain, Q = Q_BAND each: 24 dB/octave skirts) of the bus's mid signal
(mean of its channels), squared and smoothed by a 50 ms one-pole: the band
level L_k in dB.  Targets are analysed after
their own processing (what is heard); maskers before their cut (so the cut
does not feed back into its own measure).

Rule, per masker and band, every SUB samples:

    cut_k = clamp(L_masker,k - L_target,k + margin, 0, max_depth)

while the target is present in band k: its level there above `floor` and
within RELEVANT_DB of its strongest band (so a band the target barely
reaches is left alone); otherwise cut_k = 0.  Read: the masker should sit
`margin` dB under the target in every band the target uses.  The applied cut
moves towards cut_k with the attack (deeper) or release time constant, in dB.

Apply: a cascade of peaking (bell) filters at the band centres (Simper's TPT
SVF bell: y = x + k (A^2 - 1) v1, k = 1 / (Q A)), coefficients updated every
SUB samples; a band with no cut and none wanted is bypassed.  Neighbouring
bells overlap, so each bell's gain is not the band's cut itself: as in
graphic-equaliser design (Valimaki & Liski 2017), an interaction matrix B
(B[j, k] = dB at centre j of bell k per dB of its gain, measured at
allocation) is inverted once, and the bells get B^-1 @ cuts, so the cascade's
response at every band centre is the cut the rule asked for.

The analysis runs the six bands in the lanes of one vector (core/lanes.py):
the same operations per band as one band alone, six at once.

Arrays (allocate(), shared by the two stages): bands[k] analysis band-pass
coefficients, bell tangents and the row k of B^-1; lane_bands[field, k] the
analysis coefficients by field, a band per lane (zeros beyond NB);
targets[t, field, k] each target's analysis state, a band per lane (fields:
the two band-passes' ic1, ic2, then the smoothed energy); maskers[m, UP_*]
masker parameters; masker_bands[m, field, k] each masker's analysis state;
cuts[m, 0, k] the cut at
band k's centre in dB (telemetry) and cuts[m, 1, k] bell k's gain;
bells[m, k, c, 2] bell states; levels[NB + 1], scratch: a target's band
levels (dB) and the strongest of them, read once per block (the target's
analysis does not change while a masker is cut); steps[CHUNK // SUB *
WIDTH], scratch: the band energies after each SUB samples of an analysis
pass (a masker's input is analysed a whole chunk at a time, before its cut
changes it, and each SUB's cut reads the energies as of its end).

Speed: each bell runs over its stretch with its states in locals (as arrays
they went through memory at every sample), two channels side by side (two
independent recursions in one loop: twice the work per sample's latency);
each channel still sees its samples in order and computes them as before, so
the results are the same bits.  The masker's analysis of a SUB reads the input before that SUB's
cut, so a whole chunk is analysed first and the cut follows SUB by SUB.  Two stages of the chain use them:
UnmaskStage cuts a masker bus (slot[b] = its masker index) before its
dynamics, UnmaskAnalysisStage analyses a target bus (slot[b] = its target
index) after its fader, as heard.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.core.lanes import WIDTH, load, store
from gamemix.core.panning.layouts import MAX_CHANNELS

BANDS = (250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
NB = len(BANDS)
assert NB <= WIDTH, "the analysis runs a band per lane"
Q_BAND = 1.4
SUB = 16
CHUNK = 256         # samples analysed in one pass (the energies after each SUB of them kept in `steps`)
SMOOTH_S = 0.050
RELEVANT_DB = 15.0
ENERGY = 4          # analysis state per band: two band-passes' (ic1, ic2), then the smoothed energy

UP_ENABLED = 0
UP_TARGET = 1       # target slot
UP_DEPTH = 2        # max cut, dB
UP_MARGIN = 3       # dB
UP_FLOOR = 4        # dBFS
UP_ATTACK = 5       # per-SUB coefficients
UP_RELEASE = 6
UP_NFIELDS = 7

# bands[k, FIELD]
BP_A1, BP_A2, BP_A3, BP_K, BP_G, BP_SMOOTH = 0, 1, 2, 3, 4, 5
BP_INV = 6           # bands[k, BP_INV + j] = (B^-1)[k, j]
REFERENCE_CUT_DB = 6.0


def _bell_coefficients(g: float, cut_db: float):
    big_a = 10.0 ** (-cut_db / 40.0)
    kk = 1.0 / (Q_BAND * big_a)
    a1 = 1.0 / (1.0 + g * (g + kk))
    return a1, g * a1, g * g * a1, kk * (big_a * big_a - 1.0)


def interaction(sample_rate: float) -> np.ndarray:
    """B[j, k]: dB of attenuation at centre j per dB of cut of bell k (from its impulse response)."""
    n = 1 << 14
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    b = np.zeros((NB, NB))
    for k, fc in enumerate(BANDS):
        a1, a2, a3, m1 = _bell_coefficients(math.tan(math.pi * min(fc, 0.45 * sample_rate) / sample_rate),
                                            REFERENCE_CUT_DB)
        mag = 20.0 * np.log10(np.abs(np.fft.rfft(_bell_impulse(a1, a2, a3, m1, n, 2048))))
        for j, fj in enumerate(BANDS):
            b[j, k] = -np.interp(fj, f, mag) / REFERENCE_CUT_DB
    return b


@njit(cache=True, nogil=True)
def _bell_impulse(a1, a2, a3, m1, n, length):
    """The first `length` samples of a bell's impulse response, zero-padded to n."""
    h = np.zeros(n)
    ic1 = ic2 = 0.0
    for i in range(length):
        x = 1.0 if i == 0 else 0.0
        v3 = x - ic2
        v1 = a1 * ic1 + a2 * v3
        v2 = ic2 + a2 * ic1 + a3 * v3
        ic1, ic2 = 2.0 * v1 - ic1, 2.0 * v2 - ic2
        h[i] = x + m1 * v1
    return h


class UnmaskStage(NamedTuple):
    """The chain's unmasking cut: slot[b] = bus b's masker index (-1: none); see the module docstring."""

    slot: np.ndarray
    bands: np.ndarray
    lane_bands: np.ndarray
    targets: np.ndarray
    maskers: np.ndarray
    masker_bands: np.ndarray
    cuts: np.ndarray
    bells: np.ndarray
    levels: np.ndarray
    steps: np.ndarray


class UnmaskAnalysisStage(NamedTuple):
    """The chain's analysis of unmasking targets: slot[b] = bus b's target index (-1: none)."""

    slot: np.ndarray
    lane_bands: np.ndarray
    targets: np.ndarray
    steps: np.ndarray


def allocate(n_buses: int, n_targets: int, n_maskers: int, sample_rate: float) -> tuple[UnmaskStage,
                                                                                        UnmaskAnalysisStage]:
    """Both stages, sharing their arrays, for this many target and masker slots (none assigned yet)."""
    bp = np.zeros((NB, BP_INV + NB))
    for k, fc in enumerate(BANDS):
        g = math.tan(math.pi * min(fc, 0.45 * sample_rate) / sample_rate)
        kq = 1.0 / Q_BAND
        a1 = 1.0 / (1.0 + g * (g + kq))
        bp[k, :BP_INV] = (a1, g * a1, g * g * a1, kq, g, math.exp(-1.0 / (SMOOTH_S * sample_rate)))
    bp[:, BP_INV:] = np.linalg.inv(interaction(sample_rate))
    lane_bands = np.zeros((BP_SMOOTH + 1, WIDTH))
    lane_bands[:, :NB] = bp[:, :BP_SMOOTH + 1].T
    nt, nm = max(n_targets, 1), max(n_maskers, 1)
    targets = np.zeros((nt, ENERGY + 1, WIDTH))
    steps = np.zeros(CHUNK // SUB * WIDTH)
    cut = UnmaskStage(np.full(n_buses, -1, dtype=np.int64), bp, lane_bands, targets, np.zeros((nm, UP_NFIELDS)),
                      np.zeros((nm, ENERGY + 1, WIDTH)), np.zeros((nm, 2, NB)), np.zeros((nm, NB, MAX_CHANNELS, 2)),
                      np.zeros(NB + 1), steps)
    return cut, UnmaskAnalysisStage(np.full(n_buses, -1, dtype=np.int64), lane_bands, targets, steps)


def set_masker(maskers: np.ndarray, m: int, target_slot: int, sample_rate: float, max_depth_db: float,
               margin_db: float, floor_db: float, attack_ms: float, release_ms: float) -> None:
    """Control side: configure masker slot m against target slot target_slot."""
    row = maskers[m]
    row[UP_ENABLED] = 1.0
    row[UP_TARGET] = target_slot
    row[UP_DEPTH] = max_depth_db
    row[UP_MARGIN] = margin_db
    row[UP_FLOOR] = floor_db
    row[UP_ATTACK] = math.exp(-SUB / (attack_ms * 1e-3 * sample_rate)) if attack_ms > 0 else 0.0
    row[UP_RELEASE] = math.exp(-SUB / (release_ms * 1e-3 * sample_rate)) if release_ms > 0 else 0.0


@njit(cache=True, nogil=True, inline="always")
def _band_pass(x, a1, a2, a3, kq, ic1, ic2):
    """One sample through a band-pass (TPT SVF) in every lane: (output, new ic1, new ic2)."""
    v3 = x - ic2
    v1 = a1 * ic1 + a2 * v3
    v2 = ic2 + a2 * ic1 + a3 * v3
    return kq * v1, 2.0 * v1 - ic1, 2.0 * v2 - ic2


@njit(cache=True, nogil=True)
def _analyse(buf, start, count, channels, lane_bands, state, steps):
    """Band energies of the mid signal (mean of the channels, non-finite as 0) of
    buf[:, start:start+count] (count <= CHUNK) into state (ENERGY + 1, WIDTH): each sample through
    every band's two band-passes in series (24 dB/oct skirts, so a band does not read its
    neighbours' energy), then its smoothed energy, the bands in lanes.  The energies after each SUB
    samples (and after the last) go to steps[s * WIDTH:(s + 1) * WIDTH]."""
    a1, a2, a3 = load(lane_bands[BP_A1], 0), load(lane_bands[BP_A2], 0), load(lane_bands[BP_A3], 0)
    kq, smooth = load(lane_bands[BP_K], 0), load(lane_bands[BP_SMOOTH], 0)
    p1, p2, q1, q2 = load(state[0], 0), load(state[1], 0), load(state[2], 0), load(state[3], 0)
    e = load(state[ENERGY], 0)
    for i in range(count):
        x = 0.0
        for c in range(channels):
            x += buf[c, start + i]
        x /= channels
        if not math.isfinite(x):
            x = 0.0
        y, p1, p2 = _band_pass(x, a1, a2, a3, kq, p1, p2)
        y, q1, q2 = _band_pass(y, a1, a2, a3, kq, q1, q2)
        e = y * y + (e - y * y) * smooth
        if i % SUB == SUB - 1 or i == count - 1:
            store(steps, i // SUB * WIDTH, e)
    store(state[0], 0, p1)
    store(state[1], 0, p2)
    store(state[2], 0, q1)
    store(state[3], 0, q2)
    store(state[ENERGY], 0, e)


@njit(cache=True, nogil=True)
def analyse_target(t, buf, n, channels, lane_bands, targets, steps):
    """Measure target slot t's bands over the first n samples of buf (channels, >= n); steps: scratch."""
    for start in range(0, n, CHUNK):
        _analyse(buf, start, min(CHUNK, n - start), channels, lane_bands, targets[t], steps)
    _recover(targets[t])


@njit(cache=True, nogil=True)
def _recover(state):
    """State that went non-finite (any array of it) starts again from rest instead of staying so."""
    flat = state.reshape(state.size)        # a view: these states are C-contiguous
    for i in range(flat.shape[0]):
        if not math.isfinite(flat[i]):
            flat[:] = 0.0
            return


@njit(cache=True, nogil=True, inline="always")
def _db(e):
    return 10.0 * math.log10(e + 1e-30)


@njit(cache=True, nogil=True)
def _target_levels(target, levels):
    """levels[k] = the target's level in band k (dB), levels[NB] = the strongest of them."""
    strongest = -1e30
    for j in range(NB):
        levels[j] = _db(target[ENERGY, j])
        strongest = max(strongest, levels[j])
    levels[NB] = strongest


@njit(cache=True, nogil=True)
def unmask_block(m, buf, n, channels, bands, lane_bands, targets, maskers, masker_bands, cuts, bells, levels, steps):
    """Cut masker slot m's bus (buf, in place) where it masks its target (levels, steps: scratch)."""
    p = maskers[m]
    if p[UP_ENABLED] == 0.0:
        return
    _target_levels(targets[int(p[UP_TARGET])], levels)
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        _analyse(buf, start, count, channels, lane_bands, masker_bands[m], steps)
        _cut(m, buf, start, count, channels, bands, p, levels, steps, cuts, bells)
    _recover(masker_bands[m])
    _recover(bells[m])
    _recover(cuts[m])


@njit(cache=True, nogil=True)
def _cut(m, buf, start, count, channels, bands, p, levels, steps, cuts, bells):
    """The cut of masker slot m on buf[:, start:start + count], SUB samples at a time: each band's cut
    moves towards what the rule asks for (`_wanted`, from the masker's energies as of the end of
    that SUB: steps), the bells' gains follow (B^-1), and each bell runs over the SUB in place, its
    state in locals; a band with no gain and none before is bypassed."""
    for s in range((count + SUB - 1) // SUB):
        at = start + s * SUB
        todo = min(SUB, start + count - at)
        resting = True              # no cut wanted or left, every bell bypassed at rest: nothing to do
        for k in range(NB):
            want = _wanted(levels[k], levels[NB], p[UP_FLOOR], p[UP_MARGIN], p[UP_DEPTH], steps[s * WIDTH + k])
            cut = cuts[m, 0, k]
            a = p[UP_ATTACK] if want > cut else p[UP_RELEASE]
            new = want + (cut - want) * a
            cuts[m, 0, k] = new if new >= 1e-4 or want > 0.0 else 0.0
            resting = resting and cuts[m, 0, k] == 0.0 and cuts[m, 1, k] == 0.0
            for c in range(channels):   # (the channels beyond are only ever reset)
                resting = resting and bells[m, k, c, 0] == 0.0 and bells[m, k, c, 1] == 0.0
        if resting:                 # every gain would come out 0, so every bell would be bypassed and reset
            continue
        for k in range(NB):
            gain = 0.0
            for j in range(NB):
                gain += bands[k, BP_INV + j] * cuts[m, 0, j]
            gain = min(max(gain, 0.0), 2.0 * p[UP_DEPTH])
            before = cuts[m, 1, k]
            cuts[m, 1, k] = gain
            if gain == 0.0 and before == 0.0:
                for c in range(bells.shape[2]):         # bypassed: wake from rest
                    bells[m, k, c, 0] = 0.0
                    bells[m, k, c, 1] = 0.0
                continue
            big_a = 10.0 ** (-gain / 40.0)
            g = bands[k, BP_G]
            kk = 1.0 / (Q_BAND * big_a)
            a1 = 1.0 / (1.0 + g * (g + kk))
            a2 = g * a1
            a3 = g * a2
            m1 = kk * (big_a * big_a - 1.0)
            for c in range(0, channels, 2):
                _bell_run(buf, c, min(c + 1, channels - 1), at, todo, bells[m, k], a1, a2, a3, m1)


@njit(cache=True, nogil=True, inline="always")
def _bell_step(x, ic1, ic2, a1, a2, a3, m1):
    """One sample (non-finite as 0) through a bell (Simper's TPT SVF bell): (output, new ic1, new ic2)."""
    v = np.float64(x)
    v = v if math.isfinite(v) else 0.0
    v3 = v - ic2
    v1 = a1 * ic1 + a2 * v3
    v2 = ic2 + a2 * ic1 + a3 * v3
    return v + m1 * v1, 2.0 * v1 - ic1, 2.0 * v2 - ic2


@njit(cache=True, nogil=True, inline="always")
def _bell_run(buf, c, d, at, todo, state, a1, a2, a3, m1):
    """Channels c and d (d == c: only c) of buf[:, at:at + todo] through one bell in place, its
    states (state[channel, 0:2]) in locals: the two channels are independent chains, run side by
    side (each sees its samples in order and computes them as alone: the same bits)."""
    both = d != c
    p1, p2 = state[c, 0], state[c, 1]
    q1, q2 = state[d, 0], state[d, 1]
    for i in range(at, at + todo):
        buf[c, i], p1, p2 = _bell_step(buf[c, i], p1, p2, a1, a2, a3, m1)
        if both:
            buf[d, i], q1, q2 = _bell_step(buf[d, i], q1, q2, a1, a2, a3, m1)
    state[c, 0], state[c, 1] = p1, p2
    if both:
        state[d, 0], state[d, 1] = q1, q2


@njit(cache=True, nogil=True, inline="always")
def _wanted(lt, strongest, floor, margin, depth, masker_energy):
    """The cut (dB >= 0) the rule asks for in a band where the target's level is lt (strongest: its
    strongest band's) and the masker's energy masker_energy."""
    if lt <= floor:
        return 0.0
    if lt < strongest - RELEVANT_DB:
        return 0.0
    return min(max(_db(masker_energy) - lt + margin, 0.0), depth)


@njit(cache=True, nogil=True, inline="always")
def unmask_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's unmasking cut (core/chain.py): only on masker buses."""
    m = st.slot[b]
    if m < 0:
        return
    unmask_block(m, bus_buf[b], n, channels, st.bands, st.lane_bands, st.targets, st.maskers, st.masker_bands,
                 st.cuts, st.bells, st.levels, st.steps)


@njit(cache=True, nogil=True, inline="always")
def analysis_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's analysis of unmasking targets (core/chain.py): only on target buses."""
    t = st.slot[b]
    if t < 0:
        return
    analyse_target(t, bus_buf[b], n, channels, st.lane_bands, st.targets, st.steps)


chain.register(UnmaskStage, unmask_stage, chain.UNMASK)
chain.register(UnmaskAnalysisStage, analysis_stage, chain.ANALYSIS)
