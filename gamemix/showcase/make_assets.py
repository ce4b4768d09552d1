"""Make the showcase's audio assets (deterministic; re-run to regenerate).

    .venv/bin/python scenes/showcase/make_assets.py

Speech comes from espeak-ng (apt: espeak-ng); everything else is synthesised
here with NumPy.  Looping material is filtered circularly (in the frequency
domain) so it wraps without a seam.  Formats are mixed on purpose, so loading
exercises every decoder and the resampler: WAV 16/24-bit and float, FLAC, OGG
Vorbis, and files at 22.05 and 44.1 kHz.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

OUT = Path(__file__).resolve().parent / "assets"
SR = 48000
rng = np.random.default_rng(2026)


def normalise(x: np.ndarray, peak_db: float = -1.0) -> np.ndarray:
    return (x / np.abs(x).max() * 10 ** (peak_db / 20)).astype(np.float32)


def fade_edges(x: np.ndarray, ms_in: float = 1.0, ms_out: float = 20.0, sr: int = SR) -> np.ndarray:
    x = x.copy()
    a, b = int(ms_in * sr / 1000), int(ms_out * sr / 1000)
    if a:
        x[:a] *= np.linspace(0, 1, a)[:, None] if x.ndim == 2 else np.linspace(0, 1, a)
    if b:
        x[-b:] *= np.linspace(1, 0, b)[:, None] if x.ndim == 2 else np.linspace(1, 0, b)
    return x


def circular_band(n: int, lo: float, hi: float, sr: int = SR, tilt: float = 0.0) -> np.ndarray:
    """Loopable noise band-limited to [lo, hi] Hz (filtered circularly, so it wraps seamlessly)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    shape = ((f >= lo) & (f <= hi)).astype(float) * np.power(np.maximum(f, 1.0) / max(lo, 1.0), tilt)
    return np.fft.irfft(spec * shape, n)


def decay(n: int, seconds: float, sr: int = SR) -> np.ndarray:
    return np.exp(-np.arange(n) / (seconds * sr))


def gunshot(variant: int) -> np.ndarray:
    n = int(1.2 * SR)
    t = np.arange(n) / SR
    crack = rng.standard_normal(n) * decay(n, 0.012 + 0.004 * variant)
    body = np.convolve(rng.standard_normal(n), np.ones(6) / 6, "same") * decay(n, 0.09 + 0.02 * variant)
    thump = np.sin(2 * np.pi * (55 + 10 * variant) * t * (1 - 0.4 * t)) * decay(n, 0.08)
    tail = circular_band(n, 200, 2500) * decay(n, 0.35) * 0.15
    return fade_edges(normalise(crack * 0.9 + body * 0.6 + thump * 0.8 + tail), 0.2, 80)


def explosion() -> np.ndarray:
    n = int(3.5 * SR)
    t = np.arange(n) / SR
    rumble = circular_band(n, 20, 300, tilt=-1.0) * decay(n, 0.9)
    crack = rng.standard_normal(n) * decay(n, 0.03)
    debris = circular_band(n, 1500, 8000) * decay(n, 0.6) * (0.5 + 0.5 * (rng.random(n) > 0.995))
    boom = np.sin(2 * np.pi * 38 * t * (1 - 0.2 * t)) * decay(n, 0.4)
    x = rumble * 1.2 + crack * 0.5 + debris * 0.2 + boom
    return fade_edges(normalise(x), 0.5, 300)


def ricochet() -> np.ndarray:
    n = int(0.6 * SR)
    t = np.arange(n) / SR
    freq = 3200 * np.exp(-t * 2.2) + 900
    whine = np.sin(2 * np.pi * np.cumsum(freq) / SR) * decay(n, 0.18)
    hit = rng.standard_normal(n) * decay(n, 0.004)
    return fade_edges(normalise(whine + hit * 0.6), 0.2, 40)


def footstep(variant: int) -> np.ndarray:
    n = int(0.25 * SR)
    t = np.arange(n) / SR
    scuff = np.convolve(rng.standard_normal(n), np.ones(4 + variant) / (4 + variant), "same") * decay(n, 0.025)
    heel = np.sin(2 * np.pi * (90 + 12 * variant) * t) * decay(n, 0.03)
    grit = circular_band(n, 2000, 7000) * decay(n, 0.015) * 0.3
    return fade_edges(normalise(scuff + heel * 0.7 + grit, -3.0), 0.3, 30)


def ui_click() -> np.ndarray:
    n = int(0.08 * SR)
    t = np.arange(n) / SR
    return fade_edges(normalise(np.sin(2 * np.pi * 2200 * t) * decay(n, 0.012) + np.sin(2 * np.pi * 3300 * t) * decay(n, 0.006) * 0.5, -6.0), 0.5, 10)


