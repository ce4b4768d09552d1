"""The live mixer's settings and their defaults: the one home of every default the server,
the client and the command line share.

Light on purpose (no NumPy, no Numba): a game that imports the client loads
this and the protocol, nothing of the mixer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

COMMANDS = "tcp://127.0.0.1:5560"      # ROUTER: requests, each answered by one reply
STREAMS = "tcp://127.0.0.1:5561"       # PULL: fire-and-forget messages
TELEMETRY = "tcp://127.0.0.1:5562"     # PUB: telemetry and reload frames
TELEMETRY_HZ = 30.0
DEVICE_BUFFER = 1024                   # PortAudio frames per buffer
CLIENT_TIMEOUT_S = 2.0                 # how long a client waits for a reply
CLIENT_STREAM_HWM = 100_000            # frames a client's stream socket queues before `send` blocks
MAX_STREAM_AGE_S = 1.0                 # a stream frame sent longer ago than this is dropped, not played late


@dataclass
class ServerConfig:
    """Everything `gamemix serve` can set."""

    scene: Path
    commands: str = COMMANDS
    streams: str = STREAMS
    telemetry: str = TELEMETRY
    output: str = "device"            # "device", "null" or a .wav path
    device: str | None = None         # PortAudio device name (substring) or index
    ahead: int = 0                    # blocks rendered ahead of the device (0: just in time)
    device_buffer: int = DEVICE_BUFFER
    telemetry_hz: float = TELEMETRY_HZ
    record: Path | None = None
    watch: bool = False
    seed: int = 0
    curve_secret: Path | None = None  # server secret key file (zmq.auth format)
    curve_clients: Path | None = None  # folder of authorised client public keys
    max_stream_age: float = MAX_STREAM_AGE_S
    realtime: bool = True             # ask for real-time scheduling of the render thread (io/base.py)
    endpoints_file: Path | None = None  # once bound, write the endpoints here as JSON (for `spawn`)
    layout: str | None = None         # the output layout instead of the scene's (`--layout`)
    mic: Path | None = None           # a recording that stands in for the scene's microphone (AR mode)
