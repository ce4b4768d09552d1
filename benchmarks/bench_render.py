"""Offline render speed: the bundled showcase rendered by this tree and by a baseline commit, interleaved.

What `gamemix render` does for the showcase (its 40 s script, seed 7, the WAV, one post-fader stem
per bus and the JSON report) is timed two ways, each tree in turn, --runs times:

- `render()`: in a fresh process that has loaded the kernels (`gamemix warmup`'s one block), one
  call of `gamemix.offline.render.render` with the scene and script paths, as `cmd_render` makes it
  (YAML, decoding, the render loop, the files): wall and CPU time (`time.process_time`);
- `CLI` (with --cli): the whole `python -m gamemix render ...` process, interpreter start, imports
  and the kernels' cache included: wall and CPU (the child's user + system time).

Prints the median of each, the real-time factor (40 s of audio / median time) and the ratio of the
two trees, then checks the outputs are identical: the sha256 of the WAV, of every stem and of the
report, for every run of both trees.  Both trees render this tree's showcase files.  The baseline is
checked out into a temporary `git worktree` (removed at the end); its first process compiles its
kernels if their cache folder is cold (about 40 s, not timed).

    .venv/bin/python benchmarks/bench_render.py [--runs 5] [--baseline-ref 79960c0] [--cli]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHOWCASE = REPO / "gamemix" / "showcase"
SEED = 7

# Runs inside the tree under test (cwd and sys.path[0]): warm the kernels, time one render, hash its files.
WORKER = r"""
import hashlib, json, sys, time
from pathlib import Path
scene, script, out = (Path(a) for a in sys.argv[1:4])
from gamemix.offline.warmup import warm_up
warm_up(scene)
from gamemix.offline.render import render
wall, cpu = time.perf_counter(), time.process_time()
report = render(scene, script, out / "mix.wav", seed=int(sys.argv[4]), stems_dir=out / "stems",
                report_path=out / "report.json")
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
files = sorted(p for p in out.rglob("*") if p.is_file())
print(json.dumps({"wall": wall, "cpu": cpu, "audio": report["duration_s"],
                  "sha256": {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}}))
"""


def render_once(tree: Path, out: Path) -> dict:
    """One worker process in `tree`: its timed render() of the showcase and its files' hashes.  The
    files (150 MB) are removed afterwards, so the runs do not pile up dirty pages for the next ones."""
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    try:
        done = subprocess.run([sys.executable, "-c", WORKER, str(SHOWCASE / "scene.yaml"),
                               str(SHOWCASE / "script.yaml"), str(out), str(SEED)],
                              cwd=tree, env=env, capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_once(tree: Path, out: Path) -> dict:
    """The whole `python -m gamemix render` process in `tree`: wall and CPU seconds."""
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "gamemix", "render", str(SHOWCASE / "scene.yaml"), "--script",
                        str(SHOWCASE / "script.yaml"), "--out", str(out / "mix.wav"), "--stems", str(out / "stems"),
                        "--report", str(out / "report.json"), "--seed", str(SEED)],
                       cwd=tree, env=env, capture_output=True, check=True)
        wall = time.perf_counter() - began
    finally:
        shutil.rmtree(out, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def summary(label: str, rows: list[dict], audio: float) -> dict:
    wall = statistics.median(r["wall"] for r in rows)
    cpu = statistics.median(r["cpu"] for r in rows)
    spread = f"{min(r['wall'] for r in rows):.3f}-{max(r['wall'] for r in rows):.3f}"
    print(f"  {label:34} wall {wall:6.3f} s (runs {spread})  cpu {cpu:6.3f} s  "
          f"{audio / wall:5.1f}x real time (wall)  {audio / cpu:5.1f}x (cpu)")
    return {"wall": wall, "cpu": cpu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed renders per tree (median kept)")
    ap.add_argument("--baseline-ref", default="79960c0", help="commit to compare against")
    ap.add_argument("--cli", action="store_true", help="also time the whole `gamemix render` process")
    ap.add_argument("--json", default=None, help="write every figure here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), args.baseline_ref],
                       check=True, capture_output=True)
        try:
            trees = {"this tree": REPO, args.baseline_ref: base}
            for name, tree in trees.items():      # load (or compile) each tree's kernels before timing
                print(f"warming {name} ...", flush=True)
                render_once(tree, Path(tempfile.mkdtemp(dir=tmp)))
            results = {name: {"render": [], "cli": []} for name in trees}
            for run in range(args.runs):
                for name, tree in trees.items():
                    results[name]["render"].append(render_once(tree, Path(tempfile.mkdtemp(dir=tmp))))
                    if args.cli:
                        results[name]["cli"].append(cli_once(tree, Path(tempfile.mkdtemp(dir=tmp))))
                print(f"run {run + 1}/{args.runs}: " + ", ".join(
                    f"{name} {results[name]['render'][-1]['wall']:.3f} s" for name in trees), flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], capture_output=True)
    audio = results["this tree"]["render"][0]["audio"]
    print(f"\nshowcase: {audio:.0f} s of audio, {args.runs} runs per tree, interleaved (medians)")
    figures = {}
    for kind in ("render", "cli") if args.cli else ("render",):
        label = "render() in a warm process" if kind == "render" else "`gamemix render` process"
        figures[kind] = {name: summary(f"{label}, {name}", results[name][kind], audio) for name in results}
        mine, theirs = figures[kind]["this tree"], figures[kind][args.baseline_ref]
        print(f"  {'':34} this tree / {args.baseline_ref}: wall {theirs['wall'] / mine['wall']:.2f}x faster, "
              f"cpu {theirs['cpu'] / mine['cpu']:.2f}x faster")
    hashes = [r["sha256"] for rows in results.values() for r in rows["render"]]
    same = all(h == hashes[0] for h in hashes)
    print(f"\noutputs ({len(hashes[0])} files: WAV, {len(hashes[0]) - 2} stems, report) identical across trees "
          f"and runs: {same}")
    if not same:
        for name, rows in results.items():
            for k, v in rows["render"][0]["sha256"].items():
                if v != hashes[0].get(k):
                    print(f"  differs: {name} {k}")
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": figures, "results": results, "identical": same}, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
