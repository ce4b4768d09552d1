"""The client for games and tools (`gamemix.client.Client`).

Two ways to send a command, as in FMOD Studio's API:

* **Posted** (the default for what a game does every frame: play, event,
  stop, instance control, parameters, snapshots, faders): the call sends the
  command and returns at once.  `play` returns the instance's handle at once:
  after `wait_ready` the client has a session (`hello`), a range of instance
  ids of its own, and names its plays itself.  A refusal, and what happens to
  each instance (started, virtual, real, stolen, paused, resumed, refused,
  ended), arrive as notices that `poll()` returns, in the order they
  happened; the game calls it once per frame, like FMOD's `update`.
* **Waited** (`wait=True`, and the queries): the call waits for the reply
  (with a timeout) and raises CommandFailed on a refusal.

Every command carries a time to live (`ttl`, the client's timeout): one the
server gets too late (it was queued while no server ran, or waited past the
timeout) is answered `expired`, never carried out late, so a retry never
does it twice.  Poses go over PUSH, stamped with their send time.  A
message over the frame limit is refused before it is sent (CommandFailed
'too_large').  Telemetry arrives on SUB.  After a timeout the command socket
is rebuilt, so a client survives a server restart; after one, `wait_ready`
opens a new session.

There is one method per message kind of the protocol (protocol/messages.py,
named like the kind), each building that kind's struct, so a field the
protocol does not have is a TypeError here, not a refusal later.

    with Client() as mix:
        mix.wait_ready()
        shot = mix.play("gunshot", position=(3, 0, -2))
        mix.emitter(shot, (2.5, 0, -2))
        mix.event("dialogue_started", id=7)
        mix.set_parameter("rain", 0.8)
        for notice in mix.poll():          # once per frame
            ...

Not thread-safe, except `telemetry()`, which another thread (a HUD) may
read while the game thread sends: use one Client per sending thread.  Edge.  Imports nothing of the
mixer (no NumPy, no Numba).
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import Any, Iterable

import msgspec
import zmq

from gamemix.live import config
from gamemix.live.managed import ManagedServer, ServerFailed
from gamemix.protocol import messages as m
from gamemix.protocol import wire

NOTICES_KEPT = 65_536      # notices waiting for poll(); beyond, the oldest are dropped (counted)
POSTED_KEPT = 65_536       # posted commands whose reply is awaited; beyond, the oldest are forgotten
LOCAL_IDS = 1 << 39        # handles given while no session is open (their plays are refused locally)
READY_POLL_S = 0.25        # how often wait_ready asks
UNANSWERED = ("no reply before the command socket was rebuilt after a timeout: carried out only if the server "
              "got it within its time to live")


class CommandFailed(Exception):
    """The server refused a command; `code` is stable (docs/protocol.md)."""

    def __init__(self, code: str, message: str, field: str | None = None):
        self.code, self.message, self.field = code, message, field
        super().__init__(f"{code}: {message}")


class Client:
    """Connection to a running `gamemix serve`."""

    def __init__(self, commands: str = config.COMMANDS, streams: str = config.STREAMS,
                 telemetry: str = config.TELEMETRY, timeout: float = config.CLIENT_TIMEOUT_S,
                 curve: tuple[bytes, bytes, bytes] | None = None, name: str | None = None):
        """`curve` = (server public key, client public key, client secret key) for remote servers;
        `name` names this client's session in the server's logs."""
        self.endpoints = (commands, streams, telemetry)
        self.timeout_ms = int(timeout * 1000)
        self.curve = curve
        self.name = name
        self.ctx = zmq.Context()
        self._rid = itertools.count(1)
        self._dealer = self._socket(zmq.DEALER, commands)
        self._push = self._socket(zmq.PUSH, streams)
        self._push.setsockopt(zmq.SNDHWM, config.CLIENT_STREAM_HWM)
        self._sub = None
        self.session: dict | None = None         # the `hello` reply: session number, id range, clock
        self._ids: Iterable[int] | None = None    # this session's next instance ids
        self._local_ids = itertools.count(LOCAL_IDS)
        self._posted: collections.OrderedDict[Any, tuple[str, int | None]] = collections.OrderedDict()
        self._notices: collections.deque = collections.deque(maxlen=NOTICES_KEPT)
        self.notices_dropped = 0
        self.states: dict[int, str] = {}         # last known state of each live instance of this client
        self.server: ManagedServer | None = None   # the server `spawn` started for this client
        self.on_notice = None                    # called by poll() with each notice (after the instance's own)
        self._callbacks: dict[int, Any] = {}     # instance -> callback given to play/event
        self._sub_lock = threading.Lock()        # telemetry may be read from another thread

    def _socket(self, kind: int, endpoint: str) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            server_public, public, secret = self.curve
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = server_public, public, secret
        sock.connect(endpoint)
        return sock

    # ------------------------------------------------------------ sessions and readiness
    def wait_ready(self, timeout: float = 120.0) -> dict:
        """Wait until the server is ready (it compiles its kernels on a machine's first start) and open
        a session; returns the `hello` reply.  TimeoutError if it is not ready within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.hello()
            except (TimeoutError, CommandFailed) as exc:
                if isinstance(exc, CommandFailed) and exc.code != "not_ready":
                    raise
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{self.endpoints[0]} not ready within {timeout:g} s ({exc})") from None
                time.sleep(min(READY_POLL_S, max(0.0, deadline - time.monotonic())))

    def hello(self) -> dict:
        """Open (or reopen) this client's session: {'session', 'ids': [first, end), 'clock', ...}."""
        reply = self.request(m.Hello(name=self.name))
        self._open(reply)
        return reply

    def _open(self, reply: dict) -> None:
        first, end = reply["ids"]
        if self.session is None or self.session["ids"] != reply["ids"]:
            self._ids = iter(range(first + 1, end))
        self.session = reply

    def _handle(self) -> int:
        """A new instance id of this session (or a local one, whose play is refused, without one)."""
        if self._ids is not None:
            try:
                return next(self._ids)
            except StopIteration:
                self._ids = None
        return next(self._local_ids)

    # ------------------------------------------------------------ notices
    def poll(self) -> list[dict]:
        """Everything that arrived since the last call, oldest first: notices about this client's
        instances ({'id', 'event', 'block', ...}, docs/protocol.md) and refusals of posted commands
        ({'event': 'refused', 'id', 'code', 'message', 'kind'}; 'id' is None for one without an
        instance).  Never blocks.  Callbacks run here, on the caller's thread, in the same order:
        the one given to the instance's play or event, then `on_notice`; an exception in one goes
        on to the caller (the notices after it stay for the next poll)."""
        while self._dealer.poll(0):
            self._receive(self._dealer.recv())
        out = []
        while self._notices:
            notice = self._notices.popleft()
            out.append(notice)
            self._call_back(notice)
        return out

    def _call_back(self, notice: dict) -> None:
        instance = notice.get("id")
        callback = self._callbacks.get(instance)
        if callback is not None and notice["event"] in ("ended", "refused"):
            del self._callbacks[instance]
        if callback is not None:
            callback(notice)
        if self.on_notice is not None:
            self.on_notice(notice)

    def state(self, id: int) -> str | None:
        """This client's instance's last known state ('posted', 'started', 'virtual', 'paused', ...),
        None once it ended or was refused (as of the last `poll`)."""
        return self.states.get(id)

    def _notice(self, notice: dict) -> None:
        if len(self._notices) == self._notices.maxlen:
            self.notices_dropped += 1
        self._notices.append(notice)
        instance, event = notice.get("id"), notice["event"]
        if instance is None:
            return
        if event in ("ended", "refused"):
            self.states.pop(instance, None)
        elif instance in self.states:
            self.states[instance] = {"resumed": "started", "real": "started"}.get(event, event)

    def _receive(self, frame: bytes, awaited=None) -> dict | None:
        """Handle one frame from the command socket; returns it if it is the reply to `awaited`."""
        try:
            reply = wire.decode_map(frame)
        except wire.WireError:
            return None
        if reply.get("type") == "notify":
            self._notice({k: v for k, v in reply.items() if k not in ("v", "type")})
            return None
        rid = reply.get("rid")
        if awaited is not None and rid == awaited:
            return reply
        posted = self._posted.pop(rid, None)
        if posted is not None and not reply.get("ok"):
            kind, instance = posted
            err = reply.get("error") or {}
            self._notice({"id": instance, "event": "refused", "kind": kind, "code": err.get("code"),
                          "message": err.get("message")})
        return None

    # ------------------------------------------------------------ commands
    def request(self, message: m.Message | dict[str, Any]) -> dict:
        """Send a command (a message struct, or a dict with its `type`) and wait for its reply's data;
        CommandFailed or TimeoutError.  What else arrives meanwhile is kept for `poll`."""
        rid = next(self._rid)
        self._dealer.send(self._stamped(message, rid))
        deadline = time.monotonic() + self.timeout_ms / 1000
        while self._dealer.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            reply = self._receive(self._dealer.recv(), awaited=rid)
            if reply is None:
                continue
            if reply["ok"]:
                return reply["data"]
            err = reply["error"]
            raise CommandFailed(err["code"], err["message"], err.get("field"))
        self._dealer.close(linger=0)           # rebuild: the server may have restarted
        self._dealer = self._socket(zmq.DEALER, self.endpoints[0])
        for kind, instance in self._posted.values():       # their replies can no longer come: say so
            self._notice({"id": instance, "event": "refused", "kind": kind, "code": "expired", "message": UNANSWERED})
        self._posted.clear()
        raise TimeoutError(f"no reply from {self.endpoints[0]} within {self.timeout_ms} ms")

    def post(self, message: m.Message, instance: int | None = None) -> None:
        """Send a command without waiting; a refusal arrives through `poll` (about `instance`)."""
        kind = m.kind_of(message)
        rid = next(self._rid)
        try:
            self._dealer.send(self._stamped(message, rid), zmq.NOBLOCK)
        except zmq.Again:
            self._notice({"id": instance, "event": "refused", "kind": kind, "code": "queue_full",
                          "message": "the command socket's queue is full (is the server running?)"})
            return
        if len(self._posted) >= POSTED_KEPT:
            self._posted.popitem(last=False)
        self._posted[rid] = (kind, instance)

    def _stamped(self, message: m.Message | dict[str, Any], rid) -> bytes:
        """The frame of a command with its request id, send time and time to live."""
        now, ttl = time.time(), self.timeout_ms / 1000
        if isinstance(message, m.Message):
            return _frame(msgspec.structs.replace(message, rid=rid, t=now, ttl=ttl))
        return _frame({"t": now, "ttl": ttl, **message, "rid": rid})

    def _send(self, message: m.Message, wait: bool, instance: int | None = None):
        """Waited: the reply's data (or CommandFailed); posted: None."""
        if wait:
            return self.request(message)
        self.post(message, instance)
        return None

    def ping(self) -> dict:
        """Liveness: {'version': protocol version, 'block': blocks rendered, 'clock': ...}."""
        return self.request(m.Ping())

    def query(self) -> dict:
        """The mixer's state (docs/protocol.md, query)."""
        return self.request(m.Query())

    def instance_info(self, id: int) -> dict:
        """An instance's state, position in its file, the file's length, loops left."""
        return self.request(m.InstanceInfo(id=id))

    def sound_info(self, sound: str) -> dict:
        """A sound's files (lengths, channels), looping, 3D, bus and category, voices playing."""
        return self.request(m.SoundInfo(sound=sound))

    def upload_sound(self, sound: str, pcm, channels: int | None = None, sample_rate: int = 48000,
                     wait: bool = True) -> dict | None:
        """Send audio the game made to a sound declared with `upload` (FMOD's programmer sounds):
        `pcm` is a NumPy float array (frames, or frames x channels) or raw float32 little-endian
        interleaved bytes; at most 4 MiB (about 21 s of mono at 48 kHz).  Waited by default: the
        reply says {'sound', 'frames', 'seconds'}; refused while the sound has voices playing."""
        if hasattr(pcm, "astype"):                  # an array (no NumPy import here: the client stays light)
            channels = channels or (pcm.shape[1] if pcm.ndim == 2 else 1)
            pcm = pcm.astype("<f4").tobytes()
        msg = m.UploadSound(sound=sound, pcm=bytes(pcm), channels=channels or 1, sample_rate=int(sample_rate))
        return self._send(msg, wait)

    def load_scene(self, file: str | None = None) -> dict:
        """Reload the scene, or load another scene file inside its folder."""
        return self.request(m.LoadScene(file=file))

    def play(self, sound: str, id: int | None = None, position=None, velocity=None, volume_db: float = 0.0,
             pitch_semitones: float = 0.0, fade_in: float = 0.0, pan: float | None = None,
             loops: int | None = None, at_sample: int | None = None, wait: bool = False, callback=None,
             object: int | None = None, direction=None) -> int:
        """Start a sound; returns its instance handle (at once, unless `wait`).

        `pan` (-1 left .. 1 right) for a 2D sound; `direction` where a 3D one faces (its cone);
        `loops` instead of the sound's own looping (-1 for
        ever, 0 once, N: N more times); `at_sample` starts it at that sample of the mixer's clock
        (sample-accurate; see `clock`).  Without `wait` and without `id`, the handle comes from this
        client's session (a play before `wait_ready` is refused, as a notice).  `callback(notice)` is
        called by `poll` with each of this instance's notices, like an FMOD event callback."""
        auto = id is None and not wait
        if auto:
            id = self._handle()
        msg = m.Play(sound=sound, id=id, position=_vec(position), velocity=_vec(velocity),
                     volume_db=float(volume_db), pitch_semitones=float(pitch_semitones), fade_in=float(fade_in),
                     pan=_float(pan), loops=None if loops is None else int(loops),
                     at_sample=None if at_sample is None else int(at_sample), object=object,
                     direction=_vec(direction))
        if wait:
            id = self.request(msg)["id"]
            self._watch_callback(id, callback)
            return id
        self._watch_callback(id, callback)
        if auto and self.session is None:
            self._notice({"id": id, "event": "refused", "kind": "play", "code": "no_session",
                          "message": "no session: call wait_ready() first (the server may not run yet)"})
            return id
        self.states[id] = "posted"
        self.post(msg, id)
        return id

    def event(self, name: str, id: int | None = None, position=None, velocity=None, at_sample: int | None = None,
              wait: bool = False, callback=None, object: int | None = None, direction=None) -> dict | int:
        """Post an event; returns its instance handle (waited: {'id': ..., 'refused': [...]}); `callback`
        as for `play`."""
        if id is None and not wait and self.session is not None:
            id = self._handle()
        msg = m.Event(name=name, id=id, position=_vec(position), velocity=_vec(velocity),
                      at_sample=None if at_sample is None else int(at_sample), object=object,
                      direction=_vec(direction))
        if wait:
            reply = self.request(msg)
            self._watch_callback(reply["id"], callback)
            return reply
        self._watch_callback(id, callback)
        if id is not None:
            self.states[id] = "posted"
        self.post(msg, id)
        return id

    def _watch_callback(self, instance: int | None, callback) -> None:
        if callback is not None and instance is not None:
            if len(self._callbacks) >= POSTED_KEPT:          # bounded: the oldest is forgotten
                self._callbacks.pop(next(iter(self._callbacks)))
            self._callbacks[instance] = callback

    def stop(self, id: int, fade: float = 0.0, at_sample: int | None = None, wait: bool = False) -> None:
        """Stop an instance, fading out over `fade` seconds (at a sample of the mixer's clock)."""
        self._send(m.Stop(id=id, fade=float(fade), at_sample=None if at_sample is None else int(at_sample)),
                   wait, id)

    def set_instance(self, id: int, volume_db: float | None = None, pitch_semitones: float | None = None,
                     pan: float | None = None, position=None, velocity=None, fade: float = 0.0,
                     wait: bool = False, direction=None) -> None:
        """Change a playing instance's volume and pitch offsets, a 2D one's pan, a 3D one's position
        and direction."""
        self._send(m.SetInstance(id=id, volume_db=_float(volume_db), pitch_semitones=_float(pitch_semitones),
                                 pan=_float(pan), position=_vec(position), velocity=_vec(velocity),
                                 direction=_vec(direction), fade=float(fade)), wait, id)

    def pause(self, id: int, paused: bool = True, fade: float = 0.0, wait: bool = False) -> None:
        """Pause an instance (it holds its place), or resume it with paused=False."""
        self._send(m.Pause(id=id, paused=bool(paused), fade=float(fade)), wait, id)

    def resume(self, id: int, fade: float = 0.0, wait: bool = False) -> None:
        """Resume a paused instance."""
        self.pause(id, False, fade, wait)

    def seek(self, id: int, seconds: float, wait: bool = False) -> None:
        """Move an instance to `seconds` into its file."""
        self._send(m.Seek(id=id, seconds=float(seconds)), wait, id)

    def set_parameter(self, name: str, value: float, id: int | None = None, wait: bool = False,
                      object: int | None = None) -> None:
        """Set a game parameter (it glides at its seek speed); with `id`, that instance's own value
        of a per-instance parameter; with `object`, a game object's (its instances take it)."""
        self._send(m.SetParameter(name=name, value=float(value), id=id, object=object), wait, id)

    def object(self, id: int, position=(0.0, 0.0, 0.0), velocity=None, remove: bool = False, fade: float = 0.0,
               wait: bool = False, direction=None) -> None:
        """Place (and turn) a game object (created the first time; what plays on it moves along), or
        remove it and stop what plays on it.  A move is a stream message (every frame); a removal is
        posted."""
        msg = m.GameObjectPose(id=id, position=_vec(position), velocity=_vec(velocity), remove=bool(remove),
                               fade=float(fade), direction=_vec(direction))
        if remove or wait:
            self._send(msg, wait)
        else:
            self.send_stream(msg)

    def occlusion(self, id: int | None = None, occlusion: float | None = None, obstruction: float | None = None,
                  object: int | None = None, zone: str | None = None, wait: bool = False) -> None:
        """How muffled an instance, a game object's instances or a zone's emitters are (0..1 each; a
        zone takes occlusion only).  Posted (or waited); a game updating it every frame may send it
        with `send_stream` instead."""
        self._send(_built(m.Occlusion, id=id, object=object, zone=zone, occlusion=_float(occlusion),
                          obstruction=_float(obstruction)), wait, id)

    def aux_sends(self, sends: dict[str, float], id: int | None = None, object: int | None = None,
                  wait: bool = False) -> None:
        """The levels (dB per auxiliary bus) an instance or a game object's instances feed reverb
        buses at; replaces the last set ({}: none)."""
        self._send(_built(m.AuxSends, sends={str(k): float(v) for k, v in sends.items()}, id=id, object=object),
                   wait, id)

    def reset_meters(self, bus: str | None = None, wait: bool = False) -> None:
        """Restart the loudness meters of one bus, or of all (e.g. when a level starts)."""
        self._send(m.ResetMeters(bus=bus), wait)

    def snapshot_start(self, name: str, intensity: float | None = None, fade: float | None = None,
                       wait: bool = False) -> None:
        """Start a snapshot, optionally at an intensity (%) and with a fade other than its own."""
        self._send(m.SnapshotStart(name=name, intensity=_float(intensity), fade=_float(fade)), wait)

    def snapshot_stop(self, name: str, fade: float | None = None, wait: bool = False) -> None:
        """Fade a snapshot out."""
        self._send(m.SnapshotStop(name=name, fade=_float(fade)), wait)

    def snapshot_intensity(self, name: str, intensity: float, wait: bool = False) -> None:
        """Set an active snapshot's intensity (%)."""
        self._send(m.SnapshotIntensity(name=name, intensity=float(intensity)), wait)

    def bus_volume(self, bus: str, volume_db: float, fade: float = 0.0, wait: bool = False) -> None:
        """Move a bus fader to `volume_db` over `fade` seconds."""
        self._send(m.BusVolume(bus=bus, volume_db=float(volume_db), fade=float(fade)), wait)

    def vca_volume(self, vca: str, volume_db: float, fade: float = 0.0, wait: bool = False) -> None:
        """Move a VCA (a volume control over a group of buses) to `volume_db` over `fade` seconds."""
        self._send(m.VcaVolume(vca=vca, volume_db=float(volume_db), fade=float(fade)), wait)

    def bus_mute(self, bus: str, mute: bool, fade: float = 0.0, wait: bool = False) -> None:
        """Mute or unmute a bus, over `fade` seconds."""
        self._send(m.BusMute(bus=bus, mute=bool(mute), fade=float(fade)), wait)

    def clock(self) -> dict:
        """The mixer's sample clock now: {'sample', 'time', 'sample_rate', 'latency_s'} (for `at_sample`)."""
        return self.ping()["clock"]

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

    def emitter(self, id: int, position, velocity=None, direction=None) -> None:
        """Move (and turn) an instance (a stream message)."""
        self.send_stream(m.Emitter(id=id, position=_vec(position), velocity=_vec(velocity),
                                   direction=_vec(direction)))

    def emitters(self, ids: Iterable[int], positions, velocities=None, directions=None) -> None:
        """Move many instances at once (what a game sends every frame): stream messages of at most
        MAX_BATCH poses each, as many as it takes (the protocol's limit, which keeps the server's
        decode of any one frame short).  CommandFailed('bad_value') if the lengths differ."""
        ids = [int(i) for i in ids]
        positions = [_vec(p) for p in positions]
        velocities = None if velocities is None else [_vec(v) for v in velocities]
        directions = None if directions is None else [_vec(v) for v in directions]
        if len(positions) != len(ids) or any(x is not None and len(x) != len(ids) for x in (velocities, directions)):
            raise CommandFailed("bad_value", "ids, positions, velocities and directions must have the same length")
        for a in range(0, len(ids), m.MAX_BATCH):
            b = a + m.MAX_BATCH
            self.send_stream(m.Emitters(ids=ids[a:b], positions=positions[a:b],
                                        velocities=None if velocities is None else velocities[a:b],
                                        directions=None if directions is None else directions[a:b]))

    def listener(self, position, forward=(0, 0, -1), up=(0, 1, 0), velocity=(0, 0, 0), index: int = 0,
                 remove: bool = False) -> None:
        """Set a listener's pose (a stream message); `index` 1-3 for split screen, `remove` to drop one."""
        self.send_stream(m.Listener(position=_vec(position), forward=_vec(forward), up=_vec(up),
                                    velocity=_vec(velocity), index=int(index), remove=bool(remove)))

    def stream_parameter(self, name: str, value: float, id: int | None = None) -> None:
        """Set a game parameter (or an instance's own value) as a stream message, every frame."""
        self.send_stream(m.SetParameter(name=name, value=float(value), id=id))

    # ------------------------------------------------------------ telemetry
    def telemetry(self, timeout: float = 1.0) -> dict | None:
        """The next telemetry frame (subscribing on first use), or None after `timeout`.  Safe to call
        from another thread than the game's (a HUD, a logger): it has a socket and a lock of its own."""
        with self._sub_lock:
            if self._sub is None:
                self._sub = self._socket(zmq.SUB, self.endpoints[2])
                self._sub.setsockopt(zmq.SUBSCRIBE, b"")
            if self._sub.poll(int(timeout * 1000)):
                return wire.decode_map(self._sub.recv())
            return None

    def close(self) -> None:
        """Close the sockets; a server this client spawned (`spawn`) is stopped too."""
        with self._sub_lock:
            for sock in (self._dealer, self._push, self._sub):
                if sock is not None:
                    sock.close(linger=0)
        self.ctx.term()
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def spawn(scene: str, output: str = "device", args: tuple[str, ...] = (), ready_timeout: float = 180.0,
          log_path: str | None = None, **client_options) -> Client:
    """Start `gamemix serve SCENE` for this game (free loopback ports, stopped with the game), wait
    until it is ready, and return a Client with its session open; `close()` stops the server.

    `output`: 'device', 'null' or a WAV path; `args`: more `serve` options (e.g. ('--record',
    'session.yaml')).  ServerFailed (with the end of the server's log) if it exits or does not
    become ready within `ready_timeout` s (a first start on a machine compiles the kernels)."""
    server = ManagedServer(scene, output, tuple(args), log_path)
    try:
        ends = server.wait_bound()
        client = Client(ends["commands"], ends["streams"], ends["telemetry"], **client_options)
    except BaseException:
        server.stop()
        raise
    client.server = server
    deadline = time.monotonic() + ready_timeout
    while True:
        try:
            client.wait_ready(timeout=min(5.0, max(0.1, deadline - time.monotonic())))
            return client
        except (TimeoutError, CommandFailed) as exc:
            if not server.alive() or time.monotonic() >= deadline:
                client.close()
                why = "exited" if not server.alive() else f"was not ready within {ready_timeout:g} s"
                raise ServerFailed(f"gamemix serve {why} ({exc}){server.log_tail()}") from None


def _frame(message: m.Message | dict[str, Any]) -> bytes:
    """The encoded message, refused here if it is over the frame limit: the server's ZeroMQ socket
    would cut the connection on it, so the caller would see only a timeout."""
    frame = wire.encode_message(message) if isinstance(message, m.Message) else wire.encode(message)
    if len(frame) > wire.MAX_FRAME_BYTES:
        raise CommandFailed("too_large", f"frame of {len(frame)} bytes exceeds the limit of {wire.MAX_FRAME_BYTES}")
    return frame


def _built(kind, **fields) -> m.Message:
    """A message, or CommandFailed('bad_value') for fields it refuses as a whole (two targets, or
    none), as the server would answer it."""
    try:
        return kind(**fields)
    except (ValueError, TypeError) as exc:
        raise CommandFailed("bad_value", str(exc)) from None


def _vec(v):
    return None if v is None else tuple(float(x) for x in v)


def _float(x):
    return None if x is None else float(x)
