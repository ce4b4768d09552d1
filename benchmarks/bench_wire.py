"""Decoding frames on the server's network thread: the current wire against an earlier commit's, same run.

Frames (msgpack, as a game sends them): a 256-emitter `emitters` batch (what a
game sends every frame), a single `emitter` pose, a `play`, a `ping`; and
hostile ones that are refused: a 65,536-item batch whose positions are all
NaN, a `ping` with 380,000 unknown keys, a `play` with a wrong-typed field.
Each is decoded --repeat times (refused ones fewer); the median is kept.  For
`emitters` the time includes what the mixer does first with the message, turning
its positions into a float64 array (the old fast path returned one already).

The baseline is the same frames through `wire.decode` of another commit
(default 974ec1e, the pydantic models with hand-written fast paths for
`emitter` and `emitters`), checked out into a temporary git worktree and run
in a subprocess with this interpreter, right after the current code.

    .venv/bin/python benchmarks/bench_wire.py [--baseline-ref 974ec1e] [--repeat 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def frames() -> dict[str, tuple[bytes, bool]]:
    """name -> (frame, accepted?)."""
    import msgpack
    pack = lambda d: msgpack.packb({"v": 1, **d}, use_bin_type=True)      # noqa: E731
    positions = [[math.sin(k) * 40.0, 1.5, math.cos(k) * 40.0] for k in range(256)]
    return {
        "emitters x256": (pack({"type": "emitters", "ids": list(range(256)), "positions": positions}), True),
        "emitter": (pack({"type": "emitter", "id": 7, "position": [1.5, 0.0, -2.0]}), True),
        "play": (pack({"type": "play", "sound": "gunshot", "position": [3.0, 0.0, -2.0], "rid": 12}), True),
        "ping": (pack({"type": "ping", "rid": 1}), True),
        "bad: emitters x65536 NaN": (pack({"type": "emitters", "ids": list(range(65536)),
                                           "positions": [[float("nan"), 0.0, 0.0]] * 65536}), False),
        "bad: ping + 380k keys": (pack({"type": "ping", **{f"{i:x}": 0 for i in range(380_000)}}), False),
        "bad: play volume_db str": (pack({"type": "play", "sound": "gunshot", "volume_db": "3"}), False),
    }


def measure(repeat: int) -> dict[str, float]:
    """Median microseconds per decode of every frame, with whichever gamemix is on sys.path."""
    try:
        from gamemix.protocol import wire
    except ImportError:           # before the tree was split into packages
        from gamemix import wire
    import numpy as np
    out = {}
    for name, (frame, accepted) in frames().items():
        assert len(frame) <= wire.MAX_FRAME_BYTES, (name, len(frame))
        n = repeat if accepted else max(5, repeat // 200)
        times = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            try:
                message, _ = wire.decode(frame)
                if name.startswith("emitters"):
                    np.asarray(message.positions, dtype=np.float64)
                ok = True
            except wire.WireError:
                ok = False
            times.append(time.perf_counter_ns() - t0)
            assert ok == accepted, (name, ok)
        out[name] = statistics.median(times) / 1e3
    return out


def baseline(ref: str, repeat: int) -> dict[str, float]:
    """The same measurement at git commit `ref`, in a temporary worktree."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), ref], check=True,
                       capture_output=True)
        try:
            code = (f"import sys, json; sys.path.insert(0, {str(tree)!r}); sys.path.insert(1, {str(HERE)!r}); "
                    f"import bench_wire; print(json.dumps(bench_wire.measure({repeat})))")
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    cwd=tmp)
            return json.loads(result.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-ref", default="974ec1e", help="commit whose wire.decode is the baseline")
    ap.add_argument("--repeat", type=int, default=2000)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    now = measure(args.repeat)
    before = baseline(args.baseline_ref, args.repeat) if args.baseline_ref else {}
    print(f"wire.decode, median us per frame ({args.repeat} decodes of accepted frames, fewer of refused)")
    print(f"  {'frame':<28} {'now':>10} {args.baseline_ref or '':>10} {'ratio':>7}")
    for name, us in now.items():
        old = before.get(name)
        ratio = f"{us / old:7.2f}" if old else ""
        print(f"  {name:<28} {us:10.2f} {old if old is not None else float('nan'):10.2f} {ratio}")
    if args.json:
        Path(args.json).write_text(json.dumps({"now": now, "baseline": before, "ref": args.baseline_ref}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
