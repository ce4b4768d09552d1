"""The live server over real ZeroMQ sockets on loopback, with headless (file) output."""

import time

import numpy as np
import pytest
import soundfile
import yaml
import zmq
from hypothesis import HealthCheck, given, settings, strategies as st

import conftest
from gamemix.protocol import wire
from gamemix.protocol.messages import MAX_BATCH
from gamemix.client import Client, CommandFailed
from gamemix.offline.render import render
from gamemix.live.curve import is_loopback
from gamemix.live.server import Server, ServerConfig

ANY_PORT = "tcp://127.0.0.1:*"


@pytest.fixture
def scene(scene_dir):
    from conftest import sine
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    scene_dir.audio("low.wav", sine(250.0, 1.0, amp=0.5))
    path = scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True, "spatial": {"max_distance": 100}},
                            "low": {"files": ["low.wav"], "loop": True, "bus": "music"}},
                           buses={"master": {}, "music": {}},
                           extra={"events": {"hum": [{"action": "play", "sound": "low"}]},
                                  "parameters": {"p": {"min": 0, "max": 1}}})
    return path


@pytest.fixture
def served(scene, tmp_path):
    config = ServerConfig(scene=scene, commands=ANY_PORT, streams=ANY_PORT, telemetry=ANY_PORT,
                          output=str(tmp_path / "live.wav"), record=tmp_path / "session.yaml", telemetry_hz=50)
    server = Server(config).start()
    client = Client(server.bound["commands"], server.bound["streams"], server.bound["telemetry"], timeout=2.0)
    yield server, client
    client.close()
    if server.running:
        server.stop()


def wait_for(predicate, timeout=2.0):
    return conftest.wait_for(predicate, timeout)


def test_commands_get_replies_and_errors_name_the_problem(served):
    server, client = served
    assert client.ping()["version"] == 1
    shot = client.play("tone", position=(2, 0, -1), wait=True)
    assert shot >= 1 << 62                                    # an id the mixer assigned
    assert client.play("tone", id=5, position=(-2, 0, -1), wait=True) == 5
    with pytest.raises(CommandFailed) as info:
        client.play("nope", wait=True)
    assert info.value.code == "unknown_sound" and "'nope'" in info.value.message
    with pytest.raises(CommandFailed) as info:
        client.request({"type": "emitter", "id": 5, "position": [float("nan"), 0, 0]})
    assert (info.value.code, info.value.field) == ("bad_value", "position[0]")
    with pytest.raises(CommandFailed) as info:
        client.request({"type": "jump"})
    assert info.value.code == "unknown_type"
    with pytest.raises(CommandFailed) as info:
        client.event("nothing", wait=True)
    assert info.value.code == "unknown_event"
    with pytest.raises(CommandFailed) as info:
        client.set_parameter("p", 3.0, wait=True)
    assert info.value.code == "out_of_range"
    state = client.query()
    assert state["instances"] == 2 and state["parameters"] == {"p": 0.0}
    assert client.event("hum", id=9, wait=True) == {"id": 9, "refused": []}


def test_malformed_frames_get_an_error_and_the_mixer_keeps_mixing(served):
    server, client = served
    raw = client.ctx.socket(zmq.DEALER)
    raw.connect(server.bound["commands"])
    frames = [b"", b"\xc1\xc1", wire.encode({"type": "play"})[:-3], b"\x93\x01\x02\x03",
              wire.encode({"v": 2, "type": "ping"}), wire.encode({"type": "play", "sound": 7}),
              wire.encode({"type": "play", "sound": "tone", "id": -1})]
    block = server.mixer.block_index
    for frame in frames:
        raw.send(frame)
        assert raw.poll(2000), frame
        reply = wire.decode_map(raw.recv())
        assert reply["ok"] is False and reply["error"]["code"] in {"bad_frame", "bad_version", "bad_value",
                                                                    "unknown_type"}
    raw.close(linger=0)
    assert wait_for(lambda: server.mixer.block_index > block + 5)
    assert client.ping()


