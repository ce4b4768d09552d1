"""WAV files: a writer whose bytes depend only on the samples, a real-time file output, a file input.

`WavWriter`: libsndfile (soundfile) stamps the wall-clock time into the PEAK
chunk of float WAV files, so two renders of the same samples would differ as
files.  This writer emits only RIFF, `fmt ` (and `fact` for float) and `data`:
32-bit IEEE float (format 3) or 16/24-bit PCM, little-endian.  Mono and
stereo files use the plain format; wider ones (surround, ambisonics) use
WAVE_FORMAT_EXTENSIBLE with the layout's channel mask (0 for an ambisonic
stream: its channels are no speakers), so players and ffmpeg map the
channels to the right speakers (Microsoft, "Multiple channel audio data and
WAVE files").  The sizes in the header are patched
every `sync_s` seconds of audio as well as at close, so a file whose writer
was killed (kill -9, a crash) still reads, up to its last second.

`FileOutput` (`gamemix serve --output FILE.wav`) is the headless live output:
a thread renders one block per block period (sleeping to the next deadline,
so games and tests see real-time behaviour) and appends it to the file.

`WavInput` reads a recording block by block as an input (io/base.py), at the
mixer's rate and channel count, so a microphone can be replaced by a file.

Edge: file input and output.
"""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path

import numpy as np

from gamemix.io.base import Timing, raise_priority

FORMATS = {"float": (3, 32), "pcm24": (1, 24), "pcm16": (1, 16)}
EXTENSIBLE = 0xFFFE
GUID_TAIL = bytes.fromhex("00001000800000aa00389b71")   # KSDATAFORMAT_SUBTYPE_*: {0000000t-0000-0010-8000-00aa00389b71}


