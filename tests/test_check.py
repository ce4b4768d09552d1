"""`gamemix check`: re-rendered recordings judged against the scene's targets, serially, on a process
pool and on a real Dask LocalCluster (2 worker processes on loopback), with a worker killed mid-run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import yaml

from conftest import SR, sine
from gamemix.offline import check as mixcheck
from gamemix.scene.load import load_scene

RECORDINGS = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A scene with a loudness target and a limiter, and 20 short recordings that differ (pitch,
    start, level) plus two that break a target."""
    root = tmp_path_factory.mktemp("check")
    rng = np.random.default_rng(3)
    sf.write(root / "tone.wav", sine(440, 1.0, 0.1), SR, subtype="FLOAT")
    sf.write(root / "noise.wav", (0.05 * rng.standard_normal(SR)).astype(np.float32), SR, subtype="FLOAT")
    scene = {"version": 1, "output": {"sample_rate": SR, "block_size": 256},
             "buses": {"master": {"loudness": {"target_lufs": -20, "max_boost_db": 12, "max_cut_db": 12,
                                               "boost_db_per_s": 12, "cut_db_per_s": 12},
                                  "limiter": {"ceiling_dbtp": -1.0}},
                       "music": {}},
             "sounds": {"tone": {"files": ["tone.wav"], "loop": True, "bus": "music"},
                        "noise": {"files": ["noise.wav"], "loop": True}}}
    (root / "scene.yaml").write_text(yaml.safe_dump(scene, sort_keys=False))
    recs = root / "recordings"
    recs.mkdir()
    paths = []
    for i in range(RECORDINGS):
        messages = [{"block": int(rng.integers(0, 20)), "type": "play", "sound": "tone", "id": 1,
                     "pitch_semitones": float(rng.uniform(-5, 5))},
                    {"block": int(rng.integers(20, 60)), "type": "play", "sound": "noise", "id": 2,
                     "volume_db": float(rng.uniform(-12, 0))}]
        path = recs / f"session{i:02}.yaml"
        path.write_text(yaml.safe_dump({"version": 1, "seed": i, "duration": 10.0, "messages": messages}))
        paths.append(path)
    refused = recs / "refused.yaml"           # stops an instance that never played, at 1.0 s
    refused.write_text(yaml.safe_dump({"version": 1, "duration": 10.0, "messages": [
        {"at": 0.0, "type": "play", "sound": "tone", "id": 1}, {"at": 1.0, "type": "stop", "id": 99}]}))
    quiet = recs / "quiet.yaml"                # 40 dB under: the loudness target cannot be met
    quiet.write_text(yaml.safe_dump({"version": 1, "duration": 6.0, "messages": [
        {"at": 0.0, "type": "play", "sound": "tone", "id": 1, "volume_db": -40.0}]}))
    return root, paths, refused, quiet


@pytest.fixture(scope="module")
def serial(corpus):
    root, paths, _, _ = corpus
    job = mixcheck.read_job(root / "scene.yaml", paths)
    targets = mixcheck.scene_targets(load_scene(root / "scene.yaml"))
    return job, targets, mixcheck.check(job, targets, mixcheck.run_serial(job))


