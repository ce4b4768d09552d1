"""`gamemix check --cluster`: the same renders on a Dask distributed cluster.

`--cluster tcp://HOST:8786` connects to a scheduler a studio already runs
(`dask scheduler`, `dask worker tcp://HOST:8786 --nworkers N --nthreads 1`);
`--cluster local:N` starts a LocalCluster of N worker processes here.

The scene and its assets travel once per worker, not once per task: they
are packed into one blob named by its sha256 and scattered to every worker
(`Client.scatter(..., broadcast=True)`); each worker unpacks it once into a
folder of its own named by that hash, and every task of the run finds it
there.  The recordings travel with their tasks.  A task whose worker is
lost is run again elsewhere (`retries`); renders are deterministic, so the
retried result is the same bytes (each result's sha256 says so).  Results
stream back as they finish (`as_completed`).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator

from gamemix.offline.check import Job, measure

RETRIES = 3                      # a task whose worker dies is run again this many times at most
UNPACK_ROOT = "gamemix-check-scenes"


def scene_files(scene_path: Path) -> list[Path]:
    """The scene file and every file its sounds name, all inside the scene's folder."""
    from gamemix.scene.load import load_scene
    scene = load_scene(scene_path)
    folder = scene_path.parent
    files = {scene_path.resolve()}
    for sound in scene.sounds.values():
        for f in getattr(sound, "files", None) or []:
            files.add((folder / f).resolve())
    return sorted(files)


def pack_scene(scene_path: Path) -> tuple[str, bytes]:
    """(sha256, tar bytes) of the scene's files, paths relative to its folder: the same content gives
    the same hash (sorted entries, no times or owners)."""
    folder = scene_path.resolve().parent
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in scene_files(scene_path.resolve()):
            data = f.read_bytes()
            info = tarfile.TarInfo(str(f.relative_to(folder)))
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    return hashlib.sha256(blob).hexdigest(), blob


def unpacked(digest: str, blob: bytes, scene_name: str) -> str:
    """On a worker: the scene's folder for this hash, unpacked the first time a task needs it."""
    root = Path(tempfile.gettempdir()) / UNPACK_ROOT / digest
    done = root / ".unpacked"
    if not done.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{digest[:12]}-", dir=root.parent))
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(staging, filter="data")
        (staging / ".unpacked").write_text(digest)
        try:
            os.rename(staging, root)             # atomic: two tasks unpacking at once keep one copy
        except OSError:
            pass                                 # another task won the race; its copy is the same
    return str(root / scene_name)


def measure_packed(scene: tuple[str, bytes], scene_name: str, recording: bytes, name: str, seed) -> dict:
    """The task a worker runs: find (or unpack) the scene by its hash, then `measure`."""
    digest, blob = scene
    result = measure(unpacked(digest, blob, scene_name), recording, name, seed)
    result["worker_pid"] = os.getpid()
    return result


def connect(address: str):
    """A distributed Client: `local:N` starts a LocalCluster of N single-threaded worker processes;
    anything else is a scheduler address."""
    from distributed import Client, LocalCluster
    if address.startswith("local:"):
        n = int(address.split(":", 1)[1])
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1")
        return Client(cluster)
    return Client(address)


def run_cluster(job: Job, client) -> Iterator[dict]:
    """Every recording as a task on the cluster; results as they finish."""
    from distributed import as_completed
    digest, blob = pack_scene(job.scene)
    [scene] = client.scatter([(digest, blob)], broadcast=True, hash=False)
    futures = [client.submit(measure_packed, scene, job.scene.name, data, name, job.seed, key=f"render-{digest[:12]}-{i}",
                             retries=RETRIES, pure=False)
               for i, (name, data) in enumerate(job.recordings)]
    for future in as_completed(futures):
        yield future.result()
