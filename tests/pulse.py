"""A private PulseAudio daemon with a null sink, for device tests.

PortAudio (through ALSA's pulse plugin) then offers a device named `pulse`;
with PULSE_SINK=NAME it plays into the null sink and with PULSE_SOURCE=NAME.monitor
it records what the sink plays.  As root the daemon needs its own
XDG_RUNTIME_DIR.  PyAudio must be created after the variables are set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time

import pytest


@contextlib.contextmanager
def pulse_null_sink(name: str = "gamemix_test", rate: int = 48000):
    """Start pulseaudio with a null sink `name`; yields the sink name; kills the daemon after."""
    if shutil.which("pulseaudio") is None:
        message = "pulseaudio is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SINK", "PULSE_SOURCE")}
    runtime = tempfile.mkdtemp(prefix="gamemix-pulse-")
    os.environ["XDG_RUNTIME_DIR"] = runtime
    try:
        subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--disallow-exit", "--daemonize=yes"],
                       check=True, capture_output=True, timeout=20)
        for _ in range(100):
            if subprocess.run(["pactl", "info"], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={name}", f"rate={rate}",
                        "channels=2", "format=float32le"], check=True, capture_output=True, timeout=10)
        os.environ["PULSE_SINK"] = name
        os.environ["PULSE_SOURCE"] = f"{name}.monitor"
        yield name
    finally:
        subprocess.run(["pulseaudio", "--kill"], capture_output=True, timeout=10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(runtime, ignore_errors=True)
