"""Cost of the cross-adaptive chain next to the engine's: the moving-voices workload with and without it.

Same workload as bench_engine.py (N orbiting emitters, looping clips, pitch
1.01, positions pushed every block), rendered twice in the same run:

- plain: every voice on master, nothing but master's meter and fader;
- full:  the voices spread over music, sfx, dialogue and ambience; BS.1770
  meters on all 7 buses, a compressor on sfx, sidechain ducking and
  unmasking of music and ambience keyed by dialogue, a reverb return fed by
  sfx and dialogue, a loudness target (with its own meter) and the
  true-peak limiter on master;
- full + rule: the same, plus an intelligibility target on dialogue (10 LU
  over every other branch: music, sfx, ambience, ui and the reverb return,
  each measured K-weighted and in the speech band and cut);
- music 2D: the same with music's 256 voices 2D (the baseline of the next);
- + auto-pan: and music auto-panned (its 16 most audible placed every 50 ms,
  each gliding every block).

Prints ms per 256-frame block (median of --runs), the share of the block
budget (5.33 ms at 48 kHz), and the chain's own cost as the difference.
Run: .venv/bin/python benchmarks/bench_dynamics.py [--voices 1024] [--seconds 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import bench_engine as be  # noqa: E402


def full_chain_scene(plain: Path, n: int) -> Path:
    """The bench scene with a game-like bus tree and the whole chain switched on."""
    doc = yaml.safe_load(plain.read_text())
    trim = doc["buses"]["master"]["volume_db"]           # 1,024 voices summed: trimmed on each bus, so
    doc["buses"] = {                                       # master's loudness target sees the real level
        "master": {"loudness": {"target_lufs": -24, "measure": "short_term"}, "limiter": {"ceiling_dbtp": -1}},
        "music": {"volume_db": trim, "sidechain": [{"key": "dialogue", "key_band_hz": [300, 4000]}],
                  "unmask": {"target": "dialogue"}},
        "sfx": {"volume_db": trim, "compressor": {}, "sends": {"room": -12}},
        "dialogue": {"volume_db": trim, "sends": {"room": -18}},
        "ambience": {"volume_db": trim, "sidechain": [{"key": "dialogue"}], "unmask": {"target": "dialogue"}},
        "ui": {},
        "room": {"reverb": {"decay_s": 1.5}},
    }
    for k, name in enumerate(doc["sounds"]):
        doc["sounds"][name]["bus"] = ("music", "sfx", "dialogue", "ambience")[k % 4]
    path = plain.with_name(f"scene_full_{n}.yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def with_rule(full: Path, n: int) -> Path:
    """The full-chain scene plus an intelligibility target on dialogue."""
    doc = yaml.safe_load(full.read_text())
    doc["buses"]["dialogue"]["intelligibility"] = {"margin_lu": 10}
    path = full.with_name(f"scene_rule_{n}.yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def with_2d_music(rule: Path, n: int, auto_pan: bool) -> Path:
    """The rule scene with music's voices 2D, auto-panned or not."""
    doc = yaml.safe_load(rule.read_text())
    if auto_pan:
        doc["buses"]["music"]["auto_pan"] = {"width": 0.8}
    for sound in doc["sounds"].values():
        if sound.get("bus") == "music":
            sound.pop("spatial", None)
    path = rule.with_name(f"scene_2d_{n}_{int(auto_pan)}.yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    n = args.voices
    blocks = int(args.seconds * be.SR / be.BLOCK)
    budget_ms = be.BLOCK / be.SR * 1e3
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain = be.write_scene(folder, be.make_clips(), n)
        full = full_chain_scene(plain, n)
        rule = with_rule(full, n)
        flat, panned = with_2d_music(rule, n, False), with_2d_music(rule, n, True)
        pos = be.all_positions(n, blocks)
        for scene in (plain, full, rule, flat, panned):   # compile and warm each
            be.gamemix_run(scene, n, pos[:20], "vf")
        rows = {}
        for label, scene in (("plain", plain), ("full chain", full), ("full + rule", rule),
                             ("music 2D", flat), ("+ auto-pan", panned)):
            runs = [be.gamemix_run(scene, n, pos, "vf") for _ in range(args.runs)]
            ms = statistics.median(r["cpu_s"] for r in runs) / blocks * 1e3
            rms = statistics.median(r["rms"] for r in runs)
            rows[label] = ms
            print(f"{label:<11} {n} voices: {ms:6.3f} ms/block = {100 * ms / budget_ms:5.1f} % of the "
                  f"{budget_ms:.2f} ms budget (output rms {rms:.3g})")
    extra = rows["full chain"] - rows["plain"]
    print(f"the chain itself: {extra:6.3f} ms/block = {100 * extra / budget_ms:5.1f} % of the budget "
          f"(target: everything under 40 %: {'met' if rows['full chain'] < 0.4 * budget_ms else 'missed'})")
    cost = rows["full + rule"] - rows["full chain"]
    print(f"the intelligibility rule: {cost:6.3f} ms/block = {100 * cost / budget_ms:5.1f} % of the budget")
    cost = rows["+ auto-pan"] - rows["music 2D"]
    print(f"auto-pan (256 2D voices on music): {cost:6.3f} ms/block = {100 * cost / budget_ms:5.1f} % of the budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
