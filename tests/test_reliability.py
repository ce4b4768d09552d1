"""The mixer never stops: supervised threads, bounded work and state, validation that means it.

Each test injects one class of failure (a fault in a stage, a hostile or careless input, a crash)
and checks that mixing and answering go on, with the fault reported, and what was wrong named.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest
import soundfile
import yaml
import zmq

from conftest import render_blocks, sine
import conftest
from gamemix.client import Client, CommandFailed
from gamemix.control.mixer import MAX_PENDING_ACTIONS
from gamemix.errors import CommandError, LocatedError
from gamemix.live.server import Server, ServerConfig
from gamemix.protocol import messages as protocol
from gamemix.protocol import wire
from gamemix.protocol.messages import MAX_BATCH
from gamemix.scene.load import load_scene

ANY = "tcp://127.0.0.1:*"


def wait_for(predicate, timeout=3.0):
    return conftest.wait_for(predicate, timeout)


@pytest.fixture
def scene(scene_dir):
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    return scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True},
                            "once": {"files": ["tone.wav"]}},
                           buses={"master": {}, "music": {"lowpass_hz": 8000}},
                           extra={"events": {"nothing": [{"action": "set_parameter", "parameter": "p", "value": 0.5}],
                                             "later": [{"action": "play", "sound": "tone", "delay": 30.0}]},
                                  "parameters": {"p": {"min": 0, "max": 1}}})


@pytest.fixture
def served(scene, tmp_path):
    server = Server(ServerConfig(scene=scene, commands=ANY, streams=ANY, telemetry=ANY,
                                 output=str(tmp_path / "live.wav"), telemetry_hz=50)).start()
    client = Client(*server.bound.values(), timeout=3.0)
    yield server, client
    client.close()
    if server.running:
        server.stop()


def all_alive(server) -> bool:
    return all(server.threads_alive().values())


# ---------------------------------------------------------------------------------------------- 1. supervision
def test_a_failing_command_is_answered_undone_and_the_mixer_goes_on(served, monkeypatch):
    server, client = served
    instances = server.mixer.instances

    def broken_fill(*args, **kwargs):
        raise RuntimeError("injected")
    monkeypatch.setattr(instances, "_fill_row", broken_fill)
    free_before = len(server.mixer.voices.free)
    with pytest.raises(CommandFailed) as info:
        client.play("tone", id=1, wait=True)
    assert info.value.code == "internal_error" and "injected" in info.value.message
    assert 1 not in server.mixer.instances and len(server.mixer.voices.free) == free_before   # undone
    monkeypatch.undo()
    assert client.play("tone", id=1, wait=True) == 1                     # the same id, now fine
    assert server.faults.counts["command"] == 1 and all_alive(server)


def test_a_fault_in_a_blocks_control_work_is_reported_and_the_audio_goes_on(served, tmp_path):
    server, client = served
    client.play("tone", id=1, wait=True)
    assert wait_for(lambda: server.mixer.active_voices() == 1)
    tick = server.mixer.tick
    calls = []

    def failing_tick():
        calls.append(1)
        raise ZeroDivisionError("injected")
    server.mixer.tick = failing_tick
    assert wait_for(lambda: len(calls) >= 20)
    server.mixer.tick = tick
    frame = None
    for _ in range(50):
        frame = client.telemetry(timeout=1.0)
        if frame and frame["faults"]["by_stage"].get("control", 0) >= 20:
            break
    assert frame["faults"]["by_stage"]["control"] >= 20 and "injected" in frame["faults"]["last"]
    assert client.ping()["block"] > 0 and all_alive(server)
    server.stop()
    audio, _ = soundfile.read(tmp_path / "live.wav", dtype="float32")
    blocks = np.abs(audio).reshape(-1, 256, 2).max(axis=(1, 2))
    start = np.flatnonzero(blocks > 0.1)[0]
    assert np.all(blocks[start:start + 60] > 0.1)             # the tone never stopped, faults or not


def test_a_fault_in_the_kernel_writes_silence_and_the_next_blocks_play(served, tmp_path):
    server, client = served
    client.play("tone", id=1, wait=True)
    assert wait_for(lambda: server.mixer.active_voices() == 1)
    engine = server.mixer.engine
    render = engine.render
    calls = []

    def failing(out):
        calls.append(1)
        raise MemoryError("injected")
    engine.render = failing
    assert wait_for(lambda: len(calls) >= 10)
    engine.render = render
    assert wait_for(lambda: server.faults.counts.get("kernel", 0) >= 10)
    block = server.mixer.block_index
    assert wait_for(lambda: server.mixer.block_index > block + 20) and all_alive(server)
    server.stop()
    audio, _ = soundfile.read(tmp_path / "live.wav", dtype="float32")
    loud = np.abs(audio).reshape(-1, 256, 2).max(axis=(1, 2)) > 0.1
    silent_run = np.flatnonzero(~loud[np.flatnonzero(loud)[0]:])
    assert 10 <= len(silent_run) and loud[-10:].all()          # silence while it failed, sound after


def test_the_network_thread_survives_a_fault_in_its_loop(served, raw, monkeypatch):
    server, client = served
    import gamemix.live.network as network
    real = network.wire.decode
    hits = []

    def flaky(frame, allowed=None):
        if b"poison" in frame:
            hits.append(1)
            raise RuntimeError("injected")
        return real(frame, allowed)
    monkeypatch.setattr(network.wire, "decode", flaky)
    raw.send(wire.encode({"type": "play", "sound": "poison"}))
    assert wait_for(lambda: hits)
    assert client.ping()["version"] == protocol.PROTOCOL_VERSION          # answered: the loop went on
    assert server.faults.counts["network"] == 1 and all_alive(server)


def test_the_stream_feeder_survives_faults_in_its_turns_and_feeds_again(served, monkeypatch):
    server, client = served
    decoder = server.mixer.streams.decoder
    real, hits = decoder.work, []

    def flaky():
        if len(hits) < 3:
            hits.append(1)
            raise RuntimeError("injected")
        hits.append(0)
        return real()
    monkeypatch.setattr(decoder, "work", flaky)
    assert wait_for(lambda: hits.count(0) >= 2)                  # turns after the faults ran
    assert server.faults.counts["streams"] == 3 and all_alive(server)
    assert client.ping()["version"] == protocol.PROTOCOL_VERSION


def test_a_stalled_render_thread_is_reported_and_published(served, monkeypatch):
    server, client = served
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.connect(server.bound["telemetry"])
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    time.sleep(0.2)
    real = server.mixer.handlers[protocol.SetParameter]
    monkeypatch.setitem(server.mixer.handlers, protocol.SetParameter, lambda m: time.sleep(0.6) or real(m))
    client.set_parameter("p", 0.5, wait=True)
    kinds = set()
    end = time.monotonic() + 3
    while time.monotonic() < end and "fault" not in kinds:
        if sub.poll(200):
            frame = wire.decode_map(sub.recv())
            kinds.add(frame["type"])
            if frame["type"] == "fault":
                assert frame["stage"] == "render stall"
    sub.close(linger=0)
    ctx.term()
    assert "fault" in kinds and server.faults.counts["render stall"] == 1


def test_a_watched_scene_nested_a_thousand_levels_deep_is_refused_and_the_old_one_plays(scene, tmp_path):
    server = Server(ServerConfig(scene=scene, commands=ANY, streams=ANY, telemetry=ANY, watch=True,
                                 output=str(tmp_path / "w.wav"))).start()
    try:
        with Client(*server.bound.values()) as client:
            client.play("tone", id=1, wait=True)
            good = scene.read_text()
            scene.write_text(good + "junk: " + "[" * 1000 + "]" * 1000 + "\n")
            assert wait_for(lambda: server.stats.reload_failures == 1)
            assert "nested more than 64 levels deep" in server.stats.reload_errors[-1]
            assert 1 in server.mixer.instances and client.ping() and all_alive(server)
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- 2. bounded work
@pytest.fixture
def raw(served):
    """A bare DEALER on the server's command socket, closed whatever the test does."""
    server, client = served
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.connect(server.bound["commands"])
    yield sock
    sock.close(linger=0)
    ctx.term()


