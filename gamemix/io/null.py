"""A real-time clock with no device: the headless live output (`gamemix serve --output null`).

Edge.
"""

from __future__ import annotations

import threading
import time

from gamemix.io.base import Timing, raise_priority
from gamemix.io.ring import BlockRing, produce


class NullOutput:
    """The device output's design without a device: the same render-ahead ring, emptied by a
    thread at the real-time pace instead of PortAudio; an empty ring at a deadline is an xrun."""

    def __init__(self, render_block, channels: int, sample_rate: int, block_size: int, device=None, ahead: int = 3,
                 device_buffer: int = 0, realtime: bool = False):
        self.render_block = render_block
        self.realtime = realtime
        self.priority = "normal"
        self.ring = BlockRing(max(ahead, 1), block_size, channels)
        self.timing = Timing(block_size / sample_rate)
        self.xruns = 0
        self.played = 0
        self._space = threading.Event()
        self._running = threading.Event()
        self._render_thread = threading.Thread(target=self._render_loop, name="gamemix-render", daemon=True)
        self._clock_thread = threading.Thread(target=self._clock_loop, name="gamemix-clock", daemon=True)

    def start(self) -> None:
        self._running.set()
        self._render_thread.start()
        self._clock_thread.start()

    def stop(self) -> None:
        self._running.clear()
        self._space.set()
        self._render_thread.join(timeout=2.0)
        self._clock_thread.join(timeout=2.0)

    def alive(self) -> bool:
        return self._render_thread.is_alive()

    def _render_loop(self) -> None:
        self.priority = raise_priority(self.realtime)
        produce(self.ring, lambda slot: self.timing.time(self.render_block, slot), self._running, self._space,
                self.timing.period)

    def _clock_loop(self) -> None:
        deadline = time.perf_counter() + self.ring.slots * self.timing.period   # let the ring fill first
        while self._running.is_set():
            wait = deadline - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            if self.ring.read_slot() is None:
                self.xruns += 1
            else:
                self.ring.release()
                self._space.set()
            self.played += 1
            deadline += self.timing.period

    @property
    def late(self) -> int:
        return self.xruns

    def stats(self) -> dict:
        return {**self.timing.stats(), "xruns": self.xruns, "played": self.played, "ring_fill": self.ring.fill_level(),
                "latency_ms": self.ring.slots * self.timing.period * 1e3, "priority": self.priority}