def rain(seconds: float = 8.0) -> np.ndarray:
    n = int(seconds * SR)
    hiss = np.stack([circular_band(n, 400, 12000, tilt=-0.3), circular_band(n, 400, 12000, tilt=-0.3)], 1)
    drops = np.zeros((n, 2))
    for _ in range(int(seconds * 120)):
        at, ch = rng.integers(n), rng.integers(2)
        length = int(0.004 * SR)
        idx = (at + np.arange(length)) % n              # wraps: the loop stays seamless
        drops[idx, ch] += rng.standard_normal(length) * np.exp(-np.arange(length) / 40) * rng.uniform(0.2, 1.0)
    return normalise(hiss * 0.5 + drops * 0.5, -3.0)


def wind(seconds: float = 6.0, sr: int = 44100) -> np.ndarray:
    n = int(seconds * sr)
    base = circular_band(n, 80, 1200, sr, tilt=-0.8)
    t = np.arange(n) / n
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * 2 * t) * np.sin(2 * np.pi * 3 * t + 1)   # whole cycles: loops cleanly
    return normalise(base * swell, -3.0)


def music(bars: int = 8, bpm: float = 96.0) -> np.ndarray:
    """A loopable minor progression: pad chords, bass, kick and hats (stereo)."""
    beat = 60.0 / bpm
    n = int(bars * 4 * beat * SR)
    t = np.arange(n) / SR
    out = np.zeros((n, 2))
    chords = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)] * (bars // 4)   # Am F C G
    bar = int(4 * beat * SR)
    for b, chord in enumerate(chords):
        seg = slice(b * bar, (b + 1) * bar)
        tt = t[seg] - t[seg][0]
        env = np.minimum(1, tt / 0.3) * np.minimum(1, (4 * beat - tt) / 0.3)
        for k, note in enumerate(chord):
            f = 440 * 2 ** ((note - 69) / 12)
            tone = sum(np.sin(2 * np.pi * f * h * tt + k) / h for h in (1, 2, 3, 4)) * 0.08
            out[seg, 0] += tone * env * (1.0 - 0.2 * k)
            out[seg, 1] += tone * env * (0.6 + 0.2 * k)
        root = 440 * 2 ** ((chord[0] - 12 - 69) / 12)
        for q in range(8):                               # eighth-note bass
            s0 = b * bar + int(q * beat / 2 * SR)
            m = int(beat / 2 * SR)
            env_b = decay(m, 0.12)
            out[s0:s0 + m] += (np.sin(2 * np.pi * root * np.arange(m) / SR) * env_b * 0.25)[:, None]
    for q in range(bars * 4):                            # kick on beats, hats on off-beats
        s0 = int(q * beat * SR)
        m = int(0.3 * SR)
        kt = np.arange(m) / SR
        kick = np.sin(2 * np.pi * (50 + 70 * np.exp(-kt * 30)) * kt) * decay(m, 0.09) * 0.5
        out[s0:s0 + m] += kick[:, None][: n - s0]
        h0 = s0 + int(beat / 2 * SR)
        hm = int(0.05 * SR)
        if h0 + hm <= n:
            hat = np.diff(rng.standard_normal(hm + 1)) * decay(hm, 0.01) * 0.08
            out[h0:h0 + hm, 0] += hat * 0.7
            out[h0:h0 + hm, 1] += hat
    return normalise(out, -1.0)


def cricket(variant: int) -> np.ndarray:
    n = int(2.0 * SR)
    t = np.arange(n) / SR
    f = 4200 + 300 * variant
    gate = (np.sin(2 * np.pi * (18 + variant) * t) > 0.3) * (np.sin(2 * np.pi * 0.9 * t) > -0.2)
    return normalise(np.sin(2 * np.pi * f * t) * gate * 0.5, -6.0)


def speech(text: str, path: Path) -> None:
    """espeak-ng writes 22.05 kHz 16-bit mono; kept as is so loading resamples it."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-p", "45", "-w", str(raw), text], check=True)
        x, sr = soundfile.read(raw, dtype="float32")
        soundfile.write(path, fade_edges(normalise(x, -3.0), 1, 20, sr), sr, subtype="PCM_16")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write = lambda name, x, sr=SR, **kw: (soundfile.write(OUT / name, x, sr, **kw), print("wrote", OUT / name))
    for v in range(3):
        write(f"gun{v + 1}.wav", gunshot(v), subtype="FLOAT")
    write("explosion.wav", explosion(), subtype="PCM_24")
    write("ricochet.wav", ricochet(), subtype="FLOAT")
    for v in range(4):
        write(f"step{v + 1}.wav", footstep(v), subtype="PCM_16")
    write("click.wav", ui_click(), subtype="PCM_16")
    write("rain.flac", rain(), subtype="PCM_16", format="FLAC")
    write("wind.wav", wind(), 44100, subtype="PCM_24")
    write("music.ogg", music(), subtype="VORBIS", format="OGG")
    for v in range(3):
        write(f"cricket{v + 1}.ogg", cricket(v), subtype="VORBIS", format="OGG")
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed for the dialogue lines: apt-get install espeak-ng")
    lines = {"line_storm.wav": "Stay close. The storm is getting worse.",
             "line_contact.wav": "Contact! Get down!",
             "line_clear.wav": "Area clear. Let's move."}
    for name, text in lines.items():
        speech(text, OUT / name)
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
