"""Speech segments from frame decisions: an onset needs a little speech, an end a little silence.

A detector decides per frame (30 or 32 ms).  Single frames of noise read as
speech now and then, and the gaps between words read as silence, so a
segment opens only after `min_on` seconds of speech frames and closes only
after `hangover` seconds without one (the hangover scheme of voice-activity
detectors since ITU-T G.729 Annex B).  A closed segment ends at its last
speech frame.  `on` is the state now: what ducks the chosen buses.

Control side.
"""

from __future__ import annotations

import collections

MAX_SEGMENTS = 10_000       # segments kept for the report (the last ones; `total` counts them all)


class Segmenter:
    """Fed one decision per 10 ms frame, in order (see the module docstring)."""

    def __init__(self, frame_s: float, min_on_s: float, hangover_s: float):
        self.frame_s = frame_s
        self.min_on = max(1, round(min_on_s / frame_s))
        self.hangover = max(1, round(hangover_s / frame_s))
        self.on = False
        self.run = 0                 # consecutive speech frames (while off)
        self.quiet = 0               # consecutive non-speech frames (while on)
        self.start = 0
        self.last = 0
        self.segments: collections.deque = collections.deque(maxlen=MAX_SEGMENTS)
        self.total = 0

    def frame(self, index: int, speech: bool) -> bool:
        """One frame's decision; returns whether a segment is open after it."""
        if speech:
            self.run += 1
            self.quiet = 0
            self.last = index
            if not self.on and self.run >= self.min_on:
                self.on, self.start = True, index - self.run + 1
        else:
            self.run = 0
            if self.on:
                self.quiet += 1
                if self.quiet >= self.hangover:
                    self._close()
        return self.on

    def _close(self) -> None:
        self.on = False
        self.segments.append((round(self.start * self.frame_s, 3), round((self.last + 1) * self.frame_s, 3)))
        self.total += 1

    def finish(self) -> None:
        """Close a segment still open (the end of a recording)."""
        if self.on:
            self._close()
