"""The integrator's side, over real loopback sockets: sessions and handles, posted commands that
never wait, notices in order and to the right client, refusals as notices, time to live, and
sample-accurate starts heard in the server's output file."""

import time

import numpy as np
import pytest
import soundfile

from conftest import SR, sine
from gamemix.live.client import Client, CommandFailed
from gamemix.live.server import Server, ServerConfig
from gamemix.live.sessions import NAMESPACE_BITS
from gamemix.protocol import messages as m

ANY = "tcp://127.0.0.1:*"


@pytest.fixture
def served(scene_dir, tmp_path):
    click = np.zeros(2400, dtype=np.float32)
    click[0] = 1.0
    scene_dir.audio("click.wav", click)
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    scene = scene_dir.scene({"click": {"files": ["click.wav"], "pan": -1.0},
                             "tone": {"files": ["tone.wav"], "loop": True}},
                            extra={"events": {"two": [{"action": "play", "sound": "click"},
                                                      {"action": "play", "sound": "click", "delay": 0.05}]}})
    server = Server(ServerConfig(scene=scene, commands=ANY, streams=ANY, telemetry=ANY,
                                 output=str(tmp_path / "live.wav"))).start()
    clients = []

    def connect(**kw):
        client = Client(*server.bound.values(), timeout=3.0, **kw)
        clients.append(client)
        return client
    yield server, connect
    for client in clients:
        client.close()
    if server.running:
        server.stop()


