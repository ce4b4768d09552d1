"""Loading a scene: located YAML, validated by pydantic, cross-checked, its files confined.

`load_scene` reports every problem of a file at once, each located as
`file:line:column field.path: message`.  Control side.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from gamemix.core.panning.layouts import NAMES as LAYOUT_NAMES
from gamemix.errors import LocatedError, Problem
from gamemix.scene.checks import file_problems, reference_problems
from gamemix.scene.located_yaml import LocatedYaml, pydantic_problems
from gamemix.scene.model import Scene

MAX_SCENE_BYTES = 16 * 1024 * 1024


def load_scene(path: str | Path, check_files: bool = True, layout: str | None = None) -> Scene:
    """Load, validate and cross-check a scene file.

    Raises LocatedError listing every problem: YAML syntax, types and ranges,
    unknown keys, references to missing buses, and (with `check_files`) audio
    files that are missing or outside the scene's folder.  `layout` replaces
    the scene's output layout (`--layout` of render and serve: the same scene
    to speakers, headphones or an ambisonic stream without editing it).
    """
    if layout is not None and layout not in LAYOUT_NAMES:
        raise ValueError(f"unknown layout {layout!r} (known: {', '.join(LAYOUT_NAMES)})")
    doc = LocatedYaml.load(path, MAX_SCENE_BYTES)
    scene = scene_from_doc(doc, Path(path).parent, check_files)
    if layout is not None:
        scene.output.channels = layout
    return scene


def scene_from_doc(doc: LocatedYaml, folder: Path, check_files: bool = True) -> Scene:
    """Validate a parsed YAML document as a scene (see load_scene)."""
    raw = doc.data
    if not isinstance(raw, dict):
        raise LocatedError([doc.problem((), "a scene file must be a mapping of sections (output, buses, sounds, ...)")])
    problems: list[Problem] = []
    scene = None
    try:
        scene = Scene.model_validate(raw)
    except ValidationError as exc:
        problems += pydantic_problems(doc, exc)
    problems += reference_problems(doc, raw)
    if check_files:
        problems += file_problems(doc, raw, folder)
    if problems:
        raise LocatedError(problems)
    scene.folder = folder
    scene._doc = doc
    return scene


def json_schema() -> str:
    """The JSON Schema of scene files, for editors (`gamemix schema`)."""
    schema = Scene.model_json_schema()
    schema["properties"].pop("folder", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gamemix scene"
    return json.dumps(schema, indent=2)
