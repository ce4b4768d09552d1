"""The live server's network thread: it owns every ZeroMQ socket.

ROUTER receives commands (each gets exactly one reply), PULL receives
streams (poses, parameters, fire-and-forget events), PUB sends telemetry.
Frames are decoded and validated here (protocol/wire.py): a bad command is
answered at once with an error, a bad stream frame is counted and dropped.
The render thread signals new output through an inproc PAIR socket of its
own (`Waker`), which wakes this thread's poll at once; what it queued in
`outbox` (replies, telemetry) is sent from here.  `load_scene` commands and
`--watch` checks are handed to the reloader, which builds the new mixer on
this thread.

Bounded work.  Every frame's structure is counted without the GIL before it
is decoded (protocol/census.py), so its decode is short, and the decoder
stops at the first problem.  Valid commands wait in a queue per client
(at most PENDING_PER_CLIENT each, from at most MAX_CLIENTS clients; beyond,
`busy` at once) and go into `inbox`, the render thread's queue, in turns, one
client after another, while it holds fewer than INBOX_LIMIT messages (a turn
of the loop reads at most COMMANDS_PER_TURN frames before it feeds); the
render thread takes at most MESSAGES_PER_BLOCK of them per block, for at most
MESSAGES_TIME_S.  So a
client that floods waits for itself, not the others, and no block does more
than a bounded amount of control work.  Stream frames are read while `inbox`
has room; the rest waits in ZeroMQ's queues (backpressure).

Readiness and stale streams.  Until the server is ready (its kernels loaded,
its output started: `mark_ready`), every command is answered `not_ready` at
once and every stream frame is dropped: nothing waits to be carried out late.
A stream frame stamped with its send time (`t`, the client does it) that is
older than `max_stream_age` seconds, or was sent before the server was ready
(it waited in the client's queue while no server ran, or while this one
loaded), is dropped and counted (`stale_drops`), not played late.  A message with a
time to live (`ttl`, seconds after `t`) that arrives after it is not carried
out: a command is answered `expired` (counted in `expired`), a stream frame
is a stale drop.  The client sets `ttl` to its timeout, so a command it gave
up on and retries is never done twice.

Every turn of the loop runs under a guard (live/supervision.py): an
exception is recorded as a fault and the loop goes on.

Edge.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import zmq

from gamemix.io.base import raise_priority
from gamemix.live.curve import enable_curve
from gamemix.protocol import census, wire
from typing import Any, ClassVar

from gamemix.protocol.messages import STREAM_KINDS, LoadScene, Message, UploadSound
from gamemix.scene.assets import prepare_upload

POLL_MS = 20
STREAM_SLICE_S = 0.001     # streams are decoded for at most this long per turn, then the GIL is yielded
WATCH_EVERY_S = 0.25
PENDING_PER_CLIENT = 1024  # commands a client may have waiting
MAX_CLIENTS = 4096         # clients with commands waiting
COMMANDS_PER_TURN = 64    # command frames read per turn of the loop, before the inbox is fed and replies sent
INBOX_LIMIT = 128          # messages queued for the render thread: a newcomer's command waits behind at most
                           # these (a part of one block's work), however many a flooding client has waiting
MESSAGES_PER_BLOCK = 512   # messages the render thread carries out per block at most
MESSAGES_TIME_S = 0.001    # and for at most this long (a fifth of a 256-frame block)
REPLIES_QUEUED = 10_000    # replies waiting for a client that does not read them (beyond: dropped)
RELOAD_ERRORS_KEPT = 8
FAULT_PAUSE_S = 0.01       # after a fault in the loop, before the next turn


class PreparedUpload(Message, tag="upload_sound_prepared"):
    """An `upload_sound` converted on the network thread, queued for the render thread to copy in."""

    sound: str = ""
    data: Any = None
    stream: ClassVar[bool] = False
    mixer: ClassVar[bool] = False


def expired(msg, now: float) -> bool:
    """A message its sender stamped with a time to live (`t` + `ttl`) that has passed: the sender
    gave up on it (its request timed out), so carrying it out now would do it twice if it retries."""
    return msg.ttl is not None and msg.t is not None and now > msg.t + msg.ttl


@dataclass
class ServerStats:
    """Counters the server publishes."""

    commands: int = 0
    command_errors: int = 0
    busy: int = 0
    streams: int = 0
    stream_drops: int = 0
    stale_drops: int = 0
    expired: int = 0
    reloads: int = 0
    reload_failures: int = 0
    reload_errors: collections.deque = field(default_factory=lambda: collections.deque(maxlen=RELOAD_ERRORS_KEPT))

    def as_dict(self) -> dict:
        """Plain values (the last reload errors as a list, oldest first)."""
        return {**{k: v for k, v in vars(self).items() if k != "reload_errors"},
                "reload_errors": list(self.reload_errors)}


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


class Admission:
    """Commands waiting per client, moved into the render thread's inbox in turns (see the module
    docstring).  Used by the network thread only."""

    def __init__(self, inbox: collections.deque, per_client: int = PENDING_PER_CLIENT,
                 clients: int = MAX_CLIENTS, limit: int = INBOX_LIMIT):
        self.inbox, self.per_client, self.clients, self.limit = inbox, per_client, clients, limit
        self.waiting: dict[bytes, collections.deque] = {}
        self.turns: collections.deque = collections.deque()     # clients with commands waiting, in turn order

    def offer(self, identity: bytes, rid, msg) -> bool:
        """Queue a client's command; False if that client (or the table of clients) is full."""
        queue = self.waiting.get(identity)
        if queue is None:
            if len(self.waiting) >= self.clients:
                return False
            queue = self.waiting[identity] = collections.deque()
            self.turns.append(identity)
        if len(queue) >= self.per_client:
            return False
        queue.append(("cmd", identity, rid, msg))
        return True

    def feed(self) -> None:
        """Move waiting commands into the inbox, one client at a time, while it has room."""
        while self.turns and len(self.inbox) < self.limit:
            identity = self.turns.popleft()
            queue = self.waiting[identity]
            self.inbox.append(queue.popleft())
            if queue:
                self.turns.append(identity)
            else:
                del self.waiting[identity]

    def has_room(self) -> bool:
        return len(self.inbox) < self.limit


