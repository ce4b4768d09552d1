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
