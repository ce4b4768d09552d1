"""`gamemix top`: the live terminal view, driven headless against a real server.

A real `gamemix serve` (spawned on free loopback ports, null output) plays a
tone on one bus and a quieter one on another; the view, printed into rich's
recording console, must show every bus with its meter, the louder bus with
the longer bar, and the server's voices and snapshot.
"""

from __future__ import annotations

import re
import socket
import time

import pytest
from rich.console import Console

from conftest import SceneDir, sine
from gamemix.cli import main
from gamemix.client import spawn
from gamemix.live import top


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = SceneDir(tmp_path_factory.mktemp("top"))
    d.audio("loud.wav", sine(1000.0, 1.0, amp=0.5))
    d.audio("soft.wav", sine(500.0, 1.0, amp=0.02))
    scene = d.scene({"loud": {"files": ["loud.wav"], "loop": True, "bus": "sfx"},
                     "soft": {"files": ["soft.wav"], "loop": True, "bus": "music"}},
                    buses={"master": {}, "sfx": {}, "music": {}},
                    extra={"snapshots": {"calm": {"fade_in": 0.0, "buses": {"music": {"volume_db": 0}}}}})
    mix = spawn(str(scene), output="null", args=("--no-realtime", "--telemetry-hz", "20"), timeout=5.0)
    try:
        mix.play("loud")
        mix.play("soft")
        mix.snapshot_start("calm", wait=True)
        time.sleep(0.6)                           # past the 400 ms momentary window
        yield mix
    finally:
        mix.close()


def row(text: str, bus: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(bus + " "))


def test_top_shows_every_bus_with_its_meter_and_the_servers_state(server):
    console = Console(record=True, width=120, force_terminal=False)
    assert top.run(server, console, frames=3, timeout=5.0) == 0
    text = console.export_text()
    assert text.count("gamemix top") == 3                                    # three frames shown
    last = text[text.rindex("gamemix top"):]
    for bus in ("master", "sfx", "music"):
        assert re.search(rf"^{bus}\s+[█·]+\s+-?\d+\.\d", last, re.M), (bus, last)
    loud, soft = row(last, "sfx").count("█"), row(last, "music").count("█")
    assert loud > soft > 0                                                  # -9 LUFS-ish over -37
    assert "voices 2 real / 0 virtual" in last and "calm 100 %" in last and "xruns" in last


def test_top_once_from_the_command_line(server, capsys):
    assert main(["top", "--telemetry", server.endpoints[2], "--once", "--timeout", "5"]) == 0
    out = capsys.readouterr().out
    assert out.count("gamemix top") == 1 and server.endpoints[2] in out and "master" in out


def test_top_without_a_server_says_so_and_fails():
    with socket.socket() as s:                       # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    console = Console(record=True, width=100)
    assert top.main(f"tcp://127.0.0.1:{port}", 1, 0.5, console) == 1
    assert "no telemetry" in console.export_text()


def test_meter_bar_spans_the_floor_to_the_top():
    assert top.meter_bar(None).plain == "·" * top.METER_WIDTH
    assert top.meter_bar(-60.0).plain.count("█") == 0
    assert top.meter_bar(-30.0).plain.count("█") == top.METER_WIDTH // 2
    assert top.meter_bar(3.0).plain.count("█") == top.METER_WIDTH
