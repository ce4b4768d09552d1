"""A streaming session: xruns, underruns and memory of `gamemix serve` playing a long file streamed
(`stream: true`) against the same file decoded whole (the only way before streaming existed).

Writes a --minutes long 16-bit stereo file, then for each way spawns a server (null output at the
real-time pace, `gamemix.client.spawn`), plays the file for --seconds with 32 other voices, and
reads the server's resident memory (VmRSS, /proc) and its telemetry (xruns, stream_underruns).

    .venv/bin/python benchmarks/bench_streaming.py [--minutes 10] [--seconds 20] [--no-realtime]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def session(folder: Path, stream: bool, seconds: float, realtime: bool = True) -> dict:
    from gamemix.client import spawn
    scene = folder / f"scene_{'stream' if stream else 'whole'}.yaml"
    scene.write_text(yaml.safe_dump({
        "version": 1, "buses": {"master": {}},
        "sounds": {"music": {"files": ["long.wav"], "stream": stream, "loop": True},
                   "tick": {"files": ["tick.wav"], "loop": True, "spatial": {"max_distance": 100}}}}))
    t0 = time.perf_counter()
    mix = spawn(str(scene), output="null", args=() if realtime else ("--no-realtime",))
    ready_s = time.perf_counter() - t0
    try:
        pid = mix.server.process.pid
        before = rss_mib(pid)
        mix.play("music")
        for k in range(32):
            mix.play("tick", position=(k - 16.0, 0.0, -3.0))
        end, peak, last = time.monotonic() + seconds, before, None
        while time.monotonic() < end:
            frame = mix.telemetry(timeout=0.5)
            if frame is not None and frame.get("type") == "telemetry":
                last = frame
            peak = max(peak, rss_mib(pid))
            mix.poll()
        return {"ready_s": ready_s, "rss_ready_mib": before, "rss_peak_mib": peak,
                "xruns": last["xruns"] if last else None,
                "underruns": last.get("stream_underruns") if last else None,
                "cpu_load": last["cpu_load"] if last else None}
    finally:
        mix.close()


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--no-realtime", dest="realtime", action="store_false",
                    help="the server without real-time scheduling of its render thread (default: as `serve` runs)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frames = int(args.minutes * 60 * 48000)
        rng = np.random.default_rng(1)
        with soundfile.SoundFile(str(folder / "long.wav"), "w", 48000, 2, "PCM_16") as f:
            for start in range(0, frames, 1 << 20):
                f.write(rng.integers(-8000, 8000, (min(1 << 20, frames - start), 2)).astype(np.int16))
        soundfile.write(str(folder / "tick.wav"), (0.1 * np.sin(np.arange(4800) * 0.2)).astype(np.float32), 48000)
        print(f"{args.minutes:g}-minute stereo file ({frames * 4 / 2 ** 20:.0f} MiB as 16-bit, "
              f"{frames * 8 / 2 ** 20:.0f} MiB decoded as float32), {args.seconds:g} s sessions\n")
        rows = {way: session(folder, way == "streamed", args.seconds, args.realtime) for way in ("streamed", "decoded whole")}
    print(f"{'':<15} {'ready s':>8} {'RSS ready MiB':>14} {'RSS peak MiB':>13} {'xruns':>6} {'underruns':>10} "
          f"{'cpu load':>9}")
    for way, r in rows.items():
        print(f"{way:<15} {r['ready_s']:8.1f} {r['rss_ready_mib']:14.0f} {r['rss_peak_mib']:13.0f} {r['xruns']!s:>6} "
              f"{r['underruns']!s:>10} {r['cpu_load']:9.3f}")
    saved = rows["decoded whole"]["rss_peak_mib"] - rows["streamed"]["rss_peak_mib"]
    print(f"\nstreaming keeps {saved:.0f} MiB less resident")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
