"""Control-side cost of one game frame with 10,000 sounds (real + virtual).

Workload (the priority/snapshot issue's target: median under 2 ms): a scene
with `max_instances` 10,000 and 256 real voices; 10,000 looping 3D sounds at
random positions in a 400 m square with random priorities; two snapshots
fading and a ducking rule active.  One game frame = one batched update of
1,000 emitters (the `emitters` message's path) + one control tick (parameter
glides, snapshot blend into bus targets, ducking, and the audibility ranking
of all 10,000 instances that decides which 256 are real).  The engine's
render of the block is measured separately, for context.

Baseline in the same run: the same frame with one `set_emitter` call per
emitter (the unbatched path), to show what batching buys.

    .venv/bin/python benchmarks/bench_control.py [--frames 300] [--instances 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
import soundfile
import yaml

from gamemix.control.mixer import Mixer
from gamemix.scene.load import load_scene


def build(root: Path, instances: int, voices: int) -> Mixer:
    """A scene with 8 looping clips on three buses, snapshots and a duck rule."""
    t = np.arange(48000) / 48000
    sounds = {}
    for k in range(8):
        soundfile.write(root / f"c{k}.wav", (0.2 * np.sin(2 * np.pi * (110 + 40 * k) * t)).astype(np.float32), 48000)
        sounds[f"s{k}"] = {"files": [f"c{k}.wav"], "loop": True, "bus": ["sfx", "ambience", "dialogue"][k % 3],
                           "priority": 16 * k, "spatial": {"min_distance": 1, "max_distance": 200}}
    scene = {
        "output": {"max_voices": voices, "max_instances": instances},
        "buses": {"master": {}, "sfx": {}, "ambience": {}, "dialogue": {}},
        "sounds": sounds,
        "snapshots": {"combat": {"fade_in": 5, "buses": {"ambience": {"volume_db": -12, "lowpass_hz": 2000}}},
                      "tense": {"mode": "blend", "fade_in": 5, "buses": {"sfx": {"volume_db": -3}}}},
        "ducking": [{"when": ["dialogue"], "duck": ["sfx", "ambience"], "depth_db": -9}],
    }
    (root / "scene.yaml").write_text(yaml.safe_dump(scene))
    return Mixer(load_scene(root / "scene.yaml"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--instances", type=int, default=10000)
    ap.add_argument("--voices", type=int, default=256)
    ap.add_argument("--updates", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        mixer = build(Path(tmp), args.instances, args.voices)
        for i in range(args.instances):
            mixer.play(f"s{i % 8}", i, position=tuple(rng.uniform(-200, 200, 3) * (1, 0.05, 1)))
        mixer.snapshot_start("combat")
        mixer.snapshot_start("tense")
        out = np.zeros((mixer.block_size, 2), np.float32)
        mixer.render(out)   # warm-up: JIT and first ranking
        batched, single, ticks, renders = [], [], [], []
        for f in range(args.frames):
            ids = rng.choice(args.instances, args.updates, replace=False)
            pos = rng.uniform(-200, 200, (args.updates, 3))
            t0 = time.perf_counter()
            mixer.set_emitters(ids, pos)
            t1 = time.perf_counter()
            mixer.tick()
            t2 = time.perf_counter()
            mixer.engine.render(out)
            mixer._reap()
            mixer.block_index += 1
            t3 = time.perf_counter()
            for i, p in zip(ids[:100], pos[:100]):      # the unbatched path, on a tenth of the updates
                mixer.set_emitter(int(i), p)
            t4 = time.perf_counter()
            batched.append(t1 - t0)
            ticks.append(t2 - t1)
            renders.append(t3 - t2)
            single.append((t4 - t3) * args.updates / 100)
        ms = lambda xs: statistics.median(xs) * 1e3
        frame = [a + b for a, b in zip(batched, ticks)]
        print(f"control frame, {args.instances} instances ({mixer.active_voices()} real, "
              f"{mixer.virtual_voices()} virtual), {args.updates} emitter updates; median of {args.frames} frames")
        print(f"{'part':<42}{'median ms':>10}{'p95 ms':>9}")
        for name, xs in [("emitters message (batched, vectorised)", batched),
                         ("tick: glides, snapshots, ducking, ranking", ticks),
                         ("= control frame", frame),
                         ("baseline: 1 set_emitter call per emitter", single),
                         ("engine render of the block (context)", renders)]:
            print(f"{name:<42}{ms(xs):>10.3f}{np.percentile(xs, 95) * 1e3:>9.3f}")
        print(f"target: control frame median < 2 ms -> {'met' if ms(frame) < 2 else 'MISSED'}")
        s = mixer.stats
        print(f"voices: peak real {s.peak_real}, peak virtual {s.peak_virtual}, "
              f"{s.virtualizations} virtualizations, {s.devirtualizations} devirtualizations")


if __name__ == "__main__":
    main()
