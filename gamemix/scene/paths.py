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
        link = _first_symlink(root, relative)
        if link is not None:
            raise ValueError(f"path {relative!r} leaves the scene's folder through the symlink {link!r} "
                             f"(-> {str(Path(root / link).resolve())!r}); copy the file into the scene's folder, "
                             f"or link only to places inside it")
        raise ValueError(f"path {relative!r} leaves the scene's folder")
    return target


def _first_symlink(root: Path, relative: str) -> str | None:
    """The first component of `relative` (below root) that is a symbolic link, if any."""
    here = root
    parts = Path(relative).parts
    for k, part in enumerate(parts):
        here = here / part
        if here.is_symlink():
            return str(Path(*parts[:k + 1]))
    return None
