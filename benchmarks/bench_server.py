"""The live server under load: stream throughput, command round trips, xruns over a soak.

`gamemix serve` runs in its own process (as it does beside a game) with 256
looping 3D voices and, by default, the null output, which renders ahead into a
ring and empties it at the real-time pace (an empty ring at a deadline is an
xrun); with --device it plays through PortAudio into a private PulseAudio null
sink, where a late block is an underflow the device output counts.  This process is the game, over loopback TCP:

1. stream throughput: the client pushes pose updates as fast as it can for
   --seconds, (a) one `emitter` message per update, (b) `emitters` batches of
   256 (one per frame for 256 emitters); reported: updates sent and applied
   per second (applied = counted by the server, waiting for its backlog to
   drain), drops, and xruns while it ran;
2. command round trip: `ping` one after another, median and p99.  Commands
   take effect at the next block start, so a round trip includes the wait for
   it (up to one 5.3 ms block);
3. soak: --soak seconds of 60 Hz batches of 256 poses plus events.

Targets (live-mixer issue): >= 100,000 updates/s absorbed without an xrun;
0 xruns over a 10-minute soak (--soak 600).

    .venv/bin/python benchmarks/bench_server.py [--seconds 3] [--soak 30]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

from gamemix.client import Client

VOICES = 256


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path, output: list[str]):
    t = np.arange(48000) / 48000
    for k in range(8):
        soundfile.write(folder / f"c{k}.wav", (0.1 * np.sin(2 * np.pi * (200 + 50 * k) * t)).astype(np.float32), 48000)
    (folder / "scene.yaml").write_text(yaml.safe_dump({
        "output": {"max_voices": VOICES, "max_instances": 1024},
        "buses": {"master": {"volume_db": -24}},
        "sounds": {f"s{k}": {"files": [f"c{k}.wav"], "loop": True, "spatial": {"max_distance": 200}} for k in range(8)},
        "events": {"blip": [{"action": "play", "sound": "s0"}, {"action": "stop", "sound": "s0", "delay": 0.2}]}}))
    ends = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    server = subprocess.Popen([sys.executable, "-m", "gamemix", "serve", str(folder / "scene.yaml"), *output,
                               "--commands", ends[0], "--streams", ends[1], "--telemetry", ends[2]],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while "serving" not in server.stdout.readline():       # "gamemix: serving ...": ready
        pass
    client = Client(*ends, timeout=10.0)
    rng = np.random.default_rng(0)
    for i in range(VOICES):
        client.play(f"s{i % 8}", id=i, position=tuple(rng.uniform(-50, 50, 3)), wait=True)
    return server, client


def counters(client: Client) -> tuple[int, int, int]:
    state = client.query()
    return state["server"]["streams"], state["server"]["stream_drops"], state["output"]["xruns"]


def throughput(client: Client, seconds: float, batch: int, rate: float | None = None) -> dict:
    """Push poses for `seconds`, as fast as possible or at `rate` updates/s."""
    pos = np.random.default_rng(1).uniform(-50, 50, (VOICES, 3)).round(3).tolist()
    streams0, _, xruns0 = counters(client)
    updates, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if batch == 1:
            for i in range(VOICES):
                client.emitter(i, pos[i])
        else:
            client.emitters(range(VOICES), pos)
        updates += VOICES
        if rate is not None:
            time.sleep(max(0.0, t0 + updates / rate - time.perf_counter()))
    sent_s = time.perf_counter() - t0
    while True:                                            # the server counts frames as it decodes them
        streams, drops, xruns = counters(client)
        if streams - streams0 >= updates // batch:
            break
        time.sleep(0.01)
    total_s = time.perf_counter() - t0
    return {"sent": updates / sent_s, "applied": updates / total_s, "drain_s": total_s - sent_s,
            "drops": drops, "xruns": xruns - xruns0}


def round_trips(client: Client, n: int = 1000) -> dict:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.ping()
        times.append(time.perf_counter() - t0)
    return {"median_ms": statistics.median(times) * 1e3, "p99_ms": float(np.percentile(times, 99)) * 1e3}


def soak(client: Client, seconds: float) -> dict:
    rng = np.random.default_rng(2)
    out0 = client.query()["output"]
    t0, frame = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        client.emitters(range(VOICES), rng.uniform(-50, 50, (VOICES, 3)).round(3).tolist())
        if frame % 20 == 0:
            client.send_stream({"type": "event", "name": "blip", "position": [1.0, 0.0, -2.0]})
        frame += 1
        time.sleep(max(0.0, t0 + frame / 60 - time.perf_counter()))
    out = client.query()["output"]
    return {"seconds": seconds, "blocks": out["blocks"] - out0["blocks"], "xruns": out["xruns"] - out0["xruns"],
            "render_us_median": out["render_us_median"], "render_us_max": out["render_us_max"],
            "cpu_load": out["cpu_load"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="per throughput run")
    ap.add_argument("--soak", type=float, default=30.0, help="soak length in seconds (the target run: 600)")
    ap.add_argument("--device", action="store_true",
                    help="play through PortAudio into a private PulseAudio null sink instead of the null output")
    ap.add_argument("--ahead", type=int, default=None, help="blocks rendered ahead (server default if not given)")
    ap.add_argument("--device-buffer", type=int, default=None, help="PortAudio frames per buffer (with --device)")
    args = ap.parse_args()
    output = ["--output", "device", "--device", "pulse"] if args.device else ["--output", "null"]
    if args.ahead is not None:
        output += ["--ahead", str(args.ahead)]
    if args.device_buffer is not None:
        output += ["--device-buffer", str(args.device_buffer)]
    with contextlib.ExitStack() as stack:
        if args.device:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
            from pulse import pulse_null_sink
            stack.enter_context(pulse_null_sink("gamemix_bench"))
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        server, client = start(Path(tmp), output)
        try:
            time.sleep(0.5)
            single = throughput(client, args.seconds, 1)
            batched = throughput(client, args.seconds, VOICES)
            paced = throughput(client, args.seconds, VOICES, rate=100_000)
            rtt = round_trips(client)
            soaked = soak(client, args.soak)
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=10)
    print(f"`gamemix serve {' '.join(output)}` in its own process, {VOICES} looping 3D voices, 256-frame blocks, "
          f"loopback TCP; this process is the game")
    for name, r in (("one `emitter` message per update", single), (f"`emitters` batches of {VOICES}", batched),
                    (f"batches of {VOICES} at 100,000/s", paced)):
        print(f"stream, {name:<34} sent {r['sent']:>9,.0f}/s, applied {r['applied']:>9,.0f}/s "
              f"(backlog drained {r['drain_s']:.2f} s after), drops {r['drops']}, xruns {r['xruns']}")
    print(f"command round trip (ping): median {rtt['median_ms']:.3f} ms, p99 {rtt['p99_ms']:.3f} ms")
    print(f"soak {soaked['seconds']:.0f} s (60 Hz pose batches + events): {soaked['blocks']} blocks, "
          f"{soaked['xruns']} xruns, render median {soaked['render_us_median']:.0f} us, "
          f"max {soaked['render_us_max']:.0f} us, cpu load {soaked['cpu_load']:.1%}")
    print("targets: >= 100,000 updates/s without an xrun; 0 xruns over 600 s")


if __name__ == "__main__":
    main()
