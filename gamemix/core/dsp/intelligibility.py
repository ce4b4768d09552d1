"""HOT PATH.  Intelligibility targets: a protected bus kept `margin` LU above the sum of others.

A rule lives on a protected bus P (dialogue, a radio) and names the buses it
is measured against (`against`, every other branch of the mix by default).
While P speaks, the others go down together by exactly what the margin
needs, bounded:

    shortfall = margin + headroom - (L_P - L_rest)   L_rest: the sum of the
    wanted    = clamp(shortfall, 0, max_cut)         others before this cut
                                                     (feed-forward: no loop,
                                                     so nothing hunts)

The margin is a floor ("at least 10 LU"), so the rule aims `headroom`
(1 LU) above it: a level that follows speech phrase by phrase varies by
about that much around its aim, and the floor is to hold in every 3 s
window, as a loudness meter reads the stems.

The levels are measured twice: loudness (BS.1770 K-weighting, so the margin
is in LU, as a loudness meter or pyloudnorm reads it) and the speech band
(300-4000 Hz by default, where speech is masked: a rumble under the voice
costs little intelligibility, a hiss or a shot in the band costs much).
`weighting` says which count: `both` (the default: the larger shortfall
wins, so the margin holds in LU and a masker packed into the speech band is
not under-rated), `loudness`, or `speech_band` (a rumble is then left
alone).  Each level is a mean square
smoothed with a one-pole of `window` (about a momentary loudness), so the
rule follows phrases, not syllables.

P speaks while its loudness over the last 30 ms is above `speaking` LUFS;
only then does the cut follow the levels.  In a pause, and for `hold` after
the last word, the cut stays where it was (the slow levels are decaying
there and would ask for more); then it releases.  The cut (dB) moves towards `wanted` with the attack
time constant and back with the release time constant, per block, and the
gain is ramped across each block, so it never clicks.  Several rules may cut
one bus: the deepest cut wins.

Order: the stage sits after the fader (chain.PROTECT), so each bus is
measured as it goes into the mix, and its sends follow the cut.  A bus's
level enters the others' arithmetic at its next block, so the processing
order between P and the others does not matter (one block, 5 ms, late at
most; the attack is ten times longer).

Arrays (ProtectStage): rules[r, PR_*] (params and state of rule r);
member[r, b] = 1 when rule r cuts bus b; energy[b, E_*] the smoothed levels
of every measured bus; zk, zb[b, c, 4] the weighting filters' state;
applied[b] the cut bus b had at the end of its last block (dB >= 0);
scratch, a block of per-sample energies.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from gamemix.core import chain
from gamemix.core.dsp import bs1770
from gamemix.units import LN10_20

# rules[r, FIELD]
PR_BUS = 0          # the protected bus
PR_MARGIN = 1       # LU
PR_MAX_CUT = 2      # dB >= 0
PR_ATTACK = 3       # time constants, samples (one-pole per block: exp(-n / tau))
PR_RELEASE = 4
PR_HOLD = 5         # samples
PR_SPEAKING = 6     # LUFS
PR_WINDOW = 7       # the level detectors' time constant, samples
PR_HOLD_LEFT = 8    # state: samples of hold left
PR_CUT = 9          # state: the smoothed cut, dB >= 0
PR_WANTED = 10      # out: the cut the levels ask for, dB
PR_MARGIN_NOW = 11  # out: the margin heard, L_P - (L_rest - cut), LU; NaN while P is silent
PR_SPEAKING_NOW = 12  # out: 1 while P speaks (or holds)
PR_REST = 13        # out: L_rest before the cut, LUFS
PR_HEADROOM = 14    # LU the rule aims above the margin
PR_WEIGHTING = 15   # which levels count, see WEIGHTINGS
PR_NFIELDS = 16

WEIGHTINGS = {"loudness": 0, "speech_band": 1, "both": 2}

E_K = 0             # energy[b]: K-weighted mean square, smoothed
E_BAND = 1          # speech-band mean square, smoothed
E_MEASURED = 2      # 1 when the bus is measured (a protected bus or a member of a rule)
E_FAST = 3          # K-weighted mean square, smoothed over SPEAKING_TIME_S: does the bus speak now?
E_VOICED = 4        # a protected bus: 1 while it is voiced (see `measure`)
E_SOUNDED = 5       # a protected bus: samples it has sounded since it was last silent
E_EVER = 6          # a protected bus: samples it has sounded in all
E_NFIELDS = 7

MEMBER, PROTECTED = 1.0, 2.0     # energy[b, E_MEASURED]
SPEAKING_TIME_S = 0.03
ACTIVE_LU = 15.0                 # P.56's margin below the active level that still counts as speech
ONSET_S = 0.05                   # a voice counts as voiced once it has sounded this long


class ProtectStage(NamedTuple):
    """Every intelligibility rule of a scene; see the module docstring."""

    slot: np.ndarray         # slot[b] >= 0: bus b is measured (core/chain.py)
    rules: np.ndarray
    member: np.ndarray
    energy: np.ndarray
    kcoef: np.ndarray        # K-weighting biquads (bs1770.k_weighting)
    bcoef: np.ndarray        # speech-band biquads, one per rule's band: (rules, 10); row 0 if none
    band_of: np.ndarray      # band_of[b]: which row of bcoef weights bus b
    zk: np.ndarray
    zb: np.ndarray
    applied: np.ndarray
    scratch: np.ndarray


def band_pass(low_hz: float, high_hz: float, sample_rate: float) -> np.ndarray:
    """A 2nd-order Butterworth high-pass at low_hz then low-pass at high_hz (RBJ cookbook,
    bilinear transform), as [b0 b1 b2 a1 a2] x 2 like bs1770.k_weighting."""
    out = []
    for fc, high in ((low_hz, True), (min(high_hz, 0.45 * sample_rate), False)):
        w = 2.0 * math.pi * fc / sample_rate
        alpha = math.sin(w) / (2.0 * math.sqrt(0.5))
        c = math.cos(w)
        a0 = 1.0 + alpha
        if high:
            b = [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0]
        else:
            b = [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0]
        out += [b[0] / a0, b[1] / a0, b[2] / a0, -2.0 * c / a0, (1.0 - alpha) / a0]
    return np.array(out)


def allocate(n_buses: int, n_rules: int, channels: int, sample_rate: float, block_size: int) -> ProtectStage:
    r = max(n_rules, 1)
    return ProtectStage(np.full(n_buses, -1, dtype=np.int64), np.zeros((r, PR_NFIELDS)),
                        np.zeros((r, n_buses)), np.zeros((n_buses, E_NFIELDS)),
                        bs1770.k_weighting(sample_rate), np.zeros((r, 10)), np.zeros(n_buses, dtype=np.int64),
                        np.zeros((n_buses, channels, 4)), np.zeros((n_buses, channels, 4)),
                        np.zeros(n_buses), np.zeros(block_size))


def set_rule(st: ProtectStage, r: int, bus: int, against: list[int], sample_rate: float, margin_lu: float, max_cut_db: float, attack_ms: float, release_ms: float, hold_ms: float,
             speaking_lufs: float, window_ms: float, band_hz: tuple[float, float], headroom_lu: float,
             weighting: str = "both") -> None:
    """Control side: configure rule r protecting `bus` against the buses `against` (state is kept)."""
    row = st.rules[r]
    row[PR_BUS] = bus
    row[PR_MARGIN] = margin_lu
    row[PR_MAX_CUT] = max_cut_db
    row[PR_ATTACK] = attack_ms * 1e-3 * sample_rate
    row[PR_RELEASE] = release_ms * 1e-3 * sample_rate
    row[PR_HOLD] = round(hold_ms * 1e-3 * sample_rate)
    row[PR_SPEAKING] = speaking_lufs
    row[PR_WINDOW] = window_ms * 1e-3 * sample_rate
    row[PR_MARGIN_NOW] = math.nan
    row[PR_HEADROOM] = headroom_lu
    row[PR_WEIGHTING] = WEIGHTINGS[weighting]
    st.member[r] = 0.0
    st.bcoef[r] = band_pass(band_hz[0], band_hz[1], sample_rate)
    for b in [bus] + list(against):
        st.slot[b] = 0
        st.energy[b, E_MEASURED] = max(st.energy[b, E_MEASURED], PROTECTED if b == bus else MEMBER)
        st.band_of[b] = r
    for b in against:
        st.member[r, b] = 1.0


@njit(cache=True, nogil=True)
def _energy(buf, n, channels, coef, z, scratch):
    """Mean square over the block of the sum over channels of the weighted signal (BS.1770's
    channel sum, weight 1 for the front channels)."""
    for i in range(n):
        scratch[i] = 0.0
    for c in range(channels):
        bs1770._k_weight(buf[c], 0, n, coef, z[c], 1.0, scratch)
    total = 0.0
    for i in range(n):
        total += scratch[i]
    return total / n if math.isfinite(total) else 0.0


@njit(cache=True, nogil=True)
def measure(st, b, bus_buf, n, channels, sample_rate):
    """Smooth bus b's levels with this block (called before its cut is applied).  A protected
    bus's slow levels move only while it sounds (its 30 ms level above `speaking`), so they keep
    the voice's level through a silence; it is *voiced* while that 30 ms level is also within
    ACTIVE_LU of the slow level (the active-speech criterion of ITU-T P.56) and it has sounded
    for ONSET_S (the first blocks of a word say little about its level), and only then does
    the cut follow the levels: a word's tail or the end of a line does not read as a quieter
    voice that needs a deeper cut."""
    row = st.energy[b]
    a = _pole(st.rules[st.band_of[b], PR_WINDOW], n)
    ek = _energy(bus_buf[b], n, channels, st.kcoef, st.zk[b], st.scratch)
    eb = _energy(bus_buf[b], n, channels, st.bcoef[st.band_of[b]], st.zb[b], st.scratch)
    row[E_FAST] = ek + (row[E_FAST] - ek) * math.exp(-n / (SPEAKING_TIME_S * sample_rate))
    if row[E_MEASURED] == PROTECTED:
        fast = _level(row[E_FAST])
        sounding = fast >= st.rules[st.band_of[b], PR_SPEAKING]
        row[E_SOUNDED] = row[E_SOUNDED] + n if sounding else 0.0
        known = row[E_EVER] >= st.rules[st.band_of[b], PR_WINDOW]
        row[E_VOICED] = 1.0 if (row[E_SOUNDED] >= ONSET_S * sample_rate and
                                (not known or fast >= _level(row[E_K]) - ACTIVE_LU)) else 0.0
        if not sounding or (known and row[E_VOICED] == 0.0):
            ek, eb, a = row[E_K], row[E_BAND], 1.0          # hold the voice's level through gaps and tails
        else:
            row[E_EVER] += n
            if not known:                                   # its first window: the mean so far
                a = 1.0 - n / row[E_EVER]
    row[E_K] = ek + (row[E_K] - ek) * a
    row[E_BAND] = eb + (row[E_BAND] - eb) * a
    if not (math.isfinite(row[E_K]) and math.isfinite(row[E_BAND]) and math.isfinite(row[E_FAST])):
        row[E_K] = 0.0                      # a bad filter state starts again
        row[E_BAND] = 0.0
        row[E_FAST] = 0.0
        st.zk[b] = 0.0
        st.zb[b] = 0.0


@njit(cache=True, nogil=True, inline="always")
def _pole(tau, n):
    """The one-pole coefficient of time constant tau samples over a block of n (0: no smoothing)."""
    return math.exp(-n / tau) if tau > 0.0 else 0.0


@njit(cache=True, nogil=True, inline="always")
def _level(e):
    return bs1770.OFFSET_DB + 10.0 * math.log10(e) if e > 1e-20 else -200.0


@njit(cache=True, nogil=True)
def update_rule(st, r, n):
    """Rule r's cut for this block, from the protected bus's levels and the others' (module docstring)."""
    row = st.rules[r]
    p = int(row[PR_BUS])
    rest_k, rest_b = 0.0, 0.0
    for b in range(st.member.shape[1]):
        if st.member[r, b] != 0.0:
            rest_k += st.energy[b, E_K]
            rest_b += st.energy[b, E_BAND]
    lp_k, lp_b = _level(st.energy[p, E_K]), _level(st.energy[p, E_BAND])
    lr_k, lr_b = _level(rest_k), _level(rest_b)
    row[PR_REST] = lr_k
    voiced = st.energy[p, E_VOICED] != 0.0
    if voiced:
        row[PR_HOLD_LEFT] = row[PR_HOLD]
    elif row[PR_HOLD_LEFT] > 0.0:
        row[PR_HOLD_LEFT] = max(0.0, row[PR_HOLD_LEFT] - n)
    speaking = voiced or row[PR_HOLD_LEFT] > 0.0
    wanted = 0.0
    if voiced:
        weighting = int(row[PR_WEIGHTING])
        over = lp_k - lr_k if weighting == 0 else (lp_b - lr_b if weighting == 1 else min(lp_k - lr_k, lp_b - lr_b))
        shortfall = row[PR_MARGIN] + row[PR_HEADROOM] - over
        wanted = min(max(shortfall, 0.0), row[PR_MAX_CUT])
    elif speaking:              # a pause or the hold after the line: keep the cut, do not chase the decay
        wanted = row[PR_WANTED]
    cut = row[PR_CUT]
    a = _pole(row[PR_ATTACK] if wanted > cut else row[PR_RELEASE], n)
    cut = wanted + (cut - wanted) * a
    row[PR_CUT] = cut if math.isfinite(cut) else 0.0
    row[PR_WANTED] = wanted
    row[PR_SPEAKING_NOW] = 1.0 if speaking else 0.0
    row[PR_MARGIN_NOW] = lp_k - (lr_k - row[PR_CUT]) if speaking else math.nan


@njit(cache=True, nogil=True, inline="always")
def protect_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """The chain's intelligibility stage (core/chain.py): measure bus b; where it is protected,
    move its rules' cuts; where rules cut it, apply the deepest, ramped from the last block's."""
    measure(st, b, bus_buf, n, channels, sample_rate)
    target = 0.0
    for r in range(st.rules.shape[0]):
        if int(st.rules[r, PR_BUS]) == b and st.energy[b, E_MEASURED] != 0.0:
            update_rule(st, r, n)
        if st.member[r, b] != 0.0:
            target = max(target, st.rules[r, PR_CUT])
    g0 = st.applied[b]
    st.applied[b] = target
    if g0 == 0.0 and target == 0.0:
        return
    a = math.exp(-g0 * LN10_20)
    d = math.exp(-target * LN10_20) - a
    for c in range(channels):
        x = bus_buf[b, c]
        for i in range(n):
            x[i] *= a + d * ramp[i]


chain.register(ProtectStage, protect_stage, chain.PROTECT)
