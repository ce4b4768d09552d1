"""Scene reloads in the live server: `load_scene` commands and `--watch`.

The new scene is read, validated and its audio decoded on the network thread,
into a new Mixer; the render thread swaps it in at its next block start
(`take`), and the new mixer adopts the old one's state (control/reload.py).
A file that fails to load leaves the running scene untouched; the error is
answered (`load_scene`) or published (`--watch`, a `reload` frame).

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

    def __init__(self, path: Path, seed: int, output, stats):
        self.path = Path(path)
        self.seed = seed
        self.output = output                 # the running scene's `output` section (fixed for the session)
        self.stats = stats
        self.pending: Mixer | None = None
        self._mtime = self.path.stat().st_mtime

    def load(self, file: str | None, rid) -> bytes:
        """Load a scene file inside the current scene's folder; returns the reply frame."""
        try:
            path = self.path if file is None else safe_path(self.path.parent, file)
            new = Mixer(load_scene(path), seed=self.seed)
        except LocatedError as exc:
            self.stats.reload_errors.append(str(exc))
            return wire.error(rid, "bad_scene", str(exc))
        except ValueError as exc:
            return wire.error(rid, "bad_path", str(exc), "file")
        old, now = self.output, new.scene.output
        if (old.sample_rate, old.block_size, old.channels) != (now.sample_rate, now.block_size, now.channels):
            message = (f"{path.name}: a reload cannot change output.sample_rate, block_size or channels "
                       f"(running {old.sample_rate} Hz, {old.block_size} frames, {old.channels}); restart the server")
            self.stats.reload_errors.append(message)
            return wire.error(rid, "bad_scene", message)
        self.pending = new
        self.path = path
        self.stats.reloads += 1
        return wire.ok(rid, {"scene": str(path.name), "sounds": len(new.scene.sounds)})

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
