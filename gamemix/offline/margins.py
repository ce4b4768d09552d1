"""Per-line intelligibility margins for render reports: how far each line sat above the rest.

For every bus with an `intelligibility` rule, each instance that plays on it
(or on a bus inside it) is a *line*.  Every 100 ms while it plays, the
momentary loudness (BS.1770, 400 ms) of the protected bus and of each bus
the rule is measured against is read from the buses' own meters, which sit
after their whole chain, so the figures are what the mix heard (after
every cut); readings whose 400 ms reach back before the line are skipped.
A line's margin is its worst 3 s window: the energy mean of the protected
bus over 30 readings against the energy mean of the others' sum, in LU
(a line shorter than 3 s is one window).  It is ungated, so a line's
pauses count against it: a gated loudness of the stems (pyloudnorm) reads
the same line as high or higher.  Readings under the -70 LUFS gate count as silence;
a window where the protected bus is silent has no margin.

Control side, offline only: a few array reads every 19 blocks.
"""

from __future__ import annotations

import math

import numpy as np

from gamemix.core.arrays import PLAYING, STOPPING, VI_BUS, VI_SOUND, VI_STATE
from gamemix.core.dsp import bs1770

STEP_S = 0.1
MOMENTARY_S = 0.4           # a reading covers the 400 ms before it: the first ones of a line hold what came before
WINDOW_STEPS = 30           # 3 s of 100 ms readings
MAX_LINES = 10000           # lines kept per report (a script of more is summarised by the first ones)


def _energy(lufs: np.ndarray) -> np.ndarray:
    """BS.1770 loudness back to energy; silence (under the gate, or -inf) is 0."""
    return np.where(lufs >= bs1770.LOW, 10.0 ** ((lufs - bs1770.OFFSET_DB) / 10.0), 0.0)


class LineMargins:
    """Collects the readings during a render (`sample`) and gives each line's margin (`report`)."""

    def __init__(self, mixer):
        self.mixer = mixer
        rules = next((p for p in mixer.chains.processors if p.key == "intelligibility"), None)
        self.against = dict(rules.against_of) if rules is not None else {}
        self.every = max(1, round(STEP_S / mixer.dt))
        scene, index = mixer.scene, mixer.bus_index
        self.inside = {}                  # protected bus -> mask over bus indices of it and the buses in it
        for name in self.against:
            mask = np.zeros(len(index), bool)
            for bus in scene.buses:
                b = bus
                while b is not None and b != name:
                    b = None if b == "master" else scene.bus_parent(b)
                mask[index[bus]] = b == name
            self.inside[name] = mask
        self.lines: dict[tuple[str, int], dict] = {}

    def sample(self, block: int) -> None:
        """Read the meters, every 100 ms of rendered audio (call after each block)."""
        if not self.against or block % self.every:
            return
        m = self.mixer
        out = m.chains.meters.bank.out[:, bs1770.LM_MOMENTARY]
        vi = m.arrays.vi
        sounding = (vi[:, VI_STATE] == PLAYING) | (vi[:, VI_STATE] == STOPPING)
        for name, against in self.against.items():
            rows = np.flatnonzero(sounding & self.inside[name][vi[:, VI_BUS]])
            if len(rows) == 0:
                continue
            own = float(_energy(out[m.bus_index[name]]))
            rest = float(_energy(out[[m.bus_index[a] for a in against]]).sum()) if against else 0.0
            first_row = {}
            for v in rows:
                first_row.setdefault(int(m.instances.row_instance[v]), int(v))
            first_row.pop(-1, None)
            for instance, v in first_row.items():
                key = (name, instance)
                line = self.lines.get(key)
                if line is None:
                    if len(self.lines) >= MAX_LINES:
                        continue
                    line = self.lines[key] = {"bus": name, "id": instance,
                                              "sound": m.instances.sound_names[int(vi[v, VI_SOUND])],
                                              "start_block": block,
                                              "own": [], "rest": []}
                line["end_block"] = block
                if (block - line["start_block"]) * m.dt >= MOMENTARY_S - 1e-9:   # a window inside the line
                    line["own"].append(own)
                    line["rest"].append(rest)

    def report(self) -> list[dict]:
        """Each line: bus, id, sound, start and end (s), its worst 3 s margin and its mean (LU)."""
        out = []
        for line in self.lines.values():
            own, rest = np.array(line["own"]), np.array(line["rest"])
            w = min(WINDOW_STEPS, len(own))
            kernel = np.ones(w) / w
            own_w, rest_w = np.convolve(own, kernel, "valid"), np.convolve(rest, kernel, "valid")
            heard = own_w > 0
            margins = 10.0 * np.log10(own_w[heard] / np.maximum(rest_w[heard], 1e-30))
            worst = float(margins.min()) if len(margins) else None
            mean = (10.0 * math.log10(own[own > 0].mean() / max(rest[own > 0].mean(), 1e-30))
                    if (own > 0).any() else None)
            out.append({"bus": line["bus"], "id": line["id"], "sound": line["sound"],
                        "start": round(line["start_block"] * self.mixer.dt, 3),
                        "end": round(line["end_block"] * self.mixer.dt, 3),
                        "worst_3s_margin_lu": None if worst is None else round(min(worst, 99.0), 2),
                        "mean_margin_lu": None if mean is None else round(min(mean, 99.0), 2)})
        return sorted(out, key=lambda line: (line["start"], line["id"]))