class WavWriter:
    """Write (frames, channels) float32 blocks to a WAV file; use as a context manager."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int, fmt: str = "float", sync_s: float = 1.0,
                 mask: int | None = None):
        self.tag, self.bits = FORMATS[fmt]
        self.channels = channels
        self.mask = mask            # the channel mask; None: plain mono or stereo (WAVE_FORMAT_EXTENSIBLE beyond)
        self.sample_rate = sample_rate
        self.frames = 0
        self.sync_frames = max(1, int(sync_s * sample_rate))
        self._synced = 0
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "wb")
        self.file.write(self._header())

    def _header(self) -> bytes:
        block_align = self.channels * self.bits // 8
        data_bytes = self.frames * block_align
        extensible = self.channels > 2 or self.mask not in (None, {1: 0x4, 2: 0x3}.get(self.channels))
        fmt = struct.pack("<HHIIHH", EXTENSIBLE if extensible else self.tag, self.channels, self.sample_rate,
                          self.sample_rate * block_align, block_align, self.bits)
        if extensible:              # cbSize, valid bits, channel mask, the sub-format GUID
            fmt += struct.pack("<HHI", 22, self.bits, self.mask or 0) + struct.pack("<I", self.tag) + GUID_TAIL
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
        if self.tag == 3:
            chunks += b"fact" + struct.pack("<II", 4, self.frames)
        size = 4 + len(chunks) + 8 + data_bytes
        return b"RIFF" + struct.pack("<I", size) + b"WAVE" + chunks + b"data" + struct.pack("<I", data_bytes)

    def write(self, block: np.ndarray) -> None:
        """Append frames; float samples are clipped to [-1, 1] for the PCM formats."""
        block = np.asarray(block, dtype=np.float32).reshape(-1, self.channels)
        self.frames += len(block)
        if self.tag == 3:
            self.file.write(np.ascontiguousarray(block, dtype="<f4").data)     # no copy when it is already
        else:
            full = float(2 ** (self.bits - 1))
            ints = np.clip(np.round(block.astype(np.float64) * full), -full, full - 1).astype("<i4")
            if self.bits == 16:
                self.file.write(ints.astype("<i2").tobytes())
            else:
                self.file.write(ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes())
        if self.frames - self._synced >= self.sync_frames:
            self.sync()

    def sync(self) -> None:
        """Write out what is buffered and patch the header with the sizes so far."""
        self.file.flush()
        end = self.file.tell()
        self.file.seek(0)
        self.file.write(self._header())
        self.file.seek(end)
        self.file.flush()
        self._synced = self.frames

    def close(self) -> None:
        """Patch the sizes into the header and close."""
        if self.file.closed:
            return
        self.file.seek(0)
        self.file.write(self._header())
        self.file.close()

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FileOutput:
    """Render thread paced in real time, writing every block to a WAV file."""

    def __init__(self, render_block, path: Path, channels: int, sample_rate: int, block_size: int,
                 realtime: bool = False, mask: int | None = None):
        self.render_block = render_block
        self.realtime = realtime
        self.priority = "normal"
        self.path = Path(path)
        self.period = block_size / sample_rate
        self.block = np.zeros((block_size, channels), dtype=np.float32)
        self.writer = WavWriter(self.path, sample_rate, channels, mask=mask)
        self.timing = Timing(self.period)
        self.late = 0          # blocks that finished after their deadline (the file analogue of an xrun)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gamemix-render", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.writer.close()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        self.priority = raise_priority(self.realtime)
        deadline = time.perf_counter()
        while not self._stop.is_set():
            self.timing.time(self.render_block, self.block)
            self.writer.write(self.block)
            deadline += self.period
            wait = deadline - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                self.late += 1
                deadline = time.perf_counter()

    def stats(self) -> dict:
        """Blocks written, late blocks (as xruns), render time per block and CPU load."""
        return {**self.timing.stats(), "xruns": self.late, "priority": self.priority}


class WavInput:
    """A sound file as an input: `read` gives its next block (silence after its end).

    Any file libsndfile reads; resampled to `sample_rate` with soxr when its rate differs, and
    mixed or spread to `channels` (a mono file feeds every channel; more channels than asked are
    averaged down).  Decoded in chunks as it is read, so memory stays at a chunk (live, where the
    render thread reads it, a small one: `chunk`)."""

    CHUNK = 1 << 16

    def __init__(self, path: str | Path, sample_rate: int, channels: int, block_size: int, chunk: int = CHUNK):
        import soundfile
        import soxr
        self.path = Path(path)
        self.sample_rate, self.channels, self.block_size = sample_rate, channels, block_size
        self._file = soundfile.SoundFile(str(self.path))
        self._resampler = (soxr.ResampleStream(self._file.samplerate, sample_rate, self._file.channels,
                                               dtype="float32", quality="VHQ")
                           if self._file.samplerate != sample_rate else None)
        self._buffer = np.zeros((0, channels), dtype=np.float32)
        self._done = False
        self.chunk = chunk
        self.blocks = 0
        self.frames = 0

    def _refill(self) -> None:
        data = self._file.read(self.chunk, dtype="float32", always_2d=True)
        last = len(data) < self.chunk
        if self._resampler is not None:
            data = self._resampler.resample_chunk(data, last=last)
        self._done = last
        if data.shape[1] != self.channels:
            data = np.repeat(data.mean(axis=1, keepdims=True, dtype=np.float32), self.channels, axis=1)
        self._buffer = np.concatenate([self._buffer, np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)])

    def read(self, out: np.ndarray) -> int:
        """Fill out (block_size, channels) with the next block; returns the frames taken from the file."""
        while len(self._buffer) < len(out) and not self._done:
            self._refill()
        n = min(len(out), len(self._buffer))
        out[:n] = self._buffer[:n]
        out[n:] = 0.0
        self._buffer = self._buffer[n:]
        self.blocks += 1
        self.frames += n
        return n

    def conversions(self) -> list[str]:
        """What reading this file at the mixer's rate and channel count changes, as warnings."""
        out = []
        if self._file.samplerate != self.sample_rate:
            out.append(f"{self.path.name}: recorded at {self._file.samplerate} Hz, resampled to {self.sample_rate} Hz")
        if self._file.channels != self.channels:
            how = "mixed down" if self._file.channels > self.channels else "spread"
            out.append(f"{self.path.name}: {self._file.channels} channel(s), {how} to {self.channels}")
        return out

    def stats(self) -> dict:
        return {"blocks": self.blocks, "frames": self.frames, "overruns": 0, "underruns": 0}

    def close(self) -> None:
        self._file.close()
        self._resampler = None

    def __enter__(self) -> "WavInput":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
