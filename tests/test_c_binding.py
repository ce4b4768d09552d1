"""The C client (bindings/c), built with CMake and driven against real servers on loopback.

The C side is bindings/c/tests/gm_test.c (one mode per scenario, printing what it saw as JSON
lines) and gm_fuzz.c (the decoder under malformed frames).  The oracles are here, on the Python
side: the Python client doing the same calls, the server's recording (`record`), its rendered
audio (`output` to a WAV file), gamemix.protocol's registry of kinds and constants, the decoder
the Python client uses (wire.decode_map), and docs/protocol.md.

The list of kinds comes from gamemix.protocol.messages.KINDS at test time, three ways: the header
must declare `gm_<kind>` and the shared library export it (a new kind without a C function fails);
the frames test checks that the C program's frames, decoded by the server's decoder, cover every
kind and equal the Python client's kind by kind, field by field (and byte by byte but for `t`).

A missing cmake, compiler or libzmq fails these tests (it does not skip them): `make test`
installs them (Makefile, APT_PACKAGES).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import msgpack
import numpy as np
import pytest
import soundfile
import yaml
import zmq

from conftest import SR, SceneDir, sine
from gamemix.client import Client, CommandFailed
from gamemix.live.managed import ManagedServer
from gamemix.live.server import Server, ServerConfig
from gamemix.live.sessions import NAMESPACE_BITS
from gamemix.protocol import messages as m
from gamemix.protocol import wire

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "bindings" / "c"
HEADER = C_DIR / "include" / "gamemix_client.h"
ANY = "tcp://127.0.0.1:*"
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=87"}
STATES = {0: None, 1: "posted", 2: "started", 3: "virtual", 4: "paused", 5: "stolen"}   # gm_state


@pytest.fixture(scope="module", autouse=True)
def _unfreeze_after():
    """Each Server started here calls gc.freeze(); the rest of the suite runs as before (as test_server.py)."""
    yield
    import gc
    gc.unfreeze()


# ------------------------------------------------------------------ building

def run(cmd, timeout=300, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def cmake_build(source: Path, build: Path, *options: str, targets: tuple[str, ...] = ()) -> None:
    run(["cmake", "-S", source, "-B", build, *options])
    run(["cmake", "--build", build, "-j", "2", *(["--target", *targets] if targets else [])])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The library, examples and test programs (Release, -Werror), the same test programs under
    ASan + UBSan, and an install into a temporary prefix."""
    for tool in ("cmake", "cc", "pkg-config"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: `make system-packages` installs it (Makefile APT_PACKAGES)")
    if subprocess.run(["pkg-config", "--exists", "libzmq"]).returncode != 0:
        pytest.fail("libzmq is missing: `make system-packages` installs libzmq3-dev (Makefile APT_PACKAGES)")
    root = tmp_path_factory.mktemp("c-binding")
    release, asan, prefix = root / "build", root / "asan", root / "prefix"
    cmake_build(C_DIR, release, "-DCMAKE_BUILD_TYPE=Release", "-DGAMEMIX_WERROR=ON", "-DGAMEMIX_BUILD_EXAMPLES=ON",
                "-DGAMEMIX_BUILD_TESTS=ON")
    cmake_build(C_DIR, asan, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DGAMEMIX_WERROR=ON", "-DGAMEMIX_SANITIZE=ON",
                "-DGAMEMIX_BUILD_SHARED=OFF", "-DGAMEMIX_BUILD_TESTS=ON", targets=("gm_test", "gm_fuzz"))
    run(["cmake", "--install", release, "--prefix", prefix])
    return SimpleNamespace(release=release, asan=asan, prefix=prefix, root=root)


def program(built, name: str, sanitized: bool = False) -> Path:
    return (built.asan if sanitized else built.release) / name


def lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def run_c(built, mode: str, ends, sanitized: bool = False, timeout: float = 60) -> list[dict]:
    env = {**os.environ, **(SANITIZER_ENV if sanitized else {})}
    done = subprocess.run([program(built, "gm_test", sanitized), mode, *ends], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert done.returncode == 0, f"gm_test {mode} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    out = lines(done.stdout)
    assert out[-1] == {"done": True}, out[-3:]
    return out


# ------------------------------------------------------------------ the scene the real servers play

def write_scene(d: SceneDir) -> Path:
    click = np.zeros(2400, dtype=np.float32)
    click[0] = 1.0
    d.audio("click.wav", click)
    d.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    d.audio("low.wav", sine(250.0, 1.0, amp=0.5))
    cone = {"inner_angle": 90.0, "outer_angle": 240.0, "outer_volume_db": -12.0, "outer_lowpass_hz": 4000.0}
    return d.scene({"click": {"files": ["click.wav"], "pan": -1.0},
                    "tone": {"files": ["tone.wav"], "loop": True, "spatial": {"max_distance": 100, "cone": cone}},
                    "low": {"files": ["low.wav"], "loop": True, "bus": "music"},
                    "chat": {"upload": {"max_seconds": 2}}},
                   buses={"master": {}, "music": {}, "room": {"auxiliary": True}},
                   extra={"events": {"hum": [{"action": "play", "sound": "low"}]},
                          "zones": {"cave": {"shape": "box", "center": [0.0, 0.0, -2.0], "size": [8.0, 4.0, 8.0],
                                             "fade": 2.0, "sends": {"room": -6.0}}},
                          "parameters": {"p": {"min": 0, "max": 1},
                                         "rpm": {"scope": "instance", "min": 0, "max": 8000, "default": 900}},
                          "snapshots": {"quiet": {"fade_in": 0.1, "fade_out": 0.1,
                                                  "buses": {"music": {"volume_db": -12}}}},
                          "vcas": {"effects": {"buses": ["music"]}}},
                   max_voices=300, max_instances=1024)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    return write_scene(SceneDir(tmp_path_factory.mktemp("c-scene")))


def start_server(scene: Path, folder: Path, name: str, **kw) -> Server:
    return Server(ServerConfig(scene=scene, commands=ANY, streams=ANY, telemetry=ANY,
                               output=str(folder / f"{name}.wav"), record=folder / f"{name}.yaml", **kw)).start()


def ends_of(server: Server) -> list[str]:
    return [server.bound[k] for k in ("commands", "streams", "telemetry")]


def recording(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())["messages"]


# ------------------------------------------------------------------ the registry, the header, the library

def test_the_header_and_the_library_have_a_function_for_every_message_kind(built):
    header = HEADER.read_text()
    declared = set(re.findall(r"^GM_API gm_result (gm_\w+)\(", header, re.M))
    library = ctypes.CDLL(str(built.release / "libgamemix_client.so"))
    kinds = list(m.KINDS)                                   # the protocol's one list, read now
    assert len(kinds) >= 25
    assert [k for k in kinds if f"gm_{k}" not in declared] == []
    assert [k for k in kinds if not hasattr(library, f"gm_{k}")] == []
    # every declared function is documented in the header (a comment right above it)
    for name in declared:
        before = header[:header.index(f" {name}(")].rstrip().splitlines()
        assert any(line.strip().endswith("*/") or line.strip().startswith(("/*", "*")) for line in before[-4:]), name
    exported = subprocess.run(["nm", "-D", "--defined-only", built.release / "libgamemix_client.so"],
                              capture_output=True, text=True).stdout
    symbols = {line.split()[-1] for line in exported.splitlines() if " T " in line}
    assert symbols and all(s.startswith("gm_") and not s.startswith("gm__") for s in symbols)   # nothing internal


def test_the_constants_and_the_error_codes_agree_with_the_protocol(built):
    header = HEADER.read_text()
    define = {k: v for k, v in re.findall(r"^#define (GM_\w+) (\S+)", header, re.M)}
    assert int(define["GM_MAX_FRAME_BYTES"]) == wire.MAX_FRAME_BYTES
    assert int(define["GM_MAX_BATCH"]) == m.MAX_BATCH
    assert int(define["GM_PROTOCOL_VERSION"]) == m.PROTOCOL_VERSION
    assert int(define["GM_NAMESPACE_BITS"]) == NAMESPACE_BITS
    lib = ctypes.CDLL(str(built.release / "libgamemix_client.so"))
    assert lib.gm_max_frame_bytes() == wire.MAX_FRAME_BYTES and lib.gm_max_batch() == m.MAX_BATCH
    assert lib.gm_protocol_version() == m.PROTOCOL_VERSION
    lib.gm_result_code.restype = ctypes.c_char_p
    lib.gm_error_string.restype = ctypes.c_char_p
    # every code docs/protocol.md lists under "Error codes" has its own result, and maps back
    doc = (ROOT / "docs" / "protocol.md").read_text()
    section = doc[doc.index("## Error codes"):]
    section = section[:section.index("\n## ", 5)]
    codes = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M)) | set(re.findall(r"defines `([a-z_]+)`", section))
    assert {"unknown_sound", "bad_value", "too_large", "expired", "internal_error", "unknown_message"} <= codes
    results = {}
    for code in sorted(codes):
        result = lib.gm_result_from_code(code.encode())
        assert result != 199, f"{code}: no gm_result for it"        # GM_ERR_SERVER_OTHER
        assert lib.gm_result_code(result).decode() == code
        assert len(lib.gm_error_string(result)) > 10
        results[code] = result
    assert len(set(results.values())) == len(results)
    assert lib.gm_result_from_code(b"a_code_from_the_future") == 199 and lib.gm_result_from_code(None) == 199
    assert lib.gm_result_code(0) == b"ok" and lib.gm_error_string(12345) == b"unknown result"


