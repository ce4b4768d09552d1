"""The demo's sounds: the showcase's recorded ones plus a few synthesised here, written once.

The scene's files must sit inside its folder (gamemix confines them), so
`ensure()` fills demo_game/scene/assets/ on the first run: speech, music,
rain, wind, steps and guns are copied from the showcase that ships inside
the gamemix package; the river, birds, cart, drips and the enemies' growl
are synthesised from seeded noise and sweeps (periodic by construction, so
the loops are seamless).  A stamp file names the recipe's version, so an
edit of this module rewrites them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
import shutil

import numpy as np
import soundfile as sf

RATE = 48_000
VERSION = "3"
FOLDER = Path(__file__).parent / "scene" / "assets"
COPIED = ("music.ogg", "rain.flac", "wind.wav", "step1.wav", "step2.wav", "step3.wav", "step4.wav",
          "gun1.wav", "gun2.wav", "gun3.wav", "ricochet.wav", "click.wav", "explosion.wav",
          "line_storm.wav", "line_contact.wav", "line_clear.wav")


def ensure(folder: Path = FOLDER) -> Path:
    """Write the demo's assets into `folder` unless this recipe's version is there already."""
    stamp = folder / ".version"
    if stamp.exists() and stamp.read_text() == VERSION:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    source = resources.files("gamemix") / "showcase" / "assets"
    for name in COPIED:
        with resources.as_file(source / name) as path:
            shutil.copyfile(path, folder / name)
    rng = np.random.default_rng(2026)
    for name, samples in synthesised(rng).items():
        sf.write(folder / name, samples, RATE, subtype="PCM_16")
    stamp.write_text(VERSION)
    return folder


def synthesised(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """name -> mono float samples in [-1, 1]."""
    return {"river.wav": river(rng), "cart.wav": cart(rng), "drip.wav": drip(),
            "growl.wav": growl(rng), "cave.wav": drone(rng),
            **{f"bird{i + 1}.wav": bird(rng, i) for i in range(3)}}


def shaped_noise(rng: np.random.Generator, seconds: float, low_hz: float, high_hz: float,
                 tilt_db_per_oct: float = 0.0) -> np.ndarray:
    """Periodic noise (it loops without a seam): a random-phase spectrum between low_hz and high_hz."""
    n = int(seconds * RATE)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    gain = np.zeros_like(freqs)
    gain[band] = (np.maximum(freqs[band], 1.0) / low_hz) ** (tilt_db_per_oct / 6.02)
    spectrum = gain * np.exp(2j * np.pi * rng.random(freqs.size))
    out = np.fft.irfft(spectrum, n)
    return out / np.max(np.abs(out))


def river(rng: np.random.Generator) -> np.ndarray:
    """Running water: broadband hiss with a slow swell and bubbling (8 s loop)."""
    body = shaped_noise(rng, 8.0, 150, 9000, -3.0)
    t = np.arange(body.size) / RATE
    swell = 0.75 + 0.25 * np.sin(2 * np.pi * t / 4.0)            # two cycles per loop: seamless
    bubbles = shaped_noise(rng, 8.0, 600, 2500) ** 3
    return (0.5 * body * swell + 0.4 * bubbles).astype(np.float32)


def cart(rng: np.random.Generator) -> np.ndarray:
    """A wooden cart: rumble, a wheel knock every 0.5 s, a creak (4 s loop)."""
    seconds = 4.0
    out = 0.35 * shaped_noise(rng, seconds, 40, 500, -6.0)
    t = np.arange(out.size) / RATE
    knock = np.exp(-t[: RATE // 20] * 90) * np.sin(2 * np.pi * 180 * t[: RATE // 20])
    for k in range(int(seconds / 0.5)):
        start = int(k * 0.5 * RATE)
        out[start:start + knock.size] += 0.6 * knock
    creak_f = 700 + 80 * np.sin(2 * np.pi * t / 2.0)
    creak = np.sin(2 * np.pi * np.cumsum(creak_f) / RATE) * (np.sin(np.pi * t / 2.0) ** 8)
    out += 0.12 * creak
    return (out / np.max(np.abs(out)) * 0.8).astype(np.float32)


def bird(rng: np.random.Generator, variant: int) -> np.ndarray:
    """A songbird: a few chirps (falling then rising sweeps with vibrato), then quiet (3-4 s loop)."""
    seconds = 3.0 + 0.5 * variant
    out = np.zeros(int(seconds * RATE))
    at = 0.1
    for _ in range(3 + variant):
        length = rng.uniform(0.06, 0.14)
        t = np.arange(int(length * RATE)) / RATE
        f0 = rng.uniform(2500, 4500)
        f = f0 * (1 - 0.35 * np.sin(np.pi * t / length)) + 150 * np.sin(2 * np.pi * 40 * t)
        chirp = np.sin(2 * np.pi * np.cumsum(f) / RATE) * np.sin(np.pi * t / length) ** 2
        start = int(at * RATE)
        out[start:start + chirp.size] += chirp
        at += length + rng.uniform(0.04, 0.2)
    return (0.7 * out).astype(np.float32)


def drip() -> np.ndarray:
    """A drop in a cave: a falling tone, 80 ms."""
    t = np.arange(int(0.25 * RATE)) / RATE
    f = 600 + 900 * np.exp(-t * 40)
    return (0.8 * np.sin(2 * np.pi * np.cumsum(f) / RATE) * np.exp(-t * 30)).astype(np.float32)


def growl(rng: np.random.Generator) -> np.ndarray:
    """An enemy's growl: a rough low buzz, 0.8 s."""
    t = np.arange(int(0.8 * RATE)) / RATE
    f = 85 + 25 * np.sin(2 * np.pi * 3 * t)
    phase = np.cumsum(f) / RATE
    saw = 2 * (phase % 1.0) - 1
    rough = 1 + 0.6 * rng.standard_normal(t.size).cumsum() / np.sqrt(t.size)
    env = np.sin(np.pi * t / t[-1]) ** 0.5
    out = saw * rough * env
    return (0.7 * out / np.max(np.abs(out))).astype(np.float32)


def drone(rng: np.random.Generator) -> np.ndarray:
    """The cave's air: a low, slowly beating drone (6 s loop)."""
    t = np.arange(int(6.0 * RATE)) / RATE
    tone = np.sin(2 * np.pi * 55 * t) + 0.6 * np.sin(2 * np.pi * 55.5 * t) + 0.3 * np.sin(2 * np.pi * 110 * t)
    air = shaped_noise(rng, 6.0, 80, 600, -6.0)
    out = 0.4 * tone / 1.9 + 0.3 * air
    return (out / np.max(np.abs(out)) * 0.6).astype(np.float32)
