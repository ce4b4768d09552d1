"""A streaming WAV writer whose bytes depend only on the samples.

libsndfile (soundfile) stamps the wall-clock time into the PEAK chunk of
float WAV files, so two renders of the same samples would differ as files.
This writer emits only RIFF, `fmt ` (and `fact` for float) and `data`:
32-bit IEEE float (format 3, WAVE_FORMAT_EXTENSIBLE is not needed for mono or
stereo) or 16/24-bit PCM, little-endian, patched with the final sizes at close.

Edge: file output.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

FORMATS = {"float": (3, 32), "pcm24": (1, 24), "pcm16": (1, 16)}


class WavWriter:
    """Write (frames, channels) float32 blocks to a WAV file; use as a context manager."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int, fmt: str = "float"):
        self.tag, self.bits = FORMATS[fmt]
        self.channels = channels
        self.sample_rate = sample_rate
        self.frames = 0
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "wb")
        self.file.write(self._header())

    def _header(self) -> bytes:
        block_align = self.channels * self.bits // 8
        data_bytes = self.frames * block_align
        fmt = struct.pack("<HHIIHH", self.tag, self.channels, self.sample_rate,
                          self.sample_rate * block_align, block_align, self.bits)
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
            self.file.write(block.astype("<f4").tobytes())
            return
        full = float(2 ** (self.bits - 1))
        ints = np.clip(np.round(block.astype(np.float64) * full), -full, full - 1).astype("<i4")
        if self.bits == 16:
            self.file.write(ints.astype("<i2").tobytes())
        else:
            self.file.write(ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes())

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
