"""Headless live output: blocks rendered at the real-time pace into a WAV file.

`gamemix serve --output FILE.wav` uses it where there is no audio device: a
thread renders one block per block period (sleeping to the next deadline, so
games and tests see real-time behaviour) and appends it to the file.  Same
interface as the device outputs: start(), stop(), stats().

Edge.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from gamemix.io.wavfile import WavWriter


class FileOutput:
    """Render thread paced in real time, writing every block to a WAV file."""

    def __init__(self, render_block, path: Path, channels: int, sample_rate: int, block_size: int):
        self.render_block = render_block
        self.path = Path(path)
        self.period = block_size / sample_rate
        self.block = np.zeros((block_size, channels), dtype=np.float32)
        self.writer = WavWriter(self.path, sample_rate, channels)
        self.blocks = 0
        self.late = 0          # blocks that finished after their deadline (the file analogue of an xrun)
        self.render_ns: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gamemix-render", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.writer.close()

    def _run(self) -> None:
        deadline = time.perf_counter()
        while not self._stop.is_set():
            t0 = time.perf_counter_ns()
            self.render_block(self.block)
            self.render_ns.append(time.perf_counter_ns() - t0)
            if len(self.render_ns) > 4096:
                del self.render_ns[:2048]
            self.writer.write(self.block)
            self.blocks += 1
            deadline += self.period
            wait = deadline - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                self.late += 1
                deadline = time.perf_counter()

    def stats(self) -> dict:
        """Blocks written, late blocks (as xruns), render time per block and CPU load."""
        times = np.asarray(self.render_ns[-512:] or [0]) / 1e3
        return {"blocks": self.blocks, "xruns": self.late, "render_us_median": float(np.median(times)),
                "render_us_max": float(times.max()), "cpu_load": float(np.median(times) / (self.period * 1e6))}
