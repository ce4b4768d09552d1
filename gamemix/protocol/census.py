"""A frame's census: its msgpack structure walked and counted, without the GIL, before it is decoded.

Decoding a frame into Python objects (msgspec, in wire.py) holds the
interpreter lock for as long as it takes, and that grows with what the frame
holds: 65,536 poses took 16 ms, a `ping` with 380,000 unknown keys 2 ms,
a large value placed before the `type` key that the decoder must skip first
1.6 ms, during which the render thread could not run its per-block Python.
So every frame the server receives is first walked here, in compiled code
that releases the GIL (`nogil`), and refused at its first excess:

- the frame is one msgpack map, read to its last byte (no truncation, no
  trailing bytes, no reserved byte 0xc1, no extension types: the protocol
  uses none);
- its map has at most `max_keys` entries (no message has more fields);
- it holds at most `max_objects` values in all (a full `emitters` batch is
  the largest message: 13 values a pose with velocity and direction);
- it nests at most `max_depth` levels (a batch's pose is three deep);
- no string is longer than `max_str` bytes (a name is at most 128
  characters, 512 bytes of UTF-8); `bin` values (uploads) are only bounded
  by the frame's size, and cost a copy.

The walk stops at the first excess, so it costs at most `max_objects` steps
however large the frame, and a frame that passes costs the decoder at most
`max_objects` objects: a bounded, short hold of the GIL.  The walk also finds
where the top-level `rid` value lies, so a refusal can echo it without
decoding anything else.

Format: the msgpack specification (https://github.com/msgpack/msgpack/blob/master/spec.md).

`check` applies the protocol's limits (protocol/wire.py) and raises the
wire's own error.  Frames under CENSUS_FROM bytes skip the walk: they cannot
hold more values than bytes.

Control side (the server's network thread); the client never imports it, so
a game that links the client loads no Numba.
"""

from __future__ import annotations

import msgpack
import numpy as np
from numba import njit

from gamemix.protocol.messages import MAX_BATCH
from gamemix.protocol.wire import MAX_DEPTH, MAX_KEYS, MAX_STRING_BYTES, MAX_VALUES, WireError, good_rid

OK, BAD, NOT_A_MAP, TOO_MANY_KEYS, TOO_MANY_VALUES, TOO_DEEP, STRING_TOO_LONG = range(7)
_STACK = 64          # the walker's own depth limit (callers ask for far less)
CENSUS_FROM = 4096   # frames smaller than this hold fewer values than MAX_VALUES: no walk needed


@njit(cache=True, nogil=True, inline="always")
def _be(buf, pos, size):
    """The unsigned big-endian integer of `size` bytes at pos (the caller checked the bounds)."""
    value = 0
    for k in range(size):
        value = (value << 8) | np.int64(buf[pos + k])
    return value


@njit(cache=True, nogil=True, inline="always")
def _head(buf, pos, end):
    """(kind, count or length, bytes of the header) of the value starting at pos.

    kind: 0 scalar or nil (count = bytes of payload), 1 string, 2 bin, 3 array,
    4 map, -1 reserved, an extension or truncated."""
    if pos >= end:
        return -1, 0, 0
    b = np.int64(buf[pos])
    if b <= 0x7f or b >= 0xe0:
        return 0, 0, 1
    if b <= 0x8f:
        return 4, b & 0x0f, 1
    if b <= 0x9f:
        return 3, b & 0x0f, 1
    if b <= 0xbf:
        return 1, b & 0x1f, 1
    if b == 0xc0 or b == 0xc2 or b == 0xc3:
        return 0, 0, 1
    if b == 0xca:
        return 0, 4, 1
    if b == 0xcb:
        return 0, 8, 1
    if 0xcc <= b <= 0xcf:
        return 0, 1 << (b - 0xcc), 1
    if 0xd0 <= b <= 0xd3:
        return 0, 1 << (b - 0xd0), 1
    size = 0
    kind = -1
    if b == 0xc4 or b == 0xd9 or b == 0xdc or b == 0xde:
        size = 1 if b == 0xc4 or b == 0xd9 else 2
    elif b == 0xc5 or b == 0xda or b == 0xdd or b == 0xdf:
        size = 2 if b == 0xc5 or b == 0xda else 4
    elif b == 0xc6 or b == 0xdb:
        size = 4
    else:
        return -1, 0, 0          # 0xc1 (never used) and the extension types
    if b == 0xc4 or b == 0xc5 or b == 0xc6:
        kind = 2
    elif b == 0xd9 or b == 0xda or b == 0xdb:
        kind = 1
    elif b == 0xdc or b == 0xdd:
        kind = 3
    else:
        kind = 4
    if pos + 1 + size > end:
        return -1, 0, 0
    return kind, _be(buf, pos + 1, size), 1 + size