def test_stream_poses_take_effect_and_bad_ones_are_counted(served):
    server, client = served
    client.play("tone", id=1, position=(0, 0, -1), wait=True)
    for x in np.linspace(-5, 5, 50):
        client.emitter(1, (x, 0, -1))
    client.send_stream({"type": "emitter", "id": 1, "position": [float("inf"), 0, 0]})
    client.send_stream({"type": "ping"})                       # not a stream message
    from gamemix.core.arrays import VF_X
    assert wait_for(lambda: server.mixer.arrays.vf[server.mixer.rows_of(1)[0], VF_X] == 5.0)
    assert wait_for(lambda: server.stats.stream_drops == 2)


def test_telemetry_reports_levels_and_voices(served):
    server, client = served
    client.play("low", id=3, wait=True)
    for _ in range(20):
        frame = client.telemetry(timeout=1.0)
        if frame and frame["voices"]["real"] == 1 and frame["buses"]["music"]["peak_dbfs"] is not None:
            break
    assert frame["type"] == "telemetry" and frame["voices"]["real"] == 1
    assert frame["buses"]["music"]["peak_dbfs"] == pytest.approx(20 * np.log10(0.5 * np.cos(np.pi / 4)), abs=0.1)


def test_recorded_session_replays_to_the_same_samples(served, scene, tmp_path):
    server, client = served
    client.play("tone", id=1, position=(3, 0, -1), wait=True)
    for k in range(30):
        client.emitter(1, (3 - 0.2 * k, 0, -1), velocity=(-10, 0, 0))
        time.sleep(0.003)
    client.emitters([1], [(2.0, 0.0, -1.0)])                 # a batch: the fast path's arrays are recorded too
    client.event("hum", id=2, wait=True)
    client.bus_volume("music", -6, fade=0.1, wait=True)
    time.sleep(0.2)
    auto = client.play("low", wait=True)                     # an id the mixer assigned ...
    client.emitter(auto, (1.0, 0.0, -1.0))
    client.stop(1, fade=0.05, wait=True)
    time.sleep(0.2)
    server.stop()
    assert f"# id {auto}" in (tmp_path / "session.yaml").read_text()     # ... is written beside its play
    live, _ = soundfile.read(tmp_path / "live.wav", dtype="float32")
    render(scene, tmp_path / "session.yaml", tmp_path / "replay.wav")
    replay, _ = soundfile.read(tmp_path / "replay.wav", dtype="float32")
    assert np.abs(live).max() > 0.1
    n = min(len(live), len(replay))
    assert abs(len(live) - len(replay)) <= 256
    np.testing.assert_array_equal(live[:n], replay[:n])


def test_hot_reload_keeps_playing_and_rejects_broken_edits(served, scene):
    server, client = served
    client.play("low", id=4, wait=True)
    time.sleep(0.05)
    doc = yaml.safe_load(scene.read_text())
    doc["buses"]["music"]["volume_db"] = -12
    scene.write_text(yaml.safe_dump(doc))
    assert client.load_scene()["sounds"] == 2
    assert wait_for(lambda: server.mixer.scene.buses["music"].volume_db == -12)
    assert 4 in server.mixer.instances                       # still playing after the swap
    scene.write_text(scene.read_text().replace("volume_db: -12", "volume_db: loud"))
    with pytest.raises(CommandFailed) as info:
        client.load_scene()
    assert info.value.code == "bad_scene" and "buses.music.volume_db" in info.value.message
    with pytest.raises(CommandFailed) as info:
        client.load_scene("../../etc/passwd")
    assert info.value.code == "bad_path"
    doc["output"]["block_size"] = 128                        # the device runs at the old size: refused
    scene.write_text(yaml.safe_dump(doc))
    with pytest.raises(CommandFailed) as info:
        client.load_scene()
    assert info.value.code == "bad_scene" and "block_size" in info.value.message
    assert 4 in server.mixer.instances and server.mixer.scene.buses["music"].volume_db == -12


