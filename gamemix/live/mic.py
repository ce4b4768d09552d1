"""The microphone in the live server: its input, and the analysis thread.

AR mode's analysis (ar/analysis.py: the detector's inference, the echo
canceller, the noise estimate) is far too heavy and too irregular for the
audio block, so it runs on a thread of its own, `gamemix-mic`.  The render
thread's per-block work is three copies and two reads, no lock, no
allocation of audio buffers, no waiting:

1. at block start, `take(block)`: the input's next captured block into the
   mixer's mic stage (io/portaudio.py's DeviceInput, or a WAV file), and the
   analysis's latest findings (`latest`: one tuple, replaced whole by the
   analysis thread, so the render thread reads a consistent pair) into the
   adaptive stage;
2. after the block, `push(out)`: the captured block and the output block
   side by side into a single-producer single-consumer ring (io/ring.py,
   preallocated, two counters).  If the ring is full (the analysis fell more
   than RING_BLOCKS behind) the pair is dropped and counted (`dropped`).

The analysis thread polls the ring every POLL_S (no Event: setting one takes
a lock on the render thread), analyses every pair waiting, and publishes.
Every turn is guarded: a fault is recorded (stage `microphone`) and the
thread goes on; its heartbeat is watched like the others'.

What an input that cannot open does: the server says why in the log, in
`query` and in telemetry (`microphone.status`), and mixes on without a mic.

Edge.
"""

from __future__ import annotations

import math
import time

import numpy as np

from gamemix.io.ring import BlockRing
from gamemix.live.supervision import Worker

RING_BLOCKS = 128           # pairs the analysis may lag behind (0.7 s at 256 / 48 kHz)
POLL_S = 0.005


class LiveMicrophone:
    """The live mic path for a mixer whose scene has a microphone (see the module docstring)."""

    def __init__(self, analysis, mic_input, channels: int, out_channels: int, block_size: int, faults,
                 heartbeat, status: str, realtime: bool = False):
        self.analysis = analysis
        self.input = mic_input
        self.channels, self.block_size = channels, block_size
        self.block = np.zeros((block_size, channels), dtype=np.float32)
        self.ring = BlockRing(RING_BLOCKS, block_size, channels + out_channels)
        self.status = status
        self.latest: tuple[float, bool] = (math.nan, False)
        self.dropped = 0
        self.analysed = 0
        self.analysis_us: list[float] = []          # per pair, the last few hundred (for stats)
        self._worker = Worker("gamemix-mic", "microphone", self._turn, faults, heartbeat, POLL_S, realtime)

    # ------------------------------------------------------------ render thread
    def take(self, microphone) -> None:
        """Block start: this block's capture and the latest findings into the mixer's microphone."""
        if self.input is not None:
            self.input.read(self.block)
        microphone.feed(self.block)
        ambient, speech = self.latest
        microphone.update(ambient, speech)

    def push(self, out: np.ndarray) -> None:
        """After the block: the capture and the output, side by side, for the analysis thread."""
        if self.ring.free() == 0:
            self.dropped += 1
            return
        slot = self.ring.write_slot()
        slot[:, :self.channels] = self.block
        slot[:, self.channels:] = out
        self.ring.commit()

    # ------------------------------------------------------------ analysis thread
    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        if not self._worker.alive():
            self.analysis.close()
        if self.input is not None:
            self.input.close()

    def alive(self) -> bool:
        return self._worker.alive()

    def _turn(self) -> bool:
        """Analyse every pair waiting; publish the findings.  Returns whether there was any."""
        got = False
        while (slot := self.ring.read_slot()) is not None:
            t0 = time.perf_counter()
            self.analysis.process(slot[:, :self.channels], slot[:, self.channels:])
            self.ring.release()
            self.analysed += 1
            self.analysis_us.append((time.perf_counter() - t0) * 1e6)
            if len(self.analysis_us) > 1024:
                del self.analysis_us[:512]
            self.latest = (self.analysis.ambient_lufs, self.analysis.speech)
            got = True
        return got

    # ------------------------------------------------------------ state out
    def stats(self) -> dict:
        """For telemetry and `query`: the findings, the input's counters, the analysis's lag and cost."""
        recent = sorted(self.analysis_us[-256:]) or [0.0]
        out = {"status": self.status, **self.analysis.status(), "dropped": self.dropped,
               "lag_blocks": self.ring.fill_level(), "analysis_us_median": round(recent[len(recent) // 2], 1)}
        if self.input is not None and self.status == "capturing":      # a device's (a file has no clock)
            out["capture"] = self.input.stats()
        return out
