"""`gamemix check`: re-render recorded sessions through a scene and hold each against its targets.

A studio's mix CI: testers record their sessions (`serve --record`); after a
scene edit every recording is rendered again (deterministic: the same scene,
recording and seed give the same bytes) and measured:

* **targets the scene declares**: each bus with a `loudness` target lands
  within `loudness_tolerance_lu` of it (integrated, BS.1770-4); the master's
  true peak stays under its limiter's ceiling (else the output ceiling); each
  line on a bus with an `intelligibility` rule keeps its `margin_lu` over its
  worst 3 s; no command of the recording was refused;
* **the last accepted run** (`--baseline DIR`): every figure compared, a move
  the wrong way beyond `regression_tolerance` is a regression.

The work is one task per recording (`measure`), run serially, on a local
process pool (the default, one worker per core) or on a Dask distributed
cluster (check_cluster.py).  Each result carries the rendered mix's sha256,
so a distributed run can be compared with a serial one byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

LOUDNESS_TOLERANCE_LU = 1.0     # integrated loudness of a managed bus: within this of its target
PEAK_TOLERANCE_DB = 0.1         # the true-peak meter's own uncertainty over the ceiling (4x oversampling)
REGRESSION_TOLERANCE = 0.5      # dB or LU a figure may move the wrong way from the baseline


@dataclass(frozen=True)
class Target:
    """One thing a render must meet: `figure` (a path in the figures, e.g. 'buses.master.integrated_lufs'),
    compared `op` ('<=', '>=', 'within') with `limit` (and `tolerance` for 'within'); `why` for people."""

    name: str
    figure: str
    op: str
    limit: float
    tolerance: float = 0.0
    why: str = ""


def scene_targets(scene, loudness_tolerance_lu: float = LOUDNESS_TOLERANCE_LU) -> list[Target]:
    """The targets a scene declares (its loudness targets, its ceiling, its intelligibility rules)."""
    out: list[Target] = []
    limiter_ceiling = None
    for name, bus in scene.buses.items():
        if bus.loudness is not None:
            out.append(Target(f"{name} loudness", f"buses.{name}.integrated_lufs", "within",
                              bus.loudness.target_lufs, loudness_tolerance_lu,
                              f"bus {name}'s loudness target is {bus.loudness.target_lufs:g} LUFS"))
        if getattr(bus, "limiter", None) is not None and name == "master":
            limiter_ceiling = bus.limiter.ceiling_dbtp
        if getattr(bus, "intelligibility", None) is not None:
            out.append(Target(f"{name} lines", f"lines.{name}.worst_3s_margin_lu", ">=",
                              bus.intelligibility.margin_lu, 0.0,
                              f"every line on {name} sits {bus.intelligibility.margin_lu:g} LU over the rest"))
    ceiling = limiter_ceiling if limiter_ceiling is not None else scene.output.ceiling_dbfs
    out.append(Target("true peak", "buses.master.true_peak_dbtp", "<=", ceiling + PEAK_TOLERANCE_DB, 0.0,
                      f"the master's ceiling is {ceiling:g} dBTP"))
    out.append(Target("refused commands", "refused", "<=", 0, 0.0, "every command of the recording was carried out"))
    return out


# ------------------------------------------------------------------ one task
def measure(scene_path: str, recording: bytes, name: str, seed: int | None = None) -> dict:
    """Render one recording through the scene (in a temporary folder) and return its figures.

    Runs in a worker process: everything it needs comes in as arguments, and what it returns is
    plain data.  `recording` is the recording's bytes (so it can travel to a remote worker)."""
    from gamemix.offline.render import render

    began = time.perf_counter()
    scene, bank = loaded(scene_path)
    with tempfile.TemporaryDirectory(prefix="gamemix-check-") as tmp:
        script = Path(tmp) / "recording.yaml"
        script.write_bytes(recording)
        mix = Path(tmp) / "mix.wav"
        report = render(scene, script, mix, seed=seed, bank=bank)
        digest = hashlib.sha256(mix.read_bytes()).hexdigest()
        peak_t = _peak_time(mix)
    return {"recording": name, "sha256": digest, "seconds": report["duration_s"],
            "render_s": round(time.perf_counter() - began, 3), "figures": figures(report, peak_t)}


_LOADED: dict[tuple[str, int], tuple] = {}     # per worker process: (scene file, mtime) -> (scene, bank)


def loaded(scene_path: str) -> tuple:
    """The scene and its decoded audio, loaded once per worker process and reused by its next tasks
    (decoding is most of a short render's cost).  A scene with `upload` sounds gets a fresh bank each
    time: an upload writes into it, and the next render must not hear it."""
    from gamemix.scene.assets import build_bank
    from gamemix.scene.load import load_scene
    key = (str(scene_path), Path(scene_path).stat().st_mtime_ns)
    if key not in _LOADED:
        scene = load_scene(scene_path)
        if any(s.upload is not None for s in scene.sounds.values()):
            return scene, None
        _LOADED.clear()
        _LOADED[key] = (scene, build_bank(scene))
    return _LOADED[key]