def test_binding_beyond_loopback_needs_curve_keys(scene):
    assert is_loopback("tcp://127.0.0.1:5560") and is_loopback("ipc:///tmp/x") and is_loopback("tcp://[::1]:1")
    assert not is_loopback("tcp://*:5560") and not is_loopback("tcp://0.0.0.0:5560")
    with pytest.raises(ValueError, match="CURVE"):
        Server(ServerConfig(scene=scene, commands="tcp://0.0.0.0:5560", output="null"))


def test_curve_authenticated_client_talks_and_an_unknown_one_does_not(scene, tmp_path):
    import zmq.auth
    keys = tmp_path / "keys"
    clients = tmp_path / "clients"
    keys.mkdir()
    clients.mkdir()
    zmq.auth.create_certificates(str(keys), "server")
    _, client_secret_file = zmq.auth.create_certificates(str(keys), "client")
    (clients / "client.key").write_bytes((keys / "client.key").read_bytes())
    zmq.auth.create_certificates(str(keys), "stranger")
    config = ServerConfig(scene=scene, commands="tcp://0.0.0.0:*", streams=ANY_PORT, telemetry=ANY_PORT,
                          output=str(tmp_path / "o.wav"), curve_secret=keys / "server.key_secret",
                          curve_clients=clients)
    with Server(config) as server:
        port = server.bound["commands"].rsplit(":", 1)[1]
        server_public, _ = zmq.auth.load_certificate(str(keys / "server.key"))
        for name, expect in (("client", True), ("stranger", False)):
            public, secret = zmq.auth.load_certificate(str(keys / f"{name}.key_secret"))
            with Client(f"tcp://127.0.0.1:{port}", server.bound["streams"], server.bound["telemetry"],
                        timeout=0.5, curve=(server_public, public, secret)) as c:
                if expect:
                    assert c.ping()["version"] == 1
                else:
                    with pytest.raises(TimeoutError):
                        c.ping()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300),
                 st.dictionaries(st.sampled_from(["type", "v", "id", "sound", "position", "name", "value", "rid"]),
                                 st.one_of(st.none(), st.integers(-2**63, 2**64 - 1), st.floats(), st.text(max_size=20),
                                           st.lists(st.floats(), max_size=4), st.binary(max_size=10)),
                                 max_size=6).map(lambda d: wire.msgpack.packb(d, use_bin_type=True))))
def test_fuzzed_commands_always_get_a_reply(fuzz_server, frame):
    server, sock = fuzz_server
    sock.send(frame)
    assert sock.poll(3000), frame
    reply = wire.decode_map(sock.recv())
    assert isinstance(reply["ok"], bool)
    assert server.running and server.network.alive()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    from conftest import SceneDir, sine
    d = SceneDir(tmp_path_factory.mktemp("fuzz"))
    d.audio("tone.wav", sine(1000.0, 0.2))
    scene = d.scene({"tone": {"files": ["tone.wav"], "loop": True}})
    server = Server(ServerConfig(scene=scene, commands=ANY_PORT, streams=ANY_PORT, telemetry=ANY_PORT,
                                 output=str(d.root / "o.wav"))).start()
    sock = server._ctx.socket(zmq.DEALER)
    sock.connect(server.bound["commands"])
    yield server, sock
    block = server.mixer.block_index
    time.sleep(0.05)
    assert server.mixer.block_index > block      # still mixing after the fuzz
    sock.close(linger=0)
    server.stop()


