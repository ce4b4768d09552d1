"""Make AR mode's microphone recordings: espeak-ng speech over generated room or street noise.

    python scenes/ar/make_mic.py                 # scenes/ar/mic.flac + mic.json (and the scene's assets)
    python scenes/ar/make_mic.py --out X.wav     # elsewhere

The recording: a quiet room, then a street 24 dB louder, then the room
again, with a person speaking now and then throughout.  Every level is set
with pyloudnorm (BS.1770-4 integrated loudness) from outside gamemix, and
the JSON written alongside gives, for the tests and anyone checking a
detector: each noise section's span and loudness, and each utterance's span
(its first and last sample above -40 dB of its peak, in 10 ms frames) and
text.  The functions are what the tests build their own recordings from
(tests/test_ar.py).

Needs espeak-ng (Debian: apt-get install espeak-ng; `make ar-assets` does it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

RATE = 48000
HERE = Path(__file__).resolve().parent

LINES = ["Hey, are you coming with us tonight?",
         "I think the station is two blocks from here.",
         "Did you see that? Over there, by the fountain.",
         "We should get going before it starts to rain.",
         "Can you check the map again, please?",
         "I'll meet you at the corner in five minutes.",
         "That was the loudest bus I have ever heard.",
         "Okay, let's cross when the light turns green."]
NPC_LINES = ["Welcome, traveller. The market opens at dawn.",
             "Keep your voice down, the guards are listening.",
             "Follow the river north and you will find the gate."]


def loudness(x: np.ndarray, rate: int = RATE) -> float:
    """Integrated loudness, LUFS (pyloudnorm: BS.1770-4)."""
    import pyloudnorm
    return float(pyloudnorm.Meter(rate).integrated_loudness(np.asarray(x, np.float64)))


def at_loudness(x: np.ndarray, lufs: float, rate: int = RATE) -> np.ndarray:
    """x scaled to an integrated loudness of `lufs`."""
    return (x * 10.0 ** ((lufs - loudness(x, rate)) / 20.0)).astype(np.float32)


def speak(text: str, voice: str = "en-us", speed: int = 150, pitch: int = 50, rate: int = RATE) -> np.ndarray:
    """espeak-ng's speech of `text`, mono float32 at `rate`, trimmed to its first and last sound."""
    import soxr
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng; `make ar-assets` does it)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "line.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
                       check=True, capture_output=True, timeout=60)
        x, sr = soundfile.read(str(path), dtype="float32")
    x = soxr.resample(x, sr, rate, quality="VHQ").astype(np.float32)
    lo, hi = extent(x, rate)
    return x[lo:hi]


