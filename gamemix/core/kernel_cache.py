"""Where the compiled kernels are cached: a folder per version of the kernels' sources.

Numba's on-disk cache (`cache=True`) checks only the source file of the
function it compiled.  `engine.render_block` inlines kernels from a dozen
other files (voice_loop.py, dsp/, the array layout's constants), so an edit
there, or an upgrade of gamemix that leaves engine.py alone, would load a
stale compiled block: the audio would silently follow the old code.  So the
cache lives in a folder named after a hash of every source file the kernels
come from (all of core/, and control/voices.py); any change to them starts
a new folder and a fresh compile.

The folder is under $NUMBA_CACHE_DIR if set, else $XDG_CACHE_HOME/gamemix
(~/.cache/gamemix), in `kernels-<hash>`.  Set before any kernel is defined
(gamemix/core/__init__.py calls `configure`).

Edge of the hot path: runs once at import.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
SOURCES = ("core", "control/voices.py")


def sources_hash() -> str:
    """A short hash of the kernels' source files (their paths and contents)."""
    digest = hashlib.sha256()
    files = []
    for part in SOURCES:
        path = PACKAGE / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(PACKAGE)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """The folder for this version of the kernels."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "gamemix")
    return Path(base) / f"kernels-{sources_hash()}"


def configure() -> None:
    """Point Numba's cache at `cache_dir()` (before any `cache=True` function is defined)."""
    from numba.core import config
    config.CACHE_DIR = str(cache_dir())


class CompileProgress:
    """Reports each of gamemix's kernels as Numba compiles it (a first run on a machine, or after an
    upgrade): `report(name, done, total, elapsed_s)` after each one, so a cold start is never a
    silent half-minute.  Numba's `numba:compile` events (numba.core.event); kernels loaded from the
    cache send none, so a warm start reports nothing.  `total` is the number of gamemix kernels
    defined; a scene compiles most of them (nested ones as part of their caller)."""

    def __init__(self, report):
        self.report = report
        self.done: set[str] = set()
        self.started = 0.0

    def _name(self, data) -> str | None:
        dispatcher = data.get("dispatcher") if isinstance(data, dict) else None
        func = getattr(dispatcher, "py_func", None)
        module = getattr(func, "__module__", "") or ""
        return f"{module}.{func.__qualname__}" if module.startswith("gamemix") else None

    def notify(self, ev) -> None:
        name = self._name(ev.data)
        if name is None:
            return
        if ev.is_start:
            self.started = self.started or time.monotonic()
        elif name not in self.done:
            self.done.add(name)
            self.report(name, len(self.done), max(len(self.done), kernel_count()), time.monotonic() - self.started)

    def __enter__(self) -> "CompileProgress":
        from numba.core import event
        self._listener = _forwarding_listener(self.notify)
        event.register("numba:compile", self._listener)
        return self

    def __exit__(self, *exc) -> None:
        from numba.core import event
        event.unregister("numba:compile", self._listener)


def _forwarding_listener(callback):
    """A numba event listener that hands every start and end event to `callback`."""
    from numba.core import event

    class Forward(event.Listener):
        def on_start(self, ev):
            callback(ev)

        def on_end(self, ev):
            callback(ev)
    return Forward()


def kernel_count() -> int:
    """How many jitted functions gamemix defines (those imported so far)."""
    from numba.core.registry import CPUDispatcher
    seen = set()
    for name, module in list(sys.modules.items()):
        if name.startswith("gamemix") and module is not None:
            seen.update(id(v) for v in vars(module).values() if isinstance(v, CPUDispatcher))
    return len(seen)