def malformed_frames(rng, count):
    """`count` frames the server must refuse: random bytes, truncated or non-map msgpack, known
    message kinds with wrong types, NaN and infinite numbers, out-of-range integers, unknown ids
    and names, large strings and lists (under the 4 MiB frame limit)."""
    bad_values = [float("nan"), float("inf"), -float("inf"), 2 ** 64 - 1, -2 ** 63, "x" * 1000, None,
                  [float("nan")] * 3, [1, 2], [1, 2, 3, 4], {"a": 1}, b"\x00" * 8, True, [0.0] * 100_000]
    kinds = ["play", "stop", "emitter", "emitters", "listener", "set_parameter", "post_event", "bus_volume",
             "snapshot_start", "event", "no_such_type", 7, None]
    frames = []
    for i in range(count):
        pick = i % 5
        if pick == 0:
            frames.append(rng.bytes(int(rng.integers(0, 400))))
        elif pick == 1:
            good = wire.encode({"type": "play", "sound": "tone", "id": int(i), "position": [0.0, 0.0, -1.0]})
            frames.append(good[:int(rng.integers(0, len(good) - 1))])
        elif pick == 2:
            frames.append(wire.msgpack.packb([1, "play", i] if i % 2 else "ping"))
        else:
            msg = {"v": 1, "type": kinds[int(rng.integers(len(kinds)))]}
            for key in rng.choice(["id", "sound", "position", "velocity", "name", "value", "bus", "volume_db",
                                   "ids", "positions", "forward"], size=int(rng.integers(1, 4)), replace=False):
                msg[str(key)] = bad_values[int(rng.integers(len(bad_values)))]
            if msg["type"] == "play" and "sound" not in msg:
                msg["sound"] = "no_such_sound"
            frames.append(wire.msgpack.packb(msg, use_bin_type=True))
    return frames


def test_thousands_of_malformed_commands_each_get_an_error_and_mixing_goes_on(served):
    server, client = served
    frames = malformed_frames(np.random.default_rng(11), 3000)
    raw = client.ctx.socket(zmq.DEALER)
    raw.connect(server.bound["commands"])
    block = server.mixer.block_index
    codes = {}
    for start in range(0, len(frames), 250):            # in bursts, as a misbehaving game would send them
        burst = frames[start:start + 250]
        for frame in burst:
            raw.send(frame)
        for frame in burst:
            assert raw.poll(5000), "a command went unanswered"
            reply = wire.decode_map(raw.recv())
            assert reply["ok"] is False
            codes[reply["error"]["code"]] = codes.get(reply["error"]["code"], 0) + 1
    raw.close(linger=0)
    assert sum(codes.values()) == len(frames)
    assert {"bad_frame", "bad_value", "unknown_type"} <= set(codes), codes
    assert server.network.alive() and server.mixer.block_index > block
    assert client.ping()["version"] == 1


def test_thousands_of_malformed_stream_frames_are_counted_and_poses_still_apply(served):
    server, client = served
    client.play("tone", id=1, position=(0, 0, -1), wait=True)
    frames = malformed_frames(np.random.default_rng(12), 3000)
    frames += [wire.encode({"type": "emitter", "id": 1, "position": [float("nan"), 0.0, 0.0]}),
               wire.encode({"type": "emitter", "id": 999, "position": [1.0, 0.0, 0.0]})]   # unknown id
    drops = server.stats.stream_drops
    raw = client.ctx.socket(zmq.PUSH)
    raw.connect(server.bound["streams"])
    for frame in frames:
        raw.send(frame)
    client.emitter(1, (4.0, 0, -1))
    from gamemix.core.arrays import VF_X
    assert wait_for(lambda: server.stats.stream_drops - drops == len(frames), timeout=10.0), \
        server.stats.stream_drops - drops
    assert wait_for(lambda: server.mixer.arrays.vf[server.mixer.rows_of(1)[0], VF_X] == 4.0)
    raw.close(linger=0)
    assert client.ping()


@pytest.mark.parametrize("socket_name", ["commands", "streams"])
def test_a_frame_over_the_size_limit_is_cut_off_and_the_server_goes_on(served, socket_name):
    server, client = served
    raw = client.ctx.socket(zmq.DEALER if socket_name == "commands" else zmq.PUSH)
    raw.connect(server.bound[socket_name])
    block = server.mixer.block_index
    raw.send(b"\x00" * (wire.MAX_FRAME_BYTES + 1))
    time.sleep(0.2)
    raw.close(linger=0)
    assert wait_for(lambda: server.mixer.block_index > block + 5)
    assert client.ping()["version"] == 1            # other connections are untouched
    client.play("tone", id=5, wait=True)
    assert 5 in server.mixer.instances


def test_the_client_refuses_a_frame_over_the_limit_before_sending_it(served):
    server, client = served
    with pytest.raises(CommandFailed) as refused:
        client.upload_sound("x", b"\x00" * wire.MAX_FRAME_BYTES)
    assert refused.value.code == "too_large"
    with pytest.raises(CommandFailed) as refused:
        client.request({"type": "play", "sound": "x" * (wire.MAX_FRAME_BYTES + 1)})
    assert refused.value.code == "too_large"
    assert client.ping()["version"] == 1            # the connection was never cut