@njit(cache=True, nogil=True)
def walk(buf, max_keys, max_objects, max_depth, max_str):
    """(verdict, the count that broke a limit, rid start, rid end) of the msgpack frame in buf.

    The verdict is OK or the first excess found (see the module docstring);
    rid start and end are the bytes of the top-level `rid` value (-1 if none)."""
    end = buf.shape[0]
    left = np.zeros(_STACK, np.int64)        # values still to read at each depth
    kind, count, size = _head(buf, 0, end)
    if kind != 4:
        return (BAD if kind < 0 else NOT_A_MAP), 0, -1, -1
    keys = count                             # beyond max_keys it is refused, once the first few are read
    pos = size                               # (among them, perhaps, the `rid` the refusal echoes)
    depth = 1
    left[1] = 2 * min(count, max_keys)
    objects = 1
    rid_start = rid_end = -1
    rid_next = False
    while depth > 0:
        if left[depth] == 0:
            depth -= 1
            continue
        top_key = depth == 1 and left[1] % 2 == 0
        left[depth] -= 1
        start = pos
        kind, count, size = _head(buf, pos, end)
        objects += 1
        if kind < 0:
            return BAD, 0, rid_start, rid_end
        if objects > max_objects:
            return TOO_MANY_VALUES, objects, rid_start, rid_end
        pos += size
        if kind == 0:
            pos += count
        elif kind == 1 or kind == 2:
            if kind == 1 and count > max_str:
                return STRING_TOO_LONG, count, rid_start, rid_end
            pos += count
        else:
            if depth + 1 > max_depth or depth + 1 >= _STACK:
                return TOO_DEEP, depth + 1, rid_start, rid_end
            depth += 1
            left[depth] = 2 * count if kind == 4 else count
        if pos > end:
            return BAD, 0, rid_start, rid_end
        if rid_next:
            if kind <= 1:                          # an int or a string: a rid worth echoing
                rid_start, rid_end = start, pos
            rid_next = False
        elif top_key:
            rid_next = kind == 1 and count == 3 and buf[pos - 3] == 0x72 and buf[pos - 2] == 0x69 \
                and buf[pos - 1] == 0x64           # the key "rid"
    if keys > max_keys:
        return TOO_MANY_KEYS, keys, rid_start, rid_end
    if pos != end:
        return BAD, 0, rid_start, rid_end
    return OK, 0, rid_start, rid_end


def census(frame: bytes, max_keys: int, max_objects: int, max_depth: int, max_str: int) -> tuple[int, int, int, int]:
    """`walk` over a frame's bytes (no copy)."""
    return walk(np.frombuffer(frame, np.uint8), max_keys, max_objects, max_depth, max_str)


def prepare() -> None:
    """Load the walk's compiled code (or compile it, on a machine's first run) before frames arrive."""
    census(b"\x80", MAX_KEYS, MAX_VALUES, MAX_DEPTH, MAX_STRING_BYTES)


def check(frame: bytes) -> None:
    """Raise WireError for a frame whose structure exceeds what any message holds, before any of it
    is decoded; the refusal echoes the frame's `rid` when it has a usable one."""
    if len(frame) < CENSUS_FROM:
        return
    verdict, count, rid_start, rid_end = census(frame, MAX_KEYS, MAX_VALUES, MAX_DEPTH, MAX_STRING_BYTES)
    if verdict == OK:
        return
    rid = None
    if rid_start >= 0:
        rid = msgpack.unpackb(frame[rid_start:rid_end], raw=False)
        rid = rid if good_rid(rid) else None
    code, message = {
        BAD: ("bad_frame", "not a msgpack frame (truncated, trailing bytes, a reserved byte or an "
                           "extension type)"),
        NOT_A_MAP: ("bad_frame", "a frame must be a msgpack map"),
        TOO_MANY_KEYS: ("too_large", f"a map of {count} keys: no message has more than {MAX_KEYS}"),
        TOO_MANY_VALUES: ("too_large", f"more than {MAX_VALUES} values: no message holds more (an "
                                       f"`emitters` batch is at most {MAX_BATCH} poses; send more batches)"),
        TOO_DEEP: ("bad_frame", f"nested too deeply ({count} levels; messages nest at most {MAX_DEPTH})"),
        STRING_TOO_LONG: ("too_large", f"a string of {count} bytes: names and ids are at most 128 characters"),
    }[verdict]
    raise WireError(code, message, None, rid)
