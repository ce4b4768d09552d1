"""The mixer under attack, under load and after a crash: the reliability figures, now and at an earlier commit.

Sections (all by default; name some with --only):

- hostile: `gamemix serve --output null` (or, with --device, PortAudio into a
  private PulseAudio null sink) plays 256 looping voices while an attacker,
  a process of its own, sends round and round for --seconds: `emitters`
  batches of 65,536 NaN positions, `ping`s with 380,000 unknown keys, bursts
  of 2,000 pipelined `query`s and garbage; another client pings every 10 ms.
  Reported: that client's ping round trip (median, p99, max) and the xruns.
- hog: the same server with no attack, 60 Hz pose batches, for --seconds,
  with 0, 1 and 2 busy processes beside it (one per core of this machine);
  xruns, and the scheduling the render thread got.
- memory: peak resident memory of `gamemix validate` decoding a scene with
  one 64 MiB WAV (16-bit, so 128 MiB decoded as float32), in a process of
  its own; and the same process validating a scene with no audio, the
  baseline of the interpreter and libraries.
- events: instances the mixer holds after 20,000 events that play nothing.
- buses: seconds to load a 4,096-bus scene and render 1 s of it (killed after
  --timeout).
- kill9: `gamemix serve --output out.wav` killed with SIGKILL 3 s after it
  began serving: how much audio the file holds when read back.

Every section runs on this tree and, unless --baseline-ref is empty, on that
commit (default 974ec1e) checked out into a temporary worktree, in the same
run; the server and the helper processes import the tree under test.

    .venv/bin/python benchmarks/bench_reliability.py [--seconds 20] [--only hostile hog] [--hogs 0 1 2]
                                                     [--device] [--device-buffer FRAMES] [--baseline-ref REF]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
import soundfile
import yaml
import zmq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VOICES = 256


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scene_folder(folder: Path, voices: int = VOICES) -> Path:
    t = np.arange(48000) / 48000
    for k in range(8):
        soundfile.write(folder / f"c{k}.wav", (0.1 * np.sin(2 * np.pi * (200 + 50 * k) * t)).astype(np.float32), 48000)
    path = folder / "scene.yaml"
    path.write_text(yaml.safe_dump({
        "output": {"max_voices": voices, "max_instances": 1024},
        "buses": {"master": {"volume_db": -24}},
        "sounds": {f"s{k}": {"files": [f"c{k}.wav"], "loop": True, "spatial": {"max_distance": 200}} for k in range(8)},
        "events": {"nothing": [{"action": "stop", "sound": "s0"}]}}))
    return path


def env_for(tree: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(tree))


OUTPUT = ["--output", "null"]      # or a real device: main() sets ["--output", "device", "--device", "pulse"]


@contextlib.contextmanager
def server(tree: Path, scene: Path, extra=()):
    """`gamemix serve` from `tree` on free ports; yields (process, endpoints) once it is serving."""
    ends = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    proc = subprocess.Popen([sys.executable, "-m", "gamemix", "serve", str(scene), *OUTPUT,
                             "--commands", ends[0], "--streams", ends[1], "--telemetry", ends[2], *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env_for(tree),
                            cwd=scene.parent)
    try:
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the server ended before it served")
            if "serving" in line:
                break
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()   # keep draining
        yield proc, ends
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def pack(d: dict) -> bytes:
    return msgpack.packb({"v": 1, **d}, use_bin_type=True)


def request(sock, msg: dict, timeout_ms: int = 5000):
    sock.send(pack(msg))
    if not sock.poll(timeout_ms):
        raise TimeoutError(msg["type"])
    return msgpack.unpackb(sock.recv(), raw=False)


def play_voices(ctx, ends):
    sock = ctx.socket(zmq.DEALER)
    sock.connect(ends[0])
    rng = np.random.default_rng(0)
    for i in range(VOICES):
        request(sock, {"type": "play", "sound": f"s{i % 8}", "id": i, "position": rng.uniform(-50, 50, 3).tolist(),
                       "rid": i})
    return sock


def xruns(sock) -> int:
    return request(sock, {"type": "query", "rid": "q"}, 30000)["data"]["output"]["xruns"]


# ---------------------------------------------------------------------------------------------- sections
ATTACKER = """
import sys, time, msgpack, zmq
def pack(d):
    return msgpack.packb({"v": 1, **d}, use_bin_type=True)
