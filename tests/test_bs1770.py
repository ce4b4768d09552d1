"""BS.1770-4 meter against EBU Tech 3341 / 3342 cases, pyloudnorm, and the CLI.

The signals are generated here from the published case definitions (the EBU
test files are not redistributable): 1 kHz sines given in dBFS peak per channel.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from gamemix.core.dsp import bs1770
from gamemix.offline.meter import Meter

FS = 48000


def tone(segments, channels=2, freq=1000.0, fs=FS, phase=0.0, levels_per_channel=None):
    """Concatenated sine segments [(dBFS, seconds), ...], continuous phase, same on every channel."""
    parts = []
    start = 0
    for level, seconds in segments:
        n = int(round(seconds * fs))
        t = (start + np.arange(n)) / fs
        amp = 0.0 if level is None else 10 ** (level / 20)
        parts.append(amp * np.sin(2 * np.pi * freq * t + phase))
        start += n
    x = np.concatenate(parts)
    if levels_per_channel is not None:
        return np.stack([x * 10 ** (g / 20) for g in levels_per_channel], 1)
    return np.repeat(x[:, None], channels, 1)


def measure(x, fs=FS, layout=None):
    return Meter(fs, x.shape[1], layout).measure(x)


# ------------------------------------------------------------ EBU Tech 3341 (v4)
@pytest.mark.parametrize("case, segments, expected", [
    (1, [(-23, 20)], -23.0),
    (2, [(-33, 20)], -33.0),
    (3, [(-36, 10), (-23, 60), (-36, 10)], -23.0),
    (4, [(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)], -23.0),
    (5, [(-26, 20), (-20, 20.1), (-26, 20)], -23.0),
])
def test_tech3341_integrated(case, segments, expected):
    r = measure(tone(segments))
    assert r["integrated_lufs"] == pytest.approx(expected, abs=0.1)
    if case in (1, 2):      # constant tone: momentary and short-term read the same
        assert r["max_momentary_lufs"] == pytest.approx(expected, abs=0.1)
        assert r["max_short_term_lufs"] == pytest.approx(expected, abs=0.1)


def test_tech3341_case6_five_channels_with_surround_weights():
    # L, R -28 dBFS; C -24; LFE silent; Ls, Rs -30 dBFS (weighted 1.41)
    x = tone([(0, 20)], levels_per_channel=[-28, -28, -24, -200, -30, -30])
    x[:, 3] = 0.0
    assert measure(x, layout="5.1")["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)


def test_tech3341_case9_short_term_is_constant():
    # 1.34 s at -20 dBFS then 1.66 s at -30 dBFS, repeated: every 3 s window reads -23
    x = tone([(-20, 1.34), (-30, 1.66)] * 8)
    bank = bs1770.allocate(1, 2, FS)
    planar = np.ascontiguousarray(x.T.astype(np.float32))
    readings = []
    for start in range(0, planar.shape[1] - 4800 + 1, 4800):      # read after every 100 ms
        bs1770.meter_block(0, np.ascontiguousarray(planar[:, start:start + 4800]), 4800, bank)
        readings.append(bank.out[0, bs1770.LM_SHORT_TERM])
    settled = np.array(readings[30:])
    assert np.all(np.abs(settled - -23.0) <= 0.1)


def test_max_momentary_of_a_400ms_burst():
    # a 0.4 s burst at -20 dBFS in silence, aligned to the 100 ms grid: one window holds it all
    x = tone([(None, 1.0), (-20, 0.4), (None, 1.0)])
    assert measure(x)["max_momentary_lufs"] == pytest.approx(-20.0, abs=0.1)


@pytest.mark.parametrize("phase_deg", [0.0, 45.0, 60.0, 67.5])
def test_tech3341_true_peak_quarter_rate_sine(phase_deg):
    # a sine at fs/4, -6.02 dBFS amplitude: at 45 degrees its samples sit 3 dB under the peak
    x = tone([(20 * np.log10(0.5), 1.0)], freq=FS / 4, phase=np.radians(phase_deg))
    r = measure(x)
    if phase_deg == 45.0:
        assert r["sample_peak_dbfs"] == pytest.approx(-6.02 - 3.01, abs=0.01)
    assert -6.02 - 0.4 <= r["true_peak_dbtp"] <= -6.02 + 0.2


def test_true_peak_of_an_intersample_over():
    # sample values +-1 at fs/4 with 45 degrees: true peak +3 dBTP
    x = tone([(20 * np.log10(np.sqrt(2)), 1.0)], freq=FS / 4, phase=np.radians(45))
    r = measure(x)
    assert r["sample_peak_dbfs"] == pytest.approx(0.0, abs=0.01)
    assert 3.01 - 0.4 <= r["true_peak_dbtp"] <= 3.01 + 0.2


# ------------------------------------------------------------ EBU Tech 3342 (LRA)
@pytest.mark.parametrize("segments, expected", [
    ([(-20, 20), (-30, 20)], 10.0),
    ([(-20, 20), (-15, 20)], 5.0),
    ([(-40, 20), (-20, 20)], 20.0),
    ([(-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)], 15.0),
])
def test_tech3342_loudness_range(segments, expected):
    assert measure(tone(segments))["lra_lu"] == pytest.approx(expected, abs=1.0)


# ------------------------------------------------------------ independent implementation
def programme(fs, seconds=40, seed=3):
    """Music-like material: chords with a beat, noise swells, a silence, level changes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    chords = sum(np.sin(2 * np.pi * f * t) for f in (110, 164.8, 220, 329.6, 440)) * 0.05
    beat = (np.sin(2 * np.pi * 2 * t) > 0.7) * rng.standard_normal(t.size) * 0.2
    swell = rng.standard_normal(t.size) * 0.05 * (1 + np.sin(2 * np.pi * t / 13))
    level = np.repeat(rng.uniform(0.2, 1.0, seconds), fs)[:t.size]
    x = (chords + beat + swell) * level
    x[int(12 * fs):int(15 * fs)] = 0.0
    return np.stack([x, np.roll(x, 100) * 0.8], 1)


