"""YAML loading that remembers where every value came from, and refuses what would not load in time.

PyYAML's composed node tree keeps line and column marks; pydantic reports
errors as a path of keys and indexes.  `LocatedYaml.locate(path)` joins the
two so every validation error can name `file:line:column field.path`.

Before any value is built, the node tree is walked once (each distinct node
once, without recursion) and these are refused, each located:

- duplicate mapping keys, which PyYAML silently overwrites;
- nesting deeper than MAX_DEPTH (a deeper document than that is not a scene
  or a script; one too deep even for PyYAML's parser is refused at the line
  where it gave up);
- more than MAX_NODES values once aliases are expanded: a few hundred bytes
  of nested aliases (a "billion laughs") expand to billions of values, which
  validation would walk; an alias that contains itself;
- numbers written with more than MAX_NUMBER_DIGITS digits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import yaml

from gamemix.errors import LocatedError, Problem

MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_NUMBER_DIGITS = 100
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


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


# libyaml's parser where PyYAML was built with it (the wheels are): the same events and nodes, with
# their marks, about 5x faster (a 40 s script's 1,900 messages: 0.28 -> 0.06 s of a render)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        loader = LOADER(text)
        try:
            _check_nesting(text, file)
            root = loader.get_single_node()
            problems = structure_problems(root, file)
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


def _check_nesting(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the parser's events, before the (recursive) composer
    builds the node tree: a document nested thousands deep never reaches it."""
    events = LOADER(text)
    try:
        depth = 0
        while not events.check_event(yaml.StreamEndEvent):
            event = events.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise LocatedError([Problem(file, mark.line + 1, mark.column + 1, "",
                                                f"nested more than {MAX_DEPTH} levels deep")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:     # libyaml stops at its own depth limit (1,000), reading ahead
        if "nesting depth" not in str(exc.problem):
            raise
        mark = exc.problem_mark
        raise LocatedError([Problem(file, mark.line + 1, mark.column + 1, "",
                                    f"nested more than {MAX_DEPTH} levels deep")]) from None
    finally:
        events.dispose()


def structure_problems(root: yaml.Node | None, file: str) -> list[Problem]:
    """Duplicate keys, nesting, alias expansion and overlong numbers (see the module docstring), found
    in one walk of the node tree that visits each distinct node once and never recurses."""
    if root is None:
        return []
    problems: list[Problem] = []
    size: dict[int, int] = {}           # id(node) -> values below it, aliases expanded (memoised)
    depth: dict[int, int] = {}          # id(node) -> levels below it
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, tuple, bool]] = [(root, (), False)]
    while stack:
        node, path, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size.get(id(k), 0) for _, k in kids)
            depth[key] = 1 + max((depth.get(id(k), 0) for _, k in kids), default=0)
            continue
        if key in size:
            continue                                    # an alias to a node already measured
        if key in on_path:
            problems.append(_at(file, node, dotted(path), "an alias refers to a node that contains it"))
            return problems
        on_path.add(key)
        if isinstance(node, yaml.MappingNode):
            problems += _duplicates(node, file, path)
        elif isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_DIGITS:
            problems.append(_at(file, node, dotted(path), f"a number of {len(node.value)} characters "
                                                          f"(at most {MAX_NUMBER_DIGITS})"))
        stack.append((node, path, True))
        for part, child in _children(node):
            stack.append((child, path + (part,), False))
    if depth[id(root)] > MAX_DEPTH:
        deepest = _deepest(root, depth)
        problems.append(_at(file, deepest, "", f"nested {depth[id(root)]} levels deep (at most {MAX_DEPTH})"))
    if size[id(root)] > MAX_NODES:
        problems.append(_at(file, root, "", f"{size[id(root)]:,} values once its aliases are expanded "
                                            f"(at most {MAX_NODES:,}): a document that small cannot mean that many"))
    return problems


def _children(node: yaml.Node) -> list[tuple[Any, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        return [(k.value if isinstance(k, yaml.ScalarNode) else "?", v) for k, v in node.value] + \
               [("?", k) for k, _ in node.value if not isinstance(k, yaml.ScalarNode)]
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return []


def _duplicates(node: yaml.MappingNode, file: str, path: tuple) -> list[Problem]:
    problems, seen = [], set()
    for k, _ in node.value:
        kv = k.value if isinstance(k, yaml.ScalarNode) else repr(k)
        if kv in seen:
            problems.append(_at(file, k, dotted(path + (kv,)), "duplicate key"))
        seen.add(kv)
    return problems


def _deepest(node: yaml.Node, depth: dict[int, int]) -> yaml.Node:
    """Follow the deepest branch down to a leaf (to locate a nesting problem)."""
    while True:
        kids = _children(node)
        if not kids:
            return node
        node = max((k for _, k in kids), key=lambda k: depth.get(id(k), 0))


def _at(file: str, node: yaml.Node, path: str, message: str) -> Problem:
    return Problem(file, node.start_mark.line + 1, node.start_mark.column + 1, path, message)


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
