"""The session recording (`serve --record`): every message the mixer applied, with its block.

Written as a render script (docs/script-format.md), so `gamemix render` replays
the session to the same samples.  Messages are kept as plain values (their
fields without the envelope and without defaults) in the order applied.

Edge: file output.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from gamemix.protocol.messages import Message, fields_of


class Recorder:
    """Messages applied by the mixer, in order, with the block they took effect in."""

    def __init__(self):
        self.messages: list[dict] = []

    def record(self, block: int, message: Message) -> None:
        self.messages.append({"block": block, **fields_of(message)})

    def write(self, path: Path, seed: int, duration_s: float) -> None:
        """The recording as a render script."""
        doc = {"version": 1, "seed": seed, "duration": round(duration_s, 6), "messages": self.messages}
        Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))
