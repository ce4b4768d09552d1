"""The C client (bindings/c) against the Python client, in the same run, on the same server.

`gamemix serve` runs in its own process with the null output (it renders ahead into a ring and
empties it at the real-time pace; an empty ring at a deadline is an xrun) and 256 looping 3D
voices, as in bench_server.py.  Then, one client at a time, over loopback TCP:

1. poses: one `emitters` batch of 256 poses per frame for --seconds, at 100,000 poses/s (the
   target rate), 250,000, 500,000 and 1,000,000, then as fast as the client can send; reported:
   poses sent and applied per second (applied: in the frames the server read, waiting until its
   `server.streams` counter reaches the frames sent, less the frames it dropped as stale, i.e.
   read later than --max-stream-age after they were sent: a flood beyond what the server takes
   makes the backlog stale), the client's own time per pose, and the server's xruns and stream
   drops over the run (from `query`).  C: gm_pose_add x 256 + gm_pose_flush (bindings/c/bench/gm_bench.c); Python:
   Client.emitters.
2. a play call: --calls posted plays of a one-shot, two per simulated 60 Hz frame, notices polled
   once a frame; the time spent in each call (median, p99), and the `started` notices that came back;
   then a quarter as many waited plays (the round trip, for scale).

Targets (C client issue): >= 100,000 poses/s absorbed with 0 xruns while 256 voices play; a play
call from C <= 20 us median.  The C library is built with CMake into benchmarks/build/c (Release).

    .venv/bin/python benchmarks/bench_c_client.py [--seconds 3] [--calls 600]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_server import VOICES, counters, free_port  # noqa: E402  (the same server set-up, this folder)
from gamemix.client import Client  # noqa: E402
FRAME_S = 1 / 60


def build() -> Path:
    out = ROOT / "benchmarks" / "build" / "c"
    for cmd in (["cmake", "-S", ROOT / "bindings" / "c", "-B", out, "-DCMAKE_BUILD_TYPE=Release",
                 "-DGAMEMIX_BUILD_TESTS=ON"], ["cmake", "--build", out, "-j", "2", "--target", "gm_bench"]):
        subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
    return out / "gm_bench"


def start(folder: Path) -> tuple[subprocess.Popen, list[str]]:
    t = np.arange(48000) / 48000
    for k in range(8):
        soundfile.write(folder / f"c{k}.wav", (0.1 * np.sin(2 * np.pi * (200 + 50 * k) * t)).astype(np.float32), 48000)
    soundfile.write(folder / "shot.wav", (0.3 * np.sin(2 * np.pi * 440 * t[:2400])).astype(np.float32), 48000)
    (folder / "scene.yaml").write_text(yaml.safe_dump({
        "output": {"max_voices": VOICES, "max_instances": 1024},
        "buses": {"master": {"volume_db": -24}},
        "sounds": {**{f"s{k}": {"files": [f"c{k}.wav"], "loop": True, "spatial": {"max_distance": 200}}
                      for k in range(8)},
                   "shot": {"files": ["shot.wav"], "max_instances": 64, "steal": "oldest"}}}))
    ends = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    server = subprocess.Popen([sys.executable, "-m", "gamemix", "serve", str(folder / "scene.yaml"), "--output", "null",
                               "--commands", ends[0], "--streams", ends[1], "--telemetry", ends[2]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with Client(*ends, timeout=10.0) as client:
        client.wait_ready(180)
        rng = np.random.default_rng(0)
        for i in range(VOICES):
            client.play(f"s{i % 8}", id=i, position=tuple(rng.uniform(-50, 50, 3)), wait=True)
    return server, ends


def python_poses(ends: list[str], seconds: float, rate: float = 0.0) -> dict:
    """The baseline: Client.emitters, one batch of 256 per frame (as bench_server.py's throughput)."""
    with Client(*ends, timeout=10.0) as client:
        client.wait_ready(60)
        s0, d0, x0 = counters(client)
        frames = poses = 0
        in_client = 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a = time.perf_counter()
            phase = frames * 0.001
            client.emitters(range(VOICES), [(-50.0 + (k % 100) + phase, 0.5, -50.0 + k // 100) for k in range(VOICES)])
            in_client += time.perf_counter() - a
            frames += 1
            poses += VOICES
            if rate:
                time.sleep(max(0.0, t0 + poses / rate - time.perf_counter()))
        sent_s = time.perf_counter() - t0
        while True:
            s1, d1, x1 = counters(client)
            if s1 - s0 >= frames:
                break
            time.sleep(0.01)
        total_s = time.perf_counter() - t0
    applied = (frames - min(d1 - d0, frames)) * VOICES            # every id is known: a drop is a stale frame
    return {"poses": poses, "sent_per_s": poses / sent_s, "applied_per_s": applied / total_s, "drain_s": total_s - sent_s,
            "client_ns_per_pose": in_client / poses * 1e9, "stream_drops": d1 - d0, "xruns": x1 - x0}


def python_play(ends: list[str], calls: int) -> dict:
    with Client(*ends, timeout=10.0) as client:
        client.wait_ready(60)
        spent, started = [], 0
        next_frame = time.perf_counter()
        for k in range(calls):
            t0 = time.perf_counter()
            client.play("shot")
            spent.append(time.perf_counter() - t0)
            if k % 2:
                started += sum(n["event"] == "started" for n in client.poll())
                next_frame += FRAME_S
                time.sleep(max(0.0, next_frame - time.perf_counter()))
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            started += sum(n["event"] == "started" for n in client.poll())
            time.sleep(0.01)
        waited = []
        for _ in range(calls // 4 + 1):
            t0 = time.perf_counter()
            client.play("shot", wait=True)
            waited.append(time.perf_counter() - t0)
    return {"posted": stats(spent), "waited": stats(waited), "started": started}


def stats(values: list[float]) -> dict:
    values = sorted(values)
    return {"calls": len(values), "median_us": statistics.median(values) * 1e6,
            "p99_us": values[int(0.99 * (len(values) - 1))] * 1e6, "max_us": values[-1] * 1e6}


def c_run(bench: Path, ends: list[str], *args) -> dict:
    done = subprocess.run([str(bench), args[0], *ends, *map(str, args[1:])], capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="per pose run")
    ap.add_argument("--calls", type=int, default=600, help="posted plays per client")
    args = ap.parse_args()
    bench = build()
    with tempfile.TemporaryDirectory() as tmp:
        server, ends = start(Path(tmp))
        try:
            time.sleep(0.5)
            with Client(*ends, timeout=10.0) as client:         # the baseline: xruns with no client traffic
                _, _, x0 = counters(client)
                time.sleep(args.seconds)
                _, _, x1 = counters(client)
            idle_xruns = x1 - x0
            rows = {}
            for rate in (100_000, 250_000, 500_000, 1_000_000, 0):
                label = f"at {rate:,}/s" if rate else "as fast as it sends"
                rows[f"C, {label}"] = c_run(bench, ends, "poses", args.seconds, VOICES, rate)
                rows[f"Python, {label}"] = python_poses(ends, args.seconds, rate)
            c_play = c_run(bench, ends, "play", args.calls)
            py_play = python_play(ends, args.calls)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"`gamemix serve --output null` in its own process, {VOICES} looping 3D voices, 256-frame blocks, "
          f"loopback TCP; one client at a time; batches of {VOICES} poses (one `emitters` message a frame)")
    print(f"idle ({args.seconds:g} s, no client traffic): {idle_xruns} xruns")
    print(f"{'poses':<34} {'sent/s':>11} {'applied/s':>11} {'drain s':>8} {'ns/pose':>8} {'drops':>6} {'xruns':>6}")
    for name, r in rows.items():
        print(f"{name:<34} {r['sent_per_s']:>11,.0f} {r['applied_per_s']:>11,.0f} {r['drain_s']:>8.2f} "
              f"{r['client_ns_per_pose']:>8.1f} {r['stream_drops']:>6} {r['xruns']:>6}")
    print(f"\n{'play call (time in the call)':<36} {'median us':>10} {'p99 us':>10} {'max us':>10}  started")
    started = {"C, posted": c_play["started"], "Python, posted": py_play["started"]}
    for name, r in (("C, posted", c_play["posted"]), ("  first in its frame (after a sleep)", c_play["posted_first_in_frame"]),
                    ("  second in its frame", c_play["posted_second_in_frame"]), ("Python, posted", py_play["posted"]),
                    ("C, waited", c_play["waited"]), ("Python, waited", py_play["waited"])):
        came_back = f"{started[name]}/{r['calls']}" if name in started else ""
        print(f"{name:<36} {r['median_us']:>10.1f} {r['p99_us']:>10.1f} {r['max_us']:>10.1f}  {came_back}")
    paced = rows["C, at 100,000/s"]
    best = max((r for name, r in rows.items() if name.startswith("C, at") and r["xruns"] == 0 and not r["stream_drops"]),
               key=lambda r: r["applied_per_s"], default=None)
    absorbed_ok = paced["applied_per_s"] >= 0.99 * 100_000 and paced["stream_drops"] == 0
    xruns_ok = paced["xruns"] == 0
    play_ok = c_play["posted"]["median_us"] <= 20 and c_play["started"] == args.calls
    if best is not None:
        print(f"\nhighest rate from C applied in full with 0 xruns and 0 drops: {best['applied_per_s']:,.0f} poses/s")
    print(f"targets: >= 100,000 poses/s absorbed from C ({'met' if absorbed_ok else 'MISSED'}), "
          f"0 xruns at that rate ({'met' if xruns_ok else 'MISSED'}), "
          f"play call from C <= 20 us median ({'met' if play_ok else 'MISSED'})")
    return 0 if absorbed_ok and xruns_ok and play_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
