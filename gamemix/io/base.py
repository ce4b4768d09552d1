"""The io seam: the interfaces every audio output and input implements, and what they share.

The mixer never knows where its blocks go or where a microphone's come from.
An **output** is given a `render_block(out)` callable and calls it from its
own render thread, once per block, at the pace of its clock: PortAudio's
device (io/portaudio.py), a real-time clock with no device (io/null.py), or a
WAV file written in real time (io/wav.py).  An **input** delivers blocks of
captured audio on the same clock: a WAV file read block by block (io/wav.py,
for offline renders and tests, `--mic FILE.wav`) today; a PortAudio capture
stream next.  Only live/, offline/ and the command line use this package.

Edge.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Protocol

import numpy as np

RenderBlock = Callable[[np.ndarray], None]


class Output(Protocol):
    """Where blocks go.  `start` begins calling `render_block(out)` (out: (block_size, channels)
    float32) once per block from a thread of the output's own; `stop` ends it; `stats` gives
    blocks, xruns, render time per block (`render_us_median`, `render_us_max`) and `cpu_load`."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def stats(self) -> dict: ...


class Input(Protocol):
    """Where captured blocks come from.  `read(out)` fills out (block_size, channels) float32 with
    the next block and returns the frames that were real (the rest is silence: the end of a file,
    or an overrun); `stats` counts blocks and overruns."""

    channels: int
    sample_rate: int

    def read(self, out: np.ndarray) -> int: ...
    def stats(self) -> dict: ...
    def close(self) -> None: ...


class Timing:
    """Render-time statistics shared by the outputs."""

    def __init__(self, period: float):
        self.period = period
        self.render_ns: list[int] = []
        self.blocks = 0

    def time(self, render_block, out) -> None:
        t0 = time.perf_counter_ns()
        render_block(out)
        self.render_ns.append(time.perf_counter_ns() - t0)
        if len(self.render_ns) > 4096:
            del self.render_ns[:2048]
        self.blocks += 1

    def stats(self) -> dict:
        recent = self.render_ns[-512:] or [0]
        median_us = statistics.median(recent) / 1e3
        return {"blocks": self.blocks, "render_us_median": median_us, "render_us_max": max(recent) / 1e3,
                "cpu_load": median_us / (self.period * 1e6)}