class Network:
    """The sockets and the thread that serves them; see the module docstring."""

    def __init__(self, ctx: zmq.Context, config, stats: ServerStats, reloader, faults, heartbeat,
                 max_stream_age: float, recorder=None):
        self.ctx, self.config, self.stats, self.reloader = ctx, config, stats, reloader
        self.faults, self.heartbeat, self.recorder = faults, heartbeat, recorder
        self.max_stream_age = max_stream_age
        self.ready_at: float | None = None        # wall clock when the server became ready
        self.inbox: collections.deque = collections.deque()
        self.outbox: collections.deque = collections.deque()
        self.admission = Admission(self.inbox)
        self.wake_address = f"inproc://gamemix-wake-{id(self)}"
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._auth = None
        self.bound: dict[str, str] = {}
        self.upload_room = None     # sound -> (its UploadRoom, output rate) or None; set by the server

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
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 0)     # a reply to a client that left is dropped
        self.router.setsockopt(zmq.SNDHWM, REPLIES_QUEUED)   # replies a client has not read yet, at most
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

    def mark_ready(self) -> None:
        """From now on commands are carried out and fresh stream frames played."""
        self.ready_at = time.time()

    @property
    def running(self) -> bool:
        """True from start until stop."""
        return self._running.is_set()

    def alive(self) -> bool:
        """True while the network thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        raise_priority(self.config.realtime, fifo=False)     # it holds the lock the render thread takes
        poller = zmq.Poller()
        for sock in (self.router, self.pull, self._wake):
            poller.register(sock, zmq.POLLIN)
        next_watch = time.monotonic()
        while self._running.is_set():
            self.heartbeat()
            try:
                next_watch = self._turn(poller, next_watch)
            except Exception as exc:          # no input ends this thread
                self.faults.record("network", exc)
                time.sleep(FAULT_PAUSE_S)

    def _turn(self, poller: zmq.Poller, next_watch: float) -> float:
        """One turn of the loop: receive, feed the render thread, send, watch the scene file."""
        events = dict(poller.poll(POLL_MS))
        if self.router in events:
            self._receive_commands()
        if self.pull in events and self.admission.has_room():
            self._receive_streams()
            time.sleep(STREAM_SLICE_S / 2)      # let the render thread have the GIL
        if self._wake in events:
            while self._wake.poll(0):
                self._wake.recv()
        self.admission.feed()
        self.send_outbox()
        if self.recorder is not None:
            self.recorder.flush()
        if self.config.watch and time.monotonic() >= next_watch:
            next_watch = time.monotonic() + WATCH_EVERY_S
            frame = self.reloader.check_file()
            if frame is not None:
                self.outbox.append((None, frame))
        return next_watch

    def _receive_commands(self) -> None:
        for _ in range(COMMANDS_PER_TURN):
            try:
                identity, *rest = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            frame = rest[-1] if rest else b""
            self.stats.commands += 1
            try:
                census.check(frame)
                msg, rid = wire.decode(frame)
            except wire.WireError as exc:
                self.stats.command_errors += 1
                self.router.send_multipart([identity, wire.error(exc.rid, exc.code, exc.message, exc.field)])
                continue
            if self.ready_at is None:
                self.router.send_multipart([identity, wire.error(
                    rid, "not_ready", "the server is loading (the first start on a machine compiles the audio "
                                      "kernels); nothing was done: send again once a `ready` frame is published "
                                      "or `ping` answers")])
            elif expired(msg, time.time()):
                self.stats.expired += 1
                self.router.send_multipart([identity, wire.error(
                    rid, "expired", f"sent at t={msg.t:.3f} with ttl={msg.ttl:g} s and received "
                                    f"{time.time() - msg.t:.3f} s later; nothing was done")])
            elif isinstance(msg, LoadScene):
                self.router.send_multipart([identity, self.reloader.load(msg.file, rid)])
            elif isinstance(msg, UploadSound):
                self._prepare(identity, rid, msg)
            elif not self.admission.offer(identity, rid, msg):
                self.stats.busy += 1
                self.router.send_multipart([identity, wire.error(
                    rid, "busy", f"too many commands waiting (at most {PENDING_PER_CLIENT} per client, "
                                 f"{MAX_CLIENTS} clients); wait for replies before sending more")])

    def _prepare(self, identity, rid, msg: UploadSound) -> None:
        """Convert an upload here, off the audio thread (resampling a few seconds takes milliseconds),
        and hand the render thread only the copy; a bad one is answered at once."""
        found = self.upload_room(msg.sound) if self.upload_room is not None else None
        if found is None:
            self.router.send_multipart([identity, wire.error(rid, "not_uploadable",
                                                             f"{msg.sound!r} is not a sound with `upload`")])
            return
        room, rate = found
        try:
            data = prepare_upload(msg.pcm, msg.channels, msg.sample_rate, rate, room)
        except ValueError as exc:
            self.router.send_multipart([identity, wire.error(rid, "bad_upload", f"{msg.sound!r}: {exc}")])
            return
        prepared = PreparedUpload(sound=msg.sound, data=data)
        if not self.admission.offer(identity, rid, prepared):
            self.stats.busy += 1
            self.router.send_multipart([identity, wire.error(rid, "busy", "too many commands waiting")])

    def _receive_streams(self) -> None:
        """Decode stream frames for up to STREAM_SLICE_S, or until the inbox is full, then yield the GIL.

        Backpressure: under a flood the rest waits in ZeroMQ's queue (bounded by
        its high-water mark) instead of starving the render thread of the GIL.
        """
        end = time.perf_counter() + STREAM_SLICE_S
        now = time.time()
        while time.perf_counter() < end and self.admission.has_room():
            try:
                frame = self.pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.stats.streams += 1
            try:
                census.check(frame)
                msg, _ = wire.decode(frame, allowed=STREAM_KINDS)
            except wire.WireError:
                self.stats.stream_drops += 1
                continue
            if self.ready_at is None or msg.t is not None and (msg.t < self.ready_at or now - msg.t > self.max_stream_age
                                                               or expired(msg, now)):
                self.stats.stale_drops += 1
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
