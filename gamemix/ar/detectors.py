"""Voice-activity detectors on 16 kHz mono audio, one class each, chosen by name (`DETECTORS`).

- `webrtc`: the WebRTC project's GMM detector (webrtcvad-wheels), 30 ms frames
  of 16-bit PCM; light (tens of microseconds a frame), but it answers to much
  of what is loud and voiced-like, so street noise reads as speech.
- `silero`: Silero VAD v5 (a small LSTM-conv network), the ONNX model the
  `silero-vad` package ships, run directly with onnxruntime (one thread, no
  torch, nothing downloaded): 512-sample frames (32 ms) with 64 samples of
  context, a speech probability per frame; heavier, robust in noise.

Both return, for a frame, whether it is speech; Silero with hysteresis (speech
starts at `threshold`, ends below threshold - 0.15, as its reference
segmentation does).  Figures measured on the same test set are in
benchmarks/README.md ("AR mode").

Control side: they run on the analysis thread live, never in the audio block.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

RATE = 16000


class DetectorUnavailable(RuntimeError):
    """The detector's package is not installed; the message says which."""


class WebRtc:
    """webrtcvad's detector: 30 ms frames, `mode` 0 (most speech kept) .. 3 (fewest false alarms)."""

    name = "webrtc"
    frame = 480

    def __init__(self, mode: int = 3, threshold: float = 0.5):
        try:
            import webrtcvad
        except ImportError:
            raise DetectorUnavailable("the webrtc detector needs webrtcvad-wheels (pip install "
                                      "'gamemix[ar]')") from None
        self.vad = webrtcvad.Vad(int(mode))
        self._pcm = np.zeros(self.frame, dtype=np.int16)

    def __call__(self, frame: np.ndarray) -> bool:
        np.multiply(np.clip(frame, -1.0, 1.0), 32767.0, out=frame, casting="unsafe")
        self._pcm[:] = frame
        return bool(self.vad.is_speech(self._pcm.tobytes(), RATE))


def silero_model_path() -> Path:
    """The ONNX model inside the installed silero-vad package, found without importing it (its
    Python wrapper needs torch, which gamemix does not)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable("the silero detector needs the silero-vad package for its model "
                                  "(pip install --no-deps silero-vad; `make` does it)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise DetectorUnavailable(f"silero-vad is installed but its model is missing: {path}")
    return path


class Silero:
    """Silero VAD through onnxruntime: 512-sample frames, hysteresis around `threshold`."""

    name = "silero"
    frame = 512
    CONTEXT = 64

    def __init__(self, mode: int = 3, threshold: float = 0.5):
        try:
            import onnxruntime
        except ImportError:
            raise DetectorUnavailable("the silero detector needs onnxruntime (pip install 'gamemix[ar]')") from None
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(silero_model_path()), sess_options=opts,
                                                    providers=["CPUExecutionProvider"])
        self.threshold = threshold
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.x = np.zeros((1, self.CONTEXT + self.frame), dtype=np.float32)
        self.sr = np.array(RATE, dtype=np.int64)
        self.on = False
        self.probability = 0.0

    def __call__(self, frame: np.ndarray) -> bool:
        self.x[0, self.CONTEXT:] = frame
        out, self.state = self.session.run(None, {"input": self.x, "state": self.state, "sr": self.sr})
        self.x[0, :self.CONTEXT] = self.x[0, -self.CONTEXT:]
        p = float(out[0, 0])
        self.probability = p
        self.on = p >= self.threshold or (self.on and p >= self.threshold - 0.15)
        return self.on


DETECTORS = {"silero": Silero, "webrtc": WebRtc}


def make(name: str, mode: int = 3, threshold: float = 0.5):
    """A detector by name; DetectorUnavailable if its package is missing."""
    return DETECTORS[name](mode=mode, threshold=threshold)
