"""Events: names the game posts, mapped by the scene to timed actions.

An event's actions (play, stop, snapshot start/stop, set a parameter) run in
order; an action with a `delay` is scheduled for the first block starting at
or after that many seconds later.  The scheduler is a heap keyed by block, so
delayed actions from many events interleave exactly as authored; it counts
the actions waiting per event instance, so asking costs O(1).  It also holds
messages timed to a sample of the mixer's clock (`at_sample`): due in the
block that holds the sample, carried out `offset` samples into it.

Control side.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any

from gamemix.scene.model import Action


@dataclass(frozen=True)
class Pending:
    """A scheduled action (an event's Action, or a protocol message timed to a sample): which block,
    the instance it belongs to, and how many samples into its block it starts."""

    block: int
    seq: int
    action: Any
    group: int
    offset: int = 0


class Scheduler:
    """Delayed actions, due by block."""

    def __init__(self, sample_rate: int, block_size: int):
        self.sample_rate = sample_rate
        self.block_size = block_size
        self._heap: list[tuple[int, int, Pending]] = []
        self._seq = itertools.count()
        self._waiting: dict[int, int] = {}        # event instance -> actions queued for it

    def schedule(self, now_block: int, action: Action, group: int) -> Pending:
        """Queue `action` to run `action.delay` seconds after the start of block `now_block`."""
        block = now_block + math.ceil(action.delay * self.sample_rate / self.block_size - 1e-9)
        item = Pending(block, next(self._seq), action, group)
        heapq.heappush(self._heap, (item.block, item.seq, item))
        self._waiting[group] = self._waiting.get(group, 0) + 1
        return item

    def schedule_at(self, block: int, offset: int, message, group: int) -> Pending:
        """Queue a message for `block`, `offset` samples into it."""
        item = Pending(block, next(self._seq), message, group, offset)
        heapq.heappush(self._heap, (item.block, item.seq, item))
        self._waiting[group] = self._waiting.get(group, 0) + 1
        return item

    def due(self, block: int) -> list[Pending] | tuple:
        """Pop every action due at or before `block`, in order."""
        if not self._heap or self._heap[0][0] > block:
            return ()                   # most blocks
        out = []
        while self._heap and self._heap[0][0] <= block:
            item = heapq.heappop(self._heap)[2]
            left = self._waiting[item.group] - 1
            if left:
                self._waiting[item.group] = left
            else:
                del self._waiting[item.group]
            out.append(item)
        return out

    def pending_for(self, group: int) -> int:
        """How many actions are still queued for an event instance."""
        return self._waiting.get(group, 0)

    def cancel(self, group: int) -> None:
        """Drop every queued action of an event instance (it was stopped)."""
        if self._waiting.pop(group, 0):
            self._heap = [item for item in self._heap if item[2].group != group]
            heapq.heapify(self._heap)

    def adopt(self, old: "Scheduler") -> None:
        """After a scene reload: take over the old scene's queued actions, due at the same blocks
        (the block size cannot change on a reload).  They run as authored when they were posted;
        one whose sound or snapshot the new scene lacks is refused when it comes due."""
        self._heap = list(old._heap)
        self._seq = old._seq
        self._waiting = dict(old._waiting)

    def __len__(self) -> int:
        return len(self._heap)