def test_the_client_sends_a_long_pose_list_as_batches_the_server_takes(served):
    """The protocol's batch limit is the client's business: any number of poses goes, as frames of
    at most MAX_BATCH (each decoded by the server in bounded time), and every pose is applied."""
    server, client = served
    ids = [client.play("tone", id=k, position=(0, 0, -1), wait=True) for k in range(3)]
    client.ping()
    streams = server.stats.streams
    poses = 3 * MAX_BATCH + 1
    client.emitters([ids[k % 3] for k in range(poses)], [(float(k), 0.0, 0.0) for k in range(poses)])
    client.ping()
    deadline = time.monotonic() + 5
    while server.stats.streams < streams + 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stats.streams - streams == 4 and server.stats.stream_drops == 0
    client.ping()
    newest = {ids[k % 3]: float(k) for k in range(poses)}
    mixer = server.mixer
    assert [mixer.instances.get(i).pose(mixer.arrays.vf)[0][0] for i in ids] == [newest[i] for i in ids]


def test_a_fresh_server_process_is_on_time_from_its_first_block(scene):
    """A new process loads every kernel from Numba's cache before audio starts (it used to count
    about 8 xruns while the first blocks loaded them)."""
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "gamemix", "serve", str(scene), "--output", "null",
                             "--duration", "1.5", "--commands", ANY_PORT, "--streams", ANY_PORT,
                             "--telemetry", ANY_PORT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    stopped = result.stderr.strip().splitlines()[-1]          # "gamemix: stopped: N blocks, X xruns"
    blocks, xruns = (int(word) for word in stopped.split() if word.isdigit())
    # kernels loaded by the first blocks cost about 8 xruns in a row at start; a shared 2-core VM adds
    # one to three at random over 1.5 s (seen on CI), which is not what this guards against (the
    # structural test below checks the cause without timing)
    assert blocks > 200 and xruns < 5, stopped


def test_a_fresh_server_process_has_its_kernels_loaded_before_its_first_block(scene, tmp_path):
    """The structural form of the test above, with no timing: in a new process, when the output asks
    for the first block, the block kernel and the voice decision are already loaded (the warm-up
    did it), so the first block does not wait for a compile or a cache load."""
    import subprocess
    import sys
    script = f"""
import numpy as np
from gamemix.core.engine import Engine, render_state
from gamemix.control import voices
from gamemix.live.server import Server, ServerConfig
seen = {{}}                # per engine (the warm-up's, then the server's): what was loaded at its first block
original = Engine.render
def first(self, out):
    seen.setdefault(id(self), (len(render_state.overloads), len(voices.decide.overloads)))
    return original(self, out)
Engine.render = first
any_port = "tcp://127.0.0.1:*"
with Server(ServerConfig(scene={str(scene)!r}, commands=any_port, streams=any_port, telemetry=any_port,
                         output={str(tmp_path / "o.wav")!r})) as server:
    import time
    time.sleep(0.2)
print(list(seen.values()))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    warm_up, live = eval(result.stdout.strip().splitlines()[-1])
    assert warm_up[0] == 0                      # a fresh process: the warm-up's block is the first to load them
    assert live[0] >= 1 and live[1] >= 1        # the server's first block finds them loaded


def test_a_started_server_puts_what_it_loaded_out_of_the_cycle_collectors_reach(scene, tmp_path):
    import gc
    config = ServerConfig(scene=scene, commands=ANY_PORT, streams=ANY_PORT, telemetry=ANY_PORT,
                          output=str(tmp_path / "o.wav"))
    try:
        with Server(config):
            frozen = gc.get_freeze_count()
            walked = len(gc.get_objects(generation=2))      # what a full collection would still walk
        assert frozen > 10_000 and walked < frozen / 10, (frozen, walked)
    finally:
        gc.unfreeze()                                       # the rest of the suite runs as before
