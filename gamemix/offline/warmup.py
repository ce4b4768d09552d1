"""`gamemix warmup`: compile the mixer's kernels now, showing each one, instead of at a first play.

The kernels are Numba-compiled on a machine's first run (and after an
upgrade that changes them) and cached (core/kernel_cache.py).  That takes
about half a minute, which a first `serve`, `render` or `demo` would
otherwise spend silent.  One block of the bundled showcase, rendered as
`gamemix render` renders (offline/render.py: the per-block report sampling
and the report's meter readings too, so a render after this loads nothing),
compiles the whole chain: its stages are one tuple of every registered stage, so the
compiled block serves every scene of its output layout's panner class.  The
README's set-up step runs this; `--layout all` also compiles the block for
every other panner class (speaker VBAP, ambisonics, binaural), as the test
command does, so nothing compiles while a test waits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

SHOWCASE = Path(__file__).resolve().parent.parent / "showcase" / "scene.yaml"


def warm_up(scene: str | Path = SHOWCASE, report: Callable[[str, int, int, float], None] | None = None,
            layouts: list[str] | None = None) -> float:
    """Render one block of `scene` (loading or compiling every kernel it needs), once per layout asked
    for (None: the scene's own; ["all"]: one of each panner class); seconds taken."""
    import tempfile

    from gamemix.core.kernel_cache import CompileProgress
    from gamemix.offline.render import render
    from gamemix.scene.load import load_scene
    from gamemix.scene.script import Script

    if layouts == ["all"]:
        layouts = list(ONE_PER_PANNER)
    began = time.monotonic()
    with CompileProgress(report or (lambda *a: None)), tempfile.TemporaryDirectory(prefix="gamemix-warmup-") as tmp:
        for layout in layouts or [None]:
            loaded = load_scene(scene, layout=layout)
            one_block = Script([], loaded.output.block_size / loaded.output.sample_rate, 0)
            render(loaded, one_block, Path(tmp) / "warmup.wav", report_path=Path(tmp) / "warmup.json")
    return time.monotonic() - began


ONE_PER_PANNER = ("stereo", "5.1", "ambix3", "binaural")   # a block compiles once per panner class
