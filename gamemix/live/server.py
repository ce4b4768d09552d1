"""The live mixer: ZeroMQ sockets in, audio out.

Threads:

- **network thread** (`_network_loop`) owns every socket.  ROUTER receives
  commands (each gets exactly one reply), PULL receives streams (poses,
  parameters, fire-and-forget events), PUB sends telemetry.  It decodes and
  validates frames (gamemix.protocol.wire); a bad command is answered at once with an
  error, a bad stream frame is counted and dropped.  Valid messages go, in
  arrival order, into `inbox`, a deque (append and popleft are atomic in
  CPython, so no lock).
- **render thread** (the output's) calls `render_block` once per block: it
  drains the inbox (commands and streams in their order; consecutive emitter
  updates are applied as one vectorised batch, so the newest pose wins), runs
  the mixer's tick and the nogil kernel, and queues replies and telemetry in
  `outbox`; a one-byte signal on an inproc socket wakes the network thread to
  send them.  So a message that arrives before a block starts takes effect in
  that block, and nothing on the audio side waits for the network.
- **Device thread** (gamemix.io.portaudio) only hands finished blocks to PortAudio
  with blocking writes (callback streams stalled through PulseAudio's ALSA plugin).

Loading a scene (start, `load_scene`, `--watch`) decodes audio on the network
thread; the render thread only swaps in the new mixer at a block start,
carrying over what still exists (Mixer.adopt).

Security: endpoints bind to loopback unless told otherwise, and binding
beyond loopback requires CURVE keys (docs/protocol.md, "Remote use").
Edge.
"""

from __future__ import annotations

import collections
import gc
import ipaddress
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
import zmq

from gamemix.protocol import messages as protocol

from gamemix.protocol import wire
from gamemix.errors import CommandError, LocatedError
from gamemix.control.mixer import Mixer
from gamemix.core.arrays import BF_PEAK, BF_SUMSQ
from gamemix.scene.load import load_scene
from gamemix.scene.paths import safe_path


SWITCH_INTERVAL_S = 0.0005
STREAM_SLICE_S = 0.001     # the network thread decodes streams for at most this long per turn, then yields


@dataclass
class ServerConfig:
    """Everything `gamemix serve` can set."""

    scene: Path
    commands: str = "tcp://127.0.0.1:5560"
    streams: str = "tcp://127.0.0.1:5561"
    telemetry: str = "tcp://127.0.0.1:5562"
    output: str = "device"            # "device", "null" or a .wav path
    device: str | None = None         # PortAudio device name (substring) or index
    ahead: int = 0                    # blocks rendered ahead of the device (0: just in time)
    device_buffer: int = 1024         # PortAudio buffer, frames
    telemetry_hz: float = 30.0
    record: Path | None = None
    watch: bool = False
    seed: int = 0
    curve_secret: Path | None = None  # server secret key file (zmq.auth format)
    curve_clients: Path | None = None  # folder of authorised client public keys


@dataclass
class ServerStats:
    """Counters the server publishes."""

    commands: int = 0
    command_errors: int = 0
    streams: int = 0
    stream_drops: int = 0
    reloads: int = 0
    reload_errors: list[str] = field(default_factory=list)


