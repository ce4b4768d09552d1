"""A private PulseAudio daemon with a null sink, and a recorder of its monitor,
for device tests and benchmarks/bench_latency.py.

PortAudio (through ALSA's pulse plugin) then offers a device named `pulse`;
with PULSE_SINK=NAME it plays into the null sink and with PULSE_SOURCE=NAME.monitor
it records what the sink plays.  As root the daemon needs its own
XDG_RUNTIME_DIR.  PyAudio must be created after the variables are set.

The null sink renders in chunks as long as the smallest latency any of its
clients asks for, and 2 s when none asks.  A stream that connects to an idle
sink therefore waits up to 2 s for the sink's next wake-up before its audio
moves (measured here: the first blocking write of a PortAudio stream took
1.7-1.9 s at every buffer size, then writes ran at the real-time pace).  So
the daemon is started with a low-latency reader on the monitor (`keep_awake`)
that keeps the sink rendering in 5 ms chunks, as a hardware sink would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

RATE = 48000


def _fail_or_skip(message: str) -> None:
    import pytest
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class NullSinkDaemon:
    """A private pulseaudio daemon with one null sink, kept awake (see the module docstring).

    The daemon is the tests' instrument, not what they test.  It keeps pulseaudio's
    real-time scheduling (without it the daemon's own late wake-ups showed up as the
    tested stream's xruns), but not its CPU-load limiter, which can kill it on a loaded
    two-core CI machine (seen once: every later device test found no `pulse` device), nor
    shared memory: its memfd block import aborted the daemon once on CI (an assertion in
    memblock.c, pulseaudio issue 824), so audio goes over the socket.
    `ensure` restarts a daemon that died and prints why (the tail of its log), so one
    lost instrument costs one restart, not every later test."""

    def __init__(self, name: str, rate: int):
        self.name, self.rate = name, rate
        self.runtime = tempfile.mkdtemp(prefix="gamemix-pulse-")
        self.log = os.path.join(self.runtime, "pulseaudio.log")
        self.awake = None
        self.restarts = 0

    def start(self) -> None:
        os.environ["XDG_RUNTIME_DIR"] = self.runtime
        started = subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--disallow-exit", "--daemonize=yes",
                                  "--no-cpu-limit", "--disable-shm=yes", "--log-level=notice",
                                  f"--log-target=newfile:{self.log}"], capture_output=True, text=True, timeout=20)
        if started.returncode != 0:
            raise RuntimeError(f"pulseaudio did not start (exit {started.returncode}): {started.stderr.strip()}\n"
                               f"{self.log_tail()}")
        for _ in range(100):
            if self.alive():
                break
            time.sleep(0.05)
        subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={self.name}", f"rate={self.rate}",
                        "channels=2", "format=float32le"], check=True, capture_output=True, timeout=10)
        os.environ["PULSE_SINK"] = self.name
        os.environ["PULSE_SOURCE"] = f"{self.name}.monitor"
        self.awake = Capture(latency_ms=5, keep=False)
        self.awake.wait_for_data(timeout=5.0)

    @staticmethod
    def alive() -> bool:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=10).returncode == 0

    def ensure(self) -> None:
        """Restart the daemon if it has died since the last test, saying so and why."""
        if self.alive():
            return
        print(f"pulseaudio died; restarting it. The tail of its log:\n{self.log_tail()}", file=sys.stderr)
        self.restarts += 1
        self.stop()
        shutil.rmtree(self.runtime, ignore_errors=True)       # a crashed daemon leaves its pid file and socket
        self.runtime = tempfile.mkdtemp(prefix="gamemix-pulse-")
        self.log = os.path.join(self.runtime, "pulseaudio.log")
        self.start()

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.awake is not None:
            self.awake.close()
            self.awake = None
        subprocess.run(["pulseaudio", "--kill"], capture_output=True, timeout=10)


@contextlib.contextmanager
def pulse_null_sink(name: str = "gamemix_test", rate: int = RATE):
    """Start pulseaudio with a null sink `name`, kept awake; yields the daemon (`.name` is the sink,
    `.ensure()` restarts it if it died); kills the daemon after."""
    if shutil.which("pulseaudio") is None:
        _fail_or_skip("pulseaudio is not installed (make test installs it)")
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SINK", "PULSE_SOURCE")}
    daemon = NullSinkDaemon(name, rate)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(daemon.runtime, ignore_errors=True)


class Capture:
    """Records the null sink's monitor with PulseAudio's own `parec` (float32, 48 kHz, stereo),
    timestamping each chunk as it arrives.  The capture is the instrument, so it uses the
    native client; what is under test, the playback, goes through PortAudio.  With
    keep=False it only reads (and drops) what arrives: `keep_awake` above."""

    def __init__(self, latency_ms: int = 10, keep: bool = True):
        self.chunk = RATE * latency_ms // 1000 * 8
        self.keep = keep
        self.proc = subprocess.Popen(
            ["parec", f"--device={os.environ['PULSE_SINK']}.monitor", "--format=float32le", f"--rate={RATE}",
             "--channels=2", f"--latency-msec={latency_ms}", "--raw"], stdout=subprocess.PIPE)
        self.chunks: list[bytes] = []
        self.times: list[tuple[float, int]] = []
        self._got = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            data = self.proc.stdout.read1(self.chunk)
            if not data:
                return
            self._got.set()
            if self.keep:
                self.times.append((time.perf_counter(), len(data) // 8))
                self.chunks.append(data)

    def wait_for_data(self, timeout: float) -> None:
        if not self._got.wait(timeout):
            raise RuntimeError(f"no audio from the null sink's monitor within {timeout} s")

    def audio(self) -> np.ndarray:
        raw = b"".join(self.chunks)
        return np.frombuffer(raw[: len(raw) // 8 * 8], np.float32).reshape(-1, 2)

    def time_of(self, frame: int) -> float:
        """Time (perf_counter) by which captured frame `frame` had arrived."""
        count = 0
        for t, frames in self.times:
            count += frames
            if count > frame:
                return t
        return self.times[-1][0]

    def frame_at(self, when: float) -> int:
        """Frames captured before time `when` (perf_counter)."""
        return sum(frames for t, frames in self.times if t < when)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self._thread.join(timeout=2)


def unbroken(x: np.ndarray, hz: float, frames: int, rate: int = RATE) -> int | None:
    """Start of the first stretch of `frames` frames in which every channel of `x` is an unbroken
    sine of `hz`, or None.  A sine obeys x[n+1] + x[n-1] = 2 cos(w) x[n]; a dropout, a repeated
    or skipped chunk, or a click breaks that identity at its edges, and a run of silence fails
    the envelope check.  So a stretch found here was played and captured without a gap, whatever
    the device's xrun counter says about the rest of the recording."""
    from scipy.ndimage import maximum_filter1d
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    c = 2.0 * np.cos(2.0 * np.pi * hz / rate)
    period = max(2, int(round(rate / hz)))
    bad = np.zeros(len(x), bool)
    for ch in x.T:
        amp = np.max(np.abs(ch)) if len(ch) else 0.0
        if amp == 0.0:
            return None
        residual = np.zeros(len(ch))
        residual[1:-1] = np.abs(ch[2:] + ch[:-2] - c * ch[1:-1])
        bad |= residual > 1e-3 * amp
        bad |= maximum_filter1d(np.abs(ch), period, mode="nearest") < 0.5 * amp
    clean_before = np.concatenate([[0], np.cumsum(~bad)])
    starts = np.flatnonzero(clean_before[frames:] - clean_before[:-frames] == frames) if len(x) >= frames else []
    return int(starts[0]) if len(starts) else None
