"""A small typed client for games and tools (`gamemix.live.client.Client`).

Commands go over a DEALER socket to the server's ROUTER and wait for their
reply (with a timeout); each carries a request id so late replies from a
timed-out request are recognised and dropped.  Poses and other fire-and-forget
messages go over PUSH.  A message over the frame limit is refused before it
is sent (CommandFailed 'too_large').  Telemetry arrives on SUB.  After a timeout the command
socket is rebuilt, so a client survives a server restart.

    with Client() as mix:
        shot = mix.play("gunshot", position=(3, 0, -2))
        mix.emitter(shot, (2.5, 0, -2))
        mix.event("dialogue_started", id=7)
        mix.set_parameter("rain", 0.8)

Edge.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable

import zmq

from gamemix.protocol import wire


class CommandFailed(Exception):
    """The server refused a command; `code` is stable (docs/protocol.md)."""

    def __init__(self, code: str, message: str, field: str | None = None):
        self.code, self.message, self.field = code, message, field
        super().__init__(f"{code}: {message}")


class Client:
    """Connection to a running `gamemix serve`."""

    def __init__(self, commands: str = "tcp://127.0.0.1:5560", streams: str = "tcp://127.0.0.1:5561",
                 telemetry: str = "tcp://127.0.0.1:5562", timeout: float = 2.0,
                 curve: tuple[bytes, bytes, bytes] | None = None):
        """`curve` = (server public key, client public key, client secret key) for remote servers."""
        self.endpoints = (commands, streams, telemetry)
        self.timeout_ms = int(timeout * 1000)
        self.curve = curve
        self.ctx = zmq.Context()
        self._rid = itertools.count(1)
        self._dealer = self._socket(zmq.DEALER, commands)
        self._push = self._socket(zmq.PUSH, streams)
        self._push.setsockopt(zmq.SNDHWM, 100000)
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
    def request(self, message: dict[str, Any]) -> dict:
        """Send a command and wait for its reply's data; CommandFailed or TimeoutError."""
        rid = next(self._rid)
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
        return self.request({"type": "ping"})

    def query(self) -> dict:
        return self.request({"type": "query"})

    def load_scene(self, file: str | None = None) -> dict:
        return self.request({"type": "load_scene", **({"file": file} if file else {})})

    def play(self, sound: str, id: int | None = None, position=None, velocity=None, volume_db: float = 0.0,
             pitch_semitones: float = 0.0, fade_in: float = 0.0) -> int:
        """Start a sound; returns its instance id."""
        msg = {"type": "play", "sound": sound, "volume_db": volume_db, "pitch_semitones": pitch_semitones,
               "fade_in": fade_in}
        msg.update({k: v for k, v in (("id", id), ("position", _vec(position)), ("velocity", _vec(velocity)))
                    if v is not None})
        return self.request(msg)["id"]

    def event(self, name: str, id: int | None = None, position=None, velocity=None) -> dict:
        """Post an event; returns {'id': ..., 'refused': [...]}."""
        msg = {"type": "event", "name": name}
        msg.update({k: v for k, v in (("id", id), ("position", _vec(position)), ("velocity", _vec(velocity)))
                    if v is not None})
        return self.request(msg)

    def stop(self, id: int, fade: float = 0.0) -> None:
        self.request({"type": "stop", "id": id, "fade": fade})

    def set_parameter(self, name: str, value: float) -> None:
        self.request({"type": "set_parameter", "name": name, "value": value})

    def reset_meters(self, bus: str | None = None) -> None:
        """Restart the loudness meters of one bus, or of all (e.g. when a level starts)."""
        self.request({"type": "reset_meters"} if bus is None else {"type": "reset_meters", "bus": bus})

    def snapshot_start(self, name: str, intensity: float | None = None, fade: float | None = None) -> None:
        msg = {"type": "snapshot_start", "name": name}
        msg.update({k: v for k, v in (("intensity", intensity), ("fade", fade)) if v is not None})
        self.request(msg)

    def snapshot_stop(self, name: str, fade: float | None = None) -> None:
        self.request({"type": "snapshot_stop", "name": name, **({"fade": fade} if fade is not None else {})})

    def bus_volume(self, bus: str, volume_db: float, fade: float = 0.0) -> None:
        self.request({"type": "bus_volume", "bus": bus, "volume_db": volume_db, "fade": fade})

    # ------------------------------------------------------------ streams (no reply)
    def send_stream(self, message: dict[str, Any]) -> None:
        """Send a stream message (no reply); CommandFailed('too_large') for a frame over the limit."""
        self._push.send(_frame(message))

    def emitter(self, id: int, position, velocity=None) -> None:
        msg = {"type": "emitter", "id": id, "position": _vec(position)}
        if velocity is not None:
            msg["velocity"] = _vec(velocity)
        self.send_stream(msg)

    def emitters(self, ids: Iterable[int], positions, velocities=None) -> None:
        msg = {"type": "emitters", "ids": [int(i) for i in ids], "positions": [_vec(p) for p in positions]}
        if velocities is not None:
            msg["velocities"] = [_vec(v) for v in velocities]
        self.send_stream(msg)

    def listener(self, position, forward=(0, 0, -1), up=(0, 1, 0), velocity=(0, 0, 0)) -> None:
        self.send_stream({"type": "listener", "position": _vec(position), "forward": _vec(forward),
                          "up": _vec(up), "velocity": _vec(velocity)})

    def stream_parameter(self, name: str, value: float) -> None:
        self.send_stream({"type": "set_parameter", "name": name, "value": value})

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


def _frame(message: dict[str, Any]) -> bytes:
    """The encoded message, refused here if it is over the frame limit: the server's ZeroMQ socket
    would cut the connection on it, so the caller would see only a timeout."""
    frame = wire.encode(message)
    if len(frame) > wire.MAX_FRAME_BYTES:
        raise CommandFailed("too_large", f"frame of {len(frame)} bytes exceeds the limit of {wire.MAX_FRAME_BYTES}")
    return frame


def _vec(v):
    return None if v is None else [float(x) for x in v]
