"""Decoded audio kept on disk between loads, addressed by content (Wwise's converted-media cache).

Loading a scene decodes every compressed or resampled file (libvorbis, FLAC,
soxr's VHQ converter): on the showcase that is ~30 ms of a 0.8 s render, and
mix CI loads the same, unchanged assets in every process of every run.  So
what `assets._stream` hands its caller for such a file (the decoded,
resampled, sanitised chunks) is also written here, and the next load of the
same bytes with the same recipe reads it back instead of decoding.  A plain
PCM or float WAV at the output rate is never cached: reading it is no slower
than reading the cache.

Key: SHA-256 of the file's bytes and of the recipe (the output rate, mono
mixdown, the frame limit, and the decoder's version: libsndfile's, soxr's,
NumPy's and assets.DECODE_VERSION), so an edited asset or an upgrade misses,
never reads stale audio.  An entry is a small header (magic, frames, lanes,
samples clamped) and the float32 frames as `_stream` produced them, written
to a temporary file and renamed into place (two processes filling the same
entry both write whole files).  A short, torn or foreign file is a miss.

Where: $GAMEMIX_DECODED_CACHE if set ("off" turns the cache off), else
`decoded/` beside the kernels' cache ($XDG_CACHE_HOME/gamemix, ~/.cache/gamemix).
Entries are named by their key alone (hex), never by anything from a scene
or a message.  The folder is kept under MAX_BYTES: after each write the least
recently used entries (a hit touches its entry) go first.  A cache that cannot
be written (read-only home, full disk) is skipped: loading never fails because of it.

Control side: runs at load, never per block.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"GMXDEC01"
HEADER = struct.Struct("<8sQIQ")             # magic, frames, lanes, samples clamped
MAX_BYTES = 2 << 30                          # the folder's size kept under this (2 GiB)
STALE_S = 3600.0                             # a partial entry this old belongs to a writer that died
# containers libsndfile reads without decoding, when they hold PCM or float samples
UNCOMPRESSED = {"WAV", "WAVEX", "AIFF", "W64", "RF64", "CAF"}
PLAIN_SUBTYPES = {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"}


def folder() -> Path | None:
    """The cache folder, or None when $GAMEMIX_DECODED_CACHE is "off"."""
    chosen = os.environ.get("GAMEMIX_DECODED_CACHE")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gamemix" / "decoded"


def worth_caching(fmt: str, subtype: str, file_rate: int, rate: int) -> bool:
    """Whether a file costs a decode (compressed, or resampled to `rate`): only those are cached."""
    return fmt not in UNCOMPRESSED or subtype not in PLAIN_SUBTYPES or file_rate != rate


def key(path: str | os.PathLike, recipe: str) -> str:
    """The entry's name: SHA-256 of the file's bytes and of `recipe` (how they are decoded)."""
    digest = hashlib.sha256(recipe.encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read(name: str, put, chunk: int, lanes: int, limit: int | None) -> tuple[int, int] | None:
    """Replay entry `name` to put(first frame, chunk of frames x lanes), `chunk` frames at a time, as
    the decoder did; (frames, samples clamped), or None if there is no whole entry of `lanes` lanes
    and at most `limit` frames, what the decode would give (a torn one may have put some chunks:
    the decode that follows puts every chunk again, at the same frames)."""
    where = folder()
    if where is None:
        return None
    path = where / name
    try:
        with open(path, "rb") as f:
            magic, frames, entry_lanes, clamped = HEADER.unpack(f.read(HEADER.size))
            if (magic != MAGIC or entry_lanes != lanes or (limit is not None and frames > limit)
                    or os.fstat(f.fileno()).st_size != HEADER.size + frames * lanes * 4):
                return None
            buf = np.empty((min(chunk, max(frames, 1)), lanes), dtype="<f4")
            start = 0
            while start < frames:
                n = min(chunk, frames - start)
                if f.readinto(memoryview(buf[:n]).cast("B")) != n * lanes * 4:
                    return None
                put(start, buf[:n])
                start += n
        os.utime(path)          # recently used
    except (OSError, struct.error):
        return None
    return frames, clamped


class Writer:
    """Collects a decode's chunks into a new entry; `commit` puts it in place, `abort` drops it.
    Every failure to write is logged and turns the writer off: the decode goes on."""

    def __init__(self, name: str):
        self.name, self.file, self.lanes = name, None, 0
        where = folder()
        if where is None:
            return
        try:
            where.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(dir=where, prefix=".part-")
            self.file = os.fdopen(fd, "wb")
            self.file.write(HEADER.pack(MAGIC, 0, 0, 0))
        except OSError as exc:
            log.debug("decoded audio not cached: %s", exc)
            self.file = None

    def add(self, data: np.ndarray) -> None:
        """Append a chunk (frames x lanes, float32)."""
        if self.file is None:
            return
        self.lanes = data.shape[1]
        try:
            self.file.write(np.ascontiguousarray(data, dtype="<f4").data)
        except OSError as exc:
            log.debug("decoded audio not cached: %s", exc)
            self.abort()

    def commit(self, frames: int, clamped: int) -> None:
        """Finish the entry (its header) and rename it into place; then keep the folder under MAX_BYTES."""
        if self.file is None:
            return
        try:
            self.file.seek(0)
            self.file.write(HEADER.pack(MAGIC, frames, max(self.lanes, 1), clamped))
            self.file.close()
            os.replace(self.tmp, os.path.join(os.path.dirname(self.tmp), self.name))
        except OSError as exc:
            log.debug("decoded audio not cached: %s", exc)
            self.abort()
            return
        self.file = None
        trim(MAX_BYTES)

    def abort(self) -> None:
        """Drop the partial entry."""
        if self.file is not None:
            try:
                self.file.close()
                os.unlink(self.tmp)
            except OSError:
                pass
            self.file = None


def trim(limit: int) -> None:
    """Remove the least recently used entries until the folder holds at most `limit` bytes, and the
    partial entries of writers that died (older than STALE_S)."""
    where = folder()
    if where is None:
        return
    try:
        entries = []
        for e in os.scandir(where):
            st = e.stat()
            if e.name.startswith(".part-"):
                if st.st_mtime < time.time() - STALE_S:
                    os.unlink(e.path)
            elif e.is_file():
                entries.append((st.st_mtime, st.st_size, e.path))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        try:
            os.unlink(path)
            total -= size
        except OSError:
            pass
