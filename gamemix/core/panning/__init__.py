"""HOT PATH.  The panner seam: how a voice reaches the output channels, from the layout's panner.

The output layout (a scene setting, core/panning/layouts.py) chooses a
panner; the voice loop (core/voice_loop.py) asks it for gains and never
branches on the layout.  A panner is a NamedTuple (its parameters and tables,
built once when a scene loads by the layout's `make_panner(context)`),
registered here with its kernels.  Every panner has three, each returning a
tuple of one gain per output channel (numbers, not arrays: the voice loop
runs them per voice, where every array argument costs reference counting):

    direction_gains(panner, x, y, z, spread)
                              a point source whose unit direction in the listener's
                              frame is (x right, y up, z front); (0, 0, 0) for a
                              source at the listener; `spread` 0..1 widens it (0: a
                              point, 1: heard from everywhere), keeping its energy
    pan_gains(panner, p, centre)
                              a mono 2D sound at pan p in [-1, 1]; `centre` 0..1 is
                              the share of a centred sound a centre speaker takes
                              (Wwise's Center %) where the layout has one
    balance_gains(panner, p)  a stereo 2D sound at balance p: a pair of tuples, the
                              gains of its left and its right channel

and `lfe_channel(panner)`: the LFE channel's index (-1: none, a constant for
the classes without one), where a sound's LFE send goes.

The voice loop takes a point source's gains through

    direction_targets(panner, target, s, level, x, y, z, spread, channels)
                              target[s, :channels] = level x direction_gains(...)

which a panner may provide itself where most of its gains are zero (VBAP: a
pair or a triangle of eight or more channels writes three and zeroes the
rest, instead of building a tuple of every channel and copying it, ~25 ns a
voice); the others get it from their direction_gains.

A panner that *filters* each voice rather than scaling it (binaural: head-
related filters; `filters(panner)` is True for its class) also provides

    begin(panner, vi, vf)     once per block before the voices (e.g. choose which
                              voices get their own filters)
    mix_voice(panner, v, first, scratch, n, bus, bus_buf, x, y, z, spread, level, ramp)
                              mix voice v's mono block into its bus itself (`first`:
                              the voice's first block, which starts at its gains)
    finish(panner, bus_buf, n) once per block after the voices (e.g. decode what
                              was accumulated per bus)

For the other panners these are no-ops and `filters` is False, so Numba
drops the branch: the voice loop is compiled once per panner class, for the
layout in use only, and a gains panner pays nothing for the filtering seam.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from numba.extending import overload

from gamemix.core.panning.layouts import NAMES, SPECS, LayoutSpec


class PannerContext(NamedTuple):
    """What a panner may need to size itself when a scene loads."""

    sample_rate: int
    block_size: int
    rows: int                       # voice rows (real and virtual)
    n_buses: int
    spatial_buses: tuple            # indices of the buses 3D voices play on
    hrtf: Any = None                # binaural: scene/hrtf.py HrtfTables
    hrtf_voices: int = 16           # binaural: voices rendered with their own filters


class Layout(NamedTuple):
    """An output layout: its spec (channels, speakers, mask, weights) and how to make its panner."""

    spec: LayoutSpec
    make_panner: Callable[[PannerContext], tuple]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def channels(self) -> tuple[str, ...]:
        return self.spec.channels


LAYOUTS: dict[str, Layout] = {}
_KERNELS: dict[type, dict[str, Any]] = {}


def register(spec: LayoutSpec, panner_class: type, make_panner: Callable[[PannerContext], tuple],
             direction: Callable, pan: Callable, balance: Callable, lfe: Callable | None = None,
             begin: Callable | None = None, mix_voice: Callable | None = None,
             finish: Callable | None = None, direction_targets: Callable | None = None) -> None:
    """Declare a layout, its panner's class and that class's kernels (`lfe`: the LFE channel's index,
    omitted where there is none; `begin`, `mix_voice`, `finish`: a filtering panner's;
    `direction_targets`: its own way to write a direction's gains, else direction's tuple is copied)."""
    LAYOUTS[spec.name] = Layout(spec, make_panner)
    _KERNELS[panner_class] = {"direction": direction, "pan": pan, "balance": balance, "lfe": lfe,
                              "begin": begin, "mix_voice": mix_voice, "finish": finish,
                              "direction_targets": direction_targets}


def direction_gains(panner, x, y, z, spread):
    """Gains per output channel of a point source at unit direction (x, y, z) in the listener's frame."""


