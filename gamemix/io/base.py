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

import os
import statistics
import threading
import time
from typing import Callable, Protocol

import numpy as np

RenderBlock = Callable[[np.ndarray], None]


class Output(Protocol):
    """Where blocks go.  `start` begins calling `render_block(out)` (out: (block_size, channels)
    float32) once per block from a thread of the output's own; `stop` ends it; `alive` says whether
    that thread runs; `stats` gives blocks, xruns, render time per block (`render_us_median`,
    `render_us_max`), `cpu_load` and the `priority` the thread got (`raise_priority`)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def alive(self) -> bool: ...
    def stats(self) -> dict: ...


RT_PRIORITY = 10          # SCHED_FIFO priority asked for (1..99; audio servers use 5..20)
NICE = -10                # the fallback: a higher share of the CPU than normal threads


def raise_priority(realtime: bool = True, fifo: bool = True) -> str:
    """Give the calling thread real-time scheduling where the OS allows it, else a better nice
    value, else nothing; returns which it got.  Linux schedules threads as tasks, so both calls
    with pid 0 / the thread's own id apply to this thread alone.  Quiet when refused (a container
    without CAP_SYS_NICE, a user without an rtprio limit): the caller reports what it got.

    `fifo=False` asks for the nice value only: for the server's other threads that take the
    interpreter lock (the network, streams and microphone-analysis threads).  A real-time
    render thread waits for that lock whenever one of them holds it, so a CPU hog that deschedules
    the holder delays the block (priority inversion); a nice value makes the holder run again
    soon, without letting a flood of messages take a core from everything else as SCHED_FIFO would."""
    if not realtime:
        return "normal"
    if fifo:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
            return f"SCHED_FIFO {RT_PRIORITY}"
        except (AttributeError, OSError):
            pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        return f"nice {NICE}"
    except (AttributeError, OSError):
        return "normal"


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