frames = [pack({"type": "emitters", "ids": list(range(65536)), "positions": [[float("nan"), 0.0, 0.0]] * 65536}),
          pack({"type": "ping", **{f"{i:x}": 0 for i in range(380_000)}}),
          b"\\xc1" * 256]
queries = [pack({"type": "query", "rid": rid}) for rid in range(2000)]
sock = zmq.Context().socket(zmq.DEALER)
sock.setsockopt(zmq.SNDHWM, 0)
sock.setsockopt(zmq.RCVHWM, 0)
sock.connect(sys.argv[1])
print("attacking", flush=True)
while True:
    for frame in frames + queries:
        sock.send(frame)
    while sock.poll(0):
        sock.recv()
    time.sleep(0.05)
"""


def hostile(tree: Path, seconds: float) -> dict:
    """The attacker is a process of its own (as it would be): in the probe's process its Python work
    would hold the probe's GIL and lengthen the very round trips measured."""
    with tempfile.TemporaryDirectory() as tmp, server(tree, scene_folder(Path(tmp))) as (_, ends):
        ctx = zmq.Context()
        game = play_voices(ctx, ends)
        time.sleep(0.5)
        before = xruns(game)
        attacker = subprocess.Popen([sys.executable, "-c", ATTACKER, ends[0]], stdout=subprocess.PIPE, text=True)
        try:
            attacker.stdout.readline()
            probe = ctx.socket(zmq.DEALER)
            probe.connect(ends[0])
            times, lost = [], 0
            end = time.monotonic() + seconds
            rid = 0
            while time.monotonic() < end:
                rid += 1
                t0 = time.perf_counter()
                probe.send(pack({"type": "ping", "rid": rid}))
                got = False
                while probe.poll(2000):
                    if msgpack.unpackb(probe.recv(), raw=False).get("rid") == rid:
                        got = True
                        break
                if got:
                    times.append(time.perf_counter() - t0)
                else:
                    lost += 1
                time.sleep(0.01)
        finally:
            attacker.kill()
            attacker.wait()
        after = xruns(game)
        for s in (probe, game):
            s.close(linger=0)
        ctx.term()
    ms = np.array(times) * 1e3
    return {"pings": len(times), "lost": lost, "median_ms": float(np.median(ms)) if len(ms) else None,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None, "max_ms": float(ms.max()) if len(ms) else None,
            "xruns": after - before}


def hog(tree: Path, seconds: float, hogs: int) -> dict:
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        with tempfile.TemporaryDirectory() as tmp, server(tree, scene_folder(Path(tmp))) as (_, ends):
            ctx = zmq.Context()
            game = play_voices(ctx, ends)
            push = ctx.socket(zmq.PUSH)
            push.connect(ends[1])
            time.sleep(0.5)
            state = request(game, {"type": "query", "rid": "q"})["data"]["output"]
            before, priority = state["xruns"], state.get("priority", "normal (not reported)")
            rng = np.random.default_rng(2)
            t0, frame = time.perf_counter(), 0
            while time.perf_counter() - t0 < seconds:
                push.send(pack({"type": "emitters", "ids": list(range(VOICES)),
                                "positions": rng.uniform(-50, 50, (VOICES, 3)).round(3).tolist()}))
                frame += 1
                time.sleep(max(0.0, t0 + frame / 60 - time.perf_counter()))
            after = xruns(game)
            for s in (push, game):
                s.close(linger=0)
            ctx.term()
    finally:
        for p in busy:
            p.kill()
            p.wait()
    return {"hogs": hogs, "seconds": seconds, "xruns": after - before, "priority": priority}