def direction_targets(panner, target, s, level, x, y, z, spread, channels):
    """target[s, :channels] = level x the gains of a point source at (x, y, z) (direction_gains)."""


def pan_gains(panner, p, centre):
    """Gains per output channel of a mono 2D sound at pan p."""


def balance_gains(panner, p):
    """(left channel's gains, right channel's gains) of a stereo 2D sound at balance p."""


def lfe_channel(panner):
    """The LFE channel's index, or -1."""


def filters(panner):
    """True for a panner that mixes each 3D voice itself (mix_voice)."""


def begin(panner, vi, vf):
    """A filtering panner's work before the voices."""


def mix_voice(panner, v, first, scratch, n, bus, bus_buf, x, y, z, spread, level, ramp):
    """A filtering panner mixes voice v's block into its bus."""


def finish(panner, bus_buf, n):
    """A filtering panner's work after the voices."""


def _kernel(panner, name):
    return _KERNELS[panner.instance_class][name]


@overload(direction_gains, inline="always")
def _direction_gains(panner, x, y, z, spread):
    kernel = _kernel(panner, "direction")
    return lambda panner, x, y, z, spread: kernel(panner, x, y, z, spread)


@overload(direction_targets, inline="always")
def _direction_targets(panner, target, s, level, x, y, z, spread, channels):
    own = _kernel(panner, "direction_targets")
    if own is not None:
        return lambda panner, target, s, level, x, y, z, spread, channels: own(
            panner, target, s, level, x, y, z, spread, channels)
    kernel = _kernel(panner, "direction")

    def copy(panner, target, s, level, x, y, z, spread, channels):
        g = kernel(panner, x, y, z, spread)
        for c in range(channels):
            target[s, c] = level * g[c]
    return copy


@overload(pan_gains, inline="always")
def _pan_gains(panner, p, centre):
    kernel = _kernel(panner, "pan")
    return lambda panner, p, centre: kernel(panner, p, centre)


@overload(balance_gains, inline="always")
def _balance_gains(panner, p):
    kernel = _kernel(panner, "balance")
    return lambda panner, p: kernel(panner, p)


@overload(lfe_channel, inline="always")
def _lfe_channel(panner):
    kernel = _kernel(panner, "lfe")
    if kernel is None:
        return lambda panner: -1
    return lambda panner: kernel(panner)


@overload(filters, inline="always")
def _filters(panner):
    filtering = _kernel(panner, "mix_voice") is not None
    return lambda panner: filtering


@overload(begin, inline="always")
def _begin(panner, vi, vf):
    kernel = _kernel(panner, "begin")
    if kernel is None:
        return lambda panner, vi, vf: None
    return lambda panner, vi, vf: kernel(panner, vi, vf)


@overload(mix_voice, inline="always")
def _mix_voice(panner, v, first, scratch, n, bus, bus_buf, x, y, z, spread, level, ramp):
    kernel = _kernel(panner, "mix_voice")
    if kernel is None:
        return lambda panner, v, first, scratch, n, bus, bus_buf, x, y, z, spread, level, ramp: None
    return lambda panner, v, first, scratch, n, bus, bus_buf, x, y, z, spread, level, ramp: kernel(
        panner, v, first, scratch, n, bus, bus_buf, x, y, z, spread, level, ramp)


@overload(finish, inline="always")
def _finish(panner, bus_buf, n):
    kernel = _kernel(panner, "finish")
    if kernel is None:
        return lambda panner, bus_buf, n: None
    return lambda panner, bus_buf, n: kernel(panner, bus_buf, n)


def omni_gains(panner) -> tuple:
    """The layout's gains for a source with no direction (at the listener: every main channel at equal
    power, an ambisonic W): what an unpanned send feeds an aux bus with (core/propagation.py)."""
    return _KERNELS[type(panner)]["direction"](panner, 0.0, 0.0, 0.0, 0.0)


def balance_of(panner) -> tuple:
    """The layout's gains for a stereo 2D sound at the centre: (its left channel's, its right's);
    what the microphone's hear-through is routed by (core/dsp/mic.py)."""
    return _KERNELS[type(panner)]["balance"](panner, 0.0)


def _register_all() -> None:
    from gamemix.core.panning import ambisonics, binaural, stereo, vbap  # noqa: F401  (they register themselves)


def layout(name: str) -> Layout:
    """A registered layout by name (KeyError names the known ones)."""
    _register_all()
    if name not in LAYOUTS:
        raise KeyError(f"unknown layout {name!r} (known: {', '.join(NAMES)})")
    return LAYOUTS[name]