def test_a_client_flooding_commands_waits_for_itself_and_another_is_answered_first(served, raw, monkeypatch):
    server, client = served
    drain, held = server._drain_inbox, [True]
    # the render thread takes nothing while held, so the whole flood is read before any of it is carried
    # out, however fast this machine sends compared with how fast the server answers
    monkeypatch.setattr(server, "_drain_inbox", lambda budget: None if held[0] else drain(budget))
    commands = server.stats.commands
    for rid in range(6000):
        raw.send(wire.encode({"type": "query", "rid": rid}))
    assert wait_for(lambda: server.stats.commands - commands == 6000, timeout=10.0)
    held[0] = False
    assert client.ping()                                       # answered while the flood is being served
    got, codes = 0, {}
    while got < 6000 and raw.poll(5000):
        reply = wire.decode_map(raw.recv())
        got += 1
        code = "ok" if reply["ok"] else reply["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
    assert got == 6000, (got, codes)                          # every command got exactly one reply
    assert codes.get("busy", 0) > 0 and codes.get("ok", 0) >= 1024, codes   # beyond its queue: busy, at once
    assert all_alive(server)


def test_refusing_a_hostile_frame_reports_its_first_problem_only(served, raw):
    raw.send(wire.encode({"type": "emitters", "rid": 1, "ids": list(range(65536)),
                          "positions": [[float("nan"), 0.0, 0.0]] * 65536}))
    raw.send(wire.encode({"type": "ping", "rid": 2, **{f"{i:x}": 0 for i in range(380_000)}}))
    raw.send(wire.encode({"type": "emitters", "rid": 3, "ids": list(range(MAX_BATCH)),
                          "positions": [[0.0, 0.0, 0.0]] * (MAX_BATCH - 1) + [[float("nan"), 0.0, 0.0]]}))
    replies = [wire.decode_map(raw.recv()) for _ in range(3) if raw.poll(5000)]
    assert [(r["rid"], r["error"]["code"], r["error"]["field"]) for r in replies] == [
        (1, "too_large", None), (2, "too_large", None), (3, "bad_value", f"positions[{MAX_BATCH - 1}][0]")]
    assert "1024 poses" in replies[0]["error"]["message"] and "380003 keys" in replies[1]["error"]["message"]


# ---------------------------------------------------------------------------------------------- 3, 4. bounded state, ids
def test_events_that_leave_nothing_behind_leave_no_instance(scene):
    from gamemix.control.mixer import Mixer
    m = Mixer(load_scene(scene))
    for i in range(20000):
        assert m.post_event("nothing", i)["id"] == i
    assert len(m.instances) == 0
    assert m.post_event("nothing", 5)["id"] == 5                # the id is free again


def test_delayed_actions_are_limited_and_the_limit_named(scene):
    from gamemix.control.mixer import Mixer
    m = Mixer(load_scene(scene))
    for i in range(MAX_PENDING_ACTIONS):
        m.post_event("later", i)
    with pytest.raises(CommandError) as info:
        m.post_event("later", MAX_PENDING_ACTIONS)
    assert info.value.code == "pending_limit" and str(MAX_PENDING_ACTIONS) in info.value.message
    assert len(m.instances) == MAX_PENDING_ACTIONS


def test_failed_reloads_are_counted_and_only_the_last_few_kept(served, scene):
    server, client = served
    scene.write_text("buses: {master: {volume_db: loud}}\n")
    for _ in range(30):
        with pytest.raises(CommandFailed):
            client.load_scene()
    state = client.query()                                     # the reply stays small
    assert state["server"]["reload_failures"] == 30 and len(state["server"]["reload_errors"]) == 8


def test_ids_in_the_mixers_range_are_refused_so_they_never_collide(served):
    server, client = served
    with pytest.raises(CommandFailed) as info:
        client.play("tone", id=1 << 62, wait=True)
    assert info.value.code == "bad_value" and info.value.field == "id"
    with pytest.raises(CommandError):
        server.mixer.play("tone", 1 << 62)
    auto = client.play("tone", wait=True)
    assert auto >= 1 << 62 and client.play("tone", id=(1 << 62) - 1, wait=True) == (1 << 62) - 1
    client.stop(auto, wait=True)


# ---------------------------------------------------------------------------------------------- 5. validation
@pytest.mark.parametrize("prop, target, y, expected", [
    ("lowpass_hz", {"bus": "music"}, 0.0, "lowpass_hz takes values in [10, 96000]; this point gives 0"),
    ("volume_db", {"bus": "music"}, 10000.0, "volume_db takes values in [-144, 24]; this point gives 10000"),
    ("pitch_semitones", {"sound": "tone"}, -90.0, "pitch_semitones takes values in [-48, 48]"),
])
def test_a_mapping_that_would_drive_a_property_out_of_range_is_a_located_error(scene_dir, prop, target, y, expected):
    scene_dir.audio("t.wav", sine(440.0, 0.1))
    path = scene_dir.scene({"tone": {"files": ["t.wav"]}}, buses={"master": {}, "music": {}},
                           extra={"parameters": {"p": {}},
                                  "mappings": [{"parameter": "p", **target, "property": prop,
                                                "points": [[0, 0 if prop != "lowpass_hz" else 1000], [1, y]]}]})
    with pytest.raises(LocatedError) as info:
        load_scene(path)
    assert any("mappings[0].points[1][1]: " + expected in str(p) for p in info.value.problems), info.value


@pytest.mark.parametrize("text, expected", [
    ("buses: {master: {volume_db: " + "9" * 5000 + "}}\n", ":1:29 buses.master.volume_db: a number of 5000 characters"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
                                                   for p, c in zip("abcdefgh", "bcdefghi")),
     "values once its aliases are expanded"),
    ("name: " + "[" * 500 + "]" * 500 + "\n", ":1:70 nested more than 64 levels deep"),
])
def test_validate_refuses_what_would_not_load_in_time_with_a_location(scene_dir, text, expected):
    path = scene_dir.root / "scene.yaml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "gamemix", "validate", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_four_thousand_buses_load_and_render(scene_dir):
    buses = {"master": {}, **{f"b{i}": {"parent": f"b{i // 4 - 1}" if i >= 4 else "master"} for i in range(4096)}}
    scene_dir.audio("t.wav", sine(440.0, 0.2))
    m = scene_dir.mixer({"tone": {"files": ["t.wav"], "bus": "b4095", "loop": True}}, buses=buses)
    order = m.scene.bus_order()
    assert len(order) == 4097 and order[-1] == "master"
    assert all(order.index(child) < order.index(f"b{i}") for i in range(1023) for child in
               (f"b{4 * (i + 1) + k}" for k in range(4)))       # every bus after its children
    m.play("tone", 1)
    out = render_blocks(m, 40)
    assert np.isfinite(out).all() and np.abs(out[-256:]).max() > 0.1


