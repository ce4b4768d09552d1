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

Capture (AR mode's microphone, `capture_channels` > 0): the stream is full
duplex, input and output on the device's one clock, and the same device
thread that writes also reads: before each block it takes every whole block
the input has ready (`get_read_available`, so it never waits on the input)
into the `DeviceInput`'s ring, from which the render thread reads one block
per block at its start.  The ring holds `prime` blocks before it delivers
(the input arrives in device buffers, not blocks; more if the input turns
out to deliver bigger bursts than that), an empty ring gives a
block of silence and counts an underrun (and primes again), a full one drops
the new block and counts an overrun, and a ring fuller than it needs (the
render thread fell behind) is trimmed back, an overrun each, so the
capture's latency stays bounded.  (PyAudio reports PortAudio's own input
overflow only by raising, which loses the block it read, so it is not read:
an overflow inside PortAudio shows as a skip in the capture, not a count.)

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


class DeviceInput:
    """The captured side of a full-duplex stream, as an input (io/base.py): the device thread `push`es
    blocks, the render thread `read`s them (see the module docstring).  Single producer, single
    consumer, no lock: the BlockRing's counters."""

    SLACK = 2               # blocks beyond what it holds (`prime`, or the input's burst) before it is trimmed
    BURSTS = 8              # room for an input that delivers in bursts of up to this many blocks

    def __init__(self, channels: int, sample_rate: int, block_size: int, prime: int, stream_channels: int = 0):
        self.channels, self.sample_rate, self.block_size = channels, sample_rate, block_size
        self.prime = max(1, prime)
        self.ring = BlockRing(self.prime + self.SLACK + self.BURSTS, block_size, stream_channels or channels)
        self.primed = False
        self.burst = 1               # the most blocks the input has delivered at once (its real granularity)
        self.blocks = 0              # blocks captured
        self.delivered = 0           # blocks the render thread got
        self.overruns = 0            # blocks lost: ring full, PortAudio's input buffer full, or trimmed
        self.underruns = 0           # blocks the render thread found none for (silence)
        self.input_latency_s = 0.0

    def push(self, data: bytes) -> None:
        """Device thread: one captured block (float32 interleaved bytes)."""
        self.blocks += 1
        if self.ring.free() == 0:
            self.overruns += 1
            return
        slot = self.ring.write_slot()
        slot.reshape(-1)[:] = np.frombuffer(data, dtype=np.float32)
        self.ring.commit()

    def read(self, out: np.ndarray) -> int:
        """Render thread: the oldest captured block into out; 0 (and silence) while priming or empty."""
        ring = self.ring
        hold = max(self.prime, min(self.burst, ring.slots - self.SLACK))
        if not self.primed:
            if ring.fill_level() < hold:
                out[:] = 0.0
                return 0
            self.primed = True
        while ring.fill_level() > hold + self.SLACK:            # more than it needs: hold the latency down
            ring.release()
            self.overruns += 1
        slot = ring.read_slot()
        if slot is None:
            self.underruns += 1
            self.primed = False
            out[:] = 0.0
            return 0
        if out.shape[1] == slot.shape[1]:
            np.copyto(out, slot)
        else:                                                    # the stream's channels mixed down
            np.mean(slot, axis=1, out=out[:, 0])
            out[:, 1:] = out[:, :1]
        ring.release()
        self.delivered += 1
        return len(out)

    def stats(self) -> dict:
        return {"blocks": self.blocks, "delivered": self.delivered, "overruns": self.overruns,
                "underruns": self.underruns, "fill": self.ring.fill_level(),
                "latency_ms": (self.input_latency_s + max(self.prime, self.burst) * self.block_size
                               / self.sample_rate) * 1e3}

    def close(self) -> None:
        """The stream is the output's: it closes it."""


class AudioOutput:
    """Plays blocks from `render_block(out)` through a PortAudio output stream (full duplex, with a
    `DeviceInput` as `.input`, when `capture_channels` > 0)."""

    def __init__(self, render_block, channels: int, sample_rate: int, block_size: int,
                 device=None, ahead: int = 3, device_buffer: int = 1024, realtime: bool = False,
                 capture_channels: int = 0, capture_device=None):
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
        self.input: DeviceInput | None = None
        self._pa = pyaudio.PyAudio()
        try:
            index = find_device(self._pa, device)
            capture = {}
            if capture_channels:
                capture = {"input": True, "input_device_index": find_device(self._pa, capture_device, False)}
            # full duplex: PyAudio takes one channel count for both directions, the output's; the input's
            # channels are mixed down to the microphone's by DeviceInput.read
            self._stream = self._pa.open(format=pyaudio.paFloat32, channels=channels, rate=sample_rate,
                                         output=True, output_device_index=index, frames_per_buffer=device_buffer,
                                         start=False, **capture)
        except DeviceError:
            self._pa.terminate()
            raise
        except (OSError, ValueError) as exc:
            self._pa.terminate()
            what = "a full-duplex stream (output and microphone)" if capture_channels else "an audio output"
            raise DeviceError(f"cannot open {what} ({exc}); use --output null to run without one") from None
        if capture_channels:
            self.input = DeviceInput(capture_channels, sample_rate, block_size,
                                     -(-device_buffer // block_size) + 1, stream_channels=channels)
            self.input.input_latency_s = self._stream.get_input_latency()
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
            self._capture()
            self._write(data)

    def _render_and_write_loop(self) -> None:
        """ahead = 0: render each block on the device thread as soon as the device has room for it."""
        block = self.ring.write_slot()
        while self._running.is_set():
            self._capture()
            self.timing.time(self.render_block, block)
            self._write(block.tobytes())

    def _capture(self) -> None:
        """Full duplex: take every whole block the input has ready, never waiting for one."""
        if self.input is None:
            return
        available = self._stream.get_read_available()
        self.input.burst = max(self.input.burst, available // self.block_size)
        while available >= self.block_size:
            self.input.push(self._stream.read(self.block_size, exception_on_overflow=False))
            available -= self.block_size

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
                **({"capture": self.input.stats()} if self.input is not None else {}),
                "underflows": self.underflows, "played": self.played, "ring_fill": self.ring.fill_level(),
                "latency_ms": (self._stream.get_output_latency() + self.ahead * self.timing.period) * 1e3,
                "priority": self.priority}
