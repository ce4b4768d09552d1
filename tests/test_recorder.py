"""The recording's one-line flow YAML: what yaml.safe_load reads back is what was recorded."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gamemix.live.recorder import flow

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
           | st.binary(max_size=64))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=6), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=12), values, max_size=8))
def test_flow_round_trips_through_safe_load(entry):
    """The oracle is PyYAML's own reader, for every kind of value a message field can hold."""
    assert yaml.safe_load(flow(entry)) == entry


def test_numbers_stay_numbers():
    """YAML 1.1 reads '1e-05' as a string; the recorder writes floats it reads as floats."""
    entry = {"block": 3, "position": [1e-05, 1e16, -0.0, 2.5], "volume_db": -6.0, "id": 2 ** 62}
    line = flow(entry)
    back = yaml.safe_load(line)
    assert back == entry and all(type(v) is float for v in back["position"]) and type(back["id"]) is int


def test_backslashes_and_characters_beyond_the_bmp():
    entry = {"name": "\\ud800\\udc00 is text, \U0001f600 is not", "\\\\": "\\"}
    assert yaml.safe_load(flow(entry)) == entry


def test_numpy_numbers_are_written_as_numbers():
    import numpy as np
    entry = {"block": np.int64(7), "volume_db": np.float32(-6.5), "position": [np.float64(1e-05), 2.0, 3.0]}
    assert yaml.safe_load(flow(entry)) == {"block": 7, "volume_db": -6.5, "position": [1e-05, 2.0, 3.0]}
