"""A microphone recording in an offline render (`gamemix render ... --mic FILE`): AR mode, deterministic.

The recording stands in for the microphone: block k of it is block k's
capture (WavInput resamples any rate and mixes any channel count to the
scene's, with a warning saying so).  Each block goes into the mic bus before
the block renders; after it, the analysis (ar/analysis.py) takes the block
and the output the mixer produced, synchronously, and what it found drives
the next block, exactly as the live analysis thread's findings are picked up
at the next block start.  So the same scene, script, seed and recording
render the same samples.

For the report: the ambient estimate, the speech state, each following bus's
boost and each ducking bus's duck every 100 ms, and the speech segments found.

Edge: file input.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gamemix.ar.analysis import MicAnalysis
from gamemix.io.wav import WavInput

log = logging.getLogger(__name__)

TIMELINE_STEP_S = 0.1


class MicRecording:
    """The recording, its analysis and the report's timeline for one render of `mixer`."""

    def __init__(self, path: str | Path, mixer):
        spec = mixer.scene.microphone
        if spec is None:
            raise ValueError("--mic needs a scene with a `microphone` section (docs/scene-format.md)")
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"mic recording not found: {path}")
        self.path, self.mixer, self.spec = path, mixer, spec
        try:
            self.input = WavInput(path, mixer.sample_rate, spec.channels, mixer.block_size)
        except RuntimeError as exc:                 # libsndfile's "format not recognised" and the like
            raise ValueError(f"cannot read the mic recording {path}: {exc}") from None
        self.warnings = self.input.conversions()
        for warning in self.warnings:
            log.warning("%s", warning)
        self.analysis = MicAnalysis(spec, mixer.sample_rate)
        mixer.microphone.align(self.analysis.latency_s(mixer.block_size))
        self.block = np.zeros((mixer.block_size, spec.channels), dtype=np.float32)
        self.every = max(1, round(TIMELINE_STEP_S / mixer.dt))
        self.timeline: list[dict] = []

    def before(self) -> None:
        """Before block k renders: its capture into the mic bus."""
        self.input.read(self.block)
        self.mixer.microphone.feed(self.block)

    def after(self, b: int, out: np.ndarray) -> None:
        """After block k rendered into `out`: analyse it; the findings drive block k + 1."""
        a = self.analysis
        a.process(self.block, out)
        self.mixer.microphone.update(a.ambient_lufs, a.speech)
        if b % self.every == 0:
            ambient, speech = self.mixer.microphone.inputs()
            self.timeline.append({"t": round(b * self.mixer.dt, 4),
                                  "ambient_lufs": None if ambient is None else round(ambient, 2),
                                  "speech": speech, **self.mixer.microphone.gains()})

    def report(self) -> dict:
        self.analysis.finish()
        self.analysis.close()
        self.input.close()
        return {"recording": str(self.path), **self.analysis.status(),
                "hear_through_delay_ms": round(self.mixer.microphone.delay_s() * 1e3, 2),
                "warnings": self.warnings, "timeline": self.timeline,
                "segments": [list(s) for s in self.analysis.segments]}
