"""Real audio through PortAudio into a PulseAudio null sink, captured back from its monitor."""

import math
import time

import numpy as np
import pytest

from conftest import sine
from gamemix.io.null import NullOutput
from gamemix.io.portaudio import AudioOutput, DeviceError
from gamemix.io.ring import BlockRing
from pulse import Capture, pulse_null_sink, unbroken

SR, BLOCK = 48000, 256
DEVICE_BUFFER = 256


@pytest.fixture(scope="module")
def pulse_daemon():
    with pulse_null_sink("gamemix_test", SR) as daemon:
        yield daemon


@pytest.fixture
def sink(pulse_daemon):
    """The null sink's name, with its daemon alive (restarted, and said so, if it died)."""
    pulse_daemon.ensure()
    return pulse_daemon.name


def level_db(x):
    return 20 * math.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) * math.sqrt(2))


def peak_hz(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 1 << 18))
    return np.argmax(spectrum) * SR / (1 << 18)


def test_ring_wraps_and_reports_empty():
    ring = BlockRing(3, 4, 2)
    assert ring.read_slot() is None and ring.free() == 3
    for k in range(7):
        if ring.free() == 0:
            slot = ring.read_slot()
            assert slot[0, 0] == ring.read          # blocks come out in order
            ring.release()
        ring.write_slot()[:] = k
        ring.commit()
    assert ring.fill_level() == 3 and ring.read_slot()[0, 0] == 4