def extent(x: np.ndarray, rate: int = RATE, below_peak_db: float = 40.0) -> tuple[int, int]:
    """First and last sample of the 10 ms frames whose RMS is within `below_peak_db` of the loudest's."""
    hop = rate // 100
    n = len(x) // hop
    rms = np.sqrt(np.mean(x[:n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-below_peak_db / 20))
    return int(loud[0] * hop), int(min(len(x), (loud[-1] + 1) * hop))


def colored_noise(seconds: float, exponent: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Gaussian noise whose power falls as 1 / f^exponent (1: pink, 2: brown), 20 Hz up, unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / rate)
    spectrum *= np.where(f < 20.0, 0.0, 1.0 / np.maximum(f, 20.0) ** (exponent / 2.0))
    x = np.fft.irfft(spectrum, n)
    return (x / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def room_noise(seconds: float, seed: int = 1, rate: int = RATE) -> np.ndarray:
    """A quiet room: pink noise (ventilation, distant hum)."""
    return colored_noise(seconds, 1.0, seed, rate)


def street_noise(seconds: float, seed: int = 2, rate: int = RATE) -> np.ndarray:
    """A street: traffic rumble (between pink and brown) with slow swells of +-2 dB as cars pass, and a
    little broadband hiss."""
    rng = np.random.default_rng(seed + 100)
    x = colored_noise(seconds, 1.6, seed, rate) + 0.3 * colored_noise(seconds, 0.5, seed + 1, rate)
    t = np.arange(len(x)) / rate
    swell_db = sum(rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(0.05, 0.25) * t + rng.uniform(0, 6.3))
                   for _ in range(3))
    return (x * 10 ** (swell_db / 20)).astype(np.float32)


def place(track: np.ndarray, x: np.ndarray, at_s: float, rate: int = RATE) -> tuple[float, float]:
    """Add x into track at `at_s`; returns its span in seconds."""
    i = int(round(at_s * rate))
    track[i:i + len(x)] += x[:max(0, len(track) - i)]
    return round(i / rate, 4), round((i + len(x)) / rate, 4)


def recording(sections: list[tuple[str, float, float]], utterances: list[tuple[float, str]], speech_lufs: float,
              seed: int = 7, rate: int = RATE) -> tuple[np.ndarray, dict]:
    """A mic recording: noise `sections` [(kind 'room' | 'street', seconds, LUFS)] one after another, and
    `utterances` [(start s, text)] spoken over them at `speech_lufs` each.  Returns (audio, truth); truth
    also holds the noise alone under "_noise" (for measuring it at another rate)."""
    kinds = {"room": room_noise, "street": street_noise}
    parts, truth_noise, t = [], [], 0.0
    for k, (kind, seconds, lufs) in enumerate(sections):
        noise = at_loudness(kinds[kind](seconds, seed + k, rate), lufs, rate)
        parts.append(noise)
        truth_noise.append({"kind": kind, "start": round(t, 4), "end": round(t + seconds, 4),
                            "lufs": round(loudness(noise, rate), 3)})
        t += seconds
    track = np.concatenate(parts)
    noise_track = track.copy()
    truth_speech = []
    for i, (at_s, text) in enumerate(utterances):
        voice = ["en-us", "en-gb", "en-us+f3", "en-gb+m4"][i % 4]
        line = at_loudness(speak(text, voice, rate=rate), speech_lufs, rate)
        start, end = place(track, line, at_s, rate)
        truth_speech.append({"start": start, "end": end, "text": text})
    truth = {"rate": rate, "noise": truth_noise, "speech": truth_speech, "speech_lufs": speech_lufs}
    return track, {**truth, "_noise": noise_track}


def showcase_recording(rate: int = RATE) -> tuple[np.ndarray, dict]:
    """The showcase's 40 s: a room (-47 LUFS), a street 24 dB louder from 12 s to 28 s, the room again."""
    sections = [("room", 12.0, -47.0), ("street", 16.0, -23.0), ("room", 12.0, -47.0)]
    starts = [2.0, 7.0, 14.5, 19.5, 24.5, 30.5, 35.0]
    return recording(sections, list(zip(starts, LINES)), speech_lufs=-16.0, rate=rate)


def resampled(audio: np.ndarray, truth: dict, rate: int) -> tuple[np.ndarray, dict]:
    """The recording at another rate, with each noise section's loudness measured again at that rate
    (a 16 kHz file has lost the noise's band above 8 kHz, which BS.1770 counts)."""
    import soxr
    out = soxr.resample(audio, RATE, rate, quality="VHQ").astype(np.float32)
    noise_only = truth.pop("_noise")
    low = soxr.resample(noise_only, RATE, rate, quality="VHQ")
    for section in truth["noise"]:
        section["lufs"] = round(loudness(low[int(section["start"] * rate):int(section["end"] * rate)], rate), 3)
    return out, {**truth, "rate": rate}


def game_assets(folder: Path) -> None:
    """The showcase scene's own sounds: a music loop and three NPC lines (espeak-ng)."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(8 * RATE) / RATE
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    music = np.zeros_like(t)
    for k, chord in enumerate(chords):
        span = (t >= 2 * k) & (t < 2 * k + 2)
        env = np.minimum(1.0, np.minimum((t - 2 * k) / 0.05, (2 * k + 2 - t) / 0.05))
        for f in chord:
            music += np.where(span, env * np.sin(2 * np.pi * f * t), 0.0)
    soundfile.write(str(folder / "music.flac"), at_loudness(music.astype(np.float32), -20.0), RATE)
    for i, text in enumerate(NPC_LINES):
        line = at_loudness(speak(text, "en-gb+m3", speed=140), -23.0)
        soundfile.write(str(folder / f"npc{i + 1}.flac"), line, RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(HERE / "mic.flac"), help="the recording (its truth: .json beside it)")
    parser.add_argument("--rate", type=int, default=16000, help="the recording's rate (the mixer resamples)")
    parser.add_argument("--no-assets", action="store_true", help="do not remake the scene's own sounds")
    args = parser.parse_args()
    audio, truth = showcase_recording(RATE)
    if args.rate != RATE:
        audio, truth = resampled(audio, truth, args.rate)
    truth.pop("_noise", None)
    out = Path(args.out)
    soundfile.write(str(out), audio, args.rate, subtype="PCM_16")
    out.with_suffix(".json").write_text(json.dumps(truth, indent=2) + "\n")
    if not args.no_assets:
        game_assets(HERE / "assets")
    print(f"wrote {out} ({len(audio) / args.rate:.1f} s) and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