@pytest.mark.parametrize("fs", [48000, 44100])
def test_agrees_with_pyloudnorm(fs):
    pyln = pytest.importorskip("pyloudnorm")
    x = programme(fs)
    ours = measure(x, fs)["integrated_lufs"]
    theirs = pyln.Meter(fs).integrated_loudness(x)
    assert ours == pytest.approx(theirs, abs=0.1)


def test_block_size_does_not_change_the_readings():
    x = np.ascontiguousarray(programme(FS, 12).T.astype(np.float32))
    results = []
    for size in (256, 100, 4801):
        bank = bs1770.allocate(1, 2, FS)
        for start in range(0, x.shape[1], size):
            chunk = np.ascontiguousarray(x[:, start:start + size])
            bs1770.meter_block(0, chunk, chunk.shape[1], bank)
        bs1770.settle(0, bank)
        results.append(bank.out[0].copy())
    assert np.allclose(results[0], results[1], atol=1e-6) and np.allclose(results[0], results[2], atol=1e-6)


def test_non_finite_input_reads_as_silence_and_reset_clears():
    bank = bs1770.allocate(1, 2, FS)
    x = np.ascontiguousarray(tone([(-23, 5)]).T.astype(np.float32))
    x[0, 1000:2000] = np.nan
    x[1, 5000] = np.inf
    bs1770.meter_block(0, x, x.shape[1], bank)
    bs1770.settle(0, bank)
    assert np.all(np.isfinite(bank.out[0, [bs1770.LM_INTEGRATED, bs1770.LM_TRUE_PEAK]]))
    bank.flags[0] = 1
    bs1770.meter_block(0, x[:, :10].copy(), 10, bank)
    assert bs1770.read(bank, 0)["integrated_lufs"] is None


