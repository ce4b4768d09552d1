"""Audio output through PortAudio (PyAudio).

Thread model (see docs/architecture.md), by `ahead`, the blocks rendered
ahead of the device:

- `ahead` = 0 (the server's default): the **device thread** renders a block
  with `render_block(out)` as soon as the device has room for it, then hands
  it to PortAudio with a blocking write (PyAudio releases the GIL inside
  Pa_WriteStream, so it waits on the device, not on Python; the engine's
  kernel releases it too).  A message is heard one block period plus the
  device's latency after it arrives, at most;
- `ahead` >= 1: a **render thread** (`_render_loop`) keeps a BlockRing of
  `ahead` blocks full; when the ring is full it sleeps on an Event the device
  thread sets as soon as a slot frees.  The device thread takes ready blocks
  from the ring; if the ring is empty it waits up to one block period for
  the render thread, then writes a block of silence and counts it
  (`ring_empty`).  Each slot adds a block period of latency and of slack for
  a render thread held up by other Python threads.

Either way a write that finds the device's buffer empty counts an underflow
(`get_write_available()` equals the buffer's size; PyAudio could raise on
PortAudio's own underflow flag, but it closes the stream when it does).

Why a blocking writer rather than a PortAudio callback: a callback runs
Python on PortAudio's thread and needs the GIL to copy a block, while the
blocking write waits outside it.  The device buffer (`device_buffer` frames,
PortAudio's frames_per_buffer) is separate from the engine's block; through
ALSA, PortAudio's output latency is a few of those buffers.  The default is
1024 frames; `benchmarks/bench_latency.py` measures what each size costs.

Edge.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from gamemix.io.base import Timing, raise_priority
from gamemix.io.ring import BlockRing, produce


class DeviceError(RuntimeError):
    """No usable audio device; the message says what to do instead."""


def list_devices() -> list[dict]:
    """PortAudio's devices: index, name, output and input channels, default rate."""
    import pyaudio
    pa = pyaudio.PyAudio()
    try:
        return [{"index": i, "name": d["name"], "outputs": d["maxOutputChannels"], "inputs": d["maxInputChannels"],
                 "rate": d["defaultSampleRate"]}
                for i in range(pa.get_device_count()) for d in [pa.get_device_info_by_index(i)]]
    finally:
        pa.terminate()


def find_device(pa, device, want_output: bool = True) -> int | None:
    """Index of a device given by index or (part of its) name; None = PortAudio's default."""
    if device is None:
        return None
    key = "maxOutputChannels" if want_output else "maxInputChannels"
    infos = [pa.get_device_info_by_index(i) for i in range(pa.get_device_count())]
    if isinstance(device, int) or str(device).isdigit():
        idx = int(device)
        if 0 <= idx < len(infos) and infos[idx][key] > 0:
            return idx
    else:
        for i, info in enumerate(infos):
            if str(device).lower() in info["name"].lower() and info[key] > 0:
                return i
    names = ", ".join(f"{i}: {d['name']}" for i, d in enumerate(infos) if d[key] > 0) or "none"
    raise DeviceError(f"no audio device {device!r} (devices: {names}); use --output null to run without one")


class AudioOutput:
    """Plays blocks from `render_block(out)` through a PortAudio output stream."""

    def __init__(self, render_block, channels: int, sample_rate: int, block_size: int,
                 device=None, ahead: int = 3, device_buffer: int = 1024, realtime: bool = False):
        import pyaudio
        self.render_block = render_block
        self.realtime = realtime
        self.priority = "normal"
        self.channels, self.sample_rate, self.block_size = channels, sample_rate, block_size
        self.ring = BlockRing(max(ahead, 1), block_size, channels)
        self.timing = Timing(block_size / sample_rate)
        self.ahead = max(ahead, 0)
        self.ring_empty = 0   # blocks of silence written because the render thread was late
        self.underflows = 0   # writes that found the device buffer already empty
        self.played = 0
        self._silence = np.zeros((block_size, channels), dtype=np.float32).tobytes()
        self._space = threading.Event()
        self._ready = threading.Event()
        self._running = threading.Event()
        self._pa = pyaudio.PyAudio()
        try:
            index = find_device(self._pa, device)
            self._stream = self._pa.open(format=pyaudio.paFloat32, channels=channels, rate=sample_rate,
                                         output=True, output_device_index=index, frames_per_buffer=device_buffer,
                                         start=False)
        except DeviceError:
            self._pa.terminate()
            raise
        except (OSError, ValueError) as exc:
            self._pa.terminate()
            raise DeviceError(f"cannot open an audio output ({exc}); use --output null to run without one") from None
        self._render_thread = threading.Thread(target=self._render_loop, name="gamemix-render", daemon=True)
        self._device_thread = threading.Thread(target=self._device_loop, name="gamemix-device", daemon=True)

    def start(self) -> None:
        self._running.set()
        if self.ahead:
            self._render_thread.start()
            deadline = time.monotonic() + 1.0
            while self.ring.free() > 0 and time.monotonic() < deadline:   # prime the ring
                time.sleep(0.001)
        self._capacity = self._stream.get_write_available()     # frames the device buffer holds
        self._stream.start_stream()
        self._device_thread.start()

    def stop(self) -> None:
        self._running.clear()
        self._space.set()
        self._ready.set()
        if self.ahead:
            self._render_thread.join(timeout=2.0)
        self._device_thread.join(timeout=2.0)
        self._stream.stop_stream()
        self._stream.close()
        self._pa.terminate()

    def alive(self) -> bool:
        return (self._render_thread if self.ahead else self._device_thread).is_alive()

    def _render_loop(self) -> None:
        self.priority = raise_priority(self.realtime)
        produce(self.ring, lambda slot: self.timing.time(self.render_block, slot), self._running, self._space,
                self.timing.period, self._ready.set)

    def _device_loop(self) -> None:
        priority = raise_priority(self.realtime)
        if not self.ahead:
            self.priority = priority
            return self._render_and_write_loop()
        while self._running.is_set():
            slot = self.ring.read_slot()
            if slot is None:
                self._ready.clear()
                self._ready.wait(self.timing.period)
                slot = self.ring.read_slot()
            if slot is None:
                self.ring_empty += 1
                data = self._silence
            else:
                data = slot.tobytes()
                self.ring.release()
                self._space.set()
            self._write(data)

    def _render_and_write_loop(self) -> None:
        """ahead = 0: render each block on the device thread as soon as the device has room for it."""
        block = self.ring.write_slot()
        while self._running.is_set():
            self.timing.time(self.render_block, block)
            self._write(block.tobytes())

    def _write(self, data: bytes) -> None:
        """Hand one block to PortAudio, counting an underflow when the device's buffer ran empty.

        (PyAudio can raise on PortAudio's own underflow flag, but closes the stream when it does.)"""
        if self.played and self._stream.get_write_available() >= self._capacity:
            self.underflows += 1
        self._stream.write(data, self.block_size, exception_on_underflow=False)
        self.played += 1

    def stats(self) -> dict:
        """Blocks, xruns (ring empty + device underflows, also given apart), ring fill, render time and
        CPU load, latency (render-ahead + PortAudio's output latency)."""
        return {**self.timing.stats(), "xruns": self.ring_empty + self.underflows, "ring_empty": self.ring_empty,
                "underflows": self.underflows, "played": self.played, "ring_fill": self.ring.fill_level(),
                "latency_ms": (self._stream.get_output_latency() + self.ahead * self.timing.period) * 1e3,
                "priority": self.priority}
