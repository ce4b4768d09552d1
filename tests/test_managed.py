"""`gamemix.client.spawn`: a server the game starts, on free ports, ready when it returns, stopped
with the game however the game ends.  Real child processes and real loopback sockets."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile

from conftest import sine, wait_for
from gamemix.client import ServerFailed, spawn


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                                        # a zombie of ours is gone for our purpose
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def wait_gone(pid: int, timeout: float) -> bool:
    return wait_for(lambda: not alive(pid), timeout)


@pytest.fixture
def scene(scene_dir):
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    return scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True}})


def test_spawn_starts_a_ready_server_that_plays_and_stops_with_the_client(scene, tmp_path):
    out = tmp_path / "live.wav"
    mix = spawn(str(scene), output=str(out), args=("--no-realtime",), timeout=5.0)
    pid = mix.server.process.pid
    try:
        assert mix.session is not None and all(e.startswith("tcp://127.0.0.1:") for e in mix.server.endpoints.values())
        tone = mix.play("tone")
        end = time.monotonic() + 5
        seen = []
        while time.monotonic() < end and not any(n["event"] == "started" for n in seen):
            seen += mix.poll()
            time.sleep(0.01)
        assert [n["event"] for n in seen if n["id"] == tone][:1] == ["started"]
        time.sleep(0.3)
    finally:
        mix.close()
    assert mix.server.process.returncode == 0 and not alive(pid)
    audio, _ = soundfile.read(str(out), dtype="float32")
    assert np.max(np.abs(audio)) > 0.1                           # it played


def test_a_server_whose_game_was_killed_stops_by_itself(scene, tmp_path):
    game = textwrap.dedent(f"""
        import os, sys
        from gamemix.client import spawn
        mix = spawn({str(scene)!r}, output="null", args=("--no-realtime",))
        print(mix.server.process.pid, flush=True)
        os.kill(os.getpid(), 9)
    """)
    proc = subprocess.run([sys.executable, "-c", game], capture_output=True, text=True, timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    server_pid = int(proc.stdout.split()[0])
    assert wait_gone(server_pid, 10.0)


def test_a_scene_that_does_not_load_is_a_clear_error_quoting_the_servers_log(scene_dir):
    bad = scene_dir.scene({"tone": {"files": ["missing.wav"]}})
    with pytest.raises(ServerFailed) as info:
        spawn(str(bad), output="null", ready_timeout=60)
    assert "missing.wav" in str(info.value) and "exited with code" in str(info.value)
