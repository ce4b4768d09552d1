"""YAML loading that remembers where every value came from.

PyYAML's composed node tree keeps line and column marks; pydantic reports
errors as a path of keys and indexes.  `LocatedYaml.locate(path)` joins the
two so every validation error can name `file:line:column field.path`.
Duplicate mapping keys, which PyYAML silently overwrites, are reported too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import yaml

from gamemix.errors import LocatedError, Problem


def dotted(path: Sequence[Any]) -> str:
    """Render a pydantic-style location tuple as `a.b[2].c`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_dotted(text: str) -> tuple:
    """The inverse of `dotted`: `a.b[2].c` to ('a', 'b', 2, 'c'); '' to ()."""
    out: list = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


class LocatedYaml:
    """A parsed YAML document plus the node tree to locate paths in it."""

    def __init__(self, file: str, data: Any, root: yaml.Node | None):
        self.file = file
        self.data = data
        self.root = root

    @classmethod
    def load(cls, path: str | Path, max_bytes: int = 16 * 1024 * 1024) -> "LocatedYaml":
        """Read and parse `path`; a missing file or bad YAML raises LocatedError."""
        path = Path(path)
        name = str(path)
        try:
            if path.stat().st_size > max_bytes:
                raise LocatedError([Problem(name, 0, 0, "", f"file is larger than {max_bytes} bytes")])
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LocatedError([Problem(name, 0, 0, "", "file not found")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LocatedError([Problem(name, 0, 0, "", f"cannot read file: {exc}")]) from None
        return cls.parse(text, name)

    @classmethod
    def parse(cls, text: str, file: str = "<string>") -> "LocatedYaml":
        """Parse YAML text; syntax errors and duplicate keys raise LocatedError."""
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            problems = _duplicate_keys(root, file, ())
            if problems:
                raise LocatedError(problems)
            data = loader.construct_document(root) if root is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            msg = " ".join(m for m in (exc.context, exc.problem) if m)
            raise LocatedError([Problem(file, line, col, "", f"invalid YAML: {msg}")]) from None
        except yaml.YAMLError as exc:
            raise LocatedError([Problem(file, 0, 0, "", f"invalid YAML: {exc}")]) from None
        finally:
            loader.dispose()
        return cls(file, data, root)

    def locate(self, path: Sequence[Any], key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the deepest node along `path`.

        With `key=True` and a mapping key as the last element, point at the key
        itself (useful for 'unknown key' errors).
        """
        node = self.root
        if node is None:
            return (1, 1)
        for i, part in enumerate(path):
            child = _child(node, part, key and i == len(path) - 1)
            if child is None:
                break
            node = child
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, path: Sequence[Any], message: str, key: bool = False) -> Problem:
        """A Problem located at `path` in this file."""
        line, col = self.locate(path, key)
        return Problem(self.file, line, col, dotted(path), message)


def _child(node: yaml.Node, part: Any, want_key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                return k if want_key else v
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return node.value[part] if 0 <= part < len(node.value) else None
    return None


def _duplicate_keys(node: yaml.Node | None, file: str, path: tuple) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            kv = k.value if isinstance(k, yaml.ScalarNode) else repr(k)
            if kv in seen:
                problems.append(Problem(file, k.start_mark.line + 1, k.start_mark.column + 1,
                                        dotted(path + (kv,)), "duplicate key"))
            seen.add(kv)
            problems += _duplicate_keys(v, file, path + (kv,))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            problems += _duplicate_keys(v, file, path + (i,))
    return problems


def pydantic_problems(doc: LocatedYaml, exc: Any, prefix: Sequence[Any] = (),
                      union_tag: str | None = None) -> list[Problem]:
    """Turn a pydantic ValidationError into located Problems (all of them).

    `union_tag` is the discriminator value pydantic puts first in the location
    of a tagged-union member (e.g. 'play'); it is not a key in the file.
    """
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if union_tag is not None and loc[:1] == (union_tag,):
            loc = loc[1:]
        loc = tuple(prefix) + tuple(p for p in loc if not _is_tag(p))
        msg = err["msg"].replace("Input should be", "must be").replace("Value error, ", "")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the format; check the spelling)"
            problems.append(doc.problem(loc, msg, key=True))
            continue
        if err["type"] == "missing":
            msg = "required field is missing"
        elif "input" in err and not isinstance(err["input"], (dict, list)):
            msg += f" (got {err['input']!r})"
        problems.append(doc.problem(loc, msg))
    return problems


def _is_tag(part: Any) -> bool:
    # pydantic inserts union-member / function tags such as 'function-after[...]'
    return isinstance(part, str) and ("[" in part and part.endswith("]"))
