"""The stream feeder: the live server's thread that reads streamed sounds from disk.

Runs `Decoder.work` of the current mixer's streams (control/streams.py)
every FEED_PERIOD_S, so disk reads and resampling never happen on the render
thread; the render thread only copies what is ready.  A reloaded mixer's
streams are picked up at the next turn.  Every turn is guarded: a fault is
recorded (stage `streams`) and the thread goes on.

Edge.
"""

from __future__ import annotations

from gamemix.live.supervision import Worker

FEED_PERIOD_S = 0.005        # a turn every 5 ms: a ring holds 2.7 s, so this is far ahead


class Feeder(Worker):
    """A daemon thread feeding the streams of `current()` (a callable giving the mixer in use)."""

    def __init__(self, current, faults, heartbeat, realtime: bool = False):
        self.current = current
        super().__init__("gamemix-streams", "streams", self._feed, faults, heartbeat, FEED_PERIOD_S, realtime)

    def _feed(self) -> bool:
        return self.current().streams.decoder.work()
