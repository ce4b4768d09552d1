"""Streamed sounds: long files read from disk as they play, into a ring the kernel reads.

A sound with `stream: true` is never decoded whole.  Each instance it may
play at once has a slot: a ring of RING_FRAMES per lane in the pool
(scene/assets.py), which the kernel reads as a looping lane, so the hot path
needs nothing new.  The first RING_FRAMES of every file (its head) are
decoded at load: a play copies the head into a free slot's ring and starts
at once.  Then two parts keep the ring ahead of the voice, as a streaming
engine does (Wwise's prefetch, FMOD's stream buffers):

* the **decoder** (`Decoder.work`) reads and resamples the file, a chunk at
  a time, into a bounded queue of chunks per stream (at most RING_FRAMES
  waiting).  It does the disk I/O and the resampling, so it is not run by
  the audio thread: the live server runs it on a thread of its own; an
  offline render runs it before each block, which keeps renders
  deterministic.
* the **copier** (`Streams.tick`, on the control side before each block)
  measures how far each voice read (its position's advance around the ring,
  pitch and virtual time included), copies waiting chunks into the part of
  the ring the voice has passed, never into the frames the next block may
  read (a block at the top pitch, 16, plus the resampler's window and the
  guard), and stops a voice that reached its file's end (the ring
  past the end is written with zeros, so the stop fades over silence).  A
  voice that reads where nothing was copied yet is an underrun: counted
  (`underruns`), and heard as a gap.

The two share only each stream's chunk queue (a deque: appends and pops are
atomic) and a request queue; nothing is locked, and nothing that is not
copied waits on the disk.  Memory is bounded by the scene: rings and heads
are fixed at load, and each stream holds at most RING_FRAMES of chunks.

A streamed voice can be paused, seeked (its ring restarts at the new place:
heard after the decoder's first chunk) and moved; after a hot reload it goes
on from where it was in its file.

Control side.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field

import numpy as np
import soundfile
import soxr

from gamemix.core.arrays import FRAC_ONE, MAX_PITCH, VI_LANE0, VI_LANE1, VI_LOOP, VI_LOOPS, VI_POS
from gamemix.core.dsp.playback import WINDOW
from gamemix.errors import CommandError
from gamemix.scene.assets import GUARD, MAX_SAMPLE, RING_FRAMES

DECODE_AHEAD = RING_FRAMES              # frames of chunks a stream may have waiting
STREAM_CHUNK = 8192                     # frames read at a time: short, so the decoder holds the GIL briefly
URGENT_FRAMES = RING_FRAMES // 4        # below this lead a stream is topped up at once; above, a chunk a turn,
                                        # so filling a new stream's 2.7 s does not hold the GIL in one burst


@dataclass
class Stream:
    """One playing streamed voice: its ring, its file, and how far both have got (in file frames)."""

    id: int
    row: int
    sound: str
    slot: int
    file: int
    loops: int                          # -1 for ever, 0 once, N more times
    origin: int                         # the file frame at ring position 0
    read: int = 0                       # file frames the voice has read (fixed point, see FRAC_ONE)
    written: int = 0                    # file frames copied into the ring, from origin
    last_pos: int = 0
    ended_at: int | None = None         # file frames in all (the decoder's end), once known
    stopping: bool = False              # its end was reported
    chunks: collections.deque = field(default_factory=collections.deque)   # from the decoder


class Streams:
    """The control side of streaming for one loaded scene; see the module docstring."""

    def __init__(self, bank, arrays, sample_rate: int):
        self.bank, self.arrays = bank, arrays
        self.safety = arrays.block_size * int(MAX_PITCH) + WINDOW + 2 * GUARD   # what one block may read
        self.rooms = bank.streams
        self.free = {name: list(range(len(room.slots)))[::-1] for name, room in self.rooms.items()}
        self.by_row: dict[int, Stream] = {}
        self.requests: collections.deque = collections.deque()      # ("open" | "close", Stream), to the decoder
        self.decoder = Decoder(bank, self.requests, sample_rate)
        self.synchronous = True             # offline: decode before each block; the live server runs a thread
        self.underruns = 0
        self._ids = itertools.count(1)

    def start(self, row: int, sound: str, file: int, loops: int, at_frame: int = 0) -> None:
        """Give a new voice (row) of a streamed sound a slot and start its ring at `at_frame` of `file`;
        CommandError 'voice_limit' if every slot is taken."""
        free = self.free[sound]
        if not free:
            raise CommandError("voice_limit", f"{sound!r} refused: its {len(self.rooms[sound].slots)} stream "
                                              "slots all play (a streamed sound's max_instances)")
        slot = free.pop()
        stream = Stream(next(self._ids), row, sound, slot, file, loops, at_frame)
        lanes = self.rooms[sound].slots[slot]
        vi = self.arrays.vi
        vi[row, VI_LANE0] = lanes[0]
        vi[row, VI_LANE1] = lanes[1] if len(lanes) > 1 else -1
        vi[row, VI_LOOP], vi[row, VI_LOOPS] = 1, -1           # the ring wraps; the file's loops are counted here
        vi[row, VI_POS] = 0
        self._begin(stream)
        self.by_row[row] = stream

    def _begin(self, stream: Stream) -> None:
        """Fill the ring from the head (a start at frame 0) or with silence, and ask for the rest."""
        head = self.rooms[stream.sound].files[stream.file].head if stream.origin == 0 else None
        n = 0 if head is None else len(head)
        for c, lane in enumerate(self.rooms[stream.sound].slots[stream.slot]):
            ring = self._ring(lane)
            ring[:] = 0.0
            if n:
                ring[:n] = head[:, min(c, head.shape[1] - 1)]
            ring[RING_FRAMES:] = ring[:GUARD]
        stream.written = n
        self.requests.append(("open", stream))

    def _ring(self, lane: int) -> np.ndarray:
        off = int(self.bank.lane_offset[lane])
        return self.bank.pool[off:off + RING_FRAMES + GUARD]

    def seek(self, row: int, frame: int) -> None:
        """Restart a streamed voice's ring at `frame` of its file (the decoder fills it from there)."""
        old = self.by_row[row]
        self.requests.append(("close", old))
        stream = Stream(next(self._ids), row, old.sound, old.slot, old.file, old.loops, frame)
        self.arrays.vi[row, VI_POS] = 0
        self._begin(stream)
        self.by_row[row] = stream

    def file_frame(self, row: int) -> int:
        """Where a streamed voice is in its file."""
        stream = self.by_row[row]
        moved = (int(self.arrays.vi[row, VI_POS]) - stream.last_pos) % (RING_FRAMES * FRAC_ONE)   # since tick
        return stream.origin + (stream.read + moved) // FRAC_ONE

    def end(self, row: int) -> None:
        """A streamed voice ended: free its slot, tell the decoder."""
        stream = self.by_row.pop(row, None)
        if stream is not None:
            self.free[stream.sound].append(stream.slot)
            self.requests.append(("close", stream))

    def tick(self) -> list[int]:
        """Before a block: decode (offline), copy what is ready into the rings, and return the rows
        that reached their file's end (the caller stops them)."""
        if not self.by_row and not self.requests:
            return []                                   # nothing streams (most scenes, most blocks)
        if self.synchronous:
            self.decoder.work()
        finished = []
        vi = self.arrays.vi
        for row, stream in self.by_row.items():
            pos = int(vi[row, VI_POS])
            stream.read += (pos - stream.last_pos) % (RING_FRAMES * FRAC_ONE)
            stream.last_pos = pos
            read = stream.read // FRAC_ONE
            self._copy(stream, read)
            if stream.written < read:
                self.underruns += 1
            if not stream.stopping and stream.ended_at is not None and read >= stream.ended_at - stream.origin:
                stream.stopping = True
                finished.append(row)
        return finished

    def _copy(self, stream: Stream, read: int) -> None:
        """Copy waiting chunks (zeros past the end) into the ring, up to SAFETY frames behind the read."""
        room = self.rooms[stream.sound]
        limit = read + RING_FRAMES - self.safety
        while stream.written < limit:
            if stream.chunks:
                chunk = stream.chunks[0]
                if chunk is None:                              # the decoder's end of the file
                    stream.ended_at = stream.origin + stream.written
                    stream.chunks.popleft()
                    continue
                n = min(len(chunk), limit - stream.written)
                self._put(room, stream, chunk[:n])
                if n == len(chunk):
                    stream.chunks.popleft()
                else:
                    stream.chunks[0] = chunk[n:]
            elif stream.ended_at is not None:
                self._put(room, stream, None, limit - stream.written)
            else:
                return                                        # the decoder has not got there yet

    def _put(self, room, stream: Stream, chunk, zeros: int = 0) -> None:
        n = len(chunk) if chunk is not None else zeros
        start = stream.written % RING_FRAMES
        first = min(n, RING_FRAMES - start)
        for c, lane in enumerate(room.slots[stream.slot]):
            ring = self._ring(lane)
            if chunk is None:
                ring[start:start + first] = 0.0
                ring[:n - first] = 0.0
            else:
                ring[start:start + first] = chunk[:first, c]
                ring[:n - first] = chunk[first:, c]
            if start < GUARD or n - first > 0:                # keep the guard a copy of the ring's start
                ring[RING_FRAMES:] = ring[:GUARD]
        stream.written += n

    def carry_over(self, row: int, old: "Streams", old_row: int) -> bool:
        """After a reload: a streamed voice started again in this scene (row) goes on from where the
        old one (old_row) was in its file; True if it was a streamed voice."""
        if row not in self.by_row or old_row not in old.by_row:
            return False
        frame = old.file_frame(old_row)
        if frame:
            self.seek(row, frame)
        return True