def _peak_time(path: Path) -> float:
    """When the mix's largest sample is (s): where a true-peak failure is to be heard."""
    import numpy as np
    import soundfile as sf
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return round(float(np.argmax(np.abs(audio).max(axis=1))) / rate, 3) if len(audio) else 0.0


def figures(report: dict, peak_time_s: float = 0.0) -> dict:
    """The figures a check compares, from a render's report: per bus (loudness, range, true peak),
    per protected bus its worst line, the voices, the refusals, each with when it happened."""
    buses = {}
    for name, r in report["loudness"].items():
        buses[name] = {"integrated_lufs": r.get("integrated_lufs"), "lra_lu": r.get("lra_lu"),
                       "true_peak_dbtp": r.get("true_peak_dbtp")}
    lines: dict[str, dict] = {}
    for line in report.get("lines", []):
        worst = line.get("worst_3s_margin_lu")
        if worst is None:
            continue
        kept = lines.get(line["bus"])
        if kept is None or worst < kept["worst_3s_margin_lu"]:
            lines[line["bus"]] = {"worst_3s_margin_lu": worst, "sound": line["sound"], "t": line["start"]}
    v = report["voices"]
    errors = report.get("errors", [])
    return {"buses": buses, "lines": lines, "peak_t": peak_time_s,
            "voices": {k: v[k] for k in ("plays", "steals", "virtualizations", "peak_real", "peak_virtual")},
            "refused": len(errors),
            "first_refusal": None if not errors else
            {"t": round(errors[0]["block"] * report["block_size"] / report["sample_rate"], 3),
             "code": errors[0]["code"], "message": errors[0]["message"]}}


# ------------------------------------------------------------------ judging
def lookup(figs: dict, path: str):
    """A figure by its dotted path, or None where the render has none."""
    node = figs
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def judge(result: dict, targets: list[Target]) -> list[dict]:
    """Each target's verdict for one render: passed, the value, the limit, and when (s) if it failed."""
    figs = result["figures"]
    out = []
    for t in targets:
        value = lookup(figs, t.figure)
        if value is None:                     # nothing to judge: no line spoken, a bus silent throughout
            ok = True
        elif t.op == "<=":
            ok = value <= t.limit
        elif t.op == ">=":
            ok = value >= t.limit
        else:
            ok = abs(value - t.limit) <= t.tolerance
        out.append({"target": t.name, "figure": t.figure, "value": value, "op": t.op, "limit": t.limit,
                    "tolerance": t.tolerance, "passed": bool(ok), "t": None if ok else _when(figs, t),
                    "why": t.why})
    return out


def _when(figs: dict, t: Target) -> float | None:
    """The time in the recording a failure points at."""
    if t.figure.startswith("lines."):
        return lookup(figs, t.figure.rsplit(".", 1)[0] + ".t")
    if t.figure.endswith("true_peak_dbtp"):
        return figs.get("peak_t")
    if t.figure == "refused":
        return (figs.get("first_refusal") or {}).get("t")
    return None                               # an integrated figure: the whole recording


# figures compared with the baseline, and which way is worse
WORSE_IF_HIGHER = ("true_peak_dbtp",)
WORSE_IF_LOWER = ("worst_3s_margin_lu",)


def regressions(result: dict, baseline: dict | None, tolerance: float = REGRESSION_TOLERANCE) -> list[dict]:
    """Figures that moved the wrong way beyond `tolerance` since the accepted run (and loudness that
    moved either way: a target that held may drift); a changed hash alone is not a regression."""
    if baseline is None:
        return []
    out = []
    for path, new in _leaves(result["figures"]):
        old = lookup(baseline["figures"], path)
        if not isinstance(new, (int, float)) or not isinstance(old, (int, float)) or path.endswith(".t"):
            continue
        leaf = path.rsplit(".", 1)[-1]
        if leaf in WORSE_IF_HIGHER:
            bad = new - old > tolerance
        elif leaf in WORSE_IF_LOWER:
            bad = old - new > tolerance
        elif leaf == "integrated_lufs":
            bad = abs(new - old) > tolerance
        elif leaf == "refused":
            bad = new > old
        else:
            continue
        if bad:
            out.append({"figure": path, "baseline": old, "value": new, "tolerance": tolerance})
    return out


