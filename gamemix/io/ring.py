"""A single-producer, single-consumer ring of audio blocks.

The render thread fills slots ahead; the device thread (or the null output's
clock) empties them.
Both sides only *read* the other's counter and *write* their own, and each
counter only grows; under CPython's GIL an int attribute store is atomic, so
neither side can see a half-written counter, and the producer publishes a
slot (increments `written`) only after filling it.  No lock, no allocation per
block.

Edge.
"""

from __future__ import annotations

import numpy as np


def produce(ring: "BlockRing", render, running, space, period: float, after=None) -> None:
    """The render thread of an output that renders ahead: fill the ring, then sleep until the
    consumer frees a slot (it sets `space`) or a block period passes; until `running` is cleared."""
    while running.is_set():
        ring.fill(render, running, after)
        space.wait(period)
        space.clear()


class BlockRing:
    """`slots` preallocated blocks of (frames, channels) float32."""

    def __init__(self, slots: int, frames: int, channels: int):
        self.buf = np.zeros((slots, frames, channels), dtype=np.float32)
        self.slots = slots
        self.written = 0      # producer's counter
        self.read = 0         # consumer's counter

    def fill_level(self) -> int:
        """Blocks ready to play."""
        return self.written - self.read

    def free(self) -> int:
        """Slots the producer may fill now."""
        return self.slots - (self.written - self.read)

    def write_slot(self) -> np.ndarray:
        """The next slot to fill (call commit() once it is filled)."""
        return self.buf[self.written % self.slots]

    def commit(self) -> None:
        self.written += 1

    def fill(self, render, running, after=None) -> None:
        """The producer's turn: `render(slot)` into every free slot while the `running` event is
        set, publishing each (and calling `after()`, if given) as soon as it is filled."""
        while self.free() > 0 and running.is_set():
            render(self.write_slot())
            self.commit()
            if after is not None:
                after()

    def read_slot(self) -> np.ndarray | None:
        """The oldest ready block, or None if the ring is empty (call release() after copying)."""
        if self.read >= self.written:
            return None
        return self.buf[self.read % self.slots]

    def release(self) -> None:
        self.read += 1
