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

import collections
import math
import time
from pathlib import Path

import yaml

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
            entry = yaml.safe_dump({"block": block, **fields_of(message)}, default_flow_style=True,
                                   width=math.inf, sort_keys=False).strip()
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