def test_meter_cli_json(tmp_path):
    import soundfile
    path = tmp_path / "tone.wav"
    soundfile.write(str(path), tone([(-23, 10)]).astype(np.float32), FS, subtype="FLOAT")
    result = subprocess.run([sys.executable, "-m", "gamemix", "meter", str(path), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("integrated_lufs", "lra_lu", "max_momentary_lufs", "max_short_term_lufs", "true_peak_dbtp"):
        assert key in data
    assert data["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert data["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.1)


def test_silence_at_rest_reads_exactly_as_metered_sample_by_sample():
    """A bus at rest (zeros, filters and detector settled) skips the filters; its readings must be the
    ones the full path gives.  The oracle is the full path itself, fed 1e-300 instead of zeros: values
    whose K-weighted energy underflows to exactly 0, so every reading must be bit-identical."""
    from gamemix.core.dsp import bs1770 as m
    rate = 48000
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 997 * t)).astype(np.float64)
    quiet = np.zeros(4 * rate)
    readings = []
    for filler in (0.0, 1e-300):
        bank = m.allocate(1, 2, rate)
        signal = np.concatenate([tone, quiet + filler, tone, quiet[:rate // 3] + filler])
        buf = np.ascontiguousarray(np.stack([signal, signal]))
        seen = []
        for start in range(0, buf.shape[1], 256):
            block = np.ascontiguousarray(buf[:, start:start + 256])
            m.meter_block(0, block, block.shape[1], bank)
            m.settle(0, bank)
            seen.append(bank.out[0].copy())
        readings.append(np.array(seen))
    assert np.array_equal(readings[0], readings[1])
    assert np.isfinite(readings[0][-1, m.LM_INTEGRATED])


# ------------------------------------------------------------ many buses at once, skipped true-peak chunks
def test_buses_metered_together_read_as_each_alone_bit_for_bit():
    """meter_buses (up to SLOTS buses in the lanes of two vectors, after the chains) against
    meter_block on each bus alone: every reading and every piece of state the same bits.  Eleven
    buses (two vectors), one silent throughout (at rest), one silent for a while, one reset halfway
    (its 100 ms steps then fall out of step with the others: the lane-by-lane sums), 300-sample
    blocks (a 256-sample chunk and a 44-sample one)."""
    rng = np.random.default_rng(7)
    buses, block, blocks = 11, 300, 200
    x = programme(FS, 2)[:block * blocks].T.astype(np.float32)
    signals = np.stack([np.roll(x, 997 * b, axis=1) * 10 ** (rng.uniform(-30, 6) / 20) for b in range(buses)])
    signals[3] = 0.0
    signals[5, :, block * 40:block * 90] = 0.0
    signals = np.ascontiguousarray(signals.astype(np.float32))
    together = bs1770.allocate(buses, 2, FS)
    alone = bs1770.allocate(buses, 2, FS)
    slot = np.arange(buses)
    for k in range(blocks):
        if k == blocks // 2:
            together.flags[8] = alone.flags[8] = 1
        bus_buf = np.ascontiguousarray(signals[:, :, k * block:(k + 1) * block])
        bs1770.meter_buses(slot, bus_buf, block, together)
        for b in range(buses):
            bs1770.meter_block(b, bus_buf[b], block, alone)
    for b in range(buses):
        bs1770.settle(b, together)
        bs1770.settle(b, alone)
    for name in ("out", "acc", "ring", "hist", "kstate", "tp"):
        a, b = getattr(together, name), getattr(alone, name)
        assert np.array_equal(a.view(np.int64), b.view(np.int64)), name
    assert np.isfinite(together.out[0, bs1770.LM_INTEGRATED])


def test_true_peak_is_the_largest_point_over_every_chunk():
    """The meter skips the 4x detector where no point between the samples can reach the maximum so
    far; its true peak must still be the largest of every point the detector gives, chunk by chunk,
    and of the samples themselves (a loud burst, then quieter material and a near-Nyquist tone)."""
    from gamemix.core.dsp import truepeak
    t = np.arange(FS * 3) / FS
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    x[FS // 2:FS // 2 + 500] *= 3.0
    x[2 * FS:] = 0.7 * np.sin(2 * np.pi * 0.49 * FS * t[2 * FS:] + 0.3)
    planar = np.ascontiguousarray(np.stack([x, -x]).astype(np.float32))
    bank = bs1770.allocate(1, 2, FS)
    state = truepeak.allocate(2, bs1770.TP_TAPS)
    expected = 0.0
    for start in range(0, planar.shape[1], 256):
        chunk = np.ascontiguousarray(planar[:, start:start + 256])
        bs1770.meter_block(0, chunk, chunk.shape[1], bank)
        for c in range(2):
            truepeak.load(state, c, chunk[c], 0, chunk.shape[1])
        expected = max(expected, truepeak.chunk_peaks(state, bank.tp_coef, 2, chunk.shape[1]),
                       float(np.abs(chunk.astype(np.float64)).max()))
    assert bank.out[0, bs1770.LM_TRUE_PEAK] == expected


def test_reach_bounds_every_point_the_detector_computes():
    """truepeak.reach x the largest |sample| of a chunk's window is never below a point chunk_peaks
    gives for it (worst cases: full-scale alternation at Nyquist, random signs, a sine at fs/4)."""
    from gamemix.core.dsp import limiter, truepeak
    rng = np.random.default_rng(3)
    n = 256 * 40
    cases = [np.where(np.arange(n) % 2, 1.0, -1.0), np.sign(rng.standard_normal(n)),
             np.sin(np.pi / 2 * np.arange(n) + 0.4), rng.standard_normal(n) * 0.3]
    for coefs, taps in ((truepeak.design(bs1770.TP_OVERSAMPLE, bs1770.TP_TAPS), bs1770.TP_TAPS),
                        (truepeak.design(limiter.OVERSAMPLE, limiter.TAPS, 8.0), limiter.TAPS)):
        bound = truepeak.reach(coefs)
        for x in cases:
            state = truepeak.allocate(1, taps)
            window = np.zeros(taps - 1)
            for start in range(0, n, 256):
                chunk = x[start:start + 256]
                truepeak.load(state, 0, chunk, 0, 256)
                top = truepeak.chunk_peaks(state, coefs, 1, 256)
                largest = max(np.abs(window).max(), np.abs(chunk).max())
                assert top <= largest * bound
                window = np.concatenate([window, chunk])[-(taps - 1):]
