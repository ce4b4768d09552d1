"""How far each protected bus sits above the others while it plays, overall and during each snapshot.

From the stems' 100 ms K-weighted energies (BS.1770, loudness_timeline.py): over
the steps where the protected bus speaks (its 100 ms loudness above
SPEAKING_LUFS, the intelligibility rule's default), the energy mean of the
protected bus against the energy mean of each other bus, and of their sum,
in LU: 10 log10(mean E_p / mean E_other).  It is the mean margin of
offline/margins.py taken over the whole render instead of per line.  "During"
a snapshot means between its start and stop events in the report.
"""

from __future__ import annotations

import numpy as np

from gamemix.core.dsp.bs1770 import OFFSET_DB
from gamemix.offline.analysis.frames import STEP_S, rounded

SPEAKING_LUFS = -50.0
MIN_STEPS = 5               # a figure needs at least half a second of speech


def loudness(energy):
    """BS.1770 loudness of K-weighted energies (-inf for none)."""
    e = np.asarray(energy, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(e > 0, OFFSET_DB + 10.0 * np.log10(np.maximum(e, 1e-300)), -np.inf)


def snapshot_spans(report: dict, duration_s: float) -> dict[str, list[tuple[float, float]]]:
    """Each snapshot's [start, stop) intervals from the report's events."""
    spans: dict[str, list[tuple[float, float]]] = {}
    open_at: dict[str, float] = {}
    for e in report["snapshots"]["events"]:
        name = e["snapshot"]
        if e["event"] == "start" and name not in open_at:
            open_at[name] = e["t"]
        elif e["event"] == "stop" and name in open_at:
            spans.setdefault(name, []).append((open_at.pop(name), e["t"]))
    for name, t in open_at.items():
        spans.setdefault(name, []).append((t, duration_s))
    return spans


def in_spans(n_steps: int, spans: list[tuple[float, float]]) -> np.ndarray:
    centres = (np.arange(n_steps) + 0.5) * STEP_S
    mask = np.zeros(n_steps, bool)
    for lo, hi in spans:
        mask |= (centres >= lo) & (centres < hi)
    return mask


def margin_lu(own: np.ndarray, other: np.ndarray, where: np.ndarray):
    """10 log10(mean own / mean other) over `where`; None with too few steps or a silent other."""
    if where.sum() < MIN_STEPS:
        return None
    o = other[where].mean()
    return rounded(10.0 * np.log10(own[where].mean() / o)) if o > 0 else None


def analyse(energies: dict[str, np.ndarray], tree, report: dict) -> list[dict]:
    n = min(len(e) for e in energies.values()) if energies else 0
    spans = snapshot_spans(report, report["duration_s"])
    out = []
    for bus, against in tree.protected.items():
        against = [a for a in against if a in energies]
        if bus not in energies or not against:
            continue
        own = energies[bus][:n]
        speaking = loudness(own) >= SPEAKING_LUFS
        others = {a: energies[a][:n] for a in against}
        rest = np.sum(list(others.values()), axis=0)

        def figures(other):
            return {"mean_lu": margin_lu(own, other, speaking),
                    "by_snapshot": {name: margin_lu(own, other, speaking & in_spans(n, s))
                                    for name, s in spans.items()}}
        out.append({"bus": bus, "against": against, "speaking_percent": rounded(100.0 * speaking.mean(), 1),
                    "rest": figures(rest), "per_bus": {a: figures(e) for a, e in others.items()}})
    return out
