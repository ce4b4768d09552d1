"""A real-time clock with no device: the headless live output (`gamemix serve --output null`).

Edge.
"""

from __future__ import annotations

import threading
import time

from gamemix.io.base import Timing, raise_priority
from gamemix.io.ring import BlockRing, produce


class NullOutput:
    """The device output's design without a device: a ring emptied by a thread at the real-time pace
    instead of PortAudio; an empty ring at a deadline is an xrun.  The ring holds what the device
    path would: `ahead` blocks rendered ahead, plus the device's own buffer of `device_buffer`
    frames (PortAudio's frames per buffer, which a blocking writer keeps full), at least one block;
    so the same settings give the null output the same slack, and the same latency, as a device."""

    def __init__(self, render_block, channels: int, sample_rate: int, block_size: int, device=None, ahead: int = 3,
                 device_buffer: int = 0, realtime: bool = False):
        self.render_block = render_block
        self.realtime = realtime
        self.priority = "normal"
        self.ring = BlockRing(max(ahead, 0) + max(device_buffer // block_size, 1) if device_buffer else max(ahead, 1),
                              block_size, channels)
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
        # the device's own thread: PortAudio's (io/portaudio.py) asks for real-time scheduling too, so a
        # clock that a CPU hog delays would empty the ring in a burst when it wakes, an xrun no device has
        raise_priority(self.realtime)
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
