"""The mix in plain words, from the analysis JSON alone.

Every sentence is built from values read out of the analysis dict, and lists
the JSON paths of those values (`sources`, in the order their numbers appear),
so a reader can check each figure, and tests/test_analyze.py does: it pulls
every number out of the text and finds it at its source.  Nothing here
measures anything; a sentence whose figures are missing is left out.
"""

from __future__ import annotations

from gamemix.scene.located_yaml import dotted

TOP_MASKING = 3          # sentences about the strongest masking
MIN_MASKED_PERCENT = 5.0


def _num(v, digits: int = 1) -> str:
    """A difference as the text writes it: its size; the words say which way ("above", "below")."""
    return f"{abs(v):.{digits}f}"


def _signed(v, digits: int = 1) -> str:
    """A level as the text writes it, with its sign."""
    return f"{v:.{digits}f}"


def _sentence(text: str, *paths) -> dict:
    return {"text": text, "sources": [dotted(p) for p in paths]}


def master(doc: dict) -> list[dict]:
    lo = doc["loudness"].get("master")
    if not lo or lo["integrated_lufs"] is None:
        return []
    i = ("loudness", "master", "integrated_lufs")
    text = f"The master measures {_signed(lo['integrated_lufs'])} LUFS integrated"
    paths = [i]
    if lo["target_lufs"] is not None:
        text += f" against a target of {_signed(lo['target_lufs'])} LUFS"
        paths.append(("loudness", "master", "target_lufs"))
    text += f", with a loudness range of {_num(lo['lra_lu'])} LU"
    paths.append(("loudness", "master", "lra_lu"))
    if lo["true_peak_dbtp"] is not None:
        text += f" and a true peak of {_signed(lo['true_peak_dbtp'])} dBTP"
        paths.append(("loudness", "master", "true_peak_dbtp"))
    return [_sentence(text + ".", *paths)]


def _above(v) -> str:
    return "above" if v >= 0 else "below"


def balance(doc: dict) -> list[dict]:
    out = []
    for i, b in enumerate(doc["balance"]):
        rest = b["rest"]
        if rest["mean_lu"] is None:
            continue
        base = ("balance", i, "rest")
        text = f"{b['bus']} sits {_num(rest['mean_lu'])} LU {_above(rest['mean_lu'])} the rest of the mix on average"
        paths = [base + ("mean_lu",)]
        during = [(name, v) for name, v in rest["by_snapshot"].items() if v is not None]
        for name, v in during:
            text += f", {_num(v)} LU {_above(v)} during {name}"
            paths.append(base + ("by_snapshot", name))
        out.append(_sentence(text + ".", *paths))
        loudest = [(a, f) for a, f in b["per_bus"].items() if f["mean_lu"] is not None]
        if loudest:
            a, f = min(loudest, key=lambda af: af[1]["mean_lu"])
            p = ("balance", i, "per_bus", a)
            text = (f"Its closest rival is {a}: {b['bus']} sits {_num(f['mean_lu'])} LU "
                    f"{_above(f['mean_lu'])} {a} on average")
            paths = [p + ("mean_lu",)]
            for name, v in f["by_snapshot"].items():
                if v is not None:
                    text += f", {_num(v)} LU {_above(v)} it during {name}"
                    paths.append(p + ("by_snapshot", name))
            out.append(_sentence(text + ".", *paths))
    return out


def masking(doc: dict) -> list[dict]:
    m = doc["masking"]
    protected = {b["bus"] for b in doc["balance"]}
    found = []
    for i, p in enumerate(m["pairs"]):
        for k, pct in enumerate(p["by_band_percent"]):
            if pct is not None and pct >= MIN_MASKED_PERCENT:
                found.append((p["target"] in protected, pct, i, k))
    found.sort(key=lambda f: (not f[0], -f[1]))
    out = []
    for _, pct, i, k in found[:TOP_MASKING]:
        p = m["pairs"][i]
        out.append(_sentence(f"{p['masker']} masks {p['target']} at {m['bands'][k]['label']} for "
                             f"{_num(pct, 0)} % of {p['target']} time.",
                             ("masking", "bands", k, "label"), ("masking", "pairs", i, "by_band_percent", k)))
    if not found:
        out.append(_sentence("No bus masks another in any band for a noticeable share of its time."))
    return out


def reverb(doc: dict) -> list[dict]:
    out = []
    for i, r in enumerate(doc["reverb"]):
        if r["reverb_lu"] is None:
            continue
        out.append(_sentence(f"{r['bus']}'s reverb in {r['return']} sits {_num(r['reverb_lu'])} LU "
                             f"{_above(r['reverb_lu'])} its dry level.", ("reverb", i, "reverb_lu")))
    return out


def voices(doc: dict) -> list[dict]:
    v = doc["voices"]
    return [_sentence(f"Voices peaked at {v['peak_real']} real and {v['peak_virtual']} virtual, with "
                      f"{v['steals']} steals and {v['virtualizations']} virtualizations.",
                      ("voices", "peak_real"), ("voices", "peak_virtual"), ("voices", "steals"),
                      ("voices", "virtualizations"))]


def reference(doc: dict) -> list[dict]:
    ref = doc.get("reference")
    if not ref:
        return []
    out = []
    for bus, d in ref["buses"].items():
        v = d["integrated_lu"]
        if v is not None and abs(v) >= 0.5:
            out.append(_sentence(f"Against the reference, {bus} is {_num(v)} LU "
                                 f"{'louder' if v > 0 else 'quieter'} (integrated).",
                                 ("reference", "buses", bus, "integrated_lu")))
    return out


def describe(doc: dict) -> list[dict]:
    """The sentences, each {'text', 'sources'}."""
    return master(doc) + balance(doc) + masking(doc) + reverb(doc) + voices(doc) + reference(doc)
