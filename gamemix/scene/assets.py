"""Audio assets: decoded once at scene load into one float32 pool.

Every file is decoded with libsndfile (WAV 16/24/32-bit and float, FLAC, OGG)
and, when its rate differs from the output's, resampled with soxr's
band-limited VHQ converter.  Each channel of each file becomes a *lane*: a
contiguous run of samples in the pool followed by GUARD samples, so the
interpolating reader never needs a bounds check: for a looping sound the
guard repeats the start of the clip, for a one-shot it is silence.  The pool
ends with TAIL zeros, as far as the resampler's vector loads reach past an
index (what they read there is never used).

Memory.  The pool is sized before anything is decoded (from each file's
frame count, and for a resampled one the most frames soxr can give), and
each file is decoded and resampled a chunk at a time straight into its
lanes, so the peak at load is the pool plus one chunk: a 64 MiB file costs
its decoded size, not several copies of it.  A file two sounds share is
decoded once.

Decoded once per content.  What a compressed or resampled file decodes to
is kept on disk, addressed by the file's bytes and the decoding recipe
(scene/decoded_cache.py): the next load of the same asset, in any process,
reads it back instead of decoding (the same chunks, so the same pool).

Numeric hygiene.  NaN and infinities become 0, and samples beyond
±MAX_SAMPLE (+12 dBFS) are clamped to it, with a located warning: a float
file with absurd values (±3e38) would otherwise overflow the buses'
filters and meters.

Control side: runs at load, never per block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import soundfile
import soxr

from gamemix.core.dsp.playback import WINDOW
from gamemix.scene import decoded_cache
from gamemix.errors import LocatedError, Problem
from gamemix.scene.model import Scene

GUARD = 4  # samples after each lane, read by the interpolator past the end
TAIL = WINDOW  # zeros after the last lane: the resampler's window loads read this far past an index
MAX_SAMPLE = 4.0  # +12 dBFS: a sample beyond is clamped at load
CHUNK = 1 << 16   # frames decoded at a time
RING_FRAMES = 1 << 17   # a streamed voice's ring (2.7 s at 48 kHz); a file's head decoded at load is as long
DECODE_VERSION = 1      # what _decode makes of a file: a change to it bumps this (decoded_cache's key)


@dataclass(frozen=True)
class Variant:
    """One playable file of a sound: its lanes (1 mono, 2 stereo) and length in frames."""

    lanes: tuple[int, ...]
    frames: int
    file: str


@dataclass
class ClipBank:
    """All lanes of a scene in one pool, plus each sound's variants and what loading warned about."""

    pool: np.ndarray
    lane_offset: np.ndarray  # int64, start of each lane in pool
    lane_length: np.ndarray  # int64, frames of each lane (guard excluded)
    variants: dict[str, list[Variant]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    uploads: dict[str, "UploadRoom"] = field(default_factory=dict)   # sounds the game fills at run time
    streams: dict[str, "StreamRoom"] = field(default_factory=dict)   # sounds read from disk as they play

    def fill(self, sound: str, data: np.ndarray) -> int:
        """Put an upload (float32 frames x lanes, already at the output rate, see prepare_upload) in
        its sound's room: the next play plays it.  A copy, no allocation; returns its frames."""
        room = self.uploads[sound]
        n = len(data)
        if n > room.reserve or data.ndim != 2 or data.shape[1] != len(room.lanes):
            raise ValueError(f"{n} frames x {data.shape[1:]} do not fit {sound!r} ({room.reserve} x {len(room.lanes)})")
        for c, lane in enumerate(room.lanes):
            off = int(self.lane_offset[lane])
            self.pool[off:off + n] = data[:, c]
            self.pool[off + n:off + n + GUARD] = np.resize(data[:, c], GUARD) if room.loop else 0.0
            self.lane_length[lane] = n
        self.variants[sound] = [Variant(room.lanes, n, "<upload>")]
        return n


@dataclass(frozen=True)
class StreamFile:
    """One file of a streamed sound: where it is, its first RING_FRAMES decoded at load (so a play
    starts at once), its length at the output rate (as soxr will give it), its own rate."""

    path: object
    head: np.ndarray        # float32, frames x lanes
    frames: int
    rate: int


@dataclass(frozen=True)
class StreamRoom:
    """A streamed sound's rings (one per instance it may play at once, each RING_FRAMES + GUARD per
    lane, in the pool) and its files (control/streams.py reads them as they play)."""

    slots: tuple[tuple[int, ...], ...]
    files: tuple[StreamFile, ...]
    mono: bool


@dataclass(frozen=True)
class UploadRoom:
    """The lanes reserved for an uploaded sound, and how it is stored (docs/scene-format.md, upload)."""

    lanes: tuple[int, ...]
    reserve: int        # frames, at the output rate
    loop: bool
    mono: bool          # a 3D sound: an upload is mixed down to one lane


def prepare_upload(pcm: bytes, channels: int, rate: int, out_rate: int, room: UploadRoom) -> np.ndarray:
    """Raw float32 little-endian interleaved frames as the frames x lanes a sound's room takes:
    resampled to the output rate (soxr, VHQ), NaN and infinities zeroed, clamped to +-MAX_SAMPLE,
    mixed to mono for a 3D sound.  ValueError saying why if they do not fit.  Not for the audio
    thread (it allocates and resamples); the live server calls it on its network thread."""
    if len(pcm) % (4 * channels):
        raise ValueError(f"{len(pcm)} bytes are not whole frames of {channels} float32 samples")
    data = np.frombuffer(pcm, dtype="<f4").reshape(-1, channels).astype(np.float32)
    if len(data) == 0:
        raise ValueError("no frames")
    if rate != out_rate:
        data = soxr.resample(data, rate, out_rate, quality="VHQ").astype(np.float32, copy=False).reshape(-1, channels)
    data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(data, -MAX_SAMPLE, MAX_SAMPLE, out=data)
    if room.mono and channels > 1:
        data = data.mean(axis=1, keepdims=True, dtype=np.float32)
    elif channels != len(room.lanes):
        data = np.repeat(data, len(room.lanes), axis=1) if channels == 1 else data[:, :len(room.lanes)]
    if len(data) > room.reserve:
        raise ValueError(f"{len(data) / out_rate:.3f} s at {out_rate} Hz is longer than the sound's room of "
                         f"{room.reserve / out_rate:.3f} s (upload.max_seconds)")
    return np.ascontiguousarray(data)


@dataclass
class _Use:
    """One file as one sound plays it: where it is, how many lanes, the room reserved for each."""

    sound: str
    index: int
    rel: str
    path: object
    lanes: int
    reserve: int
    rate: int
    loop: bool
    mono: bool
    info: object = None     # soundfile.info of the file (None for an upload's room)


def build_bank(scene: Scene) -> ClipBank:
    """Decode every file the scene's sounds use; LocatedError names any that fail.

    3D sounds are mixed down to mono (a point source has one signal); 2D sounds
    keep mono or stereo.  Files with more than two channels are refused.
    """
    rate = scene.output.sample_rate
    uses, problems = [], []
    streamed: dict[str, list] = {}
    for name, sound in scene.sounds.items():
        if sound.upload is not None:
            mono = sound.spatial is not None
            uses.append(_Use(name, 0, "<upload>", None, 1 if mono else sound.upload.channels,
                             math.ceil(sound.upload.max_seconds * rate), rate, sound.loop, mono))
        for i, rel in enumerate(sound.files):
            loc = ("sounds", name, "files", i)
            try:
                path = scene.asset_path(rel)
                info = soundfile.info(str(path))
            except (ValueError, RuntimeError, OSError, soundfile.LibsndfileError) as exc:
                problems.append(scene.problem(loc, f"cannot decode {rel}: {exc}"))
                continue
            if info.channels > 2:
                problems.append(scene.problem(loc, f"{rel} has {info.channels} channels; mono or stereo only"))
                continue
            if info.frames <= 0:
                problems.append(scene.problem(loc, f"{rel} has no audio frames"))
                continue
            mono = sound.spatial is not None
            if sound.stream:
                streamed.setdefault(name, []).append((i, path, info))
                continue
            uses.append(_Use(name, i, rel, path, 1 if mono else info.channels,
                             _reserve(info.frames, info.samplerate, rate), info.samplerate, sound.loop, mono, info))
    if problems:
        raise LocatedError(problems)
    bank = _pack(scene, uses, rate)
    _add_streams(scene, bank, streamed, rate)
    return bank


def _add_streams(scene: Scene, bank: ClipBank, streamed: dict[str, list], rate: int) -> None:
    """Rings for the streamed sounds, appended to the pool, and each file's head decoded."""
    from gamemix.scene.model import STREAM_SLOTS
    problems, rooms = [], {}
    for name, files in streamed.items():
        sound = scene.sounds[name]
        mono = sound.spatial is not None
        lanes = 1 if mono else max(info.channels for _, _, info in files)
        heads = []
        for i, path, info in files:
            if not mono and info.channels != lanes:
                problems.append(scene.problem(("sounds", name, "files", i), "the files of a streamed sound "
                                              f"have the same channels ({info.channels} here, {lanes} elsewhere)"))
                continue
            head = np.zeros((RING_FRAMES, lanes), dtype=np.float32)

            def put(start, chunk, head=head):
                head[start:start + len(chunk)] = chunk
            n, _ = _stream(path, rate, mono, put, RING_FRAMES, info)
            heads.append(StreamFile(path, head[:n].copy(), _reserve(info.frames, info.samplerate, rate) if
                                    info.samplerate != rate else info.frames, info.samplerate))
        rooms[name] = (sound.max_instances or STREAM_SLOTS, lanes, tuple(heads), mono)
    if problems:
        raise LocatedError(problems)
    extra = sum(slots * lanes * (RING_FRAMES + GUARD) for slots, lanes, _, _ in rooms.values())
    if not extra:
        return
    start = len(bank.pool) - TAIL
    pool = np.zeros(len(bank.pool) + extra, dtype=np.float32)
    pool[:start] = bank.pool[:start]
    lane = len(bank.lane_offset)
    offsets, lengths = list(bank.lane_offset), list(bank.lane_length)
    for name, (slots, lanes, heads, mono) in rooms.items():
        slot_lanes = []
        for _ in range(slots):
            slot_lanes.append(tuple(range(lane, lane + lanes)))
            for _ in range(lanes):
                offsets.append(start)
                lengths.append(RING_FRAMES)
                start += RING_FRAMES + GUARD
                lane += 1
        bank.streams[name] = StreamRoom(tuple(slot_lanes), heads, mono)
        bank.variants[name] = [Variant(slot_lanes[0], f.frames, str(f.path)) for f in heads]
    bank.pool = pool
    bank.lane_offset = np.array(offsets, dtype=np.int64)
    bank.lane_length = np.array(lengths, dtype=np.int64)


def _reserve(frames: int, rate: int, out_rate: int) -> int:
    """Room for a file's frames at the output rate: exact without resampling, else the most soxr gives."""
    return frames if rate == out_rate else math.ceil(frames * out_rate / rate) + 1


def _pack(scene: Scene, uses: list[_Use], rate: int) -> ClipBank:
    """Lay every lane out in one pool with its guard samples, decoding each file into its lanes."""
    nlanes = sum(u.lanes for u in uses)
    pool = np.zeros(sum((u.reserve + GUARD) * u.lanes for u in uses) + TAIL, dtype=np.float32)
    bank = ClipBank(pool, np.zeros(max(nlanes, 1), dtype=np.int64), np.zeros(max(nlanes, 1), dtype=np.int64))
    decoded: dict[tuple[str, bool], tuple[list[int], int]] = {}     # (file, mono) -> (its lanes, frames)
    lane = pos = 0
    problems = []
    for u in uses:
        lanes = list(range(lane, lane + u.lanes))
        offsets = [pos + k * (u.reserve + GUARD) for k in range(u.lanes)]
        first = decoded.get((u.rel, u.mono))
        try:
            if u.path is None:              # an upload's room: silent (one zero frame) until filled
                n = 1
                bank.uploads[u.sound] = UploadRoom(tuple(lanes), u.reserve, u.loop, u.mono)
            elif first is not None:
                n = first[1]
                for src, dst in zip(first[0], offsets):
                    pool[dst:dst + n] = pool[bank.lane_offset[src]:bank.lane_offset[src] + n]
            else:
                n, clamped = _decode_into(pool, offsets, u, rate)
                decoded[(u.rel, u.mono)] = (lanes, n)
                if clamped:
                    bank.warnings.append(scene.problem(("sounds", u.sound, "files", u.index),
                                                       f"{u.rel}: {clamped} samples beyond ±{MAX_SAMPLE:g} "
                                                       f"(+{20 * math.log10(MAX_SAMPLE):.0f} dBFS) were clamped"))
        except (ValueError, RuntimeError, OSError, soundfile.LibsndfileError) as exc:
            problems.append(scene.problem(("sounds", u.sound, "files", u.index), f"cannot decode {u.rel}: {exc}"))
            continue
        if n == 0:
            problems.append(scene.problem(("sounds", u.sound, "files", u.index), f"{u.rel} has no audio frames"))
            continue
        for k, off in zip(lanes, offsets):
            if u.loop:
                pool[off + n:off + n + GUARD] = np.resize(pool[off:off + n], GUARD)
            bank.lane_offset[k], bank.lane_length[k] = off, n
        bank.variants.setdefault(u.sound, []).append(Variant(tuple(lanes), n, u.rel))
        lane += u.lanes
        pos += (u.reserve + GUARD) * u.lanes
    if problems:
        raise LocatedError(problems)
    return bank


def _decode_into(pool: np.ndarray, offsets: list[int], u: _Use, rate: int) -> tuple[int, int]:
    """Decode `u`'s file chunk by chunk into its lanes at `offsets`; returns (frames, samples clamped)."""
    def put(start: int, chunk: np.ndarray) -> None:
        count = min(len(chunk), u.reserve - start)
        for c, off in enumerate(offsets):
            pool[off + start:off + start + count] = chunk[:count, c]
    return _stream(u.path, rate, u.mono, put, u.reserve, u.info)


def _stream(path, rate: int, mono: bool, put, limit: int | None = None, info=None) -> tuple[int, int]:
    """Read a file a chunk at a time: decode, resample to `rate`, zero NaN/Inf, clamp to ±MAX_SAMPLE,
    mix to mono if asked, and hand each chunk to put(first frame, chunk); returns (frames, clamped).
    A file that costs a decode (`info` says so) is replayed from, or written to, the decoded-audio
    cache (scene/decoded_cache.py): the same chunks either way."""
    if (info is None or decoded_cache.folder() is None
            or not decoded_cache.worth_caching(info.format, info.subtype, info.samplerate, rate)):
        return _decode(path, rate, mono, put, limit)
    name = decoded_cache.key(path, _recipe(rate, mono, limit))
    done = decoded_cache.read(name, put, CHUNK, 1 if mono else info.channels, limit)
    if done is not None:
        return done
    entry = decoded_cache.Writer(name)

    def put_and_keep(start: int, chunk: np.ndarray) -> None:
        put(start, chunk)
        entry.add(chunk)
    try:
        frames, clamped = _decode(path, rate, mono, put_and_keep, limit)
    except BaseException:
        entry.abort()
        raise
    entry.commit(frames, clamped)
    return frames, clamped


def _recipe(rate: int, mono: bool, limit: int | None) -> str:
    """Everything besides a file's bytes that its decoded chunks depend on (decoded_cache's key)."""
    return (f"gamemix decode v{DECODE_VERSION}; rate {rate}; mono {mono}; limit {limit}; chunk {CHUNK}; "
            f"max {MAX_SAMPLE!r}; libsndfile {soundfile.__libsndfile_version__}; soxr {soxr.__version__}; "
            f"numpy {np.__version__}")


def _decode(path, rate: int, mono: bool, put, limit: int | None = None) -> tuple[int, int]:
    """`_stream`'s decoding itself."""
    frames = clamped = 0
    with soundfile.SoundFile(str(path)) as f:
        resampler = (soxr.ResampleStream(f.samplerate, rate, f.channels, dtype="float32", quality="VHQ")
                     if f.samplerate != rate else None)
        while True:
            data = f.read(CHUNK, dtype="float32", always_2d=True)
            last = len(data) < CHUNK
            if resampler is not None:
                data = resampler.resample_chunk(data, last=last)
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
            over = np.abs(data) > MAX_SAMPLE
            if over.any():
                clamped += int(over.sum())
                np.clip(data, -MAX_SAMPLE, MAX_SAMPLE, out=data)
            if mono and data.shape[1] > 1:
                data = data.mean(axis=1, keepdims=True, dtype=np.float32)
            if limit is not None:
                data = data[:max(limit - frames, 0)]
            if len(data):
                put(frames, data)
                frames += len(data)
            if last:
                return frames, clamped