# ---------------------------------------------------------------------------------------------- 6. numeric hygiene
def test_absurd_samples_are_clamped_with_a_warning_and_a_filtered_bus_stays_finite(scene_dir):
    x = sine(300.0, 0.5, amp=1.0) * np.float32(3e38)
    scene_dir.audio("huge.wav", x)
    m = scene_dir.mixer({"huge": {"files": ["huge.wav"], "loop": True, "bus": "fx"}},
                        buses={"master": {}, "fx": {"lowpass_hz": 2000, "highpass_hz": 100, "compressor": {}}})
    warnings = [str(w) for w in m.bank.warnings]
    assert len(warnings) == 1 and "sounds.huge.files[0]: huge.wav:" in warnings[0] and "clamped" in warnings[0]
    m.play("huge", 1)
    out = render_blocks(m, 50)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    assert np.isfinite(m.arrays.filters.state).all()


def test_a_filter_whose_state_went_non_finite_starts_again_from_rest():
    from gamemix.core.dsp.filters import FL_HP, FL_HP_TARGET, FL_LP, FL_LP_TARGET, filter_bus
    state = np.full((1, 1, 4), np.nan)
    cutoff = np.array([[1000.0, 1000.0, 10.0, 10.0]])
    buf = np.zeros((1, 1, 256), np.float32)
    filter_bus(buf, 0, 1, 256, state, cutoff, 48000.0)
    assert np.isfinite(state).all()
    tone = sine(100.0, 256 / 48000)
    buf[0, 0] = tone
    filter_bus(buf, 0, 1, 256, state, cutoff, 48000.0)
    assert np.isfinite(buf).all() and 0.1 < np.abs(buf).max() <= 0.6     # filtering again, from rest
    assert (FL_LP, FL_LP_TARGET, FL_HP, FL_HP_TARGET) == (0, 1, 2, 3)


