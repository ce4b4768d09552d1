"""Scene reloads in the live server: `load_scene` commands and `--watch`.

The new scene is read, validated and its audio decoded on the network thread,
into a new Mixer; the render thread swaps it in at its next block start
(`take`), and the new mixer adopts the old one's state (control/reload.py).
A file that fails to load leaves the running scene untouched; the error is
answered (`load_scene`) or published (`--watch`, a `reload` frame), and the
last few are kept in the server's stats.  Whatever goes wrong while loading
(a located problem, or an exception no check foresaw) is such a failure,
never the end of the network thread.

Edge.
"""

from __future__ import annotations

from pathlib import Path

from gamemix.control.mixer import Mixer
from gamemix.errors import LocatedError
from gamemix.protocol import wire
from gamemix.scene.load import load_scene
from gamemix.scene.paths import safe_path


class SceneReloader:
    """Loads scene files inside the running scene's folder and hands the result to the render thread."""

    def __init__(self, path: Path, seed: int, output, stats, faults=None, layout: str | None = None):
        self.path = Path(path)
        self.seed = seed
        self.layout = layout                 # the session's --layout, which reloaded scenes keep
        self.output = output                 # the running scene's `output` section (fixed for the session)
        self.stats = stats
        self.faults = faults
        self.pending: Mixer | None = None
        self._mtime = self.path.stat().st_mtime

    def load(self, file: str | None, rid) -> bytes:
        """Load a scene file inside the current scene's folder; returns the reply frame."""
        try:
            path = self.path if file is None else safe_path(self.path.parent, file)
        except ValueError as exc:
            return wire.error(rid, "bad_path", str(exc), "file")
        try:
            new = Mixer(load_scene(path, layout=self.layout), seed=self.seed)
        except LocatedError as exc:
            return self._failed(rid, str(exc))
        except Exception as exc:                 # nothing a file holds may end the thread
            if self.faults is not None:
                self.faults.record("reload", exc)
            return self._failed(rid, f"{path.name}: cannot be loaded: {type(exc).__name__}: {exc}")
        old, now = self.output, new.scene.output
        if (old.sample_rate, old.block_size, old.channels) != (now.sample_rate, now.block_size, now.channels):
            return self._failed(rid, f"{path.name}: a reload cannot change output.sample_rate, block_size or "
                                     f"channels (running {old.sample_rate} Hz, {old.block_size} frames, "
                                     f"{old.channels}); restart the server")
        self.pending = new
        self.path = path
        self.stats.reloads += 1
        return wire.ok(rid, {"scene": str(path.name), "sounds": len(new.scene.sounds)})

    def _failed(self, rid, message: str) -> bytes:
        self.stats.reload_failures += 1
        self.stats.reload_errors.append(message[:4000])
        return wire.error(rid, "bad_scene", message)

    def check_file(self) -> bytes | None:
        """With --watch: reload if the scene file changed; returns the `reload` frame to publish, or None."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return None
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        reply = wire.decode_map(self.load(None, None))
        return wire.encode({"type": "reload", "ok": reply["ok"], "error": reply.get("error")})

    def take(self) -> Mixer | None:
        """The render thread's side: the mixer loaded since the last call, if any."""
        new, self.pending = self.pending, None
        return new