def _leaves(node: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    for k, v in node.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _leaves(v, path + ".")
        else:
            yield path, v


# ------------------------------------------------------------------ running
@dataclass
class Job:
    """What the executors run: the scene (a local path) and the recordings (name, bytes)."""

    scene: Path
    recordings: list[tuple[str, bytes]]
    seed: int | None = None


def read_job(scene: str | os.PathLike, recordings: Iterable[str | os.PathLike], seed: int | None = None) -> Job:
    """The recordings are read once here: the same bytes go to every executor."""
    paths = [Path(r) for r in recordings]
    names = _unique_names(paths)
    return Job(Path(scene).resolve(), [(n, p.read_bytes()) for n, p in zip(names, paths)], seed)


def _unique_names(paths: list[Path]) -> list[str]:
    """A short name per recording: its file name, or more of its path where file names repeat."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in paths]


def run_serial(job: Job) -> Iterator[dict]:
    for name, data in job.recordings:
        yield measure(str(job.scene), data, name, job.seed)


def run_pool(job: Job, workers: int) -> Iterator[dict]:
    """A local process pool; results as they finish."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(measure, str(job.scene), data, name, job.seed) for name, data in job.recordings]
        for f in as_completed(futures):
            yield f.result()


@dataclass
class Progress:
    """Renders done, their rate and the time left, on one line that rewrites itself."""

    total: int
    write: Callable[[str], None]
    began: float = field(default_factory=time.monotonic)
    done: int = 0

    def step(self, result: dict) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.began
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        self.write(f"\r  [{self.done}/{self.total}] {rate * 60:6.1f} renders/min  ETA {eta:5.0f} s  "
                   f"{result['recording'][:40]:40}")
        if self.done == self.total:
            self.write("\n")


def check(job: Job, targets: list[Target], results: Iterable[dict], baseline: dict | None = None,
          tolerance: float = REGRESSION_TOLERANCE, progress: Progress | None = None) -> dict:
    """Judge each render as it arrives; the whole run as data (what the JSON file holds)."""
    rows = []
    for r in results:
        if progress is not None:
            progress.step(r)
        base = (baseline or {}).get("recordings", {}).get(r["recording"])
        verdicts = judge(r, targets)
        regress = regressions(r, base, tolerance)
        rows.append({**r, "verdicts": verdicts, "regressions": regress,
                     "passed": all(v["passed"] for v in verdicts) and not regress})
    order = {name: i for i, (name, _) in enumerate(job.recordings)}
    rows.sort(key=lambda row: order[row["recording"]])
    return {"scene": str(job.scene), "targets": [vars(t) for t in targets],
            "passed": all(row["passed"] for row in rows), "recordings": {row["recording"]: row for row in rows}}


# ------------------------------------------------------------------ what the user reads
def table(run: dict) -> str:
    """One line per recording, then one per failure: the recording, the figure, the value, the time."""
    lines = [f"{'recording':32} {'result':7} {'master LUFS':>11} {'true peak':>9} {'render':>7}  sha256"]
    failures = []
    for name, row in run["recordings"].items():
        master = row["figures"]["buses"].get("master", {})
        lufs, tp = master.get("integrated_lufs"), master.get("true_peak_dbtp")
        lines.append(f"{name[:32]:32} {'ok' if row['passed'] else 'FAIL':7} "
                     f"{'--' if lufs is None else f'{lufs:.1f}':>11} {'--' if tp is None else f'{tp:.1f}':>9} "
                     f"{row['render_s']:6.2f}s  {row['sha256'][:12]}")
        for v in row["verdicts"]:
            if not v["passed"]:
                failures.append(f"FAIL {name}: {v['target']}: {_verdict_text(v)}; {v['why']}")
        for g in row["regressions"]:
            failures.append(f"REGRESSION {name}: {g['figure']} {g['baseline']} -> {g['value']} "
                            f"(tolerance {g['tolerance']:g})")
    n = len(run["recordings"])
    bad = sum(not row["passed"] for row in run["recordings"].values())
    return "\n".join(lines + failures + [f"{n - bad} of {n} recordings passed"])


def _verdict_text(v: dict) -> str:
    """'figure = value (wanted op limit) at t s'."""
    wanted = f"{v['op']} {v['limit']:g}" + (f" ± {v['tolerance']:g}" if v["op"] == "within" else "")
    when = "" if v["t"] is None else f" at {v['t']:.2f} s"
    return f"{v['figure']} = {v['value']} (wanted {wanted}){when}"


def junit(run: dict) -> str:
    """JUnit XML: a test suite per check, a test case per recording and target (any CI shows it)."""
    from xml.sax.saxutils import quoteattr
    cases = []
    failures = 0
    for name, row in run["recordings"].items():
        for v in row["verdicts"]:
            body = ""
            if not v["passed"]:
                failures += 1
                body = f"<failure message={quoteattr(_verdict_text(v))}/>"
            cases.append(f'  <testcase classname={quoteattr(name)} name={quoteattr(v["target"])} '
                         f'time="{row["render_s"]}">{body}</testcase>')
        for g in row["regressions"]:
            failures += 1
            message = f"{g['figure']}: {g['baseline']} -> {g['value']}"
            cases.append(f'  <testcase classname={quoteattr(name)} name={quoteattr("regression " + g["figure"])}>'
                         f'<failure message={quoteattr(message)}/></testcase>')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="gamemix check" tests="{len(cases)}" '
            f'failures="{failures}">\n' + "\n".join(cases) + "\n</testsuite>\n")


def save(run: dict, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(run, indent=2) + "\n")
