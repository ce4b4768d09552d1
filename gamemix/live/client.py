"""A small typed client for games and tools (`gamemix.client.Client`).

Commands go over a DEALER socket to the server's ROUTER and wait for their
reply (with a timeout); each carries a request id so late replies from a
timed-out request are recognised and dropped.  Poses and other fire-and-forget
messages go over PUSH.  A message over the frame limit is refused before it
is sent (CommandFailed 'too_large').  Telemetry arrives on SUB.  After a timeout the command
socket is rebuilt, so a client survives a server restart.

There is one method per message kind of the protocol (protocol/messages.py,
named like the kind), each building that kind's struct, so a field the
protocol does not have is a TypeError here, not a refusal later.

    with Client() as mix:
        shot = mix.play("gunshot", position=(3, 0, -2))
        mix.emitter(shot, (2.5, 0, -2))
        mix.event("dialogue_started", id=7)
        mix.set_parameter("rain", 0.8)

Edge.  Imports nothing of the mixer (no NumPy, no Numba).
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Iterable

import msgspec
import zmq

from gamemix.live import config
from gamemix.protocol import messages as m
from gamemix.protocol import wire


class CommandFailed(Exception):
    """The server refused a command; `code` is stable (docs/protocol.md)."""

    def __init__(self, code: str, message: str, field: str | None = None):
        self.code, self.message, self.field = code, message, field
        super().__init__(f"{code}: {message}")


class Client:
    """Connection to a running `gamemix serve`."""

    def __init__(self, commands: str = config.COMMANDS, streams: str = config.STREAMS,
                 telemetry: str = config.TELEMETRY, timeout: float = config.CLIENT_TIMEOUT_S,
                 curve: tuple[bytes, bytes, bytes] | None = None):
        """`curve` = (server public key, client public key, client secret key) for remote servers."""
        self.endpoints = (commands, streams, telemetry)
        self.timeout_ms = int(timeout * 1000)
        self.curve = curve
        self.ctx = zmq.Context()
        self._rid = itertools.count(1)
        self._dealer = self._socket(zmq.DEALER, commands)
        self._push = self._socket(zmq.PUSH, streams)
        self._push.setsockopt(zmq.SNDHWM, config.CLIENT_STREAM_HWM)
        self._sub = None

    def _socket(self, kind: int, endpoint: str) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            server_public, public, secret = self.curve
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = server_public, public, secret
        sock.connect(endpoint)
        return sock

    # ------------------------------------------------------------ commands
    def request(self, message: m.Message | dict[str, Any]) -> dict:
        """Send a command (a message struct, or a dict with its `type`) and wait for its reply's data;
        CommandFailed or TimeoutError."""
        rid = next(self._rid)
        if isinstance(message, m.Message):
            self._dealer.send(_frame(msgspec.structs.replace(message, rid=rid)))
        else:
            self._dealer.send(_frame({**message, "rid": rid}))
        while self._dealer.poll(self.timeout_ms):
            reply = wire.decode_map(self._dealer.recv())
            if reply.get("rid") != rid:
                continue                       # a late reply to an earlier, timed-out request
            if reply["ok"]:
                return reply["data"]
            err = reply["error"]
            raise CommandFailed(err["code"], err["message"], err.get("field"))
        self._dealer.close(linger=0)           # rebuild: the server may have restarted
        self._dealer = self._socket(zmq.DEALER, self.endpoints[0])
        raise TimeoutError(f"no reply from {self.endpoints[0]} within {self.timeout_ms} ms")

    def ping(self) -> dict:
        """Liveness: {'version': protocol version, 'block': blocks rendered}."""
        return self.request(m.Ping())

    def query(self) -> dict:
        """The mixer's state (docs/protocol.md, query)."""
        return self.request(m.Query())

    def load_scene(self, file: str | None = None) -> dict:
        """Reload the scene, or load another scene file inside its folder."""
        return self.request(m.LoadScene(file=file))

    def play(self, sound: str, id: int | None = None, position=None, velocity=None, volume_db: float = 0.0,
             pitch_semitones: float = 0.0, fade_in: float = 0.0) -> int:
        """Start a sound; returns its instance id."""
        return self.request(m.Play(sound=sound, id=id, position=_vec(position), velocity=_vec(velocity),
                                   volume_db=float(volume_db), pitch_semitones=float(pitch_semitones),
                                   fade_in=float(fade_in)))["id"]

    def event(self, name: str, id: int | None = None, position=None, velocity=None) -> dict:
        """Post an event; returns {'id': ..., 'refused': [...]}."""
        return self.request(m.Event(name=name, id=id, position=_vec(position), velocity=_vec(velocity)))

    def stop(self, id: int, fade: float = 0.0) -> None:
        """Stop an instance, fading out over `fade` seconds."""
        self.request(m.Stop(id=id, fade=float(fade)))

    def set_parameter(self, name: str, value: float) -> None:
        """Set a game parameter (it glides at its seek speed)."""
        self.request(m.SetParameter(name=name, value=float(value)))

    def reset_meters(self, bus: str | None = None) -> None:
        """Restart the loudness meters of one bus, or of all (e.g. when a level starts)."""
        self.request(m.ResetMeters(bus=bus))

    def snapshot_start(self, name: str, intensity: float | None = None, fade: float | None = None) -> None:
        """Start a snapshot, optionally at an intensity (%) and with a fade other than its own."""
        self.request(m.SnapshotStart(name=name, intensity=_float(intensity), fade=_float(fade)))

    def snapshot_stop(self, name: str, fade: float | None = None) -> None:
        """Fade a snapshot out."""
        self.request(m.SnapshotStop(name=name, fade=_float(fade)))

    def snapshot_intensity(self, name: str, intensity: float) -> None:
        """Set an active snapshot's intensity (%)."""
        self.request(m.SnapshotIntensity(name=name, intensity=float(intensity)))

    def bus_volume(self, bus: str, volume_db: float, fade: float = 0.0) -> None:
        """Move a bus fader to `volume_db` over `fade` seconds."""
        self.request(m.BusVolume(bus=bus, volume_db=float(volume_db), fade=float(fade)))

    def bus_mute(self, bus: str, mute: bool, fade: float = 0.0) -> None:
        """Mute or unmute a bus, over `fade` seconds."""
        self.request(m.BusMute(bus=bus, mute=bool(mute), fade=float(fade)))

    # ------------------------------------------------------------ streams (no reply)
    def send_stream(self, message: m.Message | dict[str, Any]) -> None:
        """Send a stream message (no reply); CommandFailed('too_large') for a frame over the limit.

        It is stamped with its send time (`t`), so a server that gets it late (it waited in this
        socket's queue while no server ran) drops it instead of playing it late."""
        now = time.time()
        if isinstance(message, m.Message):
            self._push.send(_frame(msgspec.structs.replace(message, t=now)))
        else:
            self._push.send(_frame({"t": now, **message}))

    def emitter(self, id: int, position, velocity=None) -> None:
        """Move an instance (a stream message)."""
        self.send_stream(m.Emitter(id=id, position=_vec(position), velocity=_vec(velocity)))

    def emitters(self, ids: Iterable[int], positions, velocities=None) -> None:
        """Move many instances at once (a stream message; what a game sends every frame)."""
        self.send_stream(m.Emitters(ids=[int(i) for i in ids], positions=[_vec(p) for p in positions],
                                    velocities=None if velocities is None else [_vec(v) for v in velocities]))

    def listener(self, position, forward=(0, 0, -1), up=(0, 1, 0), velocity=(0, 0, 0)) -> None:
        """Set the listener pose (a stream message)."""
        self.send_stream(m.Listener(position=_vec(position), forward=_vec(forward), up=_vec(up),
                                    velocity=_vec(velocity)))

    def stream_parameter(self, name: str, value: float) -> None:
        """Set a game parameter without waiting for a reply (a stream message)."""
        self.send_stream(m.SetParameter(name=name, value=float(value)))

    # ------------------------------------------------------------ telemetry
    def telemetry(self, timeout: float = 1.0) -> dict | None:
        """The next telemetry frame (subscribing on first use), or None after `timeout`."""
        if self._sub is None:
            self._sub = self._socket(zmq.SUB, self.endpoints[2])
            self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        if self._sub.poll(int(timeout * 1000)):
            return wire.decode_map(self._sub.recv())
        return None

    def close(self) -> None:
        for sock in (self._dealer, self._push, self._sub):
            if sock is not None:
                sock.close(linger=0)
        self.ctx.term()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _frame(message: m.Message | dict[str, Any]) -> bytes:
    """The encoded message, refused here if it is over the frame limit: the server's ZeroMQ socket
    would cut the connection on it, so the caller would see only a timeout."""
    frame = wire.encode_message(message) if isinstance(message, m.Message) else wire.encode(message)
    if len(frame) > wire.MAX_FRAME_BYTES:
        raise CommandFailed("too_large", f"frame of {len(frame)} bytes exceeds the limit of {wire.MAX_FRAME_BYTES}")
    return frame


def _vec(v):
    return None if v is None else tuple(float(x) for x in v)


def _float(x):
    return None if x is None else float(x)
