"""The microphone, control side: its block into the mic stage, the analysis's findings into the gains.

The edges (live/server.py, offline/render.py) own the input and the analysis;
at each block start they hand the mixer the captured block (`feed`: copied
into the mic stage's preallocated buffer) and the latest findings (`update`:
the ambient estimate and whether someone speaks, two numbers written into
the adaptive stage's inputs).  The kernels do the rest (core/dsp/mic.py,
core/dsp/adaptive.py).  Nothing here allocates an array or waits.

Control side: runs on the render thread at block start.
"""

from __future__ import annotations

import math

import numpy as np

from gamemix.core import panning
from gamemix.core.dsp import adaptive, mic


class MicrophoneControl:
    """The mixer's handle on AR mode for one loaded scene (`spec` None: the scene has no microphone)."""

    def __init__(self, scene, chains, sample_rate: int):
        self.spec = scene.microphone
        self.sample_rate = sample_rate
        proc = next(p for p in chains.processors if p.key == "microphone")
        self.mic, self.adaptive, self.processor = proc.mic, proc.adaptive, proc
        self.channels = self.spec.channels if self.spec is not None else 0

    def route(self, panner) -> None:
        """Hear the input as a head-locked stereo 2D sound of the layout: its left channel where the
        panner puts a stereo sound's left at the centre, its right likewise (core/panning/)."""
        left, right = panning.balance_of(panner)
        mic.set_route(self.mic.route, left, right)

    @property
    def enabled(self) -> bool:
        return self.spec is not None

    def feed(self, block: np.ndarray) -> None:
        """This block's capture, (frames, channels) float32, into the mic stage."""
        frames, channels = block.shape
        np.copyto(self.mic.block[:min(channels, mic.MAX_CHANNELS), :frames], block[:, :mic.MAX_CHANNELS].T)

    def update(self, ambient_lufs: float, speech: bool) -> None:
        """The analysis's latest findings, for the adaptive stage."""
        self.adaptive.inputs[adaptive.IN_AMBIENT] = ambient_lufs
        self.adaptive.inputs[adaptive.IN_SPEECH] = 1.0 if speech else 0.0

    def align(self, seconds: float) -> None:
        """Delay the hear-through by `seconds` (the analysis's latency) when the scene asks for it."""
        if self.spec is not None and self.spec.hear_through_align:
            mic.set_input(self.mic.params, self.channels, int(round(seconds * self.sample_rate)))

    def delay_s(self) -> float:
        """The hear-through's delay now, seconds."""
        return float(self.mic.params[mic.MC_DELAY]) / self.sample_rate

    def gains(self) -> dict:
        """Each following bus's boost and each ducking bus's duck now, dB, for reports and telemetry."""
        names = {b: n for n, b in self.processor.bus_index.items()}
        p = self.adaptive.params
        boost = {names[b]: round(float(p[b, adaptive.AD_BOOST_DB]), 2)
                 for b in np.flatnonzero(p[:, adaptive.AD_FOLLOW])}
        duck = {names[b]: -round(float(p[b, adaptive.AD_DUCK_DB]), 2) for b in np.flatnonzero(p[:, adaptive.AD_DUCK])}
        return {"boost_db": boost, "duck_db": duck}

    def inputs(self) -> tuple[float | None, bool]:
        """What the kernels were told last: (ambient LUFS or None, speech)."""
        amb = float(self.adaptive.inputs[adaptive.IN_AMBIENT])
        return (None if math.isnan(amb) else amb), bool(self.adaptive.inputs[adaptive.IN_SPEECH])
