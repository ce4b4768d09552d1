"""The live mixer: ZeroMQ sockets in, audio out.

Threads (docs/architecture.md has the whole picture):

- the **network thread** (live/network.py) owns every socket, decodes and
  validates frames, answers bad commands, queues valid messages for the
  render thread (fairly between clients, a bounded number at a time) and
  sends what the render thread queued in `outbox`; scene reloads are built
  there (live/reloader.py) and the recording written (live/recorder.py);
- the **render thread** (the output's, io/) calls `render_block` once per
  block: it swaps in a reloaded mixer, carries out up to MESSAGES_PER_BLOCK
  queued messages, for at most MESSAGES_TIME_S, (commands and streams in their order; consecutive emitter
  updates as one vectorised batch, so the newest pose wins), runs the
  mixer's tick and the nogil kernel, and queues replies and telemetry
  (live/telemetry.py).  So a message that arrives before a block starts
  takes effect in that block, and nothing on the audio side waits for the
  network;
- the **device thread** (io/portaudio.py) only hands finished blocks to
  PortAudio with blocking writes;
- the **watchdog** (live/supervision.py) logs the faults the other threads
  caught and reports a thread that stalls.

No input ends a thread: every stage runs under a guard and a fault is
recorded, answered or skipped (live/supervision.py).  Before the server is
ready (kernels loaded, output started) commands are answered `not_ready` and
streams dropped; a `ready` frame is published when it is.

Security: endpoints bind to loopback unless told otherwise, and binding
beyond loopback requires CURVE keys (live/curve.py; docs/protocol.md,
"Remote use").

Edge.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import zmq

from gamemix.control.mixer import Mixer
from gamemix.core.kernel_cache import CompileProgress
from gamemix.errors import CommandError
from gamemix.live import telemetry
from gamemix.live.config import ServerConfig
from gamemix.live.curve import check_endpoints
from gamemix.live.feeder import Feeder
from gamemix.live.mic import LiveMicrophone
from gamemix.live.network import MESSAGES_PER_BLOCK, MESSAGES_TIME_S, Network, PreparedUpload, ServerStats, Waker
from gamemix.live.recorder import Recorder
from gamemix.live.reloader import SceneReloader
from gamemix.live.sessions import Sessions
from gamemix.live.supervision import Faults, Heartbeat, Watchdog
from gamemix.protocol import messages as protocol
from gamemix.protocol import census, wire
from gamemix.scene.load import load_scene

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005
RENDER_STALL_BLOCKS = 40         # the render thread is stalled after this many block periods without a block
NETWORK_STALL_S = 1.0
FEEDER_STALL_S = 2.0         # the stream feeder may wait on a slow disk; a ring holds 2.7 s
LIVE_FILE_CHUNK = 2048       # frames a --mic recording is decoded by, on the render thread (well under a block's time)
MIC_STALL_S = 2.0            # the mic's analysis thread (its ring holds 0.7 s: a late turn drops pairs, counted)

__all__ = ["Server", "ServerConfig", "ServerStats"]


class Server:
    """A running live mixer; see the module docstring."""

    def __init__(self, config: ServerConfig):
        self.config = config
        check_endpoints((config.commands, config.streams, config.telemetry), config.curve_secret,
                        config.curve_clients)
        if not config.telemetry_hz > 0:
            raise ValueError(f"telemetry rate must be > 0 Hz, got {config.telemetry_hz}")
        if not config.max_stream_age > 0:
            raise ValueError(f"the stream age limit must be > 0 s, got {config.max_stream_age}")
        self.mixer = Mixer(load_scene(Path(config.scene), layout=config.layout), seed=config.seed)
        self.mixer.streams.synchronous = False            # the feeder thread decodes (live/feeder.py)
        for warning in self.mixer.bank.warnings:
            log.warning("%s", warning)
        self.stats = ServerStats()
        self.faults = Faults()
        self.recorder: Recorder | None = None
        self.reloader = SceneReloader(Path(config.scene), config.seed, self.mixer.scene.output, self.stats,
                                      self.faults, config.layout)
        self._ctx = zmq.Context()
        period = self.mixer.dt
        self.render_beat = Heartbeat("render", RENDER_STALL_BLOCKS * period)
        self.network_beat = Heartbeat("network", NETWORK_STALL_S)
        self.network = Network(self._ctx, config, self.stats, self.reloader, self.faults, self.network_beat,
                               config.max_stream_age)
        self.inbox, self.outbox = self.network.inbox, self.network.outbox
        self.network.upload_room = self._upload_room
        self.feeder_beat = Heartbeat("streams", FEEDER_STALL_S)
        self.feeder = Feeder(lambda: self.mixer, self.faults, self.feeder_beat, config.realtime)
        self.mic_beat = Heartbeat("microphone", MIC_STALL_S)
        self.mic: LiveMicrophone | None = None
        self._mic_status: str | None = None
        self.watchdog = Watchdog(self.faults, [self.render_beat, self.network_beat, self.feeder_beat],
                                 lambda frame: self.outbox.append((None, wire.encode(frame))))
        self._telemetry_every = max(1, round(self.mixer.sample_rate / self.mixer.block_size / config.telemetry_hz))
        self._output = None
        self._waker: Waker | None = None
        self._query: tuple[int, bytes] | None = None      # (block, the encoded query data) shared by a block's queries
        self.sessions = Sessions()
        self._clock = (0, time.time())                    # (first sample of the last block rendered, when it began)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Server":
        """Bind the sockets, start the network thread and the audio output; ready once it runs.

        Python hands the GIL between threads every 5 ms by default, as long as
        a block; the server shortens that to 0.5 ms so a busy network thread
        cannot hold the render thread for a whole block.

        Python's cycle collector stops the thread that triggers it while it
        walks every tracked object: ~60 ms for the ~130,000 that a loaded scene
        and Numba leave, twelve blocks, due whenever enough new objects survive
        (a reload).  Once the server is ready, gc.freeze() moves everything that
        exists out of the collector's reach, so a collection walks only what came
        after.  The price: a reference cycle among those objects is never freed
        (a reloaded-away scene may keep some memory).
        """
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        if self.config.mic is not None and self.mixer.scene.microphone is None:
            raise ValueError("--mic needs a scene with a `microphone` section (docs/scene-format.md)")
        if self.config.record is not None:
            self.recorder = Recorder(self.config.record, self.config.seed)
            self.network.recorder = self.recorder
        self.network.bind()
        if self.config.endpoints_file is not None:
            self._write_endpoints(Path(self.config.endpoints_file))
        self._waker = Waker(self._ctx, self.network.wake_address)
        self.network.start()
        self._warm_up()
        gc.collect()                # the warm-up's mixer and other garbage first: frozen, it would stay
        gc.freeze()
        self.feeder.start()
        self._output = self._make_output()
        self.mic = self._make_mic()
        self.render_beat()
        if self.mic is not None:
            self.mic_beat()
            self.watchdog.heartbeats.append(self.mic_beat)
            self.mic.start()
        self._output.start()
        self.watchdog.start()
        self.network.mark_ready()
        self.outbox.append((None, wire.encode(telemetry.ready(self.mixer, self.bound, self.output_stats()))))
        self._waker.wake()
        log.info("serving %s: commands %s, streams %s, telemetry %s, output %s (%s)", self.config.scene,
                 *self.bound.values(), self.config.output, self.output_stats().get("priority", "normal priority"))
        return self

    def _upload_room(self, sound: str):
        """For the network thread: the room of a sound the game may upload to, and the output rate."""
        mixer = self.mixer
        room = mixer.bank.uploads.get(sound)
        return None if room is None else (room, mixer.sample_rate)

    def _write_endpoints(self, path: Path) -> None:
        """The endpoints bound, as JSON, written whole (a reader never sees half a file)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({**self.bound, "pid": os.getpid()}))
        os.replace(tmp, path)

    @property
    def running(self) -> bool:
        """True from start until stop."""
        return self.network.running

    @property
    def bound(self) -> dict[str, str]:
        """The endpoints actually bound (a `tcp://127.0.0.1:*` wildcard picks a free port)."""
        return self.network.bound

    def _warm_up(self) -> None:
        """Load the jitted kernels from Numba's cache (or compile them, the first time) before
        audio starts, by rendering a block on a throwaway mixer that shares the scene's decoded
        audio: otherwise the first blocks come late and the output counts xruns at start."""
        def report(name: str, done: int, total: int, elapsed: float) -> None:
            log.info("compiling kernels (first run of this version): %d/%d %.1f s %s", done, total, elapsed, name)
        with CompileProgress(report):
            census.prepare()
            scratch = Mixer(self.mixer.scene, seed=self.config.seed, bank=self.mixer.bank)
            scratch.render(np.zeros((scratch.block_size, scratch.channels), np.float32))

    def stop(self) -> None:
        """Stop audio and network; write the rest of the recording."""
        if self._output is not None:
            self._output.stop()
        if self.mic is not None:
            self.mic.stop()
        self.watchdog.stop()
        self.feeder.stop()
        self.network.stop()
        if self._waker is not None:
            self._waker.close()
        self._ctx.term()
        if self.recorder is not None:
            self.recorder.close(self.mixer.block_index * self.mixer.dt)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _make_output(self):
        cfg, m = self.config, self.mixer
        if cfg.output == "null":
            from gamemix.io.null import NullOutput
            return NullOutput(self.render_block, channels=m.channels, sample_rate=m.sample_rate,
                              block_size=m.block_size, ahead=cfg.ahead, device_buffer=cfg.device_buffer,
                              realtime=cfg.realtime)
        if cfg.output == "device":
            from gamemix.io.portaudio import AudioOutput, DeviceError
            spec = m.scene.microphone
            settings = dict(channels=m.channels, sample_rate=m.sample_rate, block_size=m.block_size,
                            device=cfg.device, ahead=cfg.ahead, device_buffer=cfg.device_buffer,
                            realtime=cfg.realtime)
            if spec is not None and cfg.mic is None:        # capture on the output's clock: one full-duplex stream
                try:
                    return AudioOutput(self.render_block, **settings, capture_channels=spec.channels,
                                       capture_device=spec.device)
                except DeviceError as exc:
                    self._mic_status = f"unavailable: {exc}"
                    log.error("the microphone could not open, mixing on without it: %s", exc)
            return AudioOutput(self.render_block, **settings)
        from gamemix.io.wav import FileOutput
        return FileOutput(self.render_block, Path(cfg.output), channels=m.channels,
                          sample_rate=m.sample_rate, block_size=m.block_size, realtime=cfg.realtime,
                          mask=m.layout.mask)

    def _make_mic(self) -> LiveMicrophone | None:
        """The scene's microphone: the output's capture (full duplex), or --mic's recording, and its
        analysis thread; None (said in the log and `microphone.status`) when there is none to be had."""
        m, cfg = self.mixer, self.config
        spec = m.scene.microphone
        if spec is None:
            return None
        status = self._mic_status
        mic_input = getattr(self._output, "input", None)
        if cfg.mic is not None:
            from gamemix.io.wav import WavInput
            try:
                mic_input = WavInput(cfg.mic, m.sample_rate, spec.channels, m.block_size, chunk=LIVE_FILE_CHUNK)
                status = f"file {cfg.mic}"
                for warning in mic_input.conversions():
                    log.warning("%s", warning)
            except Exception as exc:        # missing, unreadable: said, and the mix goes on without it
                why = "not found" if not Path(cfg.mic).is_file() else f"unreadable ({exc})"
                status = self._mic_status = f"unavailable: mic recording {why}: {cfg.mic}"
                log.error("the microphone %s; mixing on without it", status.removeprefix("unavailable: "))
        elif mic_input is not None:
            status = "capturing"
        elif status is None:
            status = "off: the microphone needs --output device (one clock with the output) or --mic FILE"
            log.warning("microphone %s", status)
        try:
            from gamemix.ar.analysis import RATE, MicAnalysis
            analysis = MicAnalysis(spec, m.sample_rate)
        except Exception as exc:            # a detector whose package is missing, a model that does not load
            log.error("the microphone's analysis could not start, mixing on without it: %s", exc)
            self._mic_status = f"unavailable: {exc}"
            return None
        if mic_input is None:
            status = status or "off"
        if status == "capturing" and spec.echo.delay_ms is None:      # until GCC-PHAT measures it: PortAudio's
            stats = self._output.stats()                              # round trip as the reference's delay
            analysis.delay.delay = int(round((stats["latency_ms"] + stats["capture"]["latency_ms"]) / 1e3 * RATE))
        mic = LiveMicrophone(analysis, mic_input, spec.channels, m.channels, m.block_size, self.faults,
                             self.mic_beat, status, cfg.realtime)
        m.microphone.align(analysis.latency_s(m.block_size) + m.dt)     # + a block: the thread's pick-up
        return mic

    def output_stats(self) -> dict:
        """The audio output's figures (blocks, xruns, render time, latency); {} before it starts."""
        return self._output.stats() if self._output is not None else {}

    # ------------------------------------------------------------------ render thread
    def render_block(self, out: np.ndarray) -> None:
        """Called by the output's render thread once per block.  Each stage is guarded: a fault is
        recorded and the block still goes out (with the targets written before, or as silence)."""
        self.render_beat()
        started = time.time()
        mixer = self.mixer
        try:
            mixer = self._take_reload()
            self._drain_inbox(MESSAGES_PER_BLOCK)
            if self.mic is not None and mixer.microphone.enabled:
                self.mic.take(mixer.microphone)
            mixer.tick()
        except Exception as exc:
            self.faults.record("control", exc)
        try:
            mixer.engine.render(out)
        except Exception as exc:
            out[:] = 0.0
            self.faults.record("kernel", exc)
        try:
            if self.mic is not None:
                self.mic.push(out)
            self._clock = (mixer.block_index * mixer.block_size, started)
            mixer.finish_block()
            self._notify()
            if mixer.block_index % self._telemetry_every == 0:
                self.outbox.append((None, wire.encode(self.telemetry())))
        except Exception as exc:
            self.faults.record("after the block", exc)
        if self.outbox:
            self._waker.wake()

    def _take_reload(self) -> Mixer:
        """Swap in a reloaded mixer (it takes over the running one's state); on a fault keep the old one."""
        new = self.reloader.take()
        if new is not None:
            try:
                new.adopt(self.mixer)
            except Exception as exc:
                self.faults.record("reload", exc)
                self.outbox.append((None, wire.encode({"type": "reload", "ok": False, "error": {
                    "code": "internal_error", "message": f"the reloaded scene could not take over: {exc}",
                    "field": None}})))
                return self.mixer
            new.streams.synchronous = False
            if self.mic is not None:
                new.microphone.align(self.mic.analysis.latency_s(new.block_size) + new.dt)
            self.mixer = new
        return self.mixer

    def _drain_inbox(self, budget: int) -> None:
        """Carry out queued messages: at most `budget` of them and for at most MESSAGES_TIME_S (a batch
        of poses costs more than a ping), always at least one; the rest wait for the next block."""
        batch: tuple[list, list, list, list] = ([], [], [], [])
        deadline = time.perf_counter() + MESSAGES_TIME_S
        while self.inbox and budget > 0 and (budget == MESSAGES_PER_BLOCK or time.perf_counter() < deadline):
            budget -= 1
            kind, identity, rid, msg = self.inbox.popleft()
            if kind == "stream" and isinstance(msg, protocol.Emitter):
                for part, value in zip(batch, (msg.id, msg.position, msg.velocity, msg.direction)):
                    part.append(value)
                continue
            if batch[0]:
                self._apply_emitters(*batch)
                batch = ([], [], [], [])
            self._apply(kind, identity, rid, msg)
        if batch[0]:
            self._apply_emitters(*batch)

    def _apply_emitters(self, ids, positions, velocities, directions) -> None:
        """Consecutive single-emitter stream messages (each already validated), applied as one
        vectorised batch; later poses of an id overwrite earlier ones, so the newest wins.  Where
        some give a velocity or direction and others not, the others keep their own."""
        try:
            vel = self._completed(ids, velocities, lambda group, a: group.pose(a.vf)[1])
            dirs = self._completed(ids, directions, lambda group, a: group.facing(a.vx))
            self.stats.stream_drops += self.mixer.set_emitters(ids, positions, vel, dirs)
        except Exception as exc:
            self.stats.stream_drops += len(ids)
            self.faults.record("command", exc)
            return
        if self.recorder is not None:
            self.recorder.record(self.mixer.block_index, protocol.Emitters(
                ids=ids, positions=positions, velocities=None if vel is None else [tuple(v) for v in vel],
                directions=None if dirs is None else [tuple(d) for d in dirs]))

    def _completed(self, ids, values, current) -> list | None:
        """`values` with each None replaced by the instance's own (`current(group, arrays)`); None if
        none was given."""
        if all(v is None for v in values):
            return None
        arrays = self.mixer.arrays
        out = []
        for i, v in zip(ids, values):
            group = self.mixer.instances.get(i)
            out.append(v if v is not None else (current(group, arrays) if group is not None else (0.0, 0.0, 0.0)))
        return out

    def _apply(self, kind: str, identity, rid, msg) -> None:
        """Carry out one message; a refusal is answered (or counted, on the stream socket), and so is a
        fault, which the mixer's command undid (control/mixer.py, `Mixer.apply`)."""
        try:
            reply = data = None
            if not msg.mixer:
                reply = self._server_command(msg, rid, identity)
            else:
                owner = self._watch(msg, identity if kind == "cmd" else None)
                try:
                    data = self.mixer.apply(msg)
                except BaseException as exc:
                    if owner is not None:
                        self._unwatch(msg.id, owner, exc if kind == "stream" else None)
                    raise
                if self.recorder is not None:
                    assigned = data.get("id") if isinstance(msg, (protocol.Play, protocol.Event)) \
                        and msg.id is None else None
                    self.recorder.record(self.mixer.block_index, msg, assigned)
            if kind == "cmd":
                self.outbox.append((identity, reply if reply is not None else wire.ok(rid, data)))
            elif isinstance(msg, protocol.Emitters):
                self.stats.stream_drops += data.get("unknown", 0)
        except CommandError as exc:
            if kind == "cmd":
                self.outbox.append((identity, wire.error(rid, exc.code, exc.message)))
            else:
                self.stats.stream_drops += 1
        except Exception as exc:
            self.faults.record("command", exc)
            if kind == "cmd":
                self.outbox.append((identity, wire.error(rid, "internal_error", f"{protocol.kind_of(msg)} failed "
                                                         f"and was undone: {type(exc).__name__}: {exc}")))
            else:
                self.stats.stream_drops += 1

    def _watch(self, msg, identity) -> bytes | None:
        """A play or event naming a new instance that a session owns: watch it, so its lifecycle is
        notified (live/sessions.py); returns the owner, or None."""
        if isinstance(msg, (protocol.Play, protocol.Event)) and msg.id is not None \
                and msg.id not in self.mixer.instances:
            owner = self.sessions.claim(msg.id, identity)
            if owner is not None:
                self.mixer.instances.watched.add(msg.id)
            return owner
        return None

    def _unwatch(self, instance: int, owner: bytes, refusal: BaseException | None) -> None:
        """A watched play or event failed: forget it; one sent on the stream socket (which has no
        reply) is reported to its owner as a `refused` notice instead."""
        self.mixer.instances.watched.discard(instance)
        self.sessions.owner.pop(instance, None)
        if refusal is not None:
            code, message = (refusal.code, refusal.message) if isinstance(refusal, CommandError) else \
                ("internal_error", f"failed and was undone: {type(refusal).__name__}: {refusal}")
            self.outbox.append((owner, wire.encode({"type": "notify", "id": instance, "event": "refused",
                                                    "block": self.mixer.block_index, "code": code,
                                                    "message": message})))

    def _notify(self) -> None:
        """Send each session the notices of its instances from this block (in the order they happened)."""
        for owner, notice in self.sessions.route(self.mixer.instances.notices):
            self.outbox.append((owner, wire.encode({"type": "notify", **notice})))

    def _server_command(self, msg, rid, identity=None) -> bytes:
        if isinstance(msg, protocol.Ping):
            return wire.ok(rid, telemetry.ping(self.mixer, self.clock()))
        if isinstance(msg, protocol.Hello):
            k = self.sessions.hello(identity) if identity is not None else 0
            first, end = self.sessions.ids(k)
            return wire.ok(rid, {**telemetry.ping(self.mixer, self.clock()), "session": k, "ids": [first, end],
                                 "sample_rate": self.mixer.sample_rate, "block_size": self.mixer.block_size})
        if isinstance(msg, PreparedUpload):
            return wire.ok(rid, self.mixer.fill_upload(msg.sound, msg.data))
        if isinstance(msg, protocol.InstanceInfo):
            return wire.ok(rid, self.mixer.instances.info(msg.id))
        if isinstance(msg, protocol.SoundInfo):
            return wire.ok(rid, self.mixer.sound_info(msg.sound))
        block = self.mixer.block_index
        if self._query is None or self._query[0] != block:     # once per block, however many ask
            self._query = (block, msgpack.packb(self.query(), use_bin_type=True))
        return wire.ok_encoded(rid, self._query[1])

    # ------------------------------------------------------------------ state out
    def query(self) -> dict[str, Any]:
        """The state a `query` command returns."""
        return telemetry.query(self.mixer, self.stats.as_dict(), self.output_stats(), self.faults.summary(),
                               self.mic_stats())

    def telemetry(self) -> dict[str, Any]:
        """One telemetry frame: levels, voices, audio-thread health."""
        return telemetry.telemetry(self.mixer, self.output_stats(), self.stats, self.faults.summary(), self.clock(),
                                   self.mic_stats())

    def mic_stats(self) -> dict | None:
        """The microphone's figures (telemetry's `microphone`), or None for a scene without one."""
        if self.mixer.scene.microphone is None and self.mic is None:
            return None
        if self.mic is None:
            return {"status": self._mic_status or "off"}
        return {**self.mic.stats(), **self.mixer.microphone.gains()}

    def clock(self) -> dict[str, Any]:
        """The mixer's sample clock against the wall clock (for `at_sample`): the first sample of the
        last block rendered and when its rendering began, and the output's latency after that."""
        sample, when = self._clock
        return {"sample": sample, "time": round(when, 6), "sample_rate": self.mixer.sample_rate,
                "latency_s": round(self.output_stats().get("latency_ms", 0.0) / 1e3, 6)}

    def threads_alive(self) -> dict[str, bool]:
        """Which of the server's threads run (for tests and health checks)."""
        return {"network": self.network.alive(), "watchdog": self.watchdog.alive(), "streams": self.feeder.alive(),
                **({"microphone": self.mic.alive()} if self.mic is not None else {}),
                "render": self._output is not None and self._output.alive()}