def test_serial_renders_are_measured_and_hashed(corpus, serial):
    """Each render's hash is the sha256 of what `gamemix render` writes for that recording, and its
    master loudness is what pyloudnorm measures of that file (BS.1770-4 both)."""
    root, paths, _, _ = corpus
    _, _, run = serial
    assert len(run["recordings"]) == RECORDINGS and run["passed"], mixcheck.table(run)
    assert len({row["sha256"] for row in run["recordings"].values()}) == RECORDINGS
    out = root / "one.wav"
    done = subprocess.run([sys.executable, "-m", "gamemix", "render", str(root / "scene.yaml"), "--script",
                           str(paths[3]), "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    row = run["recordings"][paths[3].name]
    assert row["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    audio, rate = sf.read(out)
    expected = pyloudnorm.Meter(rate).integrated_loudness(audio)
    assert abs(row["figures"]["buses"]["master"]["integrated_lufs"] - expected) < 0.3


def test_process_pool_gives_the_serial_results(corpus, serial):
    job, targets, run = serial
    pooled = mixcheck.check(job, targets, mixcheck.run_pool(job, 2))
    assert _digest(pooled) == _digest(run)


def _digest(run: dict) -> dict:
    """What must not depend on where a render ran: the hash and every figure, per recording."""
    return {name: (row["sha256"], json.dumps(row["figures"], sort_keys=True))
            for name, row in run["recordings"].items()}


def test_local_cluster_matches_serial_even_when_a_worker_dies(serial):
    """Two worker processes on loopback render the 20 recordings; one is killed (SIGKILL) after the
    first result comes back; every result arrives, the same bytes and figures as the serial run."""
    from gamemix.offline.check_cluster import connect, run_cluster
    job, targets, run = serial
    client = connect("local:2")
    try:
        assert mixcheck.check(job, targets, run_cluster(job, client))["recordings"].keys() == run["recordings"].keys()
        clean = mixcheck.check(job, targets, run_cluster(job, client))
        assert _digest(clean) == _digest(run)
        pids = list(client.run(os.getpid).values())
        assert len(pids) == 2
        results = run_cluster(job, client)
        first = next(results)
        os.kill(pids[0], signal.SIGKILL)
        survived = mixcheck.check(job, targets, [first, *results])
        assert _digest(survived) == _digest(run)
        workers_used = {row.get("worker_pid") for row in survived["recordings"].values()}
        assert len(workers_used) >= 2                           # a restarted worker, or the other one, took over
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def test_violations_fail_the_run_and_say_where(corpus, tmp_path):
    """A refused command and a missed loudness target: exit code 1; the table and the JUnit XML name
    the recording, the figure and (for the refusal) the time in it."""
    root, paths, refused, quiet = corpus
    junit, report = tmp_path / "check.xml", tmp_path / "check.json"
    done = subprocess.run([sys.executable, "-m", "gamemix", "check", str(paths[0]), str(refused), str(quiet),
                           "--scene", str(root / "scene.yaml"), "--workers", "2", "--junit", str(junit),
                           "--json", str(report)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL refused.yaml: refused commands: refused = 1" in done.stdout and "at 1.00 s" in done.stdout
    assert "FAIL quiet.yaml: master loudness: buses.master.integrated_lufs" in done.stdout
    assert "1 of 3 recordings passed" in done.stdout
    suite = ET.parse(junit).getroot()
    failed = {(c.get("classname"), c.get("name")) for c in suite if c.find("failure") is not None}
    assert failed == {("refused.yaml", "refused commands"), ("quiet.yaml", "master loudness")}
    assert int(suite.get("failures")) == 2
    data = json.loads(report.read_text())
    assert data["passed"] is False and data["recordings"][paths[0].name]["passed"] is True


def test_baseline_flags_a_regression_after_a_scene_edit(corpus, tmp_path):
    """Accept a run, lower the loudness target by 3 LU (still met, with the tolerance widened), and
    the next run is judged against the accepted figures: a 3 LU move is a regression."""
    root, paths, _, _ = corpus
    baseline = tmp_path / "accepted"
    args = [sys.executable, "-m", "gamemix", "check", str(paths[1]), "--workers", "1", "--baseline", str(baseline)]
    first = subprocess.run(args + ["--scene", str(root / "scene.yaml"), "--accept"], capture_output=True, text=True)
    assert first.returncode == 0 and (baseline / "check.json").exists(), first.stdout + first.stderr
    edited = tmp_path / "edited"
    edited.mkdir()
    for name in ("tone.wav", "noise.wav"):
        (edited / name).write_bytes((root / name).read_bytes())
    doc = yaml.safe_load((root / "scene.yaml").read_text())
    doc["buses"]["master"]["loudness"]["target_lufs"] = -23
    (edited / "scene.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    second = subprocess.run(args + ["--scene", str(edited / "scene.yaml")], capture_output=True, text=True)
    assert second.returncode == 1, second.stdout
    assert "REGRESSION session01.yaml: buses.master.integrated_lufs" in second.stdout


def test_a_scheduler_and_worker_started_with_dasks_own_commands(corpus, serial, tmp_path):
    """What docs/mix-ci.md tells a studio to run: `dask scheduler` and `dask worker` (real processes
    on loopback), then `gamemix check --cluster tcp://...`; the JSON's hashes equal the serial run's."""
    import time
    root, paths, _, _ = corpus
    _, _, run = serial
    bin_dir = os.path.dirname(sys.executable)
    info = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen([os.path.join(bin_dir, "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--scheduler-file", str(info), *common],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen([os.path.join(bin_dir, "dask"), "worker", address, "--nworkers", "1",
                                   "--nthreads", "1", *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        report = tmp_path / "check.json"
        done = subprocess.run([sys.executable, "-m", "gamemix", "check", *map(str, paths[:4]), "--scene",
                               str(root / "scene.yaml"), "--cluster", address, "--json", str(report)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        got = json.loads(report.read_text())["recordings"]
        assert {n: r["sha256"] for n, r in got.items()} == {p.name: run["recordings"][p.name]["sha256"] for p in paths[:4]}
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