class Decoder:
    """Reads the files of the open streams into their chunk queues; see the module docstring.
    `work` does one pass and returns; a thread (live) or the control side (offline) calls it."""

    def __init__(self, bank, requests: collections.deque, sample_rate: int):
        self.bank, self.requests, self.sample_rate = bank, requests, sample_rate
        self.open: dict[int, tuple] = {}      # stream id -> (Stream, its FileReader)

    def work(self) -> int:
        """Take the new requests, then top every open stream up to DECODE_AHEAD; returns frames decoded."""
        while self.requests:
            kind, stream = self.requests.popleft()
            if kind == "open":
                self.open[stream.id] = (stream, self._reader(stream))
            else:
                reader = self.open.pop(stream.id, None)
                if reader is not None:
                    reader[1].close()
        done = 0
        for stream, reader in list(self.open.values()):
            waiting = sum(len(c) for c in stream.chunks if c is not None)
            turn = 0
            while waiting < DECODE_AHEAD and not reader.finished and (waiting < URGENT_FRAMES or turn == 0):
                turn += 1
                chunk = reader.next()
                if chunk is not None:
                    stream.chunks.append(chunk)
                    waiting += len(chunk)
                    done += len(chunk)
                if reader.finished:
                    stream.chunks.append(None)          # the end: the copier writes zeros after it
        return done

    def _reader(self, stream: Stream) -> "FileReader":
        room = self.bank.streams[stream.sound]
        f = room.files[stream.file]
        skip = stream.origin + stream.written            # the first frame the ring still needs
        return FileReader(f.path, f.rate, self.sample_rate, room.mono, skip, stream.loops)


