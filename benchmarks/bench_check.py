"""Mix CI throughput: renders per minute serially, on a 2-process pool and on a 2-worker Dask LocalCluster.

Two workloads, each run through the three executors in the same run:

- `showcase`: --renders copies of the showcase's 40 s script (seeds differ), the real cost of a check;
- `tiny`: --tiny recordings of 0.25 s, where the render is negligible and what is measured is the
  executor's own cost per task (pickling, scheduling, the scene found on the worker).

    .venv/bin/python benchmarks/bench_check.py [--renders 6] [--tiny 40]

Figures: renders per minute (wall, from the first submission to the last result), the scaling of
2 workers over 1, and the overhead per task of the cluster against the pool (tiny workload). The
cluster's start-up (worker processes importing gamemix and loading its kernels) is timed apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gamemix.offline import check as mixcheck  # noqa: E402
from gamemix.offline.check_cluster import connect, run_cluster  # noqa: E402

SHOWCASE = ROOT / "gamemix" / "showcase"


def recordings(folder: Path, n: int, tiny: bool) -> list[Path]:
    script = yaml.safe_load((SHOWCASE / "script.yaml").read_text())
    out = []
    for i in range(n):
        doc = dict(script, seed=i)
        if tiny:
            doc = {"version": 1, "seed": i, "duration": 0.25,
                   "messages": [{"at": 0.0, "type": "event", "name": "explore_start"}]}
        path = folder / f"{'tiny' if tiny else 'show'}{i:03}.yaml"
        path.write_text(yaml.safe_dump(doc))
        out.append(path)
    return out


def timed(results) -> tuple[float, list[dict]]:
    began = time.perf_counter()
    rows = list(results)
    return time.perf_counter() - began, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--renders", type=int, default=6)
    ap.add_argument("--tiny", type=int, default=40)
    args = ap.parse_args()
    scene = SHOWCASE / "scene.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        client = connect("local:2")
        list(client.run(lambda: __import__("gamemix.offline.render")).values())
        startup = time.perf_counter() - began
        print(f"LocalCluster of 2 workers up in {startup:.1f} s")
        try:
            for label, tiny, n in (("showcase 40 s", False, args.renders), ("tiny 0.25 s", True, args.tiny)):
                job = mixcheck.read_job(scene, recordings(folder, n, tiny))
                serial_s, serial = timed(mixcheck.run_serial(job))
                pool_s, pooled = timed(mixcheck.run_pool(job, 2))
                cluster_s, clustered = timed(run_cluster(job, client))
                same = ({r["recording"]: r["sha256"] for r in serial} == {r["recording"]: r["sha256"] for r in pooled}
                        == {r["recording"]: r["sha256"] for r in clustered})
                audio = sum(r["seconds"] for r in serial)
                print(f"\n{label}: {n} renders, {audio:.0f} s of audio; hashes equal across executors: {same}")
                for name, wall in (("serial (1 process)", serial_s), ("process pool, 2 workers", pool_s),
                                   ("LocalCluster, 2 workers", cluster_s)):
                    print(f"  {name:26} {wall:7.2f} s  {60 * n / wall:8.1f} renders/min  "
                          f"{audio / wall:6.1f}x real time")
                print(f"  scaling 2 workers / 1: pool {serial_s / pool_s:.2f}x, cluster {serial_s / cluster_s:.2f}x")
                if tiny:
                    render_each = sum(r["render_s"] for r in serial) / n
                    print(f"  per task: render {1000 * render_each:.1f} ms; wall per task with 2 workers: pool "
                          f"{1000 * pool_s / n:.1f} ms, cluster {1000 * cluster_s / n:.1f} ms "
                          f"(cluster overhead over the pool {1000 * (cluster_s - pool_s) / n:+.1f} ms a task)")
        finally:
            cluster = client.cluster
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