def child_peak_mib(tree: Path, scene: Path) -> float:
    """Peak resident memory (MiB) of `gamemix validate` decoding `scene`, in a fresh process."""
    code = ("import resource, subprocess, sys; "
            "subprocess.run([sys.executable, '-m', 'gamemix', 'validate', sys.argv[1]], check=True, "
            "stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(scene)], capture_output=True, text=True, check=True,
                         env=env_for(tree))
    return float(out.stdout.strip())


def memory(tree: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frames = 32 << 20                                  # 64 MiB as 16-bit mono
        soundfile.write(folder / "big.wav", (8000 * np.sin(np.arange(frames) * 0.01)).astype(np.int16), 48000,
                        subtype="PCM_16")
        (folder / "scene.yaml").write_text(yaml.safe_dump({"sounds": {"big": {"files": ["big.wav"]}}}))
        (folder / "empty.yaml").write_text(yaml.safe_dump({"sounds": {}}))
        base = child_peak_mib(tree, folder / "empty.yaml")
        peak = child_peak_mib(tree, folder / "scene.yaml")
    return {"file_mib": frames * 2 / 2 ** 20, "decoded_mib": frames * 4 / 2 ** 20, "peak_mib": peak,
            "baseline_mib": base, "peak_above_baseline_mib": peak - base}


def events(tree: Path) -> dict:
    code = """
import sys, tempfile, pathlib, json
sys.path.insert(0, sys.argv[1])
import bench_reliability as br
try:
    from gamemix.control.mixer import Mixer
    from gamemix.scene.load import load_scene
except ImportError:
    from gamemix.mixer import Mixer
    from gamemix.scene import load_scene
import resource
with tempfile.TemporaryDirectory() as tmp:
    m = Mixer(load_scene(br.scene_folder(pathlib.Path(tmp), 8)))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(20000):
        m.post_event("nothing", i)
    print(json.dumps({"instances": len(m.instances),
                      "rss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024}))
"""
    out = subprocess.run([sys.executable, "-c", code, str(HERE)], capture_output=True, text=True, env=env_for(tree))
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-300:]}


def buses(tree: Path, timeout: float) -> dict:
    code = """
import sys, time, json, pathlib, tempfile, yaml
import numpy as np, soundfile
try:
    from gamemix.control.mixer import Mixer
    from gamemix.scene.load import load_scene
except ImportError:
    from gamemix.mixer import Mixer
    from gamemix.scene import load_scene
with tempfile.TemporaryDirectory() as tmp:
    d = pathlib.Path(tmp)
    soundfile.write(d / "t.wav", (0.1 * np.sin(np.arange(4800) * 0.05)).astype(np.float32), 48000)
    doc = {"buses": {"master": {}, **{f"b{i}": {"parent": f"b{i // 4 - 1}" if i >= 4 else "master"} for i in range(4096)}},
           "sounds": {"t": {"files": ["t.wav"], "bus": "b4095", "loop": True}}}
    (d / "scene.yaml").write_text(yaml.safe_dump(doc))
    t0 = time.perf_counter()
    m = Mixer(load_scene(d / "scene.yaml"))
    loaded = time.perf_counter() - t0
    m.play("t", 1)
    out = np.zeros((256, 2), np.float32)
    for _ in range(188):
        m.render(out)
    print(json.dumps({"load_s": loaded, "total_s": time.perf_counter() - t0}))
"""
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_for(tree),
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"total_s": f"> {timeout:.0f} (killed)"}
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-300:]}