# ---------------------------------------------------------------------------------------------- 7. memory, crashes
def test_loading_a_large_file_peaks_near_its_decoded_size(scene_dir):
    frames = 4 << 20                                         # 16 MiB decoded (float32, mono)
    scene_dir.audio("big.wav", (0.1 * np.sin(np.arange(frames) * 0.01)).astype(np.float32), subtype="PCM_16")
    scene = load_scene(scene_dir.scene({"big": {"files": ["big.wav"]}}))
    from gamemix.scene.assets import build_bank
    tracemalloc.start()
    bank = build_bank(scene)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert bank.pool.nbytes >= frames * 4
    assert peak < 1.25 * bank.pool.nbytes, (peak, bank.pool.nbytes)


def test_after_kill_9_the_wav_and_the_recording_are_readable_up_to_the_last_second(scene, tmp_path):
    wav, rec = tmp_path / "out.wav", tmp_path / "rec.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "gamemix", "serve", str(scene), "--output", str(wav),
                             "--record", str(rec), "--commands", "tcp://127.0.0.1:0", "--streams",
                             "tcp://127.0.0.1:0", "--telemetry", "tcp://127.0.0.1:0"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "serving" not in line:
            line = proc.stderr.readline()
            assert line, "the server ended before it served"
        commands = line.split("commands ")[1].split(",")[0]
        with Client(commands, timeout=5.0) as client:
            client.play("tone", id=1, wait=True)
            for k in range(10):
                client.set_parameter("p", k / 10, wait=True)
            time.sleep(2.6)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    audio, rate = soundfile.read(wav, dtype="float32")
    assert len(audio) >= 1.5 * rate and np.abs(audio[-rate // 2:]).max() > 0.1     # up to the last second, sound
    doc = yaml.safe_load(rec.read_text())
    kinds = [m["type"] for m in doc["messages"]]
    assert kinds[0] == "play" and kinds.count("set_parameter") == 10 and "duration" not in doc
    from gamemix.offline.render import render
    report = render(scene, rec, tmp_path / "replay.wav")
    assert report["errors"] == []


# ---------------------------------------------------------------------------------------------- 8. stale, readiness
def test_stale_stream_frames_are_dropped_not_played_late(served):
    server, client = served
    client.send_stream({"type": "play", "sound": "tone", "id": 7, "t": time.time() - 5.0})
    client.send_stream({"type": "play", "sound": "tone", "id": 8})          # stamped now by the client
    assert wait_for(lambda: 8 in server.mixer.instances)
    assert 7 not in server.mixer.instances and server.stats.stale_drops == 1


def test_streams_sent_before_the_server_was_ready_are_dropped(scene, tmp_path):
    ports = []
    for _ in range(3):
        s = zmq.Context.instance().socket(zmq.REP)
        ports.append(s.bind_to_random_port("tcp://127.0.0.1"))
        s.close(linger=0)
    ends = [f"tcp://127.0.0.1:{p}" for p in ports]
    client = Client(*ends, timeout=3.0)
    client.send_stream({"type": "play", "sound": "tone", "id": 1})         # no server yet: waits in the queue
    time.sleep(0.1)
    server = Server(ServerConfig(scene=scene, commands=ends[0], streams=ends[1], telemetry=ends[2],
                                 output=str(tmp_path / "r.wav"))).start()
    try:
        client.send_stream({"type": "play", "sound": "tone", "id": 2})
        assert wait_for(lambda: 2 in server.mixer.instances)
        assert 1 not in server.mixer.instances and server.stats.stale_drops == 1
    finally:
        client.close()
        server.stop()


def test_commands_before_the_server_is_ready_are_answered_not_ready_and_not_carried_out(scene, tmp_path, monkeypatch):
    import threading
    release = threading.Event()
    real = Server._warm_up

    def slow_warm_up(self):
        release.wait(10)
        real(self)
    monkeypatch.setattr(Server, "_warm_up", slow_warm_up)
    server = Server(ServerConfig(scene=scene, commands=ANY, streams=ANY, telemetry=ANY,
                                 output=str(tmp_path / "n.wav")))
    starter = threading.Thread(target=server.start)
    starter.start()
    try:
        assert wait_for(lambda: server.bound)
        with Client(*server.bound.values(), timeout=3.0) as client:
            with pytest.raises(CommandFailed) as info:
                client.play("tone", id=3, wait=True)
            assert info.value.code == "not_ready"
            release.set()
            starter.join(30)
            assert client.play("tone", id=4, wait=True) == 4 and 3 not in server.mixer.instances
    finally:
        release.set()
        starter.join(30)
        server.stop()


def test_the_render_thread_reports_the_scheduling_it_got(served, scene, tmp_path):
    server, client = served
    priority = client.query()["output"]["priority"]
    assert priority in ("SCHED_FIFO 10", "nice -10", "normal")         # what the OS allowed, said
    plain = Server(ServerConfig(scene=scene, commands=ANY, streams=ANY, telemetry=ANY, realtime=False,
                                output=str(tmp_path / "plain.wav"))).start()
    try:
        assert plain.output_stats()["priority"] == "normal"
        assert os.sched_getscheduler(0) == os.SCHED_OTHER                # this (test) thread was left alone
    finally:
        plain.stop()


def test_the_threads_that_take_the_lock_run_at_the_nice_value_the_os_allowed(scene_dir, tmp_path):
    """The render thread and the null output's clock real-time where allowed; the network, streams and
    microphone-analysis threads (which hold the interpreter lock the render thread waits for) at a
    better nice value, as the OS itself reports for each thread; none of it when real time is off."""
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    scene = scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True}}, buses={"master": {}, "mic": {}},
                            extra={"microphone": {"bus": "mic", "detector": "webrtc"}})
    def by_name(prefix):
        return [t.native_id for t in threading.enumerate() if t.name == prefix]

    base = os.getpriority(os.PRIO_PROCESS, 0)          # what a thread started here inherits
    allowed = []

    def try_nice():                                    # may a thread of this process take nice -10?
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
            allowed.append(True)
        except OSError:
            pass
    probe = threading.Thread(target=try_nice)
    probe.start()
    probe.join()
    for realtime in (True, False):
        server = Server(ServerConfig(scene=scene, commands=ANY, streams=ANY, telemetry=ANY, output="null",
                                     realtime=realtime, mic=tmp_path / "no-recording.wav")).start()
        try:
            time.sleep(0.3)                                  # every thread has begun its loop
            got = server.output_stats()["priority"]
            (render,), (network,), (streams,), (clock,), (analysis,) = (by_name(n) for n in (
                "gamemix-render", "gamemix-network", "gamemix-streams", "gamemix-clock", "gamemix-mic"))
            if got.startswith("SCHED_FIFO"):
                assert os.sched_getscheduler(render) == os.SCHED_FIFO
                assert os.sched_getscheduler(clock) == os.SCHED_FIFO
            nice = -10 if realtime and allowed else base
            for tid in (network, streams, analysis):
                assert os.sched_getscheduler(tid) == os.SCHED_OTHER       # never real time: a flood must not take a core
                assert os.getpriority(os.PRIO_PROCESS, tid) == nice
            if not realtime:
                assert got == "normal" and os.sched_getscheduler(render) == os.SCHED_OTHER
        finally:
            server.stop()
