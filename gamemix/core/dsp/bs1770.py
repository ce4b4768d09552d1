"""HOT PATH.  Loudness meters after ITU-R BS.1770-4 and EBU R128 / Tech 3341 / Tech 3342.

A bank of meter slots (one per bus, one for the output, one before each
loudness-managed gain), each fed a block at a time by `meter_block`, in the
standard's steps:

1. K-weighting per channel: the high-shelf pre-filter then the RLB high-pass
   (two biquads, designed for the actual sample rate in `k_weighting`);
2. mean square per channel, weighted (1.0 for L R C, 1.41 for surrounds, 0
   for LFE) and summed, accumulated over 100 ms steps;
3. every 100 ms step: momentary loudness (last 4 steps, 400 ms), short-term
   (last 30, 3 s), L = -0.691 + 10 log10(energy);
4. integrated: the 400 ms blocks every 100 ms (75 % overlap) above the
   absolute gate (-70 LUFS), then above the relative gate (their mean - 10 LU);
5. loudness range (Tech 3342): the 3 s short-term values every 100 ms above
   -70 LUFS and then above their mean - 20 LU; LRA = 95th - 10th percentile;
   both from histograms that change only when a step closes, so they are
   worked out when read (`settle`, which `read` calls), not at every step;
6. true peak: 4x oversampled (dsp/truepeak.py), and the sample peak.  Only
   the maximum since a reset is kept, so a chunk whose samples cannot reach
   it between them (truepeak.reach) is not oversampled at all.

Integrated loudness and LRA cover a whole session in O(1) memory: each
400 ms block and each short-term value lands in a histogram of 0.01 LU bins
from -70 to +10 LUFS that keeps, per bin, the count and the energy sum, so
the gated mean energy is exact except within the one bin the relative gate
falls in.  Only complete windows count (as in pyloudnorm and libebur128).

Up to WIDTH slots are metered at once, a slot per lane of a vector
(core/lanes.py): the K-weighting filters and the 100 ms sums of eight buses
run in about the time of one, each lane computing exactly what one slot
alone computes.  `meter_buses` meters every bus this way after the block's chains
(the chain's meter stage, which sits where nothing changes a bus any more);
`meter_block` meters one slot (the loudness targets' meters, files).

Non-finite samples count as silence.  A reset requested by the control side
(flags[m] = 1) clears the slot at its next block, on the audio thread that
owns the state.  Readings live in out[m, LM_*]: loudness in LUFS (-inf until it
exists), LRA in LU, peaks linear.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.core.dsp import truepeak
from gamemix.core.dsp.truepeak import CHUNK, chunk_peaks, design, largest_abs, reach
from gamemix.core.lanes import WIDTH, gather, load, splat, store

OFFSET_DB = -0.691          # BS.1770-4 eq. 2: L = -0.691 + 10 log10(sum of G_i z_i); its one home

# out[m, FIELD]
LM_MOMENTARY = 0
LM_SHORT_TERM = 1
LM_INTEGRATED = 2
LM_LRA = 3
LM_MAX_MOMENTARY = 4
LM_MAX_SHORT_TERM = 5
LM_TRUE_PEAK = 6          # linear, max since reset
LM_SAMPLE_PEAK = 7        # linear, max since reset
LM_NFIELDS = 8

# acc[m, FIELD]: the running state of a slot
AC_SUM = 0                # weighted energy of the current 100 ms step
AC_COUNT = 1              # samples in it
AC_STEPS = 2              # 100 ms steps completed since reset
AC_GATE_N = 3             # 400 ms blocks above the absolute gate
AC_GATE_E = 4             # their energy sum
AC_ST_N = 5               # short-term values above the absolute gate
AC_ST_E = 6
AC_NFIELDS = 7

RING = 30                 # 100 ms steps kept: the short-term window
BIN = 0.01                # histogram bin width, LU
LOW = -70.0               # absolute gate, LUFS
HIGH = 10.0
NBINS = int(round((HIGH - LOW) / BIN))
TP_OVERSAMPLE = 4
TP_TAPS = 12


class MeterBank(NamedTuple):
    """Every array of a bank of meter slots (the kernels take them as one named tuple)."""

    coef: np.ndarray      # [b0 b1 b2 a1 a2] of the pre-filter then the RLB filter (10)
    weight: np.ndarray    # per channel
    step: np.ndarray      # [samples per 100 ms step]
    kstate: np.ndarray    # (m, channels, 4) biquad states
    ring: np.ndarray      # (m, RING) step energies
    acc: np.ndarray       # (m, AC_NFIELDS)
    hist: np.ndarray      # (m, 2, NBINS, 2): [momentary blocks | short-term values] x [count, energy]
    tp_coef: np.ndarray   # (TP_OVERSAMPLE - 1, TP_TAPS), see dsp/truepeak.py
    tp: np.ndarray        # (m, channels + 2, TP_TAPS - 1 + CHUNK) detector states, see truepeak.allocate
    flags: np.ndarray     # (m,) int64: 1 = reset at the next block
    out: np.ndarray       # (m, LM_NFIELDS) readings
    # scratch for up to WIDTH slots metered together, a slot per lane:
    lanes: np.ndarray     # (channels, WIDTH * CHUNK): each lane's chunk of each channel, lane after lane
    lane_energy: np.ndarray   # (CHUNK * WIDTH,): the weighted energies, a vector of lanes per sample
    lane_state: np.ndarray    # (4 * channels + 1, WIDTH): the filters' states by channel and field, then the sums
    group: np.ndarray     # (WIDTH,) int64: the slot in each lane


def k_weighting(sample_rate: float) -> np.ndarray:
    """The two K-weighting biquads for this rate, as [b0 b1 b2 a1 a2] x 2.

    The analog prototypes' parameters fitted to BS.1770's 48 kHz
    coefficients (as libebur128 does), re-discretised by the bilinear
    transform for any rate; at 48 kHz they reproduce the standard's table."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    pre = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
           2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    rlb = [1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array(pre + rlb)


def allocate(n_meters: int, channels: int, sample_rate: float, weights: tuple | None = None) -> MeterBank:
    """A bank of n_meters slots for `channels`-channel signals at this rate; `weights` are the
    channels' BS.1770 weights (the layout's, core/panning/layouts.py; default 1.0 each)."""
    w = np.ones(channels) if weights is None else np.array(weights[:channels], dtype=np.float64)
    if w.shape[0] != channels:
        raise ValueError(f"{len(weights)} channel weights for {channels} channels")
    n = max(n_meters, 1)
    bank = MeterBank(k_weighting(sample_rate), w,
                     np.array([int(round(0.1 * sample_rate))], dtype=np.int64),
                     np.zeros((n, channels, 4)), np.zeros((n, RING)), np.zeros((n, AC_NFIELDS)),
                     np.zeros((n, 2, NBINS, 2)), design(TP_OVERSAMPLE, TP_TAPS),
                     np.stack([truepeak.allocate(channels, TP_TAPS)] * n),
                     np.zeros(n, dtype=np.int64), np.zeros((n, LM_NFIELDS)), np.zeros((channels, WIDTH * CHUNK)),
                     np.zeros(CHUNK * WIDTH), np.zeros((4 * channels + 1, WIDTH)), np.zeros(WIDTH, dtype=np.int64))
    bank.out[:, :LM_TRUE_PEAK] = -math.inf      # what `clear` leaves in a slot of zeros, for all slots at once
    bank.out[:, LM_LRA] = 0.0                   # (one jitted call per slot cost 0.7 ms each: 3 s for 4,096 buses)
    return bank


@njit(cache=True, nogil=True)
def _clear(m, bank):
    bank.kstate[m] = 0.0
    bank.ring[m] = 0.0
    bank.acc[m] = 0.0
    bank.hist[m] = 0.0
    bank.tp[m] = 0.0
    for f in range(LM_NFIELDS):
        bank.out[m, f] = -math.inf if f < LM_TRUE_PEAK else 0.0
    bank.out[m, LM_LRA] = 0.0


def clear(bank: MeterBank, m: int) -> None:
    """Reset slot m now (control side, only while no block is being metered)."""
    _clear(m, bank)


@njit(cache=True, nogil=True, inline="always")
def k_coefficients(coef):
    """The ten K-weighting coefficients (k_weighting's array) as a tuple of numbers, for k_filter."""
    return coef[0], coef[1], coef[2], coef[3], coef[4], coef[5], coef[6], coef[7], coef[8], coef[9]


@njit(cache=True, nogil=True, inline="always")
def k_filter(v, s, k):
    """One sample, or one vector of lanes (core/lanes.py), through BS.1770-4's K-weighting (2.1: the
    pre-filter's high shelf, then the RLB high-pass) as two biquads in direct form II transposed:
    (the output, the four new states) from the input v, the states s and the coefficients k
    (k_coefficients).  The one home of the recurrence: the meters, the intelligibility measure and
    the AR ambient estimate all filter through it."""
    b0, b1, b2, a1, a2, c0, c1, c2, d1, d2 = k
    s0, s1, s2, s3 = s
    u = b0 * v + s0
    t0 = b1 * v - a1 * u + s1
    t1 = b2 * v - a2 * u
    y = c0 * u + s2
    t2 = c1 * u - d1 * y + s3
    t3 = c2 * u - d2 * y
    return y, (t0, t1, t2, t3)


@njit(cache=True, nogil=True)
def _k_weight(x, at, k, coef, z, w, energy):
    """energy[i] += w y^2 for the K-weighted y of x[at + i], i < k, the state z[0:4] carried from
    chunk to chunk."""
    kc = k_coefficients(coef)
    s = (z[0], z[1], z[2], z[3])
    for i in range(k):
        y, s = k_filter(x[at + i], s, kc)
        energy[i] += w * y * y
    z[0], z[1], z[2], z[3] = s


@njit(cache=True, nogil=True, inline="always")
def loudness(energy):
    """LUFS of a weighted mean-square energy (BS.1770 eq. 2)."""
    return OFFSET_DB + 10.0 * math.log10(energy) if energy > 0.0 else -math.inf


@njit(cache=True, nogil=True, inline="always")
def _bin(lufs):
    return min(int((lufs - LOW) / BIN), NBINS - 1)


@njit(cache=True, nogil=True, inline="always")
def _end_bin(highest):
    """One past the highest histogram bin in use when `highest` is the largest value ever added (the
    bins above hold zeros, and adding zeros changes no sum, so the scans stop here)."""
    return _bin(highest) + 1 if highest > LOW else 0


@njit(cache=True, nogil=True)
def _gated_mean(h, n, e, offset, end):
    """Loudness of the values in histogram h (bins below `end` in use) above (their mean energy
    e/n) + offset LU."""
    if n <= 0.0:
        return -math.inf, 0
    gate = loudness(e / n) + offset
    first = max(_bin(gate), 0) if gate > LOW else 0
    cnt = 0.0
    tot = 0.0
    for j in range(first, end):
        cnt += h[j, 0]
        tot += h[j, 1]
    return (loudness(tot / cnt) if cnt > 0.0 else -math.inf), first


@njit(cache=True, nogil=True)
def _percentile(h, first, total, q):
    """Lower edge of the bin holding the q-quantile of the counts from bin `first` on."""
    want = q * (total - 1.0)
    seen = 0.0
    for j in range(first, NBINS):
        seen += h[j, 0]
        if seen > want:
            return LOW + (j + 0.5) * BIN
    return HIGH


@njit(cache=True, nogil=True)
def _end_step(m, bank):
    """Close a 100 ms step: update momentary, short-term, integrated, LRA and their maxima."""
    acc = bank.acc[m]
    out = bank.out[m]
    steps = int(acc[AC_STEPS])
    bank.ring[m, steps % RING] = acc[AC_SUM] / acc[AC_COUNT]
    steps += 1
    acc[AC_STEPS] = steps
    acc[AC_SUM] = 0.0
    acc[AC_COUNT] = 0.0
    if steps >= 4:
        _window(m, bank, steps, 4, 0, LM_MOMENTARY, LM_MAX_MOMENTARY, AC_GATE_N)
    if steps >= RING:
        _window(m, bank, steps, RING, 1, LM_SHORT_TERM, LM_MAX_SHORT_TERM, AC_ST_N)


@njit(cache=True, nogil=True)
def settle(m, bank):
    """Slot m's integrated loudness and LRA into its readings, from its histograms as the last
    closed step left them (what working them out at that step gave)."""
    acc = bank.acc[m]
    out = bank.out[m]
    steps = acc[AC_STEPS]
    if steps >= 4:
        out[LM_INTEGRATED] = _gated_mean(bank.hist[m, 0], acc[AC_GATE_N], acc[AC_GATE_N + 1], -10.0,
                                         _end_bin(out[LM_MAX_MOMENTARY]))[0]
    if steps >= RING:
        h = bank.hist[m, 1]
        end = _end_bin(out[LM_MAX_SHORT_TERM])
        first = _gated_mean(h, acc[AC_ST_N], acc[AC_ST_N + 1], -20.0, end)[1]
        total = 0.0
        for j in range(first, end):
            total += h[j, 0]
        if total > 0.0:
            out[LM_LRA] = _percentile(h, first, total, 0.95) - _percentile(h, first, total, 0.10)


@njit(cache=True, nogil=True)
def _window(m, bank, steps, length, kind, reading, maximum, count):
    """Loudness of the last `length` steps into out[reading] and its maximum; above the
    absolute gate, into histogram `kind` (with count and energy at acc[count], acc[count + 1])."""
    acc = bank.acc[m]
    out = bank.out[m]
    e = 0.0
    for k in range(length):
        e += bank.ring[m, (steps - 1 - k) % RING]
    e /= length
    lufs = loudness(e)
    out[reading] = lufs
    out[maximum] = max(out[maximum], lufs)
    if lufs > LOW:
        j = _bin(lufs)
        bank.hist[m, kind, j, 0] += 1.0
        bank.hist[m, kind, j, 1] += e
        acc[count] += 1.0
        acc[count + 1] += e


@njit(cache=True, nogil=True)
def meter_block(m, buf, n, bank):
    """Meter the first n samples of buf (channels, >= n) into slot m."""
    if bank.flags[m] != 0:
        _clear(m, bank)
        bank.flags[m] = 0
    for start in range(0, n, CHUNK):
        k = min(CHUNK, n - start)
        if _at_rest(bank.kstate, bank.tp, m, buf, start, k):
            _silence(m, k, bank)
        else:
            _take(bank.lanes, 0, buf, start, k)
            bank.group[0] = m
            _meter_group(1, k, bank)


@njit(cache=True, nogil=True)
def meter_buses(slot, bus_buf, n, bank):
    """Meter the first n samples of every bus b with slot[b] >= 0 into slot b, WIDTH buses at a time."""
    kstate, tp, lanes, group = bank.kstate, bank.tp, bank.lanes, bank.group
    for b in range(slot.shape[0]):
        if slot[b] >= 0 and bank.flags[b] != 0:
            _clear(b, bank)
            bank.flags[b] = 0
    for start in range(0, n, CHUNK):
        k = min(CHUNK, n - start)
        g = 0
        for b in range(slot.shape[0]):
            if slot[b] < 0:
                continue
            if _at_rest(kstate, tp, b, bus_buf[b], start, k):
                _silence(b, k, bank)
                continue
            _take(lanes, g, bus_buf[b], start, k)
            group[g] = b
            g += 1
            if g == WIDTH:
                _meter_group(g, k, bank)
                g = 0
        if g > 0:
            _meter_group(g, k, bank)


@njit(cache=True, nogil=True)
def _at_rest(kstate, tp, m, buf, start, k):
    """True when slot m's chunk buf[:, start:start + k] is all zeros and so are its K-weighting
    filters' state and its true-peak detector's history: metering it then changes only the sample
    counts (a silent bus; most buses of a big scene, most of the time)."""
    channels = kstate.shape[1]
    hist = tp.shape[2] - CHUNK
    for c in range(channels):
        if kstate[m, c, 0] != 0.0 or kstate[m, c, 1] != 0.0 or kstate[m, c, 2] != 0.0 or kstate[m, c, 3] != 0.0:
            return False
        for i in range(k):
            if buf[c, start + i] != 0.0:
                return False
        for i in range(hist):
            if tp[m, c, i] != 0.0:
                return False
    return True


@njit(cache=True, nogil=True)
def _silence(m, k, bank):
    """What metering k zeros at rest does to slot m, bit for bit: the energy sum gains nothing, the
    count gains k (exact: integer-valued floats), the steps it completes close as they would, the
    true peak takes the sample peak (0 here) and the maxima stay."""
    acc = bank.acc[m]
    step = bank.step[0]
    taken = 0
    while taken < k:
        n = min(int(step - acc[AC_COUNT]), k - taken)
        acc[AC_COUNT] += n
        taken += n
        if acc[AC_COUNT] >= step:
            _end_step(m, bank)
    out = bank.out[m]
    out[LM_TRUE_PEAK] = max(out[LM_TRUE_PEAK], 0.0, out[LM_SAMPLE_PEAK])


@njit(cache=True, nogil=True)
def _take(lanes, j, buf, start, k):
    """The chunk buf[:, start:start + k] (k <= CHUNK) into lane j of `lanes`, non-finite as 0."""
    at = j * CHUNK
    for c in range(lanes.shape[0]):
        for i in range(k):
            v = np.float64(buf[c, start + i])
            lanes[c, at + i] = v if math.isfinite(v) else 0.0


@njit(cache=True, nogil=True)
def _meter_group(g, k, bank):
    """Meter the k samples in the first g lanes of bank.lanes (slots bank.group[:g]): K-weighting,
    the 100 ms steps, the peaks."""
    _k_weight_lanes(g, k, bank)
    _sum_lanes(g, k, bank)
    _peaks(g, k, bank.group, bank.lanes, bank.tp, bank.tp_coef, bank.out)


@njit(cache=True, nogil=True)
def _k_weight_lanes(g, k, bank):
    """bank.lane_energy = each lane's weighted K-weighted energy per sample, summed over the channels
    in order (0 + w0 y0^2 + w1 y1^2 ...); the filters' states of the g slots move on."""
    channels = bank.kstate.shape[1]
    state = bank.lane_state
    for c in range(channels):
        for f in range(4):
            for j in range(WIDTH):
                state[4 * c + f, j] = bank.kstate[bank.group[j], c, f] if j < g else 0.0
    c = 0
    while c < channels:           # two channels per pass: two independent chains side by side
        _k_weight_pass(c, min(c + 1, channels - 1), c + 1 < channels, k, bank)
        c += 2
    for c in range(channels):
        for f in range(4):
            for j in range(g):
                bank.kstate[bank.group[j], c, f] = state[4 * c + f, j]


@njit(cache=True, nogil=True)
def _k_weight_pass(c, d, both, k, bank):
    """Channels c and d (only c unless `both`) of every lane through the two biquads (direct form II
    transposed), their energies added to the energy row (channel 0 starts it from 0)."""
    kc = k_coefficients(bank.coef)
    channels = bank.kstate.shape[1]
    state = bank.lane_state
    x, y, energy = bank.lanes[c], bank.lanes[d], bank.lane_energy
    wx, wy = bank.weight[c], bank.weight[d]
    sc, sd = state[4 * c:4 * c + 4], state[4 * d:4 * d + 4]
    p = (load(sc[0], 0), load(sc[1], 0), load(sc[2], 0), load(sc[3], 0))
    q = (load(sd[0], 0), load(sd[1], 0), load(sd[2], 0), load(sd[3], 0))
    zero = splat(0.0)
    for i in range(k):
        at = i * WIDTH
        f, p = k_filter(gather(x, i, CHUNK), p, kc)
        e = (zero if c == 0 else load(energy, at)) + wx * f * f
        if both:
            f, q = k_filter(gather(y, i, CHUNK), q, kc)
            e = e + wy * f * f
        store(energy, at, e)
    store(sc[0], 0, p[0])
    store(sc[1], 0, p[1])
    store(sc[2], 0, p[2])
    store(sc[3], 0, p[3])
    if both:
        store(sd[0], 0, q[0])
        store(sd[1], 0, q[1])
        store(sd[2], 0, q[2])
        store(sd[3], 0, q[3])


@njit(cache=True, nogil=True)
def _sum_lanes(g, k, bank):
    """Add each lane's k energies to its slot's current 100 ms step, one by one, closing each step
    it fills.  Slots whose steps are in step (the same count: the usual case) add in lanes, else
    one slot at a time.  The additions run in stretches up to the next close (the count is an
    integer-valued float, so counting a stretch at once is exact)."""
    acc, group = bank.acc, bank.group
    count = acc[group[0], AC_COUNT]
    for j in range(1, g):
        if acc[group[j], AC_COUNT] != count:
            for i in range(g):
                _sum_lane(group[i], i, k, bank)
            return
    energy = bank.lane_energy
    sums = bank.lane_state[bank.lane_state.shape[0] - 1]
    for j in range(WIDTH):
        sums[j] = acc[group[j], AC_SUM] if j < g else 0.0
    total = load(sums, 0)
    step = bank.step[0]
    i = 0
    while i < k:
        run = min(k - i, int(step - count))
        for r in range(i, i + run):
            total = total + load(energy, r * WIDTH)
        i += run
        count += run
        if count >= step:
            store(sums, 0, total)
            for j in range(g):
                acc[group[j], AC_SUM] = sums[j]
                acc[group[j], AC_COUNT] = count
                _end_step(group[j], bank)
            total = splat(0.0)          # what _end_step leaves: AC_SUM and AC_COUNT at 0
            count = 0.0
    store(sums, 0, total)
    for j in range(g):
        acc[group[j], AC_SUM] = sums[j]
        acc[group[j], AC_COUNT] = count


@njit(cache=True, nogil=True)
def _sum_lane(m, j, k, bank):
    """_sum_lanes for the slot m in lane j alone."""
    acc = bank.acc[m]
    energy = bank.lane_energy
    step = bank.step[0]
    total = acc[AC_SUM]
    count = acc[AC_COUNT]
    i = 0
    while i < k:
        run = min(k - i, int(step - count))
        for r in range(i, i + run):
            total += energy[r * WIDTH + j]
        i += run
        count += run
        if count >= step:
            acc[AC_SUM] = total
            acc[AC_COUNT] = count
            _end_step(m, bank)
            total = acc[AC_SUM]
            count = acc[AC_COUNT]
    acc[AC_SUM] = total
    acc[AC_COUNT] = count


@njit(cache=True, nogil=True)
def _peaks(g, k, group, lanes, tp, tp_coef, out):
    """Each slot's sample peak and true peak with its chunk in its lane (group[j] in lane j).  The 4x
    detector only runs when a point between these samples could reach the slot's maximum so far
    (truepeak.reach); either way the detector's history moves on."""
    channels = lanes.shape[0]
    hist = tp.shape[2] - CHUNK
    most = reach(tp_coef)
    for j in range(g):
        m = group[j]
        at = j * CHUNK
        chunk = 0.0
        before = 0.0
        for c in range(channels):
            chunk = max(chunk, largest_abs(lanes[c], at, k, 1))
            before = max(before, largest_abs(tp[m, c], 0, hist, 1))
        sample_peak = max(out[m, LM_SAMPLE_PEAK], chunk)
        if max(chunk, before) * most > max(out[m, LM_TRUE_PEAK], sample_peak):
            for c in range(channels):
                for i in range(k):
                    tp[m, c, hist + i] = lanes[c, at + i]
            out[m, LM_TRUE_PEAK] = max(out[m, LM_TRUE_PEAK], chunk_peaks(tp[m], tp_coef, channels, k), sample_peak)
        else:           # no point between these samples reaches the maximum so far
            for c in range(channels):
                for i in range(hist):       # the last hist samples of the history followed by the chunk
                    tp[m, c, i] = tp[m, c, i + k] if i + k < hist else lanes[c, at + i + k - hist]
            out[m, LM_TRUE_PEAK] = max(out[m, LM_TRUE_PEAK], sample_peak)
        out[m, LM_SAMPLE_PEAK] = sample_peak


def read(bank: MeterBank, m: int) -> dict:
    """Slot m's readings with None where a value does not exist yet, or where the loudness is under
    the -70 LUFS absolute gate (silence, as BS.1770 gates it; control side)."""
    settle(m, bank)
    out = bank.out[m]

    def lufs(v):       # under the absolute gate is silence: null, never -474 LUFS
        return round(float(v), 3) if math.isfinite(v) and v >= LOW else None

    def db(v):
        return round(20.0 * math.log10(v), 3) if v > 0.0 else None

    return {"momentary_lufs": lufs(out[LM_MOMENTARY]), "short_term_lufs": lufs(out[LM_SHORT_TERM]),
            "integrated_lufs": lufs(out[LM_INTEGRATED]), "lra_lu": round(float(out[LM_LRA]), 3),
            "max_momentary_lufs": lufs(out[LM_MAX_MOMENTARY]), "max_short_term_lufs": lufs(out[LM_MAX_SHORT_TERM]),
            "true_peak_dbtp": db(out[LM_TRUE_PEAK]), "sample_peak_dbfs": db(out[LM_SAMPLE_PEAK])}


class MeterStage(NamedTuple):
    """The chain's meter stage: slot b of `bank` meters bus b after its fader and limiter (every bus)."""

    slot: np.ndarray         # slot[b] >= 0: bus b has this stage (core/chain.py)
    bank: MeterBank


@njit(cache=True, nogil=True)
def meter_all(st, bus_buf, n, channels, sample_rate):
    """The chain's meter stage (core/chain.py), run once the block's chains are done: every bus,
    from what it holds then (what it held at this place in its chain: the stages after it only read
    it), WIDTH buses at a time."""
    meter_buses(st.slot, bus_buf, n, st.bank)


chain.register(MeterStage, None, chain.METER, after=meter_all)
