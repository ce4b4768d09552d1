"""Two renders side by side (`analyze --reference`): before and after a scene edit, or against
a target mix.  Differences are this render minus the reference, per bus: integrated
loudness, mean short-term loudness (energy mean over the steps where either is
above the gate), loudness range and true peak; masking per pair in percentage
points; each protected bus's mean margin over the rest.
"""

from __future__ import annotations

import numpy as np

from gamemix.core.dsp.bs1770 import OFFSET_DB
from gamemix.offline.analysis.frames import rounded


def _diff(a, b):
    return rounded(a - b) if a is not None and b is not None else None


def _energy_mean_lufs(curve: list) -> float | None:
    e = [10.0 ** ((v - OFFSET_DB) / 10.0) for v in curve if v is not None]
    return OFFSET_DB + 10.0 * np.log10(np.mean(e)) if e else None


def compare(this: dict, ref: dict, ref_folder: str) -> dict:
    buses = {}
    for bus, lo in this["loudness"].items():
        r = ref["loudness"].get(bus)
        if r is None:
            continue
        buses[bus] = {"integrated_lu": _diff(lo["integrated_lufs"], r["integrated_lufs"]),
                      "short_term_mean_lu": _diff(_energy_mean_lufs(lo["short_term"]),
                                                  _energy_mean_lufs(r["short_term"])),
                      "lra_lu": _diff(lo["lra_lu"], r["lra_lu"]),
                      "true_peak_db": _diff(lo["true_peak_dbtp"], r["true_peak_dbtp"])}
    ref_pairs = {(p["masker"], p["target"]): p["masked_percent"] for p in ref["masking"]["pairs"]}
    masking = {f"{p['masker']}>{p['target']}": _diff(p["masked_percent"], ref_pairs[(p["masker"], p["target"])])
               for p in this["masking"]["pairs"] if (p["masker"], p["target"]) in ref_pairs}
    ref_balance = {b["bus"]: b["rest"]["mean_lu"] for b in ref["balance"]}
    balance = {b["bus"]: _diff(b["rest"]["mean_lu"], ref_balance.get(b["bus"])) for b in this["balance"]
               if b["bus"] in ref_balance}
    return {"folder": ref_folder, "buses": buses, "masking_percent": masking, "balance_lu": balance,
            "short_term": {bus: r["short_term"] for bus, r in ref["loudness"].items()}}
