"""The live server's network thread: it owns every ZeroMQ socket.

ROUTER receives commands (each gets exactly one reply), PULL receives
streams (poses, parameters, fire-and-forget events), PUB sends telemetry.
Frames are decoded and validated here (protocol/wire.py): a bad command is
answered at once with an error, a bad stream frame is counted and dropped.
Valid messages go, in arrival order, into `inbox`, a deque (append and
popleft are atomic in CPython, so no lock) that the render thread drains at
its next block start.  What the render thread queues in `outbox` (replies,
telemetry) is sent from here; the render thread signals new output through
an inproc PAIR socket of its own (`Waker`), which wakes this thread's poll at
once.  `load_scene` commands and `--watch` checks are handed to the
reloader, which builds the new mixer on this thread.

Edge.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import zmq

from gamemix.protocol import wire
from gamemix.protocol.messages import STREAM_KINDS, LoadScene
from gamemix.live.curve import enable_curve

POLL_MS = 20
COMMANDS_PER_TURN = 1000
STREAM_SLICE_S = 0.001     # streams are decoded for at most this long per turn, then the GIL is yielded
WATCH_EVERY_S = 0.25


@dataclass
class ServerStats:
    """Counters the server publishes."""

    commands: int = 0
    command_errors: int = 0
    streams: int = 0
    stream_drops: int = 0
    reloads: int = 0
    reload_errors: list[str] = field(default_factory=list)


class Waker:
    """The render thread's end of the wake-up socket: one empty frame says 'there is output'."""

    def __init__(self, ctx: zmq.Context, address: str):
        self.sock = ctx.socket(zmq.PAIR)
        self.sock.connect(address)

    def wake(self) -> None:
        """Signal the network thread; if its queue is full a signal is already waiting there."""
        try:
            self.sock.send(b"", zmq.NOBLOCK)
        except zmq.Again:
            pass

    def close(self) -> None:
        self.sock.close(linger=0)


class Network:
    """The sockets and the thread that serves them; see the module docstring."""

    def __init__(self, ctx: zmq.Context, config, stats: ServerStats, reloader):
        self.ctx, self.config, self.stats, self.reloader = ctx, config, stats, reloader
        self.inbox: collections.deque = collections.deque()
        self.outbox: collections.deque = collections.deque()
        self.wake_address = f"inproc://gamemix-wake-{id(self)}"
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._auth = None
        self.bound: dict[str, str] = {}

    def bind(self) -> None:
        """Bind the three sockets (and the wake-up socket's receiving end)."""
        cfg = self.config
        self._wake = self.ctx.socket(zmq.PAIR)
        self._wake.bind(self.wake_address)
        self.router = self.ctx.socket(zmq.ROUTER)
        self.pull = self.ctx.socket(zmq.PULL)
        self.pub = self.ctx.socket(zmq.PUB)
        for sock in (self.router, self.pull, self.pub):
            sock.setsockopt(zmq.MAXMSGSIZE, wire.MAX_FRAME_BYTES)
            sock.setsockopt(zmq.LINGER, 0)
        if cfg.curve_secret is not None:
            self._auth = enable_curve(self.ctx, (self.router, self.pull, self.pub), cfg.curve_secret, cfg.curve_clients)
        self.router.bind(cfg.commands)
        self.pull.bind(cfg.streams)
        self.pub.bind(cfg.telemetry)
        # the endpoints actually bound (a `tcp://127.0.0.1:*` wildcard picks a free port)
        self.bound = {name: sock.getsockopt_string(zmq.LAST_ENDPOINT) for name, sock in
                      (("commands", self.router), ("streams", self.pull), ("telemetry", self.pub))}

    def start(self) -> None:
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name="gamemix-network", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close every socket."""
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for sock in (getattr(self, name, None) for name in ("router", "pull", "pub", "_wake")):
            if sock is not None:
                sock.close(linger=0)
        if self._auth is not None:
            self._auth.stop()

    @property
    def running(self) -> bool:
        """True from start until stop."""
        return self._running.is_set()

    def alive(self) -> bool:
        """True while the network thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        poller = zmq.Poller()
        for sock in (self.router, self.pull, self._wake):
            poller.register(sock, zmq.POLLIN)
        next_watch = time.monotonic()
        while self._running.is_set():
            events = dict(poller.poll(POLL_MS))
            if self.router in events:
                self._receive_commands()
            if self.pull in events:
                self._receive_streams()
                time.sleep(STREAM_SLICE_S / 2)      # let the render thread have the GIL
            if self._wake in events:
                while self._wake.poll(0):
                    self._wake.recv()
            self.send_outbox()
            if self.config.watch and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + WATCH_EVERY_S
                frame = self.reloader.check_file()
                if frame is not None:
                    self.outbox.append((None, frame))

    def _receive_commands(self) -> None:
        for _ in range(COMMANDS_PER_TURN):
            try:
                identity, *rest = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            frame = rest[-1] if rest else b""
            self.stats.commands += 1
            try:
                msg, rid = wire.decode(frame)
            except wire.WireError as exc:
                self.stats.command_errors += 1
                self.router.send_multipart([identity, wire.error(exc.rid, exc.code, exc.message, exc.field)])
                continue
            if isinstance(msg, LoadScene):
                self.router.send_multipart([identity, self.reloader.load(msg.file, rid)])
                continue
            self.inbox.append(("cmd", identity, rid, msg))

    def _receive_streams(self) -> None:
        """Decode stream frames for up to STREAM_SLICE_S, then yield the GIL.

        Backpressure: under a flood the rest waits in ZeroMQ's queue (bounded by
        its high-water mark) instead of starving the render thread of the GIL.
        """
        end = time.perf_counter() + STREAM_SLICE_S
        while time.perf_counter() < end:
            try:
                frame = self.pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.stats.streams += 1
            try:
                msg, _ = wire.decode(frame, allowed=STREAM_KINDS)
            except wire.WireError:
                self.stats.stream_drops += 1
                continue
            self.inbox.append(("stream", None, None, msg))

    def send_outbox(self) -> None:
        while self.outbox:
            identity, frame = self.outbox.popleft()
            if identity is None:
                self.pub.send(frame)
            else:
                self.router.send_multipart([identity, frame])
