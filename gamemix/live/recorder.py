"""The session recording (`serve --record`): every message the mixer applied, with its block.

Written as a render script (docs/script-format.md), so `gamemix render` replays
the session to the same samples.  Messages are kept as plain values (their
fields without the envelope and without defaults) in the order applied.

The file is written as the session goes, so it stays readable up to the
last second or so after the server is killed: the render thread only
appends each entry to a queue (`record`); the network thread writes the
queued entries, one line each, and flushes at least every FLUSH_EVERY_S
(`flush`).  A clean stop writes the rest and then the session's `duration`;
without it (after a kill) a render of the file ends 2 s after its last
message.  Memory stays at what one flush interval queues.

Edge: file output.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import numbers
import re
import time
from pathlib import Path

from gamemix.protocol.messages import Message, fields_of

FLUSH_EVERY_S = 0.5


class Recorder:
    """Messages applied by the mixer, in order, with the block they took effect in, written to `path`."""

    def __init__(self, path: Path, seed: int):
        self.path = Path(path)
        self.queue: collections.deque = collections.deque()
        self.count = 0
        self._file = open(self.path, "w", encoding="utf-8")
        self._file.write(f"version: 1\nseed: {int(seed)}\nmessages:\n")
        self._file.flush()
        self._flushed_at = time.monotonic()
        self._dirty = False

    def record(self, block: int, message: Message, assigned: int | None = None) -> None:
        """Queue an applied message (the render thread; no I/O here); `assigned`: the id the mixer gave
        a play or event that named none, written beside it as a comment (a replay assigns the same
        ids in the same order, so the script itself leaves it out)."""
        self.queue.append((block, message, assigned))

    def flush(self, force: bool = False) -> None:
        """Write what is queued (the network thread), flushing the file at most every FLUSH_EVERY_S."""
        while self.queue:
            block, message, assigned = self.queue.popleft()
            entry = flow({"block": block, **fields_of(message)})
            self._file.write(f"  - {entry}\n" if assigned is None else f"  - {entry}  # id {assigned}\n")
            self.count += 1
            self._dirty = True
        now = time.monotonic()
        if force or (self._dirty and now - self._flushed_at >= FLUSH_EVERY_S):
            self._file.flush()
            self._flushed_at = now
            self._dirty = False

    def close(self, duration_s: float) -> None:
        """Write the rest, then the session's duration, and close the file."""
        self.flush(force=True)
        self._file.write(f"duration: {round(duration_s, 6)}\n")
        self._file.close()


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def flow(value) -> str:
    """`value` (what a message's fields hold: maps, lists, strings, numbers, booleans, None, bytes) as
    one line of flow YAML that yaml.safe_load reads back equal.

    Written by hand because yaml.safe_dump is slow for what a session records: on the network thread
    it took 0.66 s of every second for 256 poses at 60 Hz, and 5.9 s for one 65,536-pose batch (a
    stall no command may cause).  Floats are written with repr, always with a '.' and a signed
    exponent, which YAML 1.1 (PyYAML) needs to read them as floats; strings are JSON-quoted (its
    escapes are YAML's); bytes are !!binary."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):          # NumPy's integers and floats too
        return str(int(value))
    if isinstance(value, numbers.Real):
        return _float(float(value))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "!!binary " + json.dumps(base64.b64encode(bytes(value)).decode("ascii"))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        if value and all(type(v) is float for v in value):           # a position: the common case
            return "[" + ", ".join(_float(v) for v in value) + "]"
        return "[" + ", ".join(flow(v) for v in value) + "]"
    raise TypeError(f"cannot record a {type(value).__name__}")


def _key(key) -> str:
    text = str(key)
    return text if _PLAIN_KEY.match(text) and text.lower() not in _YAML_WORDS else _string(text)


def _string(text: str) -> str:
    """A double-quoted YAML scalar: JSON's escapes, with a character beyond the BMP as one \\U escape
    (JSON writes it as a surrogate pair, which YAML would read as two characters)."""
    if all(ord(c) <= 0xFFFF for c in text):
        return json.dumps(text, ensure_ascii=True)
    return '"' + "".join("\\U%08x" % ord(c) if ord(c) > 0xFFFF else json.dumps(c)[1:-1] for c in text) + '"'


def _float(x: float) -> str:
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    text = repr(x)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        if exponent[0] not in "+-":
            exponent = "+" + exponent
        return f"{mantissa}e{exponent}"
    return text if "." in text else text + ".0"