def kill9(tree: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        scene = scene_folder(Path(tmp), 8)
        wav = Path(tmp) / "out.wav"
        ends = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
        proc = subprocess.Popen([sys.executable, "-m", "gamemix", "serve", str(scene), "--output", str(wav),
                                 "--commands", ends[0], "--streams", ends[1], "--telemetry", ends[2]],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env_for(tree))
        while "serving" not in proc.stdout.readline():
            pass
        time.sleep(3.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        size = wav.stat().st_size
        try:
            info = soundfile.info(str(wav))
            frames, readable = info.frames, True
        except RuntimeError:
            frames, readable = 0, False
    return {"file_bytes": size, "readable": readable, "seconds_read": frames / 48000}


def measure(tree: Path, args) -> dict:
    out = {}
    sections = args.only or ["hostile", "hog", "memory", "events", "buses", "kill9"]
    if "hostile" in sections:
        out["hostile"] = hostile(tree, args.seconds)
    if "hog" in sections:
        out["hog"] = [hog(tree, args.seconds, n) for n in args.hogs]
    if "memory" in sections:
        out["memory"] = memory(tree)
    if "events" in sections:
        out["events"] = events(tree)
    if "buses" in sections:
        out["buses"] = buses(tree, args.timeout)
    if "kill9" in sections:
        out["kill9"] = kill9(tree)
    return out


def report(name: str, r: dict) -> None:
    print(f"== {name}")
    if "hostile" in r:
        h = r["hostile"]
        print(f"  hostile frames: ping (another client) median {h['median_ms']:.1f} ms, p99 {h['p99_ms']:.1f} ms, "
              f"max {h['max_ms']:.1f} ms over {h['pings']} pings ({h['lost']} unanswered within 2 s); xruns {h['xruns']}")
    for hg in r.get("hog", []):
        print(f"  {hg['hogs']} CPU hog(s), {hg['seconds']:.0f} s: {hg['xruns']} xruns (render thread: {hg['priority']})")
    if "memory" in r:
        m = r["memory"]
        print(f"  {m['file_mib']:.0f} MiB WAV ({m['decoded_mib']:.0f} MiB decoded): validate peaks at "
              f"{m['peak_mib']:.0f} MiB, {m['peak_above_baseline_mib']:.0f} MiB above the same process without audio")
    if "events" in r:
        print(f"  20,000 events that play nothing: {r['events']}")
    if "buses" in r:
        print(f"  4,096 buses, load + render 1 s: {r['buses']}")
    if "kill9" in r:
        k = r["kill9"]
        print(f"  kill -9 after 3 s of --output WAV: {k['file_bytes']:,} bytes, readable {k['readable']}, "
              f"{k['seconds_read']:.2f} s of audio as read back")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the hostile and hog runs")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds before the 4,096-bus run is killed")
    ap.add_argument("--only", nargs="+", choices=["hostile", "hog", "memory", "events", "buses", "kill9"])
    ap.add_argument("--baseline-ref", default="974ec1e")
    ap.add_argument("--hogs", type=int, nargs="+", default=[0, 1, 2], help="CPU hogs beside the server, one run each")
    ap.add_argument("--device", action="store_true",
                    help="serve to PortAudio playing into a private PulseAudio null sink (tests/pulse.py), not the "
                         "null output")
    ap.add_argument("--device-buffer", type=int, metavar="FRAMES",
                    help="the server's --device-buffer (default its own, 1,024): 256 leaves one block of slack, "
                         "so scheduling delays show as xruns sooner")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if args.device_buffer:
        OUTPUT.extend(["--device-buffer", str(args.device_buffer)])
    with contextlib.ExitStack() as stack:
        if args.device:
            sys.path.insert(0, str(REPO / "tests"))
            from pulse import pulse_null_sink
            stack.enter_context(pulse_null_sink("gamemix_bench"))
            OUTPUT[:2] = ["--output", "device", "--device", "pulse"]
        return run(args)


def run(args) -> int:
    results = {"now": measure(REPO, args)}
    report("this tree", results["now"])
    if args.baseline_ref:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "tree"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.baseline_ref],
                           check=True, capture_output=True)
            try:
                results["baseline"] = measure(tree, args)
            finally:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
        report(args.baseline_ref, results["baseline"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
