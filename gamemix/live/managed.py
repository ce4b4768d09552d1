"""A server the game starts and owns: `gamemix.client.spawn(scene)`.

What a game would otherwise do by hand (issue: "the game has to manage the
server itself"): start `gamemix serve` as a child process on free loopback
ports, learn the ports, wait until it is ready (its first start on a machine
compiles the kernels), and stop it when the game is done, however the game
ends:

* the game calls `close()` (or leaves its `with` block): SIGTERM, then a
  kill if it has not stopped within `stop_timeout`;
* the game exits without closing: an `atexit` hook does the same;
* the game is killed: the server sees its parent gone (`--parent-pid`)
  and stops within a second.

The ports are chosen by the server (`tcp://127.0.0.1:*`) and written to an
endpoints file once bound, so there is no race for a free port.  The
server's log goes to a file (`log_path`), which an error quotes the end of.

Edge.  Imports nothing of the mixer.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANY_PORT = "tcp://127.0.0.1:*"
START_TIMEOUT_S = 30.0      # until the sockets are bound (the scene is read; kernels compile after)
READY_TIMEOUT_S = 180.0     # until it is ready (a first start compiles the kernels: 25-47 s seen)
STOP_TIMEOUT_S = 10.0
LOG_TAIL_CHARS = 2000


class ServerFailed(RuntimeError):
    """The spawned server exited or did not bind its sockets in time; the message ends with its log."""


class ManagedServer:
    """A `gamemix serve` child process; see the module docstring."""

    def __init__(self, scene: str | os.PathLike, output: str = "device", args: tuple[str, ...] = (),
                 log_path: str | os.PathLike | None = None):
        self.scene = Path(scene)
        self._dir = tempfile.TemporaryDirectory(prefix="gamemix-")
        self.endpoints_file = Path(self._dir.name) / "endpoints.json"
        self.log_path = Path(log_path) if log_path is not None else Path(self._dir.name) / "serve.log"
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gamemix", "serve", str(self.scene), "--output", output,
             "--commands", ANY_PORT, "--streams", ANY_PORT, "--telemetry", ANY_PORT,
             "--endpoints-file", str(self.endpoints_file), "--parent-pid", str(os.getpid()), *args],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        self.endpoints: dict[str, str] = {}

    def wait_bound(self, timeout: float = START_TIMEOUT_S) -> dict[str, str]:
        """The endpoints the server bound ({'commands', 'streams', 'telemetry'}); ServerFailed if it
        exits or does not bind them within `timeout` s."""
        deadline = time.monotonic() + timeout
        while not self.endpoints_file.exists():
            if self.process.poll() is not None:
                raise ServerFailed(f"gamemix serve exited with code {self.process.returncode}{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"gamemix serve did not bind its sockets within {timeout:g} s{self.log_tail()}")
            time.sleep(0.02)
        data = json.loads(self.endpoints_file.read_text())
        self.endpoints = {k: data[k] for k in ("commands", "streams", "telemetry")}
        return self.endpoints

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.process.poll() is None

    def log_tail(self) -> str:
        """The end of the server's log, to quote in an error."""
        try:
            self._log.flush()
            text = self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""
        return f"; its log ({self.log_path}) ends:\n{text}" if text else ""

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Stop the server (SIGTERM, then a kill after `timeout` s); its exit code."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
        return self.process.returncode