def is_loopback(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// endpoints on a loopback address."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False       # '*', an interface name or a hostname: not loopback


class Server:
    """A running live mixer; see the module docstring."""

    def __init__(self, config: ServerConfig):
        self.config = config
        endpoints = (config.commands, config.streams, config.telemetry)
        if not all(is_loopback(e) for e in endpoints) and (config.curve_secret is None or config.curve_clients is None):
            raise ValueError("binding beyond loopback needs CURVE keys: give --curve-secret and --curve-clients "
                             "(make them with `gamemix keys DIR`)")
        self.scene_path = Path(config.scene)
        self.mixer = Mixer(load_scene(self.scene_path), seed=config.seed)
        self.inbox: collections.deque = collections.deque()
        self.outbox: collections.deque = collections.deque()
        self.stats = ServerStats()
        self.recording: list[dict] = []
        self._pending_mixer: Mixer | None = None
        self._running = threading.Event()
        if not config.telemetry_hz > 0:
            raise ValueError(f"telemetry rate must be > 0 Hz, got {config.telemetry_hz}")
        self._telemetry_every = max(1, round(self.mixer.sample_rate / self.mixer.block_size / config.telemetry_hz))
        self._ctx = zmq.Context()
        self._wake_addr = f"inproc://gamemix-wake-{id(self)}"
        self._output = None
        self._net_thread: threading.Thread | None = None
        self._scene_mtime = self.scene_path.stat().st_mtime

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Server":
        """Bind the sockets, start the network thread and the audio output.

        Python hands the GIL between threads every 5 ms by default, as long as
        a block; the server shortens that to 0.5 ms so a busy network thread
        cannot hold the render thread for a whole block.

        Python's cycle collector stops the thread that triggers it while it
        walks every tracked object: ~60 ms for the ~130,000 that a loaded scene
        and Numba leave, twelve blocks, due whenever enough new objects survive
        (a growing --record list, a reload).  Once the server is ready,
        gc.freeze() moves everything that exists out of the collector's reach,
        so a collection walks only what came after.  The price: a reference
        cycle among those objects is never freed (a reloaded-away scene may
        keep some memory).
        """
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._wake_recv = self._ctx.socket(zmq.PAIR)
        self._wake_recv.bind(self._wake_addr)
        self._wake_send = self._ctx.socket(zmq.PAIR)
        self._wake_send.connect(self._wake_addr)
        self._bind_sockets()
        self._running.set()
        self._net_thread = threading.Thread(target=self._network_loop, name="gamemix-network", daemon=True)
        self._net_thread.start()
        self._warm_up()
        gc.collect()                # the warm-up's mixer and other garbage first: frozen, it would stay
        gc.freeze()
        self._output = self._make_output()
        self._output.start()
        return self

    def _warm_up(self) -> None:
        """Load the jitted kernels from Numba's cache (or compile them, the first time) before
        audio starts, by rendering a block on a throwaway mixer that shares the scene's decoded
        audio: otherwise the first blocks come late and the output counts xruns at start."""
        scratch = Mixer(self.mixer.scene, seed=self.config.seed, bank=self.mixer.bank)
        scratch.render(np.zeros((scratch.block_size, scratch.channels), np.float32))

    def stop(self) -> None:
        """Stop audio and network; write the recording if asked."""
        if self._output is not None:
            self._output.stop()
        self._running.clear()
        if self._net_thread is not None:
            self._net_thread.join(timeout=2.0)
        for sock in (getattr(self, name, None) for name in ("_router", "_pull", "_pub", "_wake_recv", "_wake_send")):
            if sock is not None:
                sock.close(linger=0)
        if getattr(self, "_auth", None) is not None:
            self._auth.stop()
        self._ctx.term()
        if self.config.record is not None:
            self.write_recording(self.config.record)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _make_output(self):
        cfg, m = self.config, self.mixer
        if cfg.output == "null":
            from gamemix.io.portaudio import NullOutput
            return NullOutput(self.render_block, channels=m.channels, sample_rate=m.sample_rate,
                              block_size=m.block_size, ahead=cfg.ahead)
        if cfg.output == "device":
            from gamemix.io.portaudio import AudioOutput
            return AudioOutput(self.render_block, channels=m.channels, sample_rate=m.sample_rate,
                               block_size=m.block_size, device=cfg.device, ahead=cfg.ahead,
                               device_buffer=cfg.device_buffer)
        from gamemix.io.wav import FileOutput
        return FileOutput(self.render_block, Path(cfg.output), channels=m.channels,
                          sample_rate=m.sample_rate, block_size=m.block_size)

    def _bind_sockets(self) -> None:
        cfg = self.config
        self._router = self._ctx.socket(zmq.ROUTER)
        self._pull = self._ctx.socket(zmq.PULL)
        self._pub = self._ctx.socket(zmq.PUB)
        for sock in (self._router, self._pull, self._pub):
            sock.setsockopt(zmq.MAXMSGSIZE, wire.MAX_FRAME_BYTES)
            sock.setsockopt(zmq.LINGER, 0)
        if cfg.curve_secret is not None:
            self._enable_curve()
        self._router.bind(cfg.commands)
        self._pull.bind(cfg.streams)
        self._pub.bind(cfg.telemetry)
        # the endpoints actually bound (a `tcp://127.0.0.1:*` wildcard picks a free port)
        self.bound = {name: sock.getsockopt_string(zmq.LAST_ENDPOINT) for name, sock in
                      (("commands", self._router), ("streams", self._pull), ("telemetry", self._pub))}

    def _enable_curve(self) -> None:
        import zmq.auth
        from zmq.auth.thread import ThreadAuthenticator
        self._auth = ThreadAuthenticator(self._ctx)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(self.config.curve_clients))
        public, secret = zmq.auth.load_certificate(str(self.config.curve_secret))
        for sock in (self._router, self._pull, self._pub):
            sock.curve_secretkey = secret
            sock.curve_publickey = public
            sock.curve_server = True

    # ------------------------------------------------------------------ network thread
    def _network_loop(self) -> None:
        poller = zmq.Poller()
        for sock in (self._router, self._pull, self._wake_recv):
            poller.register(sock, zmq.POLLIN)
        next_watch = time.monotonic()
        while self._running.is_set():
            events = dict(poller.poll(20))
            if self._router in events:
                self._receive_commands()
            if self._pull in events:
                self._receive_streams()
                time.sleep(STREAM_SLICE_S / 2)      # let the render thread have the GIL
            if self._wake_recv in events:
                while self._wake_recv.poll(0):
                    self._wake_recv.recv()
            self._send_outbox()
            if self.config.watch and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + 0.25
                self._check_scene_file()

    def _receive_commands(self, limit: int = 1000) -> None:
        for _ in range(limit):
            try:
                identity, *rest = self._router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            frame = rest[-1] if rest else b""
            self.stats.commands += 1
            try:
                msg, rid = wire.decode(frame)
            except wire.WireError as exc:
                self.stats.command_errors += 1
                self._router.send_multipart([identity, wire.error(exc.rid, exc.code, exc.message, exc.field)])
                continue
            if isinstance(msg, wire.LoadScene):
                self._router.send_multipart([identity, self._load(msg.file, rid)])
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
                frame = self._pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.stats.streams += 1
            try:
                msg, _ = wire.decode(frame, allowed=wire.STREAM_TYPES)
            except wire.WireError:
                self.stats.stream_drops += 1
                continue
            self.inbox.append(("stream", None, None, msg))

    def _send_outbox(self) -> None:
        while self.outbox:
            identity, frame = self.outbox.popleft()
            if identity is None:
                self._pub.send(frame)
            else:
                self._router.send_multipart([identity, frame])

    # ------------------------------------------------------------------ scene loading
    def _load(self, file: str | None, rid) -> bytes:
        """Load a scene file inside the current scene's folder; the render thread swaps it in."""
        try:
            path = self.scene_path if file is None else safe_path(self.scene_path.parent, file)
            new = Mixer(load_scene(path), seed=self.config.seed)
        except LocatedError as exc:
            self.stats.reload_errors.append(str(exc))
            return wire.error(rid, "bad_scene", str(exc))
        except ValueError as exc:
            return wire.error(rid, "bad_path", str(exc), "file")
        old, now = self.mixer.scene.output, new.scene.output
        if (old.sample_rate, old.block_size, old.channels) != (now.sample_rate, now.block_size, now.channels):
            message = (f"{path.name}: a reload cannot change output.sample_rate, block_size or channels "
                       f"(running {old.sample_rate} Hz, {old.block_size} frames, {old.channels}); restart the server")
            self.stats.reload_errors.append(message)
            return wire.error(rid, "bad_scene", message)
        self._pending_mixer = new
        self.scene_path = path
        self.stats.reloads += 1
        return wire.ok(rid, {"scene": str(path.name), "sounds": len(new.scene.sounds)})

    def _check_scene_file(self) -> None:
        try:
            mtime = self.scene_path.stat().st_mtime
        except OSError:
            return
        if mtime != self._scene_mtime:
            self._scene_mtime = mtime
            reply = wire.decode_map(self._load(None, None))
            self.outbox.append((None, wire.encode({"type": "reload", "ok": reply["ok"],
                                                   "error": reply.get("error")})))

    # ------------------------------------------------------------------ render thread
    def render_block(self, out: np.ndarray) -> None:
        """Called by the output's render thread once per block."""
        if self._pending_mixer is not None:
            new, self._pending_mixer = self._pending_mixer, None
            new.adopt(self.mixer)
            self.mixer = new
        self._drain_inbox()
        self.mixer.render(out)
        if self.mixer.block_index % self._telemetry_every == 0:
            self.outbox.append((None, wire.encode(self.telemetry())))
        if self.outbox:
            self._wake_send.send(b"", zmq.NOBLOCK)

    def _drain_inbox(self) -> None:
        batch_ids, batch_pos, batch_vel = [], [], []
        while self.inbox:
            kind, identity, rid, msg = self.inbox.popleft()
            if kind == "stream" and isinstance(msg, protocol.Emitter):
                batch_ids.append(msg.id)
                batch_pos.append(msg.position)
                batch_vel.append(msg.velocity)
                continue
            if batch_ids:
                self._apply_emitters(batch_ids, batch_pos, batch_vel)
                batch_ids, batch_pos, batch_vel = [], [], []
            self._apply(kind, identity, rid, msg)
        if batch_ids:
            self._apply_emitters(batch_ids, batch_pos, batch_vel)

    def _apply_emitters(self, ids, positions, velocities) -> None:
        """Consecutive single-emitter stream messages (each already validated), applied as one
        vectorised batch; later poses of an id overwrite earlier ones, so the newest wins."""
        vel = None
        if any(v is not None for v in velocities):
            current = self.mixer.params.vf
            vel = [v if v is not None else self._velocity_of(i, current) for i, v in zip(ids, velocities)]
        self.stats.stream_drops += self.mixer.set_emitters(ids, positions, vel)
        if self.config.record is not None:
            self._record(protocol.Emitters.model_construct(type="emitters", ids=ids, positions=positions,
                                                           velocities=vel))

    def _record(self, msg) -> None:
        """Append an applied message to the recording, with the block it took effect in.  The
        stream fast paths leave NumPy arrays in their messages: written out as plain lists."""
        arrays = {k: [tuple(row) for row in v.tolist()] if v.ndim == 2 else v.tolist()
                  for k, v in vars(msg).items() if isinstance(v, np.ndarray)}
        if arrays:
            msg = msg.model_copy(update=arrays)
        self.recording.append({"block": self.mixer.block_index, **msg.model_dump(mode="json", exclude_none=True)})

    def _velocity_of(self, instance, vf) -> tuple:
        group = self.mixer.instances.get(instance)
        return group.pose(vf)[1] if group is not None else (0.0, 0.0, 0.0)

    def _apply(self, kind: str, identity, rid, msg) -> None:
        try:
            if isinstance(msg, wire.SERVER_COMMANDS):
                data = self._server_command(msg)
            else:
                data = self.mixer.apply(msg)
                if self.config.record is not None:
                    self._record(msg)
            if kind == "cmd":
                self.outbox.append((identity, wire.ok(rid, data)))
            elif isinstance(msg, protocol.Emitters):
                self.stats.stream_drops += data.get("unknown", 0)
        except CommandError as exc:
            if kind == "cmd":
                self.outbox.append((identity, wire.error(rid, exc.code, exc.message)))
            else:
                self.stats.stream_drops += 1

    def _server_command(self, msg) -> dict:
        if isinstance(msg, wire.Ping):
            return {"version": wire.WIRE_VERSION, "block": self.mixer.block_index}
        return self.query()

    # ------------------------------------------------------------------ state out
    def query(self) -> dict[str, Any]:
        """The state a `query` command returns."""
        m = self.mixer
        return {
            "block": m.block_index,
            "time_s": round(m.block_index * m.dt, 6),
            "voices": {"real": m.active_voices(), "virtual": m.virtual_voices(), **vars(m.stats)},
            "instances": len(m.instances),
            "buses": {n: {"volume_db": round(float(m.bus_values.volume_db[i]), 3)} for n, i in m.bus_index.items()},
            "loudness": m.chains.readings(),
            "snapshots": m.snapshots.levels(),
            "parameters": dict(m.parameters.values),
            "server": vars(self.stats),
            "output": self._output.stats() if self._output is not None else {},
        }

    def telemetry(self) -> dict[str, Any]:
        """One telemetry frame: levels, voices, audio-thread health."""
        m = self.mixer
        bf = m.params.bf
        n = m.block_size * m.channels
        readings = m.chains.readings()
        buses = {name: {"peak_dbfs": _db(bf[i, BF_PEAK]), "rms_dbfs": _db(np.sqrt(bf[i, BF_SUMSQ] / n)),
                        **readings.get(name, {})}
                 for name, i in m.bus_index.items()}
        out = self._output.stats() if self._output is not None else {}
        return {"type": "telemetry", "block": m.block_index, "time_s": round(m.block_index * m.dt, 4),
                "buses": buses, "voices": {"real": m.active_voices(), "virtual": m.virtual_voices()},
                "snapshots": m.snapshots.levels(), "xruns": out.get("xruns", 0),
                "cpu_load": out.get("cpu_load", 0.0), "stream_drops": self.stats.stream_drops}

    def write_recording(self, path: Path) -> None:
        """Every message the mixer applied, with its block: a render script."""
        doc = {"version": 1, "seed": self.config.seed,
               "duration": round(self.mixer.block_index * self.mixer.dt, 6), "messages": self.recording}
        Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))


def _db(x: float) -> float | None:
    return round(20.0 * float(np.log10(x)), 2) if x > 0 else None
