"""The frame census (protocol/census.py) against msgpack itself: frames built and encoded by the
msgpack library, their structure counted from the Python objects they were made of."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from gamemix.protocol import census, wire
from gamemix.protocol.messages import MAX_BATCH

LIMITS = dict(max_keys=6, max_objects=60, max_depth=3, max_str=20)

scalars = (st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1) | st.floats(allow_nan=True)
           | st.text(max_size=30) | st.binary(max_size=40))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                      | st.dictionaries(st.text(max_size=25), inner, max_size=8), max_leaves=40)
frames = st.dictionaries(st.text(max_size=25) | st.just("rid"), values, max_size=9)


def count(obj) -> int:
    """Values in obj: itself, and every key and value inside it."""
    if isinstance(obj, dict):
        return 1 + sum(count(k) + count(v) for k, v in obj.items())
    if isinstance(obj, list):
        return 1 + sum(count(x) for x in obj)
    return 1


def depth(obj) -> int:
    """Levels of maps and lists: 1 for the frame's own map."""
    if isinstance(obj, dict):
        return 1 + max((max(depth(k), depth(v)) for k, v in obj.items()), default=0)
    if isinstance(obj, list):
        return 1 + max((depth(x) for x in obj), default=0)
    return 0


def longest(obj) -> int:
    """The longest string (UTF-8 bytes), keys included."""
    if isinstance(obj, dict):
        return max((max(longest(k), longest(v)) for k, v in obj.items()), default=0)
    if isinstance(obj, list):
        return max((longest(x) for x in obj), default=0)
    return len(obj.encode()) if isinstance(obj, str) else 0


def received(frame: bytes):
    """What the server's network thread does with a frame: the census, then the decode."""
    census.check(frame)
    return wire.decode(frame)


def walk(frame: bytes, **limits):
    return census.census(frame, **{**LIMITS, **limits})


@settings(max_examples=400, deadline=None)
@given(frames)
def test_the_verdict_is_what_the_frame_holds(obj):
    frame = msgpack.packb(obj, use_bin_type=True)
    verdict, _, rid_start, rid_end = walk(frame)
    broken = {census.TOO_MANY_KEYS: len(obj) > LIMITS["max_keys"],
              census.TOO_MANY_VALUES: count(obj) > LIMITS["max_objects"],
              census.TOO_DEEP: depth(obj) > LIMITS["max_depth"],
              census.STRING_TOO_LONG: longest(obj) > LIMITS["max_str"]}
    if not any(broken.values()):
        assert verdict == census.OK
        rid = obj.get("rid")
        if isinstance(rid, (int, str)) and not isinstance(rid, bool):
            assert msgpack.unpackb(frame[rid_start:rid_end], raw=False) == rid
    else:
        assert broken.get(verdict), (verdict, broken)      # one of the limits the frame breaks


@settings(max_examples=200, deadline=None)
@given(frames, st.data())
def test_a_cut_or_padded_frame_is_never_taken(obj, data):
    frame = msgpack.packb(obj, use_bin_type=True)
    roomy = dict(max_keys=100, max_objects=10_000, max_depth=50, max_str=1000)
    cut = data.draw(st.integers(0, len(frame) - 1))
    assert walk(frame[:cut], **roomy)[0] != census.OK
    assert walk(frame + data.draw(st.binary(min_size=1, max_size=4)), **roomy)[0] == census.BAD


def test_what_msgpack_has_and_the_protocol_does_not_is_refused():
    ext = msgpack.packb({"v": 1, "x": msgpack.ExtType(5, b"abc")})
    assert walk(ext)[0] == census.BAD
    assert walk(b"\x81\xa1v\xc1")[0] == census.BAD                    # 0xc1: never used
    assert walk(msgpack.packb([1, 2]))[0] == census.NOT_A_MAP
    assert walk(b"")[0] == census.BAD


def test_the_protocol_documents_own_example_passes():
    # docs/protocol.md: {"v": 1, "type": "ping", "rid": 1}
    frame = bytes.fromhex("83 a1 76 01 a4 74 79 70 65 a4 70 69 6e 67 a3 72 69 64 01")
    assert census.census(frame, wire.MAX_KEYS, wire.MAX_VALUES, wire.MAX_DEPTH, wire.MAX_STRING_BYTES)[0] == census.OK


def test_the_walk_stops_at_the_first_excess_however_large_the_frame():
    frame = msgpack.packb({"v": 1, "type": "emitters", "ids": list(range(500_000))})
    verdict, count_at, _, _ = census.census(frame, wire.MAX_KEYS, wire.MAX_VALUES, wire.MAX_DEPTH,
                                            wire.MAX_STRING_BYTES)
    assert (verdict, count_at) == (census.TOO_MANY_VALUES, wire.MAX_VALUES + 1)
    keys = msgpack.packb({"v": 1, "rid": "r", **{f"{i:x}": 0 for i in range(100_000)}})
    assert census.census(keys, wire.MAX_KEYS, wire.MAX_VALUES, wire.MAX_DEPTH, wire.MAX_STRING_BYTES)[:2] == (
        census.TOO_MANY_KEYS, 100_002)


@pytest.mark.parametrize("velocities", [False, True])
def test_a_full_batch_passes_and_one_more_pose_does_not(velocities):
    poses = [[1e6, -1e6, 123456.789]] * MAX_BATCH
    full = {"v": 1, "type": "emitters", "rid": "r" * 128, "ids": [(1 << 62) + k for k in range(MAX_BATCH)],
            "positions": poses, **({"velocities": poses} if velocities else {})}
    message, rid = received(msgpack.packb(full))
    assert len(message.ids) == MAX_BATCH and rid == "r" * 128
    over = {**full, "ids": full["ids"] + [1], "positions": poses + [[0.0, 0.0, 0.0]]}
    with pytest.raises(wire.WireError) as refused:
        received(msgpack.packb(over))
    assert refused.value.rid == "r" * 128 and refused.value.code in ("bad_value", "too_large")
