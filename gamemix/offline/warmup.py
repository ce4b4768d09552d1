"""`gamemix warmup`: compile the mixer's kernels now, showing each one, instead of at a first play.

The kernels are Numba-compiled on a machine's first run (and after an
upgrade that changes them) and cached (core/kernel_cache.py).  That takes
about half a minute, which a first `serve`, `render` or `demo` would
otherwise spend silent.  One block of the bundled showcase compiles the
whole chain: its stages are one tuple of every registered stage, so the
compiled block serves every scene.  The README's set-up step runs this.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

SHOWCASE = Path(__file__).resolve().parent.parent / "showcase" / "scene.yaml"


def warm_up(scene: str | Path = SHOWCASE, report: Callable[[str, int, int, float], None] | None = None) -> float:
    """Render one block of `scene` (loading or compiling every kernel it needs); seconds taken."""
    import numpy as np

    from gamemix.control.mixer import Mixer
    from gamemix.core.kernel_cache import CompileProgress
    from gamemix.scene.load import load_scene

    began = time.monotonic()
    with CompileProgress(report or (lambda *a: None)):
        mixer = Mixer(load_scene(scene), seed=0)
        mixer.render(np.zeros((mixer.block_size, mixer.channels), np.float32))
    return time.monotonic() - began
