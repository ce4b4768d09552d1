"""What the microphone tells the mix: the analysis of each captured block against the output's.

`MicAnalysis.process(mic, out)` takes one block of the microphone and the
block the mixer output at the same time, and keeps up to date:

- `ambient_lufs`: the room's noise (ar/ambient.py), from 100 ms steps that
  were neither speech nor the game's echo;
- `speech`: whether a person is speaking now (ar/detectors.py, ar/segments.py),
  and `segments`, the speech segments so far (seconds of mic time);
- with loudspeakers (`echo.mode: speakers`), the output-to-mic delay, the
  echo path's gain and a residual with the predicted echo removed (ar/echo.py).

The pipeline: the mic block mixed to mono feeds the loudness steps at its own
rate; it is resampled to 16 kHz (soxr) and cut in 10 ms frames; with
loudspeakers each frame is aligned with the reference (the output, mono, 16 kHz,
`delay` samples earlier), the gate marks the frames the echo explains (on the
microphone as it is: the safe side), and the canceller removes what it
predicts before the detector hears the frame; the detector decides on its own frames
of the (residual) signal, vetoed where the echo explains any of its 10 ms; frame by frame
the segmenter turns decisions into speech on / off, and each 100 ms step is
judged clean (for the estimate) once its ten frames are decided.

Live, it runs on the analysis thread (live/mic.py), fed through a lock-free
ring; the render thread picks up `ambient_lufs` and `speech` at block start.
Offline, the render loop calls it after every block (offline/render.py), so a
render is deterministic: what block k's analysis found drives block k + 1.

Control side: never inside the audio block.
"""

from __future__ import annotations

import math

import numpy as np

from gamemix.ar import detectors
from gamemix.ar.ambient import AmbientEstimate
from gamemix.ar.echo import FRAME, Canceller, DelayEstimator, Gate, History
from gamemix.ar.segments import Segmenter

RATE = detectors.RATE
STEP_FRAMES = 10            # 10 ms frames in a 100 ms loudness step
RING = 4096                 # frames of decisions kept (41 s; far more than the lag between the stages)
HISTORY_S = 4.0
ALIGN_MARGIN = 32           # the canceller's reference is delayed 32 samples less than measured: its filter then
                            # models the path with a lag of 32 (causal even if the measure is a little long)
HANGOVER_S = 0.3


