"""Paths a scene names (its audio files, a scene to reload) stay inside the scene's folder.

Control side.
"""

from __future__ import annotations

from pathlib import Path


def safe_path(folder: Path, relative: str) -> Path:
    """`folder/relative`, resolved; ValueError if it escapes `folder`."""
    if Path(relative).is_absolute():
        raise ValueError(f"absolute paths are not allowed ({relative!r}); use a path inside the scene's folder")
    root = folder.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"path {relative!r} leaves the scene's folder")
    return target
