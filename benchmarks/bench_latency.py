"""Event-to-sound latency through the live server, measured from a capture.

A private PulseAudio daemon with a null sink stands in for the sound card
(tests/pulse.py; `make test` installs pulseaudio).  For each device buffer
(PortAudio frames per buffer) and ring depth (`--ahead` blocks):

1. **device**: the delay of the output path alone.  A PortAudio stream at
   that buffer size plays silence, then a block of tone; the delay runs from
   the moment the tone is handed to `Pa_WriteStream` to the moment its onset
   arrives in a `parec` capture of the sink's monitor.  This is what "the
   device buffer" costs on this machine, PulseAudio and the capture included.
2. **server**: `gamemix serve`'s Server in this process, playing through that
   device and buffer, with 64 other voices playing; a Client posts `play`
   over loopback TCP and the delay runs from the post to the onset in the
   capture.

Each figure is the median (and max) over --trials posts.  Target (live-mixer
issue): server <= one block + the device buffer, i.e. server median <=
device median + one block period.

    .venv/bin/python benchmarks/bench_latency.py [--trials 20] [--buffers 256 512 1024] [--ahead 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pulse import Capture, pulse_null_sink  # noqa: E402

SR, BLOCK = 48000, 256
THRESHOLD = 0.05
PERIOD_MS = BLOCK / SR * 1e3


def onset_delays(cap: Capture, posts: list[float], window: float) -> list[float]:
    """For each post time, ms from it to the first captured frame above THRESHOLD that arrived
    after it (within `window` s)."""
    audio = np.abs(cap.audio()).max(axis=1)
    delays = []
    for posted in posts:
        start = cap.frame_at(posted)
        loud = np.flatnonzero(audio[start:] > THRESHOLD)
        if len(loud) == 0:
            continue
        delay = (cap.time_of(start + int(loud[0])) - posted) * 1e3
        if delay < window * 1e3:
            delays.append(delay)
    return delays


def device_delays(buffer: int, trials: int) -> list[float]:
    """Delay of a tone block written straight to PortAudio, onset to capture."""
    import pyaudio
    pa = pyaudio.PyAudio()
    index = next(i for i in range(pa.get_device_count()) if pa.get_device_info_by_index(i)["name"] == "pulse")
    stream = pa.open(format=pyaudio.paFloat32, channels=2, rate=SR, output=True, output_device_index=index,
                     frames_per_buffer=buffer)
    silence = np.zeros((BLOCK, 2), np.float32).tobytes()
    tone = np.full((BLOCK, 2), 0.5, np.float32).tobytes()
    for _ in range(int(0.5 * SR / BLOCK)):
        stream.write(silence, BLOCK)
    cap = Capture()
    posts = []
    for _ in range(trials):
        for _ in range(int(0.15 * SR / BLOCK)):
            stream.write(silence, BLOCK)
        posts.append(time.perf_counter())
        stream.write(tone, BLOCK)
    for _ in range(int(0.3 * SR / BLOCK)):
        stream.write(silence, BLOCK)
    cap.close()
    stream.close()
    pa.terminate()
    return onset_delays(cap, posts, 0.15)


def write_scene(folder: Path) -> Path:
    t = np.arange(SR) / SR
    soundfile.write(folder / "tone.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR)
    soundfile.write(folder / "bed.wav", (0.001 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    (folder / "scene.yaml").write_text(yaml.safe_dump({
        "output": {"sample_rate": SR, "block_size": BLOCK, "max_voices": 128},
        "buses": {"master": {}},
        "sounds": {"tone": {"files": ["tone.wav"], "loop": True, "spatial": {"max_distance": 100}},
                   "bed": {"files": ["bed.wav"], "loop": True, "spatial": {"max_distance": 100}}}}))
    return folder / "scene.yaml"


def server_delays(scene: Path, buffer: int, ahead: int, trials: int) -> tuple[list[float], dict]:
    """Delay from a `play` posted over loopback to its onset in the capture."""
    from gamemix.client import Client
    from gamemix.live.server import Server, ServerConfig
    any_port = "tcp://127.0.0.1:*"
    config = ServerConfig(scene=scene, commands=any_port, streams=any_port, telemetry=any_port, output="device",
                          device="pulse", ahead=ahead, device_buffer=buffer)
    with Server(config) as server:
        with Client(server.bound["commands"], server.bound["streams"], server.bound["telemetry"]) as client:
            for k in range(64):
                client.play("bed", id=1000 + k, position=(0.0, 0.0, -2.0 - k))
            time.sleep(0.5)
            cap = Capture()
            time.sleep(0.2)
            posts = []
            for k in range(trials):
                posts.append(time.perf_counter())
                client.play("tone", id=k + 1, position=(1.0, 0.0, 0.0))
                time.sleep(0.1)
                client.stop(id=k + 1, fade=0.0)
                time.sleep(0.1 + 0.01 * (k % 5))     # posts fall at varied points in the block
            time.sleep(0.2)
            stats = server._output.stats()
        cap.close()
    return onset_delays(cap, posts, 0.1), stats


def summary(delays: list[float]) -> str:
    if not delays:
        return "no onsets"
    return f"median {statistics.median(delays):6.1f} ms  max {max(delays):6.1f} ms  (n={len(delays)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--buffers", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--ahead", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    with pulse_null_sink("gamemix_bench", SR), tempfile.TemporaryDirectory() as tmp:
        scene = write_scene(Path(tmp))
        print(f"block {BLOCK} frames = {PERIOD_MS:.2f} ms at {SR} Hz; delays are post -> onset in the capture\n")
        print(f"{'buffer':>7} {'ahead':>5}  {'what':<7} {'delay':<48} {'target':>9}  xruns")
        for buffer in args.buffers:
            device = device_delays(buffer, args.trials)
            base = statistics.median(device) if device else float("nan")
            print(f"{buffer:>7} {'-':>5}  {'device':<7} {summary(device):<48}")
            for ahead in args.ahead:
                delays, stats = server_delays(scene, buffer, ahead, args.trials)
                target = base + PERIOD_MS
                ok = "met" if delays and statistics.median(delays) <= target else "MISSED"
                print(f"{buffer:>7} {ahead:>5}  {'server':<7} {summary(delays):<48} {target:6.1f} ms {ok:>6}  "
                      f"{stats['xruns']}/{stats['underflows']} (render median {stats['render_us_median']:.0f} us)", flush=True)


if __name__ == "__main__":
    main()
