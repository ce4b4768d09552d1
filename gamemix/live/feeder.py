"""The stream feeder: the live server's thread that reads streamed sounds from disk.

Runs `Decoder.work` of the current mixer's streams (control/streams.py)
every FEED_PERIOD_S, so disk reads and resampling never happen on the render
thread; the render thread only copies what is ready.  A reloaded mixer's
streams are picked up at the next turn.  Every turn is guarded: a fault is
recorded (stage `streams`) and the thread goes on.

Edge.
"""

from __future__ import annotations

import threading
import time

from gamemix.io.base import raise_priority

FEED_PERIOD_S = 0.005        # a turn every 5 ms: a ring holds 2.7 s, so this is far ahead
FAULT_PAUSE_S = 0.05


class Feeder:
    """A daemon thread feeding the streams of `current()` (a callable giving the mixer in use)."""

    def __init__(self, current, faults, heartbeat, realtime: bool = False):
        self.current, self.faults, self.heartbeat, self.realtime = current, faults, heartbeat, realtime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gamemix-streams", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        raise_priority(self.realtime, fifo=False)      # it holds the lock the render thread takes
        while not self._stop.is_set():
            self.heartbeat()
            try:
                busy = self.current().streams.decoder.work()
            except Exception as exc:          # no file ends this thread
                self.faults.record("streams", exc)
                time.sleep(FAULT_PAUSE_S)
                continue
            if not busy:
                self._stop.wait(FEED_PERIOD_S)