class MicAnalysis:
    """See the module docstring.  `spec` is the scene's `microphone` section."""

    def __init__(self, spec, sample_rate: int, detector=None):
        import soxr
        self.spec = spec
        self.rate = sample_rate
        self.detector = detector if detector is not None else detectors.make(spec.detector, spec.webrtc_mode,
                                                                             spec.speech_threshold)
        a = spec.ambient
        self.ambient = AmbientEstimate(sample_rate, a.window_s, a.percentile, a.calibration_db)
        self.speakers = spec.echo.mode == "speakers"
        self._mic_rs = soxr.ResampleStream(sample_rate, RATE, 1, dtype="float32", quality="HQ")
        self._ref_rs = soxr.ResampleStream(sample_rate, RATE, 1, dtype="float32", quality="HQ")
        self.mic_history = History(int(HISTORY_S * RATE))
        self.ref_history = History(int(HISTORY_S * RATE))
        fixed = None if spec.echo.delay_ms is None else spec.echo.delay_ms * 1e-3
        self.delay = DelayEstimator(RATE, fixed)
        self.gate = Gate(spec.echo.margin_db)
        self.canceller = Canceller() if self.speakers and spec.echo.canceller else None
        self._pending = np.zeros(0, dtype=np.float32)     # 16 kHz mic samples not yet framed
        self._vad_buf = np.zeros(0, dtype=np.float32)     # frames' (residual) samples not yet decided
        self._scratch = np.zeros(self.detector.frame, dtype=np.float32)
        self.frames = 0                                   # 10 ms frames framed (and gated)
        self.decided = 0                                  # 10 ms frames the detector has decided
        self.judged = 0                                   # 10 ms frames through the segmenter
        self._echo = np.zeros(RING, dtype=np.bool_)
        self._raw = np.zeros(RING, dtype=np.bool_)        # the detector's decision, after the echo veto
        self._clean = np.zeros(RING, dtype=np.bool_)
        self.segmenter = Segmenter(FRAME / RATE, 2 * self.detector.frame / RATE, HANGOVER_S)
        self.speech = False
        self.vetoed = 0                                   # detector frames the echo gate vetoed
        self.blocks = 0

    @property
    def ambient_lufs(self) -> float:
        return self.ambient.value

    @property
    def segments(self):
        return self.segmenter.segments

    def latency_s(self, block_size: int) -> float:
        """How long after a sound reaches the mic its decision can act on a block: a detector frame,
        a 10 ms frame, and the wait for the next block start."""
        return (self.detector.frame + FRAME) / RATE + block_size / self.rate

    def process(self, mic: np.ndarray, out: np.ndarray | None) -> None:
        """One block of the mic (frames, channels) and the output (frames, channels) of the same block."""
        self.blocks += 1
        mono = mic.mean(axis=1, dtype=np.float32) if mic.ndim == 2 else np.asarray(mic, np.float32)
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
        self.ambient.feed(mono)
        m16 = self._mic_rs.resample_chunk(mono)
        self.mic_history.push(m16)
        if self.speakers and out is not None:
            ref = np.nan_to_num(out.mean(axis=1, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
            self.ref_history.push(self._ref_rs.resample_chunk(ref))
            self.delay.update(self.mic_history, self.ref_history, len(m16))
        self._pending = np.concatenate([self._pending, m16])
        self._frame()
        self._detect()
        self._judge()
        self.speech = self.segmenter.on

    def _frame(self) -> None:
        """Cut 10 ms frames; with loudspeakers, cancel and gate each against the aligned reference."""
        n_frames = len(self._pending) // FRAME
        if n_frames == 0:
            return
        out = []
        for k in range(n_frames):
            frame = self._pending[k * FRAME:(k + 1) * FRAME]
            echo = False
            if self.speakers:
                start = self.frames * FRAME - self.delay.delay
                echo = self.gate.frame(frame, self.ref_history.span(start, FRAME))
                if self.canceller is not None:
                    frame = self.canceller.process(frame, self.ref_history.span(start + ALIGN_MARGIN, FRAME))
            self._echo[self.frames % RING] = echo
            self.frames += 1
            out.append(frame)
        self._pending = self._pending[n_frames * FRAME:]
        self._vad_buf = np.concatenate([self._vad_buf] + out)

    def _detect(self) -> None:
        """Run the detector on each of its frames that is complete; mark the 10 ms frames it covers."""
        size = self.detector.frame
        first = self.frames * FRAME - len(self._vad_buf)          # the 16 kHz index of _vad_buf[0]
        at = 0
        while len(self._vad_buf) - at >= size:
            self._scratch[:] = self._vad_buf[at:at + size]
            speech = self.detector(self._scratch)
            lo = first + at
            hi = lo + size
            covered = range(-(-lo // FRAME), -(-hi // FRAME))       # frames whose start lies in [lo, hi)
            if speech and self.speakers and any(self._echo[j % RING] for j in covered):
                speech = False
                self.vetoed += 1
            for j in covered:
                self._raw[j % RING] = speech
            self.decided = covered.stop
            at += size
        self._vad_buf = self._vad_buf[at:]

    def _judge(self) -> None:
        """Frames the detector decided go through the segmenter; loudness steps get their verdict."""
        while self.judged < self.decided:
            j = self.judged
            raw = bool(self._raw[j % RING])
            on = self.segmenter.frame(j, raw)
            self._clean[j % RING] = not (raw or on or self._echo[j % RING])
            self.judged += 1
        done_steps = self.judged // STEP_FRAMES
        self.ambient.judge(done_steps,
                           lambda step: all(self._clean[(step * STEP_FRAMES + i) % RING] for i in range(STEP_FRAMES)),
                           lambda step: any(self._echo[(step * STEP_FRAMES + i) % RING] for i in range(STEP_FRAMES)))

    def finish(self) -> None:
        """The recording ended: close an open speech segment."""
        self.segmenter.finish()

    def close(self) -> None:
        """Let the resamplers go now (soxr's binding reports objects still alive at interpreter exit)."""
        self._mic_rs = self._ref_rs = None

    def status(self) -> dict:
        """The figures reports and telemetry give."""
        amb = self.ambient_lufs
        out = {"detector": self.detector.name, "echo": self.spec.echo.mode,
               "ambient_lufs": None if math.isnan(amb) else round(amb, 2), "speech": self.speech,
               "segments": self.segmenter.total}
        if self.speakers:
            out.update({"echo_delay_ms": round(self.delay.delay / RATE * 1e3, 2) if self.delay.measured else None,
                        "echo_path_db": round(self.gate.erl_db, 2) if self.gate.learned else None,
                        "vetoed_frames": self.vetoed})
        return out