# ------------------------------------------------------------------ frames: every kind, against a fake server

class FakeServer:
    """Records every frame it gets, decoded by the server's own decoder (wire.decode), and answers
    as test_protocol_schema's fake dealer does: `seek` refused, a `paused` notice after a pause."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.pull = self.ctx.socket(zmq.PULL)
        self.pub = self.ctx.socket(zmq.PUB)
        for sock in (self.router, self.pull, self.pub):
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(ANY)
        self.ends = [s.getsockopt_string(zmq.LAST_ENDPOINT) for s in (self.router, self.pull, self.pub)]
        self.frames: list[tuple[str, bytes]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.pull, zmq.POLLIN)
        while not self._stop.is_set():
            for sock, _ in poller.poll(10):
                if sock is self.pull:
                    frame = self.pull.recv()
                    self.frames.append(("stream", frame))
                    try:
                        wire.decode(frame, allowed=m.STREAM_KINDS)
                    except wire.WireError as exc:
                        self.errors.append(f"stream: {exc}")
                    continue
                identity, frame = self.router.recv_multipart()
                self.frames.append(("cmd", frame))
                try:
                    msg, rid = wire.decode(frame)
                except wire.WireError as exc:
                    self.errors.append(f"cmd: {exc}")
                    continue
                kind = m.kind_of(msg)
                data = {"hello": {"session": 1, "ids": [1 << 40, 2 << 40], "sample_rate": SR, "block_size": 256,
                                  "version": 1, "block": 0,
                                  "clock": {"sample": 0, "time": time.time(), "sample_rate": SR, "latency_s": 0.0}},
                        "play": {"id": msg.id if getattr(msg, "id", None) is not None else 5},
                        "event": {"id": msg.id if getattr(msg, "id", None) is not None else 9, "refused": []},
                        "instance_info": {"id": 5, "state": "real", "voices": 1, "sound": "tone"}}.get(kind, {})
                reply = wire.error(rid, "unknown_instance", "no playing instance with id 5") if kind == "seek" \
                    else wire.ok(rid, data)
                self.router.send_multipart([identity, reply])
                if kind == "pause" and msg.paused:
                    self.router.send_multipart([identity, wire.encode({"type": "notify", "id": 5, "event": "paused",
                                                                       "block": 3})])

    def take(self) -> list[tuple[str, bytes]]:
        time.sleep(0.2)                   # the last stream frames arrive
        frames, self.frames = self.frames, []
        return frames

    def close(self):
        self._stop.set()
        self._thread.join()
        for sock in (self.router, self.pull, self.pub):
            sock.close(linger=0)
        self.ctx.term()


def python_frames(client: Client) -> tuple[list, dict]:
    """What mode_frames in gm_test.c does, with the Python client: the same calls in the same order."""
    c = client
    c.wait_ready(10)
    c.ping()
    c.query()
    c.load_scene("other.yaml")
    c.load_scene()
    c.play("tone", position=(3, 0, -2), fade_in=0.5, wait=True)
    c.play("tone")
    c.play("tone", id=77, position=(1, 2, 3), velocity=(-1, 0, 0.5), volume_db=-6, pitch_semitones=2, fade_in=0.1,
           pan=0.5, loops=-1, at_sample=48000, object=3, direction=(0, 0, -1))
    c.event("hum")
    c.event("hum", id=9, position=(1, 2, 3), velocity=(0, 0, 1), at_sample=96000, object=4, wait=True,
            direction=(1, 0, 0))
    c.stop(5, fade=0.25)
    c.stop(5, at_sample=96000, wait=True)
    c.set_instance(5, volume_db=-6, pitch_semitones=1, pan=0.5, position=(1, 0, 0), velocity=(0, 1, 0), fade=0.1,
                   direction=(0, 0, 2.5))
    c.set_instance(5)
    c.pause(5)
    c.resume(5, fade=0.2)
    c.seek(5, 1.5)
    c.set_parameter("rain", 0.8)
    c.set_parameter("rpm", 1200, id=5)
    c.set_parameter("rpm", 1500, object=3)
    c.snapshot_start("combat")
    c.snapshot_start("combat", intensity=50, fade=1.0)
    c.snapshot_stop("combat")
    c.snapshot_stop("combat", fade=2.0)
    c.snapshot_intensity("combat", 75)
    c.bus_volume("music", -6, fade=0.1)
    c.bus_mute("music", True)
    c.bus_mute("music", False, fade=0.3)
    c.vca_volume("effects", -6, fade=0.5)
    c.reset_meters()
    c.reset_meters("music")
    c.instance_info(5)
    c.sound_info("tone")
    k = np.arange(480)
    c.upload_sound("chat", ((k % 13) / 16.0 - 0.375).astype(np.float32), sample_rate=16000)
    c.upload_sound("chat", ((k % 7) / 8.0 - 0.25).astype(np.float32).reshape(240, 2), wait=False)
    c.object(3, (1, 0, -2), velocity=(0, 0, 1), direction=(1, 0, 0))
    c.object(4)
    c.object(6, direction=(0, 0, 0))                                        # a direction of length 0: none
    c.object(3, remove=True, fade=0.2)
    c.occlusion(5, occlusion=0.5, obstruction=0.25)
    c.occlusion(object=3, obstruction=1.0)
    c.occlusion(zone="cave", occlusion=0.75, wait=True)
    c.occlusion(5)                                                          # nothing to change: still sent
    c.send_stream(m.Occlusion(id=5, occlusion=0.125))                       # C: GM_STREAM
    c.aux_sends({"reverb": -6, "hall": 0}, id=5)
    c.aux_sends({}, object=3, wait=True)
    c.send_stream(m.AuxSends(sends={"reverb": -12.0}, id=5))
    c.emitter(5, (2.5, 0, -2), velocity=(-1, 0, 0), direction=(0, 0, -1))
    c.emitter(5, (-4, 0.5, 2))
    c.emitter(5, (1, 1, 1), direction=(1, 0, 0))
    c.emitters([5, 6], [(0, 0, 1), (1, 0, 0)], velocities=[(0, 0, 0), (1, 1, 1)], directions=[(0, 0, -1), (1, 0, 0)])
    c.emitters([5], [(0, 0, 1)])
    c.emitters([5, 6], [(0, 0, 1), (1, 0, 0)], directions=[(0, 1, 0), (0, 0, 0)])
    c.emitters([5, 6, 7], [(1, 2, 3), (4, 5, 6), (7, 8, 9)])                 # the C side: a frame's batch
    c.emitters([6], [(2, 0, 0)])                                            # a mixed batch: without velocity,
    c.emitters([5, 7], [(1, 0, 0), (3, 0, 0)], [(0.5, 0, 0), (0, 0, -0.5)])  # then with
    c.emitters([6], [(2, 0, 0)])                                            # a batch of every kind of pose:
    c.emitters([8], [(4, 0, 0)], [(0, 1, 0)])                               # position only, with a velocity,
    c.emitters([5, 9], [(1, 0, 0), (5, 0, 0)], directions=[(0, 0, 1), (-1, 0, 0)])   # with a direction,
    c.emitters([7], [(3, 0, 0)], [(0, 0, -0.5)], [(0, 1, 0)])                # with both
    c.listener((0, 1.8, 0))
    c.listener((1, 2, 3), forward=(1, 0, 0), up=(0, 1, 0), velocity=(0.5, 0, 0), index=1)
    c.listener((0, 0, 0), index=2, remove=True)
    c.stream_parameter("rain", 0.2)
    c.stream_parameter("rpm", 900, id=5)
    c.ping()
    notices = c.poll()
    first = c.session["ids"][0]
    return notices, {str(first + 1): c.state(first + 1), "77": c.state(77), "5": c.state(5)}


def body(frame: bytes) -> bytes:
    """The frame's map entries, its send time `t` (a float64 after the key "t") zeroed.  The map's
    header is left out: msgspec writes a map16 header for a struct that has more than 15 fields,
    however few it encodes, where the C encoder writes the smallest header (both are msgpack)."""
    head = 1 if 0x80 <= frame[0] <= 0x8f else 3 if frame[0] == 0xde else 5
    at = frame.rfind(b"\xa1t\xcb")
    assert at >= 0, frame
    return frame[head:at + 3] + b"\x00" * 8 + frame[at + 11:]


def decoded(frames):
    out = []
    for socket_name, frame in frames:
        msg, rid = wire.decode(frame, allowed=m.STREAM_KINDS if socket_name == "stream" else None)
        out.append((socket_name, m.kind_of(msg), m.fields_of(msg), rid, msg.t, msg.ttl))
    return out


def test_frames_from_c_equal_the_python_clients_kind_by_kind_and_field_by_field(built):
    fake = FakeServer()
    try:
        before = time.time()
        c_out = run_c(built, "frames", fake.ends)
        c_frames = fake.take()
        with Client(*fake.ends, timeout=2.0) as client:
            py_notices, py_states = python_frames(client)
        py_frames = fake.take()
    finally:
        fake.close()
    assert fake.errors == []                                               # the server's decoder took every one
    c_msgs, py_msgs = decoded(c_frames), decoded(py_frames)
    kinds = {kind for _, kind, *_ in c_msgs}
    assert kinds == set(m.KINDS), f"kinds never sent from C: {set(m.KINDS) - kinds}"
    for socket_name in ("cmd", "stream"):
        c_side = [(kind, fields) for s, kind, fields, *_ in c_msgs if s == socket_name]
        py_side = [(kind, fields) for s, kind, fields, *_ in py_msgs if s == socket_name]
        assert len(c_side) == len(py_side), socket_name
        for k, (c_msg, py_msg) in enumerate(zip(c_side, py_side)):
            assert c_msg == py_msg, f"{socket_name} message {k}"
    # the envelope: v, a fresh rid per command (the same sequence as Python's), t now, ttl = timeout
    c_rids = [rid for s, _, _, rid, _, _ in c_msgs if s == "cmd"]
    assert c_rids == list(range(1, len(c_rids) + 1)) == [rid for s, _, _, rid, _, _ in py_msgs if s == "cmd"]
    assert all(before - 1 < t < time.time() + 1 for *_, t, _ in c_msgs)
    assert all((ttl == 2.0) == (s == "cmd") or (ttl is None and s == "stream") for s, *_, ttl in c_msgs)
    # and byte for byte, but for `t` and the map's header: the same keys in the same order, the same
    # widths of ints and floats, str and bin headers
    for socket_name in ("cmd", "stream"):                  # (between the two sockets there is no order)
        pairs = zip([f for s, f in c_frames if s == socket_name], [f for s, f in py_frames if s == socket_name])
        for c_frame, py_frame in pairs:
            assert body(c_frame) == body(py_frame), (msgpack.unpackb(c_frame), msgpack.unpackb(py_frame))
    # notices and states, as Client.poll() and Client.state() give them
    c_notices = [{k: v for k, v in n["notice"].items() if k != "result"} for n in c_out if "notice" in n]
    assert c_notices == py_notices
    assert [n["notice"].get("result") for n in c_out if "notice" in n] == [None, "unknown_instance"]
    [c_states] = [n["states"] for n in c_out if "states" in n]
    assert {k: STATES[v] for k, v in c_states.items()} == py_states
    handles = {n["handle"]: n["id"] for n in c_out if "handle" in n}
    assert handles == {"waited": 5, "posted": (1 << 40) + 1, "full": 77, "event": (1 << 40) + 2}


# ------------------------------------------------------------------ parity: a scripted scene against real servers

def python_parity(client: Client) -> dict:
    """What mode_parity in gm_test.c does, with the Python client."""
    c = client
    seen: list[dict] = []
    streams = 0

    def until(predicate, timeout=5.0):
        end = time.monotonic() + timeout
        while not any(predicate(n) for n in seen):
            assert time.monotonic() < end, seen
            seen.extend(c.poll())
            time.sleep(0.005)

    def sync_streams():
        while c.query()["server"]["streams"] < streams:
            time.sleep(0.002)

    c.wait_ready(60)
    clock = c.clock()
    at = clock["sample"] + 14400 + 37
    click = c.play("click", at_sample=at)
    until(lambda n: n["id"] == click and n["event"] == "ended")
    tone = c.play("tone", position=(3, 0, -1), fade_in=0.05, direction=(0, 0, 1))
    hum = c.event("hum", direction=(0, 0, -1))
    c.set_parameter("p", 0.5)
    c.set_parameter("rpm", 1200, id=tone)
    c.snapshot_start("quiet", intensity=50, fade=0.1)
    c.snapshot_intensity("quiet", 75)
    c.bus_volume("music", -3, fade=0.05)
    c.bus_mute("music", False)
    c.vca_volume("effects", -2, fade=0.05)
    c.set_instance(tone, volume_db=-6, fade=0.05, direction=(-1, 0, 0))
    c.pause(tone, fade=0.02)
    c.ping()
    time.sleep(0.1)
    c.resume(tone)
    c.seek(tone, 0.25)
    c.ping()
    c.object(3, (1, 0, -2), direction=(0, 0, 1))
    streams += 1
    sync_streams()
    car = c.play("tone", object=3)
    c.set_parameter("rpm", 1500, object=3)
    c.occlusion(tone, occlusion=0.5, obstruction=0.25)
    c.occlusion(object=3, obstruction=0.5)
    c.occlusion(zone="cave", occlusion=0.75)
    c.aux_sends({"room": -6}, id=tone)
    c.aux_sends({"room": -3}, object=3)
    k = np.arange(4800)
    upload = c.upload_sound("chat", (0.25 * np.sin(2 * np.pi * 500.0 * k / 48000.0)).astype(np.float32))
    info = c.sound_info("tone")
    c.emitter(tone, (2, 0, -1), direction=(0, 0, 1))
    streams += 1
    sync_streams()
    c.emitters([car], [(0, 0, -3)])
    c.emitters([tone], [(1, 0, -1)], [(-1, 0, 0)])
    streams += 2
    sync_streams()
    c.emitters([tone], [(1, 0, -1.5)], directions=[(1, 0, 0)])
    c.emitters([car], [(0, 0, -3.5)], [(0, 0, -1)], [(0, 0, -1)])
    streams += 2
    sync_streams()
    c.send_stream(m.Occlusion(id=tone, occlusion=0.25))
    streams += 1
    sync_streams()
    c.send_stream(m.AuxSends(sends={"room": -9.0}, id=tone))
    streams += 1
    sync_streams()
    c.emitters([tone, car], [(0.5, 0, -1), (-0.5, 0, -3)], directions=[(0, 0, 1), (0, 0, 0)])
    streams += 1
    sync_streams()
    c.listener((0, 1.8, 0), forward=(0, 0, -1))
    streams += 1
    sync_streams()
    c.stream_parameter("p", 0.25)
    streams += 1
    sync_streams()
    c.stream_parameter("rpm", 1000, id=tone)
    streams += 1
    sync_streams()
    c.reset_meters("music")
    c.stop(tone, fade=0.05)
    c.object(3, remove=True, fade=0.1)
    c.snapshot_stop("quiet", fade=0.1)
    nope = c.play("nope")
    nothing = c.event("nothing")
    until(lambda n: n["id"] == tone and n["event"] == "ended")
    until(lambda n: n["id"] == car and n["event"] == "ended")
    until(lambda n: n.get("kind") == "event" and n.get("code") == "unknown_event")
    c.stop(hum)
    until(lambda n: n["id"] == hum and n["event"] == "ended")
    c.ping()
    seen.extend(c.poll())
    return {"at": at, "at_base": clock["sample"], "notices": seen, "upload": upload, "sound_info": info,
            "handles": {"click": click, "tone": tone, "hum": hum, "car_tone": car, "nope": nope, "nothing": nothing}}


def normalized(entries: list[dict], at_base: int) -> list[dict]:
    """A recording without its blocks, `at_sample` taken relative to the clock the sender read."""
    out = []
    for entry in entries:
        entry = {k: v for k, v in entry.items() if k != "block"}
        if "at_sample" in entry:
            entry["at_sample"] -= at_base
        out.append(entry)
    return out


def lifecycles(notices: list[dict]) -> dict:
    by_id: dict = {}
    for n in notices:
        by_id.setdefault(n["id"], []).append((n["event"], n.get("kind"), n.get("code")))
    return by_id


def check_click_heard(wav: Path, at: int) -> np.ndarray:
    out, rate = soundfile.read(str(wav), dtype="float32")
    assert rate == SR
    assert np.abs(out[:at]).max() == 0.0                       # nothing sounded before the click ...
    assert out[at, 0] > 0.5 and abs(out[at, 1]) < 1e-6          # ... which starts on its sample, hard left
    hits = np.flatnonzero(np.abs(out[:at + 2400, 0]) > 0.5)
    assert list(hits) == [at]
    return out


def test_a_scripted_scene_from_c_is_recorded_as_the_python_clients_and_heard(built, scene, tmp_path):
    server = start_server(scene, tmp_path, "c")
    try:
        c_out = run_c(built, "parity", ends_of(server))
    finally:
        server.stop()
    server = start_server(scene, tmp_path, "py")
    try:
        with Client(*ends_of(server), timeout=3.0) as client:
            py = python_parity(client)
    finally:
        server.stop()
    c_at = next(n for n in c_out if "at" in n)
    c_rec, py_rec = recording(tmp_path / "c.yaml"), recording(tmp_path / "py.yaml")
    # every mixer kind the scene exercises, recorded the same, kind by kind and field by field
    assert normalized(c_rec, c_at["at_base"]) == normalized(py_rec, py["at_base"])
    recorded = {e["type"] for e in c_rec}
    assert recorded == m.MIXER_KINDS - {"emitter"}          # (single `emitter` streams are recorded as `emitters`)
    # the propagation fields among them, each carried out (a refused command is not recorded)
    fields = {(e["type"], k) for e in c_rec for k in e}
    assert {("play", "direction"), ("event", "direction"), ("set_instance", "direction"), ("object", "direction"),
            ("emitters", "directions"), ("occlusion", "id"), ("occlusion", "object"), ("occlusion", "zone"),
            ("occlusion", "obstruction"), ("aux_sends", "id"), ("aux_sends", "object")} <= fields
    assert sum(e["type"] == "emitters" and "directions" in e and "velocities" not in e for e in c_rec) >= 3
    # the same handles, from the same session range
    c_handles = {n["handle"]: n["id"] for n in c_out if "handle" in n}
    assert c_handles == py["handles"]
    [hello] = [n["hello"] for n in c_out if "hello" in n]
    assert hello["ids"] == [1 << NAMESPACE_BITS, 2 << NAMESPACE_BITS] and hello["session"] == 1
    # what the mixer said back, instance by instance, as the Python client heard it
    c_notices = [n["notice"] for n in c_out if "notice" in n]
    assert lifecycles(c_notices) == lifecycles(py["notices"])
    c_click = next(n for n in c_notices if n["id"] == c_handles["click"] and n["event"] == "started")
    assert c_click["sample"] == c_at["at"]                      # started on the very sample asked for
    assert [n["code"] for n in c_notices if n["event"] == "refused"] == ["unknown_sound", "unknown_event"]
    # replies read from C equal the Python client's
    c_upload = next(n["upload"] for n in c_out if "upload" in n)
    assert c_upload == py["upload"]
    assert next(n["sound_info"] for n in c_out if "sound_info" in n) == py["sound_info"]
    # the audio: the click on its sample, alone and hard left, then the tone and the hum heard
    for name, at in (("c", c_at["at"]), ("py", py["at"])):
        out = check_click_heard(tmp_path / f"{name}.wav", at)
        after = out[at + 2400 + int(0.2 * SR):at + 2400 + int(0.4 * SR)]
        assert np.sqrt(np.mean(after ** 2)) > 0.05, name
    # telemetry read from C: the music bus carries the hum's 250 Hz sine (amplitude 0.5, centred)
    [frame] = [n["telemetry"] for n in c_out if "telemetry" in n]
    assert frame["type"] == "telemetry" and frame["v"] == 1 and frame["voices"]["real"] >= 2
    assert frame["buses"]["music"]["peak_dbfs"] == pytest.approx(20 * np.log10(0.5 * np.cos(np.pi / 4)), abs=0.1)
    assert frame["clock"]["sample_rate"] == SR and frame["block"] % round(SR / 256 / 30) == 0


# ------------------------------------------------------------------ malformed calls

NAN, INF = float("nan"), float("inf")


def code_of(call, *args, **kw) -> str:
    try:
        call(*args, **kw)
    except CommandFailed as exc:
        return exc.code
    return "ok"


def server_oracle(c: Client) -> dict[str, str]:
    """The server's answer (or the Python client's own refusal) to what each case of mode_errors sends."""
    req = c.request
    many = [(1e6 + k, -1e6, 123456.789) for k in range(m.MAX_BATCH)]
    oracle = {
        "play_nan_position": code_of(c.play, "tone", position=(NAN, 0, 0), wait=True),
        "play_inf_velocity": code_of(c.play, "tone", velocity=(0, INF, 0), wait=True),
        "play_far_position": code_of(c.play, "tone", position=(2e7, 0, 0), wait=True),
        "play_volume_out": code_of(c.play, "tone", volume_db=30, wait=True),
        "play_pitch_nan": code_of(c.play, "tone", pitch_semitones=NAN, wait=True),
        "play_fade_negative": code_of(c.play, "tone", fade_in=-1, wait=True),
        "play_pan_out": code_of(c.play, "tone", pan=2, wait=True),
        "play_loops_out": code_of(c.play, "tone", loops=-2, wait=True),
        "play_id_too_big": code_of(c.play, "tone", id=1 << 62, wait=True),
        "emitter_nan": code_of(req, m.Emitter(id=1, position=(NAN, 0, 0))),
        "emitter_inf_velocity": code_of(req, m.Emitter(id=1, position=(1, 0, -1), velocity=(0, INF, 0))),
        "pose_nan": code_of(req, m.Emitters(ids=[1], positions=[(NAN, 0, 0)])),
        "emitters_nan": code_of(req, m.Emitters(ids=[1, 2], positions=[(1, 0, -1), (NAN, 0, 0)])),
        "listener_nan": code_of(req, m.Listener(position=(NAN, 0, 0))),
        "listener_index_out": code_of(req, m.Listener(index=4)),
        "parameter_nan": code_of(c.set_parameter, "p", NAN, wait=True),
        "parameter_inf": code_of(c.set_parameter, "p", INF, wait=True),
        "snapshot_intensity_out": code_of(c.snapshot_start, "quiet", intensity=101, wait=True),
        "stop_fade_out": code_of(c.stop, 1, fade=4000, wait=True),
        "seek_negative": code_of(c.seek, 1, -1, wait=True),
        "bus_volume_out": code_of(c.bus_volume, "music", -200, wait=True),
        "name_too_long": code_of(c.play, "x" * 129, wait=True),
        "name_empty": code_of(c.play, "", wait=True),
        "upload_channels_out": code_of(c.upload_sound, "chat", b"\x00" * 12, channels=3),
        "upload_rate_out": code_of(c.upload_sound, "chat", b"\x00" * 12, sample_rate=1000),
        "invalid_handle_stop": code_of(c.stop, (1 << 64) - 1, wait=True),
        "handle_too_big_emitter": code_of(req, m.Emitter(id=1 << 63, position=(1, 0, -1))),
        # directions: any length (0: none), but three finite numbers within the coordinates' range
        "play_nan_direction": code_of(c.play, "tone", direction=(NAN, 0, 0), wait=True),
        "event_inf_direction": code_of(c.event, "hum", direction=(0, INF, 0), wait=True),
        "set_instance_far_direction": code_of(c.set_instance, 1, direction=(2e7, 0, 0), wait=True),
        "emitter_nan_direction": code_of(req, m.Emitter(id=1, position=(1, 0, -1), direction=(NAN, 0, 0))),
        "pose_nan_direction": code_of(req, m.Emitters(ids=[1], positions=[(1, 0, -1)], directions=[(NAN, 0, 0)])),
        "emitters_nan_direction": code_of(req, m.Emitters(ids=[1, 2], positions=[(1, 0, -1), (1, 0, -1)],
                                                          directions=[(0, 0, 1), (0, NAN, 0)])),
        "object_nan_direction": code_of(c.object, 5, direction=(NAN, 0, 0), wait=True),
        "play_zero_direction": code_of(c.play, "tone", id=78, direction=(0, 0, 0), wait=True),
        "zero_direction_cleanup": code_of(c.stop, 78, wait=True),
        # occlusion: factors in [0, 1], exactly one target, a zone takes occlusion only (the Python client
        # raises ValueError for the targets before sending: the server's answer is the oracle there)
        "occlusion_factor_out": code_of(c.occlusion, 1, occlusion=1.5, wait=True),
        "obstruction_factor_negative": code_of(c.occlusion, 1, obstruction=-0.5, wait=True),
        "occlusion_nan": code_of(c.occlusion, 1, occlusion=NAN, wait=True),
        "occlusion_two_targets": code_of(req, {"type": "occlusion", "id": 1, "object": 2, "occlusion": 0.5}),
        "occlusion_three_targets": code_of(req, {"type": "occlusion", "id": 1, "object": 2, "zone": "cave",
                                                 "occlusion": 0.5}),
        "occlusion_no_target": code_of(req, {"type": "occlusion", "occlusion": 0.5}),
        "occlusion_zone_obstruction": code_of(req, {"type": "occlusion", "zone": "cave", "obstruction": 0.5}),
        "occlusion_zone_name_too_long": code_of(c.occlusion, zone="x" * 129, occlusion=0.5, wait=True),
        "occlusion_object_too_big": code_of(c.occlusion, object=1 << 62, occlusion=0.5, wait=True),
        "occlusion_zone": code_of(c.occlusion, zone="cave", occlusion=0.5, wait=True),
        "unknown_zone_waited": code_of(c.occlusion, zone="nowhere", occlusion=0.5, wait=True),
        "occlusion_unknown_instance": code_of(c.occlusion, 12345, occlusion=0.5, wait=True),
        "occlusion_unknown_object": code_of(c.occlusion, object=999, obstruction=0.5, wait=True),
        # aux_sends: at most 8, levels in [-144, 24] dB, names, exactly one target, auxiliary buses only
        "aux_sends_too_many": code_of(c.aux_sends, {"room": -6, **{f"b{k}": -6 for k in range(8)}}, id=1, wait=True),
        "aux_sends_two_targets": code_of(req, {"type": "aux_sends", "sends": {"room": -6.0}, "id": 1, "object": 2}),
        "aux_sends_no_target": code_of(req, {"type": "aux_sends", "sends": {"room": -6.0}}),
        "aux_sends_level_out": code_of(c.aux_sends, {"room": 30}, id=1, wait=True),
        "aux_sends_level_nan": code_of(c.aux_sends, {"room": NAN}, id=1, wait=True),
        "aux_sends_bus_empty": code_of(c.aux_sends, {"": -6}, id=1, wait=True),
        "aux_sends_not_auxiliary": code_of(c.aux_sends, {"music": -6}, id=12345, wait=True),
        "aux_sends_unknown_object": code_of(c.aux_sends, {"room": -6}, object=999, wait=True),
        "aux_sends_unknown_instance": code_of(c.aux_sends, {}, id=12345, wait=True),
        "emitters_full_batch": code_of(c.emitters, range(1 << 40, (1 << 40) + m.MAX_BATCH), many, many),
        "emitters_beyond_a_batch": code_of(c.emitters, range(1 << 40, (1 << 40) + m.MAX_BATCH + 1),
                                           many + [(0.0, 0.0, 0.0)]),
        "upload_too_large": code_of(c.upload_sound, "chat", b"\x00" * wire.MAX_FRAME_BYTES),
        "upload_a_bit_too_large": code_of(c.upload_sound, "chat", b"\x00" * (wire.MAX_FRAME_BYTES - 32), wait=False),
        "unknown_sound_waited": code_of(c.play, "nope", wait=True),
        "unknown_event_waited": code_of(c.event, "nothing", wait=True),
        "unknown_parameter_waited": code_of(c.set_parameter, "nothing", 1.0, wait=True),
        "parameter_out_of_range_waited": code_of(c.set_parameter, "p", 3.0, wait=True),
        "unknown_snapshot_waited": code_of(c.snapshot_start, "nothing", wait=True),
        "unknown_bus_waited": code_of(c.bus_volume, "nothing", -3, wait=True),
        "unknown_vca_waited": code_of(c.vca_volume, "nothing", -3, wait=True),
        "unknown_instance_info": code_of(c.instance_info, 12345),
        "unknown_sound_info": code_of(c.sound_info, "nothing"),
        "bad_path_load": code_of(c.load_scene, "../elsewhere.yaml"),
        "not_uploadable": code_of(c.upload_sound, "tone", b"\x00" * 12),
        "unknown_object_remove": code_of(c.object, 999, remove=True, wait=True),
        "duplicate_first": code_of(c.play, "tone", id=77, wait=True),
        "duplicate_id": code_of(c.play, "tone", id=77, wait=True),
        "duplicate_cleanup": code_of(c.stop, 77, wait=True),
        "ping_still_answers": code_of(c.ping),
    }
    # the posted ones: their refusals arrive as notices
    c.play("nope")
    c.set_parameter("nothing", 1.0)
    c.bus_mute("nothing", True)
    c.occlusion(zone="nowhere", occlusion=0.5)
    c.aux_sends({"music": -6}, id=12345)
    click = c.play("click")
    end = time.monotonic() + 5
    seen = []
    while not any(n["id"] == click and n["event"] == "ended" for n in seen):
        assert time.monotonic() < end
        seen += c.poll()
        time.sleep(0.005)
    oracle["ended_state"] = c.state(click)
    c.stop(click)
    c.pause(click)
    oracle["ended_stop_waited"] = code_of(c.stop, click, wait=True)
    oracle["ended_set_instance_waited"] = code_of(c.set_instance, click, wait=True)
    c.ping()
    seen += c.poll()
    oracle["refused"] = [(n.get("kind"), n["code"], n["id"] is None) for n in seen if n["event"] == "refused"]
    return oracle


# what this library says where the server says bad_value about an id: the handle is not one
SAME_MEANING = {("invalid_handle", "bad_value")}

LOCAL_CONTRACT = {   # calls no server can see: the result the header documents
    "null_client_play": "invalid_argument", "null_client_poll": "invalid_argument", "null_sound": "invalid_argument",
    "null_name_event": "invalid_argument", "null_notices": "invalid_argument", "null_count": "invalid_argument",
    "null_position": "invalid_argument", "null_pose": "invalid_argument", "null_ids": "invalid_argument",
    "null_create_out": "invalid_argument", "null_parameter_name": "invalid_argument", "null_bus": "invalid_argument",
    "null_upload_pcm": "invalid_argument", "null_telemetry_out": "invalid_argument",
    "null_session_out": "invalid_argument", "null_clock_out": "invalid_argument", "null_value_reads": "not_found",
    "null_value_path": "not_found", "emitters_empty": "ok",
    "nan_timeout_option": "bad_value", "zero_pose_capacity": "invalid_argument", "name_not_utf8": "bad_value",
    "unknown_sound_posted": "ok", "unknown_parameter_posted": "ok", "unknown_bus_posted": "ok", "click_play": "ok",
    "unknown_zone_posted": "ok", "not_auxiliary_posted": "ok",
    "null_sends": "invalid_argument", "null_send_bus": "invalid_argument", "aux_sends_duplicate_bus": "bad_value",
    "occlusion_stream_and_wait": "invalid_argument", "aux_sends_stream_and_wait": "invalid_argument",
    "occlusion_streamed": "ok", "aux_sends_streamed": "ok",
    "ended_stop_posted": "ok", "ended_pause_posted": "ok",
    "pose_1": "ok", "pose_2": "ok", "pose_batch_full": "batch_full", "pose_flush": "ok", "pose_after_flush": "ok",
    "play_without_session": "no_session", "session_without_hello": "no_session_yet",
    "close": "ok", "close_again": "ok", "closed_play": "closed", "closed_ping": "closed", "closed_emitter": "closed",
    "closed_pose_flush": "closed", "closed_telemetry": "closed", "closed_wait_ready": "closed", "closed_poll": "ok",
}


def check_errors(out: list[dict], oracle: dict) -> None:
    results = {n["case"]: n["result"] for n in out if "result" in n}
    for case, expected in LOCAL_CONTRACT.items():
        assert results.get(case) == expected, case
    for case, server_code in oracle.items():
        if case in ("refused", "ended_state"):
            continue
        got = results.get(case)
        assert got == server_code or (got, server_code) in SAME_MEANING, f"{case}: C {got}, server {server_code}"
    assert set(results) <= set(LOCAL_CONTRACT) | set(oracle), set(results) - set(LOCAL_CONTRACT) - set(oracle)
    cases = {n["case"]: n for n in out if "case" in n}
    assert cases["null_value_path"]["result"] == "not_found"
    assert cases["play_without_session_handle"]["null"] is True
    assert STATES[cases["ended_state"]["state"]] == oracle["ended_state"] is None
    assert "'nope'" in cases["unknown_sound_waited_message"]["message"]      # the server's own message
    assert "closed" in cases["closed_error_strings"]["text"]
    refused = [(n["notice"].get("kind"), n["notice"]["code"], n["notice"]["id"] is None)
               for n in out if "notice" in n and n["notice"]["event"] == "refused"]
    assert refused == oracle["refused"]


@pytest.fixture(scope="module")
def errors_server(scene, tmp_path_factory):
    server = start_server(scene, tmp_path_factory.mktemp("errors"), "errors")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oracle(errors_server):
    with Client(*ends_of(errors_server), timeout=3.0) as client:
        client.wait_ready(60)
        return server_oracle(client)


@pytest.mark.parametrize("sanitized", [False, True], ids=["release", "asan+ubsan"])
def test_malformed_calls_get_clear_codes_and_the_servers_meaning(built, errors_server, oracle, sanitized):
    out = run_c(built, "errors", ends_of(errors_server), sanitized=sanitized)
    check_errors(out, oracle)
    assert errors_server.network.alive() and all(errors_server.threads_alive().values())


def test_the_scripted_scene_runs_clean_under_asan_and_ubsan(built, scene, tmp_path):
    server = start_server(scene, tmp_path, "asan")
    try:
        out = run_c(built, "parity", ends_of(server), sanitized=True)
    finally:
        server.stop()
    assert any("telemetry" in n for n in out) and sum("notice" in n for n in out) >= 10
    assert {e["type"] for e in recording(tmp_path / "asan.yaml")} >= {"play", "event", "emitters", "listener"}


# ------------------------------------------------------------------ no allocation per streamed pose

def test_streamed_poses_allocate_nothing_in_the_library(built, scene, tmp_path):
    server = start_server(scene, tmp_path, "alloc")
    try:
        out = run_c(built, "alloc", ends_of(server))
    finally:
        server.stop()
    figures = {k: v for n in out for k, v in n.items()}
    assert figures["allocations_at_create"] > 0                       # the counting allocator is the one used
    assert figures["allocations_during_poses"] == 0, figures          # 512,000 poses, 12,000 frames: none
    # a frame: four `emitters` (every kind of pose: with or without velocity and direction), the listener and
    # a streamed occlusion
    assert figures["stream_frames"] == 2000 * 6
    assert figures["poses"] == 512_000
    assert figures["server_streams"] >= figures["stream_frames"]      # and the server read every frame


# ------------------------------------------------------------------ a server that dies and comes back

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(scene: Path, ends: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gamemix", "serve", str(scene), "--output", "null", "--no-realtime",
                             "--commands", ends[0], "--streams", ends[1], "--telemetry", ends[2]],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def test_a_server_killed_and_restarted_under_a_running_c_client(built, scene, tmp_path):
    ends = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    first = serve(scene, ends, tmp_path / "serve.log")
    second = None
    c = subprocess.Popen([program(built, "gm_test"), "gone", *ends], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out = []
    try:
        for line in c.stdout:
            if not line.startswith("{"):
                continue
            out.append(json.loads(line))
            prompt = out[-1].get("prompt")
            if prompt == "kill":
                first.kill()                                       # as a crash: no goodbye on any socket
                first.wait()
                c.stdin.write("go\n")
                c.stdin.flush()
            elif prompt == "restart":
                time.sleep(1.3)                                    # past the client's 1 s time to live
                second = serve(scene, ends, tmp_path / "serve.log")
                # let the client go on once the new server serves: its first hello then gets an answer, and
                # the play it queued meanwhile reaches the server (a waited call that timed out would have
                # rebuilt the socket and dropped it, as the Python client does)
                end = time.monotonic() + 60
                while (tmp_path / "serve.log").read_text().count("serving") < 2:
                    assert time.monotonic() < end and second.poll() is None
                    time.sleep(0.05)
                c.stdin.write("go\n")
                c.stdin.flush()
        assert c.wait(60) == 0, c.stderr.read()
    finally:
        for p in (first, second, c):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    cases = {n["case"]: n for n in out if "case" in n}
    assert cases["ping_gone"]["result"] == "timeout" and 0.9 < cases["ping_gone"]["seconds"] < 3.0
    assert cases["play_gone"]["result"] == "ok" and cases["play_gone"]["seconds"] < 0.05   # posted: never waits
    assert cases["emitter_gone"]["result"] == "ok" and cases["poll_gone"]["result"] == "ok"
    assert cases["wait_ready_gone"]["result"] == "timeout"
    assert cases["ready_again"]["seconds"] < 60
    sessions = [n for n in out if "session" in n]
    assert len(sessions) == 2                                       # a new server: a new session was opened
    assert cases["old_handle_stop"]["result"] == "unknown_instance"   # the old session's handles mean nothing
    notices = [n["notice"] for n in out if "notice" in n]
    handles = {}
    for n in out:
        if "handle" in n:
            handles.setdefault(n["handle"], []).append(n["id"])
    queued = handles["queued"][-1]
    refused = [n for n in notices if n["id"] == queued and n["event"] == "refused"]
    assert refused and refused[0]["code"] in {"expired", "not_ready"}, notices   # never carried out late
    assert [n["event"] for n in notices if n["id"] == handles["fresh"][0]][:1] == ["started"]


# ------------------------------------------------------------------ the decoder under malformed frames

def test_the_decoder_survives_a_malformed_frame_loop_under_asan_and_ubsan(built):
    env = {**os.environ, **SANITIZER_ENV}
    t0 = time.monotonic()
    done = run([program(built, "gm_fuzz", sanitized=True), "loop", "150000", "7"], env=env, timeout=60)
    seconds = time.monotonic() - t0
    [figures] = lines(done.stdout)
    assert figures["inputs"] == 150_000 and min(figures["by_kind"]) > 10_000
    assert 10_000 < figures["decoded"] < 150_000 and figures["notices"] > 1000
    assert figures["readable"] + figures["bad_frames"] == 150_000
    assert seconds < 20, seconds


def classify_in_python(frame: bytes) -> str:
    try:
        wire.decode_map(frame)
    except wire.WireError as exc:
        if exc.code == "bad_frame" and "must be a msgpack map" in exc.message:
            return "not_map"
        return exc.code
    return "ok"


def corpus(rng: np.random.Generator) -> list[bytes]:
    """Frames for the differential test: valid replies, notices and telemetry; their truncations,
    flips and splices; random bytes; and edge cases of msgpack (depth, timestamps, UTF-8, keys)."""
    valid = [wire.ok(3, {"session": 1, "ids": [1 << 40, 2 << 40], "clock": {"sample": 9, "time": 1.5}}),
             wire.error(4, "unknown_sound", "unknown sound 'nope'", "sound"),
             wire.encode({"type": "notify", "id": 5, "event": "started", "block": 3, "sample": 768}),
             wire.encode({"type": "telemetry", "buses": {"master": {"peak_dbfs": None, "rms_dbfs": -3.5}},
                          "voices": {"real": 1}, "snapshots": {}, "neg": -(1 << 40), "big": (1 << 64) - 1,
                          "f32": 0.5, "bin": b"\x00\x01", "unicode": "été 日本 🎧"}),
             msgpack.packb({"v": 1, "x": msgpack.ExtType(5, b"abc"), "ts": msgpack.Timestamp(1, 5)})]
    frames = list(valid)
    top = b"\x82\xa1v\x01\xa1x"
    for depth in (1021, 1022, 1023, 1024, 1025):
        frames += [top + b"\x91" * depth + b"\x01", top + b"\x91" * depth + b"\x90", top + b"\x81\xa0" * depth + b"\xc0"]
    for body in (b"\xd6\xff" + b"\x00" * 4, b"\xd7\xff" + b"\xff" * 4 + b"\x00" * 4, b"\xd7\xff" + b"\x00" * 8,
                 b"\xc7\x0c\xff" + b"\x3b\x9a\xca\x00" + b"\x00" * 8, b"\xc7\x0c\xff" + b"\x3b\x9a\xc9\xff" + b"\x00" * 8,
                 b"\xd4\xff\x00", b"\xd8\xff" + b"\x00" * 16, b"\xa3\xed\xa0\x80", b"\xa3\xed\x9f\xbf", b"\xa2\xc0\x80",
                 b"\xa4\xf4\x90\x80\x80", b"\xa4\xf4\x8f\xbf\xbf", b"\xa3\xe0\x80\x80", b"\xa3\xe0\xa0\x80",
                 b"\xa4\xf0\x8f\xbf\xbf", b"\xa4\xf0\x90\x80\x80", b"\xa1\xff", b"\xa1\x7f", b"\xdd\xff\xff\xff\xff",
                 b"\xdf\x00\x00\x00\x01\xa0\x01", b"\x81\x01\x02", b"\x81\xc4\x01k\x02", b"\x81\xc0\x01", b"\xc1",
                 b"\xdb\x00\x00\x00\x01a", b"\xca\x7f\xc0\x00\x00", b"\xcb" + struct.pack(">d", float("nan"))):
        frames.append(top + body)
    frames += [b"", b"\x80", b"\x81\xa1v\x02", b"\x81\xa1v\xc3", b"\x81\xa1v\xcb\x3f\xf0" + b"\x00" * 6,
               b"\x81\xa1v\xd0\x01", b"\x81\xa1v\xcf" + b"\x00" * 7 + b"\x01", b"\x82\xa1v\x02\xa1v\x01",
               b"\x82\xa1v\x01\xa1v\x02", b"\x91\x01", b"\x01", b"\x81\xa1v\x01\x00", b"\x81\xc4\x01v\x01"]
    for _ in range(12_000):
        base = valid[int(rng.integers(len(valid)))]
        pick = int(rng.integers(6))
        if pick == 0:
            frames.append(rng.bytes(int(rng.integers(0, 120))))
        elif pick == 1:
            frames.append(base[:int(rng.integers(0, len(base)))])
        elif pick == 2:
            frame = bytearray(base)
            for _ in range(int(rng.integers(1, 5))):
                frame[int(rng.integers(len(frame)))] ^= 1 << int(rng.integers(8))
            frames.append(bytes(frame))
        elif pick == 3:
            other = valid[int(rng.integers(len(valid)))]
            frames.append(base[:int(rng.integers(len(base)))] + other[int(rng.integers(len(other))):])
        elif pick == 4:
            frame = bytearray(base)
            frame[int(rng.integers(len(frame)))] = int(rng.choice([0xdc, 0xdd, 0xde, 0xdf, 0xc6, 0xdb, 0xc9, 0xc1,
                                                                   0xd4, 0xd8, 0xc7, 0xff]))
            frames.append(bytes(frame))
        else:
            at = int(rng.integers(len(base)))
            frames.append(base[:at] + rng.bytes(int(rng.integers(1, 4))) + base[at:])
    frames.append(b"\xc4" + b"\x00" * (wire.MAX_FRAME_BYTES + 1))            # over the frame limit
    return frames


def test_the_decoder_accepts_and_refuses_what_the_python_clients_decoder_does(built, tmp_path):
    frames = corpus(np.random.default_rng(5))
    path = tmp_path / "frames.bin"
    with open(path, "wb") as f:
        for frame in frames:
            f.write(struct.pack("<I", len(frame)) + frame)
    env = {**os.environ, **SANITIZER_ENV}
    done = run([program(built, "gm_fuzz", sanitized=True), "classify", path], env=env, timeout=60)
    c_side = done.stdout.split()
    py_side = [classify_in_python(frame) for frame in frames]
    assert len(c_side) == len(py_side) == len(frames)
    # both sides are strict about the version: true and 1.0 are bad_version (protocol.md)
    mismatches = [(k, frames[k][:40].hex(), c_side[k], py_side[k]) for k in range(len(frames))
                  if c_side[k] != py_side[k]]
    assert mismatches == []
    counts = {code: c_side.count(code) for code in set(c_side)}
    assert counts.get("ok", 0) > 500 and counts.get("bad_frame", 0) > 3000 and counts.get("too_large") == 1, counts


# ------------------------------------------------------------------ install, pkg-config, the examples

def test_the_install_builds_an_example_and_both_examples_play_against_gamemix_serve(built, tmp_path):
    prefix = built.prefix
    for path in ("include/gamemix_client.h", "lib/libgamemix_client.a", "lib/pkgconfig/gamemix_client.pc"):
        assert (prefix / path).is_file(), path
    assert list((prefix / "lib").glob("libgamemix_client.so*"))
    env = {**os.environ, "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    flags = run(["pkg-config", "--cflags", "--libs", "gamemix_client"], env=env).stdout.split()
    assert any(f.startswith("-I") and Path(f[2:]).resolve() == (prefix / "include").resolve() for f in flags)
    exe = tmp_path / "scripted_scene"
    run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", C_DIR / "examples" / "scripted_scene.c", "-o", exe, *flags,
         f"-Wl,-rpath,{prefix / 'lib'}"])
    static_exe = tmp_path / "frame_loop_static"                         # and against the static library
    zmq_libs = run(["pkg-config", "--libs", "libzmq"]).stdout.split()
    run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", C_DIR / "examples" / "frame_loop.c", "-o", static_exe,
         f"-I{prefix / 'include'}", prefix / "lib" / "libgamemix_client.a", *zmq_libs, "-lpthread", "-lm"])
    linked = run(["ldd", exe]).stdout
    assert str(prefix / "lib" / "libgamemix_client.so") in linked or "libgamemix_client.so.0 => " + str(prefix) in linked
    showcase = ROOT / "gamemix" / "showcase" / "scene.yaml"
    server = ManagedServer(showcase, str(tmp_path / "showcase.wav"), ("--no-realtime", "--record",
                                                                      str(tmp_path / "showcase.yaml")))
    try:
        ends = server.wait_bound()
        ends = [ends["commands"], ends["streams"], ends["telemetry"]]
        scripted = run([exe, *ends], timeout=60)
        assert scripted.stdout.strip().endswith("ok"), scripted.stdout
        looped = run([static_exe, *ends, "180"], timeout=60)
        figures = json.loads(looped.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    assert "started" in scripted.stdout and "ended" in scripted.stdout
    assert figures["frames"] == 180 and figures["failed"] == 0 and figures["telemetry_frames"] > 20
    assert 2.9 < figures["seconds"] < 6.0 and figures["real_voices"] > 0
    messages = recording(tmp_path / "showcase.yaml")
    kinds = {e["type"] for e in messages}
    assert {"play", "event", "set_parameter", "listener", "emitters", "stop", "occlusion"} <= kinds
    batches = [e for e in messages if e["type"] == "emitters" and len(e["ids"]) == 16]
    assert len(batches) >= 120 and all("velocities" in e and "directions" in e for e in batches)   # one a frame
    occlusions = [e for e in messages if e["type"] == "occlusion"]                # streamed at 10 Hz per cricket
    assert len(occlusions) >= 16 * 20 and {"id", "occlusion"} == {k for e in occlusions for k in e} - {"type", "block"}
    audio, _ = soundfile.read(str(tmp_path / "showcase.wav"), dtype="float32")
    assert np.abs(audio).max() > 0.05
