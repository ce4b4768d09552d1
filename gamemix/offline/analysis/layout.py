"""What a render folder holds, and making one: the input of `gamemix analyze` and `recommend`.

A render folder is what

    gamemix render SCENE --script SCRIPT --out DIR/mix.wav --stems DIR/stems --report DIR/report.json

writes, plus `render.json`, a manifest naming the scene, script and seed (written
when `analyze` renders; without it the analysis has no bus tree, no script
events and no voice counts, and says so).  `gamemix demo`'s folder (showcase.wav,
showcase.json, stems/) is read too: a lone WAV and a lone report JSON stand in
for mix.wav and report.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from gamemix.offline.render import render
from gamemix.scene.load import load_scene
from gamemix.scene.model import Scene
from gamemix.scene.script import Script, load_script

MANIFEST = "render.json"


@dataclass
class RenderFolder:
    """A render on disk: its report, stems, and (when known) the scene and script behind it."""

    root: Path
    report: dict
    mix: Path
    stems: dict[str, Path]
    scene: Scene | None = None
    script: Script | None = None
    scene_path: Path | None = None
    script_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def sample_rate(self) -> int:
        return int(self.report["sample_rate"])

    def stem(self, bus: str) -> np.ndarray:
        """A bus's stem as (frames, channels) float32."""
        data, _ = soundfile.read(str(self.stems[bus]), dtype="float32", always_2d=True)
        return data


def render_folder(scene: str | Path | Scene, script: str | Path, folder: str | Path,
                  seed: int | None = None) -> RenderFolder:
    """Render `script` through `scene` into `folder` (mix.wav, stems/, report.json, render.json)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    render(scene, script, folder / "mix.wav", seed=seed, stems_dir=folder / "stems",
           report_path=folder / "report.json", strict=True)
    report = json.loads((folder / "report.json").read_text())
    manifest = {"scene": None if isinstance(scene, Scene) else str(Path(scene).resolve()),
                "script": str(Path(script).resolve()), "seed": report["seed"]}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    out = open_folder(folder)
    if isinstance(scene, Scene):             # a scene in memory (recommend's variants): no file to name
        out.scene = scene
        out.script = load_script(script, scene.output.sample_rate, scene.output.block_size, scene)
    return out


def open_folder(folder: str | Path, scene: str | Path | None = None) -> RenderFolder:
    """Read a render folder; `scene` (a path) overrides the manifest's."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder (give a render folder, or a script with --scene)")
    report_path = _one(root, "report.json", "*.json", exclude={MANIFEST, "analysis.json"})
    mix = _one(root, "mix.wav", "*.wav")
    report = json.loads(report_path.read_text())
    if "buses" not in report or "sample_rate" not in report:
        raise ValueError(f"{report_path}: not a render report (no buses or sample_rate)")
    stems_dir = root / "stems"
    stems = {bus: stems_dir / f"{bus}.wav" for bus in report["buses"] if (stems_dir / f"{bus}.wav").exists()}
    missing = [bus for bus in report["buses"] if bus not in stems]
    if missing:
        raise ValueError(f"{root}: no stems for {', '.join(missing)} (render with --stems {stems_dir})")
    out = RenderFolder(root, report, mix, stems)
    manifest = json.loads((root / MANIFEST).read_text()) if (root / MANIFEST).exists() else {}
    scene_path = Path(scene) if scene else (Path(manifest["scene"]) if manifest.get("scene") else None)
    if scene_path is not None:
        out.scene, out.scene_path = load_scene(scene_path), scene_path
    else:
        out.notes.append("no scene known (no render.json, no --scene): buses are taken as flat, "
                         "no protected bus, no sends")
    if manifest.get("script") and out.scene is not None and Path(manifest["script"]).exists():
        out.script_path = Path(manifest["script"])
        out.script = load_script(out.script_path, out.scene.output.sample_rate, out.scene.output.block_size)
    return out


def _one(root: Path, name: str, pattern: str, exclude: set[str] = frozenset()) -> Path:
    """root/name, else the only file matching pattern (not in `exclude`)."""
    if (root / name).exists():
        return root / name
    found = [p for p in sorted(root.glob(pattern)) if p.name not in exclude]
    if len(found) != 1:
        raise ValueError(f"{root}: expected {name} (or exactly one {pattern}), found "
                         f"{', '.join(p.name for p in found) or 'none'}")
    return found[0]