def notices_until(client, predicate, timeout=5.0) -> list[dict]:
    """Poll (as a game does each frame) until a notice satisfies `predicate`; all notices seen."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        seen += client.poll()
        if any(predicate(n) for n in seen):
            return seen
        time.sleep(0.005)
    raise AssertionError(f"not seen within {timeout} s; got {seen}")


def test_a_session_grants_an_id_range_and_plays_get_handles_at_once(served):
    server, connect = served
    a, b = connect(name="game"), connect(name="tool")
    ha, hb = a.wait_ready(), b.wait_ready()
    assert ha["session"] != hb["session"] and ha["ids"][1] - ha["ids"][0] == 1 << NAMESPACE_BITS
    shot = a.play("click")
    assert ha["ids"][0] < shot < ha["ids"][1] and a.state(shot) == "posted"
    seen = notices_until(a, lambda n: n["event"] == "ended")
    assert [n["event"] for n in seen if n["id"] == shot] == ["started", "ended"]
    assert seen[0]["sample"] % server.mixer.block_size == 0 and a.state(shot) is None
    time.sleep(0.1)
    assert b.poll() == []                                        # notices go to the owner only
    assert shot not in server.sessions.owner                     # and nothing is kept once it ended


def test_an_events_notices_end_after_its_last_delayed_voice(served):
    server, connect = served
    a = connect()
    a.wait_ready()
    ev = a.event("two")
    seen = notices_until(a, lambda n: n["event"] == "ended")
    events = [n["event"] for n in seen if n["id"] == ev]
    assert events[0] == "started" and events[-1] == "ended" and events.count("ended") == 1
    assert a.poll() == []


def test_a_refused_posted_command_arrives_as_a_notice_naming_why(served):
    server, connect = served
    a = connect()
    a.wait_ready()
    bad = a.play("nope")
    a.set_parameter("nothing", 1.0)
    seen = notices_until(a, lambda n: n.get("kind") == "set_parameter")
    assert seen[0]["id"] == bad and seen[0]["event"] == "refused" and seen[0]["code"] == "unknown_sound"
    assert "'nope'" in seen[0]["message"] and seen[1]["code"] == "unknown_parameter"
    # a play sent on the stream socket (no replies there) is reported to its owner too
    handle = a._handle()
    a.send_stream(m.Play(sound="nope", id=handle))
    seen = notices_until(a, lambda n: n["id"] == handle)
    assert seen[-1]["event"] == "refused" and seen[-1]["code"] == "unknown_sound"
    assert bad not in server.mixer.instances and all(server.threads_alive().values())


def test_instance_control_over_the_wire_and_its_notices(served):
    server, connect = served
    a = connect()
    a.wait_ready()
    tone = a.play("tone", volume_db=-6.0)
    notices_until(a, lambda n: n["event"] == "started")
    a.pause(tone, fade=0.02)
    assert notices_until(a, lambda n: n["event"] == "paused")
    time.sleep(0.1)
    assert a.instance_info(tone)["state"] == "paused"
    a.seek(tone, 0.25)
    a.resume(tone)
    a.set_instance(tone, volume_db=-20.0, pan=0.5)
    notices_until(a, lambda n: n["event"] == "resumed")
    time.sleep(0.1)
    info = a.instance_info(tone)
    assert info["state"] == "real" and info["volume"] == pytest.approx(10 ** (-20 / 20), rel=1e-4)
    assert a.sound_info("tone")["voices"] == 1
    a.stop(tone)
    assert notices_until(a, lambda n: n["event"] == "ended")
    with pytest.raises(CommandFailed) as info:
        a.instance_info(tone)
    assert info.value.code == "unknown_instance"


def test_a_command_past_its_time_to_live_is_answered_expired_and_not_done(served):
    server, connect = served
    a = connect()
    a.wait_ready()
    with pytest.raises(CommandFailed) as info:
        a.request({"type": "play", "sound": "tone", "id": 77, "t": time.time() - 10.0, "ttl": 1.0})
    assert info.value.code == "expired" and 77 not in server.mixer.instances
    assert server.stats.expired == 1
    assert a.play("tone", id=77, wait=True) == 77                # one in time is carried out


def test_without_a_server_a_play_neither_raises_nor_waits_for_a_reply(tmp_path):
    client = Client("tcp://127.0.0.1:9", "tcp://127.0.0.1:9", "tcp://127.0.0.1:9", timeout=0.2)
    try:
        handle = client.play("gunshot")
        client.set_parameter("rain", 0.5)
        [notice] = client.poll()
        assert notice["id"] == handle and notice["code"] == "no_session"
        with pytest.raises(TimeoutError):
            client.wait_ready(timeout=0.5)
    finally:
        client.close()


def test_plays_timed_to_samples_start_on_them_in_the_output(served, tmp_path):
    server, connect = served
    a = connect()
    a.wait_ready()
    clock = a.clock()
    at = clock["sample"] + int(0.3 * SR) + 37                     # well ahead, in the middle of a block
    a.play("click", at_sample=at)
    a.play("click", at_sample=at + 1000)
    seen = notices_until(a, lambda n: n["event"] == "ended")
    if sum(n["event"] == "ended" for n in seen) < 2:
        seen += notices_until(a, lambda n: n["event"] == "ended")
    time.sleep(0.2)
    server.stop()
    out, rate = soundfile.read(str(tmp_path / "live.wav"), dtype="float32")
    assert rate == SR
    hits = np.flatnonzero(np.abs(out[:, 0]) > 0.5)
    assert list(hits) == [at, at + 1000]
    assert [n["sample"] for n in seen if n["event"] == "started"] == [at, at + 1000]


def test_callbacks_run_in_poll_on_the_callers_thread_in_order(served):
    import threading
    server, connect = served
    a = connect()
    a.wait_ready()
    mine, every = [], []
    a.on_notice = lambda n: every.append((n["id"], n["event"], threading.current_thread()))
    shot = a.play("click", callback=lambda n: mine.append((n["event"], threading.current_thread())))
    other = a.play("click")
    notices_until(a, lambda n: n["event"] == "ended" and n["id"] == other)
    me = threading.current_thread()
    assert mine == [("started", me), ("ended", me)]
    assert [(i, e) for i, e, _ in every if i == shot] == [(shot, "started"), (shot, "ended")]
    assert {t for *_, t in every} == {me} and shot not in a._callbacks      # forgotten once it ended


def test_telemetry_can_be_read_from_another_thread_while_the_game_sends(served):
    import threading
    server, connect = served
    a = connect()
    a.wait_ready()
    frames, errors = [], []

    def hud():
        try:
            while len(frames) < 20:
                frame = a.telemetry(timeout=2.0)
                if frame is not None and frame["type"] == "telemetry":
                    frames.append(frame)
        except Exception as exc:          # noqa: BLE001 - the test reports it
            errors.append(exc)
    reader = threading.Thread(target=hud)
    reader.start()
    while reader.is_alive():
        a.listener((0, 1.8, 0))
        a.play("click")
        a.poll()
        time.sleep(0.005)
    reader.join()
    assert errors == [] and len(frames) == 20
    assert frames[-1]["clock"]["sample"] > frames[0]["clock"]["sample"]


def test_posted_commands_unanswered_when_the_socket_is_rebuilt_are_reported(scene_dir):
    """A server that stops answering (SIGSTOP): a waited call times out and the command socket is
    rebuilt, so the posted plays' replies can never come; each is reported (refused, `expired`, in
    the order posted), none vanishes, and the client goes on once the server answers again."""
    import os
    import signal
    from gamemix.client import spawn
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    scene = scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True}})
    client = spawn(str(scene), output="null", timeout=0.5)
    pid = client.server.process.pid
    try:
        os.kill(pid, signal.SIGSTOP)
        handles = [client.play("tone"), client.play("tone")]
        with pytest.raises(TimeoutError):
            client.ping()
        notices = client.poll()
        assert [(n["id"], n["event"], n["code"], n["kind"]) for n in notices] == \
            [(h, "refused", "expired", "play") for h in handles]
        assert all(client.state(h) is None for h in handles)
        os.kill(pid, signal.SIGCONT)
        client.wait_ready(timeout=10)
        again = client.play("tone")
        notices_until(client, lambda n: n["id"] == again and n["event"] == "started")
    finally:
        os.kill(pid, signal.SIGCONT)
        client.close()


def test_resuming_a_fully_paused_voice_says_resumed_and_not_real(served):
    """A voice whose pause fade has finished is resumed: the game hears of it once, as 'resumed';
    the voice's return to the real voices is part of that, not a separate 'real' (which would say
    it had been virtual)."""
    _, connect = served
    client = connect()
    client.wait_ready()
    tone = client.play("tone")
    seen = notices_until(client, lambda n: n["id"] == tone and n["event"] == "started")
    client.pause(tone, fade=0.0)
    time.sleep(0.3)                                    # the pause fade is over: the voice is paused
    client.resume(tone, fade=0.0)
    seen += notices_until(client, lambda n: n["id"] == tone and n["event"] == "resumed")
    time.sleep(0.3)
    seen += client.poll()
    assert [n["event"] for n in seen if n["id"] == tone] == ["started", "paused", "resumed"]
    assert client.state(tone) == "started"