class FileReader:
    """A file decoded chunk by chunk at the output rate from frame `skip` on (of the output rate),
    cleaned (NaN to 0, clamped), mixed to mono if asked, looping `loops` more times (-1: for ever)."""

    def __init__(self, path, rate: int, out_rate: int, mono: bool, skip: int, loops: int):
        self.path, self.rate, self.out_rate, self.mono, self.loops = path, rate, out_rate, mono, loops
        self.finished = False
        self._open(skip)

    def _open(self, skip: int) -> None:
        self.file = soundfile.SoundFile(str(self.path))
        self.resampler = (soxr.ResampleStream(self.rate, self.out_rate, self.file.channels, dtype="float32",
                                              quality="VHQ") if self.rate != self.out_rate else None)
        self.skip = skip
        if self.resampler is None and skip:
            self.file.seek(min(skip, self.file.frames))
            self.skip = 0

    def next(self) -> np.ndarray | None:
        """The next chunk (frames x lanes), or None at the end (after the last loop)."""
        while True:
            data = self.file.read(STREAM_CHUNK, dtype="float32", always_2d=True)
            last = len(data) < STREAM_CHUNK
            if self.resampler is not None:
                data = self.resampler.resample_chunk(data, last=last)
            if self.skip:
                cut = min(self.skip, len(data))
                data, self.skip = data[cut:], self.skip - cut
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
            np.clip(data, -MAX_SAMPLE, MAX_SAMPLE, out=data)
            if self.mono and data.shape[1] > 1:
                data = data.mean(axis=1, keepdims=True, dtype=np.float32)
            if last:
                if self.loops == 0:
                    self.finished = True
                    self.file.close()
                    return data if len(data) else None
                self.loops -= 1 if self.loops > 0 else 0
                self.file.close()
                self._open(0)
            if len(data):
                return np.ascontiguousarray(data, dtype=np.float32)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()