def test_the_gap_finder_sees_a_dropout_a_skipped_chunk_and_silence():
    """The instrument the device tests rely on: an unbroken sine passes, and each kind of gap a
    late block leaves in a capture is found."""
    tone = np.stack([sine(1000.0, 1.0, amp=0.25)] * 2, axis=1)
    assert unbroken(tone, 1000.0, SR // 2) == 0
    dropout = tone.copy()
    dropout[SR // 4: SR // 4 + BLOCK] = 0.0                     # a block of silence in the middle
    assert SR // 4 + BLOCK <= unbroken(dropout, 1000.0, SR // 2) <= SR // 4 + BLOCK + 48   # within a period after
    skipped = np.concatenate([tone[: SR // 3], tone[SR // 3 + 100:]])           # 100 frames lost
    start = unbroken(skipped, 1000.0, SR // 2)
    assert start is not None and SR // 3 - 1 <= start <= SR // 3 + 48
    assert unbroken(np.zeros((SR, 2), np.float32), 1000.0, SR // 2) is None
    assert unbroken(tone, 1000.0, SR + 1) is None


def test_null_output_keeps_real_time_pace():
    count = []
    out = NullOutput(lambda block: count.append(1), channels=2, sample_rate=SR, block_size=BLOCK)
    out.start()
    time.sleep(0.5)
    out.stop()
    assert len(count) == pytest.approx(0.5 * SR / BLOCK, rel=0.1)


def test_unknown_device_is_a_clear_error(sink):
    with pytest.raises(DeviceError, match="no audio device 'no-such-card'.*--output null"):
        AudioOutput(lambda b: None, 2, SR, BLOCK, device="no-such-card")


def test_sine_comes_back_at_its_frequency_level_and_channel(sink):
    import pyaudio
    left, right = sine(1000.0, 2.0, amp=10 ** (-12 / 20)), sine(1000.0, 2.0, amp=10 ** (-18 / 20))
    pos = [0]

    def render(block):
        n = len(block)
        k = pos[0] % (len(left) - n)
        block[:, 0] = left[k:k + n]
        block[:, 1] = right[k:k + n]
        pos[0] += n

    out = AudioOutput(render, 2, SR, BLOCK, device="pulse", device_buffer=DEVICE_BUFFER)
    out.start()
    time.sleep(0.3)                  # the sink wakes up once something plays; record after that
    cap = Capture()
    time.sleep(1.5)
    stats = out.stats()
    out.stop()
    cap.close()
    audio = cap.audio()
    start = unbroken(audio, 1000.0, SR // 2)
    context = f"output stats {stats}, captured {len(audio) / SR:.2f} s"
    assert start is not None, "no half second of the sine came back without a gap; " + context
    body = audio[start: start + SR // 2]
    assert peak_hz(body[:, 0]) == pytest.approx(1000.0, abs=1.0), context
    assert level_db(body[:, 0]) == pytest.approx(-12.0, abs=0.1), context
    assert level_db(body[:, 1]) == pytest.approx(-18.0, abs=0.1), context
    # a steady stream has no xrun of its own; a loaded 2-core CI machine can still preempt the
    # callback once (seen once in a clean-clone CI run, with the heard sine intact), so one is
    # allowed, and a second means the stream is not keeping up
    assert stats["xruns"] <= 1 and stats["blocks"] > 200, context


@pytest.mark.parametrize("ahead", [0, 2])
def test_a_late_block_is_counted_as_an_xrun(sink, ahead):
    """A render that overruns the device's buffer (here one 60 ms stall, more than the ~16 ms
    the device holds) must show up in the xrun count, and only it."""
    blocks = [0]

    def render(block):
        blocks[0] += 1
        block[:] = 0.0
        if blocks[0] == 150:
            time.sleep(0.06)

    out = AudioOutput(render, 2, SR, BLOCK, device="pulse", ahead=ahead, device_buffer=DEVICE_BUFFER)
    out.start()
    time.sleep(0.5)
    before = out.stats()["xruns"]
    time.sleep(1.2)
    stats = out.stats()
    out.stop()
    assert before == 0
    assert 1 <= stats["xruns"] <= 12
    assert stats["ring_empty"] + stats["underflows"] == stats["xruns"]


def test_sound_posted_over_the_socket_arrives_with_its_pitch_level_and_pan(sink, scene_dir, capsys):
    import pyaudio
    from gamemix.client import Client
    from gamemix.live.server import Server, ServerConfig
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    scene = scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True, "spatial": {"max_distance": 100}}})
    any_port = "tcp://127.0.0.1:*"
    config = ServerConfig(scene=scene, commands=any_port, streams=any_port, telemetry=any_port,
                          output="device", device="pulse", device_buffer=DEVICE_BUFFER)
    with Server(config) as server:
        time.sleep(0.3)              # the server plays silence: the sink is awake before we record
        cap = Capture()
        with Client(server.bound["commands"], server.bound["streams"], server.bound["telemetry"]) as client:
            time.sleep(0.5)
            posted = time.perf_counter()
            client.play("tone", id=1, position=(1.0, 0.0, 0.0), wait=True)       # hard right, 1 m: gain 1
            time.sleep(1.0)
            stats = server._output.stats()
        cap.close()
    audio = cap.audio()
    onset = int(np.flatnonzero(np.abs(audio[:, 1]) > 0.05)[0])
    delay_ms = (cap.time_of(onset) - posted) * 1e3
    context = f"delay {delay_ms:.1f} ms, output stats {stats}, captured {len(audio) / SR:.2f} s"
    start = unbroken(audio[onset + SR // 10:, 1], 1000.0, SR // 2)        # a stretch no stray xrun broke
    assert start is not None, "no half second of the tone came back without a gap; " + context
    body = audio[onset + SR // 10 + start:][: SR // 2]
    assert peak_hz(body[:, 1]) == pytest.approx(1000.0, abs=1.0), context
    assert level_db(body[:, 1]) == pytest.approx(20 * math.log10(0.5), abs=0.1), context
    assert level_db(body[:, 0]) < -60, context                      # panned hard right
    assert 0 < delay_ms < 1000, context
    with capsys.disabled():
        print(f"\n  post-to-sound delay through the socket, server, PortAudio and PulseAudio: {delay_ms:.1f} ms "
              f"(ring {stats['latency_ms']:.1f} ms incl. device latency; xruns {stats['xruns']})")
