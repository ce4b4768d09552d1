"""Render scripts: a timeline of protocol messages for offline rendering.

A script is YAML (recordings from the live server are written in the same
format): a list of entries, each a protocol message the mixer carries out
(protocol/messages.py, converted with the same strict rules as the wire)
plus *when* it takes effect: `at` (seconds; the message applies at the first
block starting at or after that time) or `block` (the exact block index, as
recordings store it).  Entries keep their order within a block.

Control side.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from gamemix.errors import LocatedError, Problem
from gamemix.protocol.messages import ENVELOPE, MIXER_KINDS, MixerMessage, explain
from gamemix.scene.located_yaml import LocatedYaml, parse_dotted

SCRIPT_KEYS = {"version", "duration", "seed", "messages"}


@dataclass(frozen=True)
class TimedMessage:
    """A validated message, the block it applies in, and where it was written."""

    block: int
    message: Any
    where: str


@dataclass
class Script:
    """A whole script: its messages in application order and how long to render."""

    messages: list[TimedMessage]
    duration: float | None
    seed: int | None

    def blocks(self, sample_rate: int, block_size: int) -> int:
        """Blocks to render: the script's duration, or 2 s past its last message."""
        if self.duration is not None:
            return math.ceil(self.duration * sample_rate / block_size)
        last = max((m.block for m in self.messages), default=0)
        return last + 1 + math.ceil(2.0 * sample_rate / block_size)


def load_script(path: str | Path, sample_rate: int, block_size: int, scene=None) -> Script:
    """Read and validate a script; LocatedError lists every bad entry.  With `scene`, the names
    its messages give (sounds, events, parameters, snapshots, buses, VCAs) are checked against it."""
    doc = LocatedYaml.load(path)
    return script_from_doc(doc, sample_rate, block_size, scene)


def script_from_doc(doc: LocatedYaml, sample_rate: int, block_size: int, scene=None) -> Script:
    """Validate a parsed script document (see module docstring), against `scene` if given."""
    raw = doc.data
    if not isinstance(raw, dict):
        raise LocatedError([doc.problem((), "a script is a mapping with a 'messages' list")])
    problems: list[Problem] = [doc.problem((k,), "unknown key (script keys: " + ", ".join(sorted(SCRIPT_KEYS)) + ")", key=True)
                               for k in raw if k not in SCRIPT_KEYS]
    if raw.get("version", 1) != 1:
        problems.append(doc.problem(("version",), "unsupported script version (this gamemix reads version 1)"))
    duration = raw.get("duration")
    if duration is not None and not (isinstance(duration, (int, float)) and 0 < duration <= 24 * 3600):
        problems.append(doc.problem(("duration",), "must be a number of seconds > 0 and <= 86400"))
    seed = raw.get("seed")
    if seed is not None and not (isinstance(seed, int) and seed >= 0):
        problems.append(doc.problem(("seed",), "must be a non-negative integer"))
    entries = raw.get("messages")
    entries = [] if entries is None else entries      # a recording of a session in which nothing was sent
    if not isinstance(entries, list):
        problems.append(doc.problem(("messages",), "must be a list of messages"))
        entries = []
    timed = []
    for i, entry in enumerate(entries):
        item, entry_problems = _entry(doc, i, entry, sample_rate, block_size)
        problems += entry_problems
        if item is not None and scene is not None:
            problems += _unknown_names(doc, ("messages", i), item.message, scene)
        if item is not None:
            timed.append(item)
    if problems:
        raise LocatedError(problems)
    timed.sort(key=lambda m: m.block)  # stable: order kept within a block
    return Script(timed, float(duration) if duration is not None else None, seed)


def _entry(doc, i, entry, sample_rate, block_size):
    loc = ("messages", i)
    if not isinstance(entry, dict):
        return None, [doc.problem(loc, "each message is a mapping with 'type' and 'at' or 'block'")]
    body = dict(entry)
    at, block = body.pop("at", None), body.pop("block", None)
    problems = []
    if (at is None) == (block is None):
        problems.append(doc.problem(loc, "give exactly one of 'at' (seconds) or 'block'"))
    elif at is not None and not (isinstance(at, (int, float)) and math.isfinite(at) and at >= 0):
        problems.append(doc.problem(loc + ("at",), f"must be a time in seconds >= 0 (got {at!r})"))
    elif block is not None and not (isinstance(block, int) and block >= 0):
        problems.append(doc.problem(loc + ("block",), f"must be a block index >= 0 (got {block!r})"))
    known = sorted(MIXER_KINDS)
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in MIXER_KINDS:
        problems.append(doc.problem(loc + ("type",) if "type" in body else loc,
                                    f"unknown message type {kind!r} (known: {', '.join(known)})"))
        return None, problems
    for key in ENVELOPE:
        if key in body:
            problems.append(doc.problem(loc + (key,), f"{key!r} belongs to the wire's envelope, not to a script",
                                        key=True))
    try:
        message = msgspec.convert(body, MixerMessage, strict=True)
    except msgspec.ValidationError as exc:
        return None, problems + [_located(doc, loc, exc)]
    if problems:
        return None, problems
    index = block if block is not None else math.ceil(at * sample_rate / block_size - 1e-9)
    line, col = doc.locate(loc)
    return TimedMessage(index, message, f"{doc.file}:{line}:{col}"), []


def _unknown_names(doc: LocatedYaml, loc: tuple, message, scene) -> list[Problem]:
    """A message's names that the scene lacks (each message class declares its `refs`), located at
    the field, with the closest names the scene has."""
    from gamemix.scene.model import BUILTIN_PARAMETERS
    problems = []
    for field, table in type(message).refs.items():
        name = getattr(message, field)
        known = list(getattr(scene, table))
        if table == "parameters":
            known += list(BUILTIN_PARAMETERS)
        if name is None or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        listed = ", ".join(sorted(known)[:20]) or "none"
        problems.append(doc.problem(loc + (field,), f"unknown {_SINGULAR[table]} {name!r} in this scene "
                                                    f"({table}: {listed}){hint}"))
    return problems


_SINGULAR = {"sounds": "sound", "events": "event", "parameters": "parameter", "snapshots": "snapshot", "zones": "zone",
             "buses": "bus", "vcas": "VCA"}


def _located(doc: LocatedYaml, loc: tuple, exc: msgspec.ValidationError) -> Problem:
    """A message's validation error, located at the field it names."""
    problem, field, detail = explain(exc)
    if problem == "unknown_field":
        detail = "unknown key (not part of the message; check the spelling)"
    return doc.problem(loc + parse_dotted(field), detail, key=problem == "unknown_field")
