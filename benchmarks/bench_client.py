"""What a play costs the game's thread: posted (the default) against waited (the reply awaited,
which is what `Client.play` did before posted commands existed).

A `gamemix serve` child process (started with `gamemix.client.spawn`, null output at the real-time
pace) plays a short one-shot; the game thread makes --calls plays, two per simulated 60 Hz frame
(two explosions in one frame), and polls its notices once per frame as a game does.  Figures: the
median and max time spent in each call, and, for posted plays, how many `started` notices came back
(every play must have been carried out).  Then with no server at all: what a play costs when the
server is missing (a waited play waits for its timeout).

    .venv/bin/python benchmarks/bench_client.py [--calls 600]
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

FRAME_S = 1 / 60


def write_scene(folder: Path) -> Path:
    t = np.arange(2400) / 48000
    soundfile.write(str(folder / "shot.wav"), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000,
                    subtype="FLOAT")
    (folder / "scene.yaml").write_text(yaml.safe_dump({
        "version": 1, "output": {"sample_rate": 48000, "block_size": 256}, "buses": {"master": {}},
        "sounds": {"shot": {"files": ["shot.wav"], "max_instances": 64, "steal": "oldest"}}}))
    return folder / "scene.yaml"


def us(values: list[float]) -> str:
    p99 = sorted(values)[min(len(values) - 1, int(0.99 * len(values)))]
    return (f"median {statistics.median(values) * 1e6:9.1f} us   p99 {p99 * 1e6:9.1f} us   "
            f"max {max(values) * 1e6:9.1f} us")


def notice_latency(mix, trials: int) -> tuple[list[float], list[float]]:
    """Seconds from posting a play to receiving its `started` notice (polling every 0.2 ms), and from
    the start of the block it started in (the telemetry clock's wall time) to that receipt."""
    post_to_notice, block_to_notice = [], []
    clock = None
    for _ in range(trials):
        handle = mix.play("shot")
        posted = time.perf_counter()
        wall_posted = time.time()
        while True:
            got = [n for n in mix.poll() if n["id"] == handle and n["event"] == "started"]
            if got:
                post_to_notice.append(time.perf_counter() - posted)
                received = wall_posted + post_to_notice[-1]
                frame = mix.telemetry(timeout=0.0)
                while frame is not None:
                    clock = frame.get("clock", clock)
                    frame = mix.telemetry(timeout=0.0)
                if clock is not None:
                    began = clock["time"] + (got[0]["sample"] - clock["sample"]) / clock["sample_rate"]
                    block_to_notice.append(received - began)
                break
            time.sleep(0.0002)
        time.sleep(0.02)
    return post_to_notice, block_to_notice


def game_loop(mix, calls: int, wait: bool) -> tuple[list[float], int]:
    """Two plays per 60 Hz frame; returns (seconds in each play call, `started` notices seen)."""
    spent, started = [], 0
    next_frame = time.perf_counter()
    for k in range(calls):
        t0 = time.perf_counter()
        mix.play("shot", wait=wait)
        spent.append(time.perf_counter() - t0)
        if k % 2:
            started += sum(n["event"] == "started" for n in mix.poll())
            next_frame += FRAME_S
            time.sleep(max(0.0, next_frame - time.perf_counter()))
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        started += sum(n["event"] == "started" for n in mix.poll())
        time.sleep(0.01)
    return spent, started


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gamemix.client import Client, spawn
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=600)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scene = write_scene(Path(tmp))
        t0 = time.perf_counter()
        mix = spawn(str(scene), output="null", args=("--no-realtime",))
        print(f"server spawned and ready in {time.perf_counter() - t0:.1f} s "
              f"(endpoints {', '.join(mix.server.endpoints.values())})\n")
        try:
            posted, started = game_loop(mix, args.calls, wait=False)
            waited, _ = game_loop(mix, args.calls, wait=True)
            mix.telemetry(timeout=1.0)                       # subscribe, so the clock is at hand
            to_notice, from_block = notice_latency(mix, 200)
        finally:
            mix.close()
    print(f"{'play call, live server':<34} {'time in the call':<44}")
    print(f"  {'posted (default)':<32} {us(posted)}   started notices {started}/{len(posted)}")
    print(f"  {'waited (the code before)':<32} {us(waited)}")
    print(f"  ratio of medians: {statistics.median(waited) / statistics.median(posted):.0f}x\n")
    print("notices (200 plays, polled every 0.2 ms)")
    print(f"  {'post -> started received':<32} {us(to_notice)}")
    if from_block:
        print(f"  {'block start -> started received':<32} {us(from_block)}   (the notice is sent after its block)")
    print()
    with Client("tcp://127.0.0.1:9", "tcp://127.0.0.1:9", "tcp://127.0.0.1:9", timeout=2.0) as gone:
        posted_gone = []
        for _ in range(200):
            t0 = time.perf_counter()
            gone.play("shot")
            posted_gone.append(time.perf_counter() - t0)
        refused = [n["code"] for n in gone.poll()]
        waited_gone = []
        for _ in range(3):
            t0 = time.perf_counter()
            try:
                gone.play("shot", wait=True)
            except TimeoutError:
                pass
            waited_gone.append(time.perf_counter() - t0)
    print("play call, no server running")
    print(f"  {'posted (default)':<32} {us(posted_gone)}   refused as {sorted(set(refused))}")
    print(f"  {'waited (the code before)':<32} {us(waited_gone)}")
    ok = started == len(posted) and statistics.median(posted) < statistics.median(waited)
    print(f"\n{'ok' if ok else 'FAILED'}: every posted play was carried out and a posted play costs less than a waited one")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
