"""HOT PATH.  The panner seam: per-output-channel gains for a source, from the layout's panner.

The output layout (a scene setting) chooses a panner; the voice loop
(core/voice_loop.py) asks it for gains and never branches on the layout.  A
panner is a NamedTuple (its parameters and tables, built once when a scene
loads) registered here with three kernels, each returning a tuple of one
gain per output channel (numbers, not arrays: the voice loop runs them per
voice, where every array argument costs reference counting):

    direction_gains(panner, x, y, z)  a point source whose unit direction in the
                                      listener's frame is (x right, y up, z front);
                                      (0, 0, 0) for a source at the listener
    pan_gains(panner, p)              a mono 2D sound at pan p in [-1, 1]
    balance_gains(panner, p)          a stereo 2D sound at balance p: a pair of
                                      tuples, the gains of its left and its right
                                      channel

Numba resolves each call at compile time from the panner's class, so the
voice loop is compiled once per layout, for the layout in use only.
Binaural and ambisonic panners, which filter each voice rather than scale
it, will add a kernel that mixes a voice's block itself (issue: spatial
audio); the gains path stays as it is.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from numba.extending import overload


class Layout(NamedTuple):
    """An output layout: its name, channel names in file order, and how to make its panner."""

    name: str
    channels: tuple[str, ...]
    make_panner: Callable[[], tuple]


LAYOUTS: dict[str, Layout] = {}
_KERNELS: dict[type, tuple[Callable, Callable, Callable]] = {}


def register(layout: Layout, panner_class: type, direction: Callable, pan: Callable, balance: Callable) -> None:
    """Declare a layout and the kernels of its panner's class."""
    LAYOUTS[layout.name] = layout
    _KERNELS[panner_class] = (direction, pan, balance)


def direction_gains(panner, x, y, z):
    """Gains per output channel of a point source at unit direction (x, y, z) in the listener's frame."""


def pan_gains(panner, p):
    """Gains per output channel of a mono 2D sound at pan p."""


def balance_gains(panner, p):
    """(left channel's gains, right channel's gains) of a stereo 2D sound at balance p."""


@overload(direction_gains, inline="always")
def _direction_gains(panner, x, y, z):
    kernel = _KERNELS[panner.instance_class][0]
    return lambda panner, x, y, z: kernel(panner, x, y, z)


@overload(pan_gains, inline="always")
def _pan_gains(panner, p):
    kernel = _KERNELS[panner.instance_class][1]
    return lambda panner, p: kernel(panner, p)


@overload(balance_gains, inline="always")
def _balance_gains(panner, p):
    kernel = _KERNELS[panner.instance_class][2]
    return lambda panner, p: kernel(panner, p)


def layout(name: str) -> Layout:
    """A registered layout by name (KeyError names the known ones)."""
    from gamemix.core.panning import stereo  # noqa: F401  (registers itself)
    if name not in LAYOUTS:
        raise KeyError(f"unknown layout {name!r} (known: {', '.join(LAYOUTS)})")
    return LAYOUTS[name]
