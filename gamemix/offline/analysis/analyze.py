"""`gamemix analyze`: a render folder (or a script, rendered first) to analysis.json and analysis.html.

Steps: open or make the render folder (layout.py); measure every stem's
loudness over time (loudness_timeline.py) and band powers (frames.py); from
those, balance, masking and the pan map; reverb shares from the sends;
voice counts; then the plain-words description from the JSON alone, and the
HTML report (report_html.py).  With a reference, the same for it, and the
differences (compare.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from gamemix.offline.analysis import balance, buses, compare, describe, layout, loudness_timeline, masking
from gamemix.offline.analysis import panmap, reverb, voices
from gamemix.offline.analysis.frames import STEP_S, band_powers, erb_bands
from gamemix.offline.analysis.model import VERSION, Analysis


def open_input(source: str | Path, scene: str | Path | None, work: Path) -> layout.RenderFolder:
    """A render folder as it is, or a script rendered through `scene` into work/render."""
    source = Path(source)
    if not source.exists():
        raise ValueError(f"{source}: no such render folder or script")
    if source.is_dir():
        return layout.open_folder(source, scene)
    if scene is None:
        raise ValueError(f"{source}: a script needs --scene (or give a render folder)")
    return layout.render_folder(scene, source, work / "render")


def measure(folder: layout.RenderFolder) -> dict:
    """The analysis dict of one render folder (without description and reference)."""
    tree = buses.from_scene(folder.scene) if folder.scene is not None else buses.flat(folder.report["buses"])
    sr = folder.sample_rate
    centres, edges = erb_bands(sr)
    loud, energies, powers = {}, {}, {}
    for bus in tree.names:
        stem = folder.stem(bus)
        m = loudness_timeline.measure(stem, sr)
        energies[bus] = m.pop("energy")
        m["target_lufs"] = _target(folder.scene, bus)
        loud[bus] = m
        powers[bus] = band_powers(stem, sr, edges)
    n_steps = min(len(e) for e in energies.values())
    mix = [b for b in tree.mix_buses if b in powers]
    r = folder.report
    return {
        "version": VERSION,
        "source": {"folder": str(folder.root), "scene": str(folder.scene_path) if folder.scene_path else None,
                   "script": str(folder.script_path) if folder.script_path else None,
                   "scene_name": r.get("scene"), "seed": r["seed"], "sample_rate": sr,
                   "duration_s": r["duration_s"]},
        "notes": list(folder.notes),
        "buses": list(tree.names), "mix_buses": mix, "step_s": STEP_S, "steps": n_steps,
        "loudness": loud,
        "markers": {"snapshots": [{k: e[k] for k in ("t", "snapshot", "event")} for e in r["snapshots"]["events"]],
                    "events": _script_events(folder)},
        "balance": balance.analyse(energies, tree, r),
        "masking": masking.analyse(powers, centres, mix),
        "panmap": panmap.analyse(powers, centres),
        "reverb": reverb.analyse(folder, tree),
        "voices": voices.analyse(folder, n_steps),
        "lines": r.get("lines", []),
        "description": [],
        "reference": None,
    }


def _target(scene, bus: str):
    if scene is None or scene.buses[bus].loudness is None:
        return None
    return scene.buses[bus].loudness.target_lufs


def _script_events(folder: layout.RenderFolder) -> list[dict]:
    if folder.script is None:
        return []
    out = []
    for item in folder.script.messages:
        msg = item.message
        if type(msg).__name__ == "Event":
            out.append({"t": round(item.block * folder.report["block_size"] / folder.sample_rate, 3),
                        "name": msg.name})
    return out


def analyze(source: str | Path, out_dir: str | Path, scene: str | Path | None = None,
            reference: str | Path | None = None, html: bool = True) -> dict:
    """Analyse `source` into out_dir/analysis.json (and analysis.html); returns the analysis dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = open_input(source, scene, out_dir)
    doc = measure(folder)
    if reference is not None:
        ref_folder = open_input(reference, scene, out_dir / "reference")
        doc["reference"] = compare.compare(doc, measure(ref_folder), str(ref_folder.root))
    doc["description"] = describe.describe(doc)
    Analysis.model_validate(doc)                     # the JSON is what the schema says, or this is a bug
    (out_dir / "analysis.json").write_text(json.dumps(doc, indent=1) + "\n")
    if html:
        from gamemix.offline.analysis import report_html
        (out_dir / "analysis.html").write_text(report_html.page(doc))
    return doc
