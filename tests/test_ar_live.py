"""AR mode live: a private PulseAudio with the server's null sink and a second null sink whose monitor is
the microphone.  A recording of speech is played into the second sink (paplay) while the server plays
music; the server captures the monitor full duplex through PortAudio, and the output recorded from the
first sink's monitor must show the music ducked while the person speaks, and only then.  Also: what the
capture path and the analysis report, and a microphone that cannot open (the mix goes on)."""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import SR, sine, wait_for
from pulse import Capture, pulse_null_sink

ROOT = Path(__file__).resolve().parent.parent
MIC_SINK = "gamemix_mic"
DEPTH = -12.0


@pytest.fixture(scope="module")
def pulse():
    if shutil.which("espeak-ng") is None and not os.environ.get("CI"):
        pytest.skip("espeak-ng is not installed (make test installs it)")
    with pulse_null_sink("gamemix_ar", SR) as daemon:
        subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={MIC_SINK}", f"rate={SR}",
                        "channels=2", "format=float32le"], check=True, capture_output=True, timeout=10)
        yield daemon


@pytest.fixture
def mic_source(pulse):
    """The server's microphone is the second sink's monitor (PortAudio reads PULSE_SOURCE when it opens)."""
    pulse.ensure()
    saved = os.environ.get("PULSE_SOURCE")
    os.environ["PULSE_SOURCE"] = f"{MIC_SINK}.monitor"
    yield MIC_SINK
    os.environ["PULSE_SOURCE"] = saved or f"{pulse.name}.monitor"


def make_mic():
    spec = importlib.util.spec_from_file_location("make_mic", ROOT / "scenes" / "ar" / "make_mic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scene(scene_dir, **mic):
    scene_dir.audio("tone.wav", sine(440.0, 1.0, amp=0.25))
    return scene_dir.scene({"music": {"files": ["tone.wav"], "loop": True, "bus": "music"}},
                           buses={"master": {"limiter": {}}, "mic": {}, "music": {}},
                           extra={"microphone": {"bus": "mic", "hear_through_db": None, "detector": "silero",
                                                 "duck": {"music": {"depth_db": DEPTH, "attack_ms": 40,
                                                                    "hold_ms": 300, "release_ms": 300}},
                                                 **mic}})


def envelope_db(x: np.ndarray, hop: int = SR // 20) -> np.ndarray:
    n = len(x) // hop
    frames = x[:n * hop].reshape(n, hop).astype(np.float64)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def test_speech_in_the_captured_source_ducks_the_music_in_the_output(mic_source, scene_dir, tmp_path, capsys):
    from gamemix.client import Client
    from gamemix.live.server import Server, ServerConfig
    mm = make_mic()
    speech, truth = mm.recording([("room", 9.0, -50.0)], [(1.5, mm.LINES[0]), (5.5, mm.LINES[1])], -18.0)
    soundfile.write(tmp_path / "speech.wav", speech, SR, subtype="FLOAT")
    spoken = sum(u["end"] - u["start"] for u in truth["speech"])
    any_port = "tcp://127.0.0.1:*"
    config = ServerConfig(scene=scene(scene_dir), commands=any_port, streams=any_port, telemetry=any_port,
                          output="device", device="pulse", device_buffer=256)
    with Server(config) as server:
        assert server.mic is not None and server.mic.status == "capturing"
        with Client(server.bound["commands"], server.bound["streams"], server.bound["telemetry"]) as client:
            client.play("music", id=1, wait=True)
            time.sleep(0.5)
            cap = Capture()
            time.sleep(1.5)                                            # the music alone, at its level
            started = time.perf_counter()
            subprocess.run(["paplay", f"--device={MIC_SINK}", str(tmp_path / "speech.wav")], check=True,
                           timeout=60)
            time.sleep(1.5)
            status = client.query()["microphone"]
            frame = server.telemetry()
        cap.close()
    from gamemix.live.telemetry import Telemetry
    Telemetry.model_validate({"v": 1, **frame})                       # the frame its schema describes
    out = cap.audio()[:, 0]
    env = envelope_db(out)
    before = int(cap.frame_at(started) / (SR // 20))
    baseline = float(np.median(env[before - 20:before]))
    ducked = env < baseline + DEPTH / 2                                # at least half the depth down
    stretches = [(a, b) for a, b in runs(ducked) if b - a >= 4]        # 200 ms or more
    context = f"baseline {baseline:.1f} dB, ducked stretches {stretches} (20 per s), start {before}, {status}"
    assert not ducked[:before].any(), context                          # nothing ducks before the person speaks
    assert len(stretches) == 2, context                                # one duck per utterance
    seconds = sum(b - a for a, b in stretches) / 20
    assert spoken * 0.8 <= seconds <= spoken + 2 * 0.6 + 1.0, context  # as long as the speech (+ hold, release)
    assert min(env[a:b].min() for a, b in stretches) <= baseline + DEPTH + 1.5, context   # the full depth
    assert env[-10:].mean() == pytest.approx(baseline, abs=1.0), context                   # and back
    assert status["segments"] == 2 and status["capture"]["delivered"] > 500, status
    assert status["dropped"] == 0
    with capsys.disabled():
        c = status["capture"]
        print(f"\n  live AR: 2 utterances -> {len(stretches)} ducks, {seconds:.2f} s ducked for {spoken:.2f} s "
              f"spoken; capture {c['delivered']} blocks, {c['underruns']} underruns, {c['overruns']} overruns, "
              f"latency {c['latency_ms']:.1f} ms; analysis {status['analysis_us_median']} us/block")


def test_a_microphone_that_cannot_open_is_reported_and_the_mix_goes_on(pulse, scene_dir):
    from gamemix.client import Client
    from gamemix.live.server import Server, ServerConfig
    pulse.ensure()
    any_port = "tcp://127.0.0.1:*"
    config = ServerConfig(scene=scene(scene_dir, device="no-such-microphone"), commands=any_port,
                          streams=any_port, telemetry=any_port, output="device", device="pulse", device_buffer=256)
    with Server(config) as server:
        with Client(server.bound["commands"], server.bound["streams"], server.bound["telemetry"]) as client:
            client.play("music", id=1, wait=True)
            assert wait_for(lambda: server.output_stats().get("blocks", 0) > 100, 5.0)
            status = client.query()["microphone"]
        assert server.threads_alive()["render"]
        assert math.isfinite(server.output_stats()["render_us_median"])
    assert status["status"].startswith("unavailable: no audio device 'no-such-microphone'"), status


def test_a_mic_recording_that_does_not_exist_is_reported_and_the_mix_goes_on(scene_dir, tmp_path):
    from gamemix.client import Client
    from gamemix.live.server import Server, ServerConfig
    any_port = "tcp://127.0.0.1:*"
    config = ServerConfig(scene=scene(scene_dir), commands=any_port, streams=any_port, telemetry=any_port,
                          output="null", mic=tmp_path / "missing.wav")
    with Server(config) as server:
        with Client(server.bound["commands"], server.bound["streams"], server.bound["telemetry"]) as client:
            client.play("music", id=1, wait=True)
            assert wait_for(lambda: server.output_stats().get("blocks", 0) > 50, 5.0)
            status = client.query()["microphone"]
        assert server.threads_alive()["render"] and server.threads_alive()["microphone"]
    assert status["status"] == f"unavailable: mic recording not found: {tmp_path / 'missing.wav'}", status
