"""Voice activity over time: real and virtual counts per 100 ms step, and the steals and
virtual/real switches of the render's voice log on the same timeline.

The render report logs each steal and switch (voices.log) but not the counts
over time, so when the scene and script are known they are read by replaying
the render: the same Mixer driven by the same script and seed, which gives the
same voices block for block (renders are deterministic), reading
`active_voices` and `virtual_voices` after each block (the most in each step).
A report that carries `voices.timeline` (steps of {t, real, virtual}) is
used as it is instead.
"""

from __future__ import annotations

import numpy as np

from gamemix.control.mixer import Mixer
from gamemix.errors import CommandError
from gamemix.offline.analysis.frames import STEP_S


def replay_counts(scene, script, seed: int, n_steps: int) -> dict:
    """Most real and most virtual voices in each 100 ms step of the render of `script`."""
    mixer = Mixer(scene, seed=seed)
    out = scene.output
    block = np.zeros((out.block_size, mixer.channels), dtype=np.float32)
    real, virtual = np.zeros(n_steps, int), np.zeros(n_steps, int)
    pending, k = script.messages, 0
    for b in range(script.blocks(out.sample_rate, out.block_size)):
        while k < len(pending) and pending[k].block <= b:
            try:
                mixer.apply(pending[k].message)
            except CommandError:
                pass                                      # refused: the report lists it
            k += 1
        mixer.render(block)
        step = int(b * mixer.dt / STEP_S + 1e-9)
        if step < n_steps:
            real[step] = max(real[step], mixer.active_voices())
            virtual[step] = max(virtual[step], mixer.virtual_voices())
    return {"real": real.tolist(), "virtual": virtual.tolist()}


def analyse(folder, n_steps: int) -> dict:
    """The voices section: counts per step (or None with the reason), peak counts and the log's events."""
    v = folder.report["voices"]
    counts, source = None, None
    if v.get("timeline"):
        counts = {"real": [e["real"] for e in v["timeline"]][:n_steps],
                  "virtual": [e["virtual"] for e in v["timeline"]][:n_steps]}
        source = "report"
    elif folder.scene is not None and folder.script is not None:
        counts = replay_counts(folder.scene, folder.script, folder.report["seed"], n_steps)
        source = "replay"
    events = [{"t": e["t"], "event": e["event"], "id": e["id"], "sound": e["sound"], "reason": e.get("reason", "")}
              for e in v.get("log", [])]
    return {"counts": counts, "counts_source": source, "peak_real": v["peak_real"], "peak_virtual": v["peak_virtual"],
            "plays": v["plays"], "refused": v["refused"], "steals": v["steals"],
            "virtualizations": v["virtualizations"], "devirtualizations": v["devirtualizations"],
            "log_total": v.get("log_total", len(events)), "events": events}
