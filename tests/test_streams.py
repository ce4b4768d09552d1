"""Streamed sounds (`stream: true`): a 10-minute file plays sample for sample as on disk, with
memory that does not grow with the file, seeks land where asked, the end is exact, loops are
seamless, and the live server streams it with no underrun (its xruns are measured in
benchmarks/bench_streaming.py, not here: no timings in tests).  Oracle: the file's own
samples as soundfile reads them."""

import time
import tracemalloc

import numpy as np
import pytest
import soundfile

from conftest import BLOCK, SR, SceneDir, render_blocks
from gamemix.control.mixer import Mixer
from gamemix.protocol import messages as m
from gamemix.scene.assets import RING_FRAMES
from gamemix.scene.load import load_scene

TEN_MINUTES = 10 * 60 * SR


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    """A 10-minute 16-bit mono file of noise (every sample different from its neighbours)."""
    root = tmp_path_factory.mktemp("stream")
    data = (np.random.default_rng(11).integers(-20000, 20000, TEN_MINUTES)).astype(np.int16)
    soundfile.write(str(root / "long.wav"), data, SR, subtype="PCM_16")
    return SceneDir(root), soundfile.read(str(root / "long.wav"), dtype="float32")[0]


def stream_mixer(d: SceneDir, **sound) -> Mixer:
    return Mixer(load_scene(d.scene({"music": {"files": ["long.wav"], "stream": True, "pan": -1.0, **sound}})))


def test_a_ten_minute_stream_plays_as_on_disk_in_bounded_memory(long_file):
    d, source = long_file
    mixer = stream_mixer(d)
    assert mixer.bank.pool.nbytes < 4 * 2 ** 20                  # rings and head, not 115 MB of samples
    mixer.apply(m.Play(sound="music", id=1))
    nblocks = 20 * SR // BLOCK                                   # 20 s, past several turns of the ring
    out = np.zeros((nblocks * BLOCK, mixer.channels), dtype=np.float32)
    block = np.zeros((BLOCK, mixer.channels), dtype=np.float32)
    tracemalloc.start()
    for b in range(nblocks):
        mixer.render(block)
        out[b * BLOCK:(b + 1) * BLOCK] = block
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(out[:, 0], source[:len(out)])
    assert peak < 4 * 2 ** 20 and mixer.streams.underruns == 0     # decoded chunks in flight, bounded


def test_a_seek_near_the_end_lands_there_and_the_end_is_exact(long_file):
    d, source = long_file
    mixer = stream_mixer(d)
    mixer.apply(m.Play(sound="music", id=1))
    render_blocks(mixer, 10)
    target = TEN_MINUTES - 3 * SR + 123                          # 3 s before the end
    mixer.apply(m.Seek(id=1, seconds=target / SR))
    assert mixer.instances.info(1)["length_s"] == pytest.approx(600.0)
    out = render_blocks(mixer, 4 * SR // BLOCK)[:, 0]
    # one block fades out where it was; from the next it plays from the target (fading in over a block)
    got = out[2 * BLOCK:]
    np.testing.assert_array_equal(got[:3 * SR - 123 - BLOCK], source[target + BLOCK:])
    assert np.all(got[3 * SR - 123 - BLOCK:] == 0.0) and 1 not in mixer.instances    # ended at the end


def test_a_streamed_loop_is_seamless_and_counts_its_passes(tmp_path):
    d = SceneDir(tmp_path)
    n = RING_FRAMES + 10_000                                     # longer than a ring: it really streams
    src = (np.random.default_rng(3).standard_normal(n) * 0.1).astype(np.float32)
    d.audio("loop.wav", src)
    mixer = Mixer(load_scene(d.scene({"amb": {"files": ["loop.wav"], "stream": True, "pan": -1.0}})))
    mixer.apply(m.Play(sound="amb", id=1, loops=2))            # three passes
    out = render_blocks(mixer, (3 * n) // BLOCK + 20)[:, 0]
    np.testing.assert_array_equal(out[:3 * n], np.tile(src, 3))
    assert np.all(out[3 * n:] == 0.0) and 1 not in mixer.instances


def test_a_reload_keeps_a_streamed_voice_where_it_was(long_file):
    d, source = long_file
    mixer = stream_mixer(d)
    mixer.apply(m.Play(sound="music", id=1))
    first = render_blocks(mixer, 400)[:, 0]                      # 2.1 s
    edited = stream_mixer(d, volume_db=0.0)
    edited.adopt(mixer)
    edited.block_index = mixer.block_index
    after = render_blocks(edited, 100)[:, 0]
    at = len(first)
    np.testing.assert_array_equal(after, source[at:at + len(after)])       # on from the very next sample


def test_the_live_server_streams_without_underruns(long_file, tmp_path):
    from gamemix.live.client import Client
    from gamemix.live.server import Server, ServerConfig
    d, source = long_file
    scene = d.scene({"music": {"files": ["long.wav"], "stream": True, "pan": -1.0}})
    server = Server(ServerConfig(scene=scene, commands="tcp://127.0.0.1:*", streams="tcp://127.0.0.1:*",
                                 telemetry="tcp://127.0.0.1:*", output=str(tmp_path / "live.wav"))).start()
    try:
        with Client(*server.bound.values(), timeout=3.0) as client:
            client.wait_ready()
            start = client.clock()["sample"] + SR // 10
            client.play("music", at_sample=start)
            time.sleep(4.0)                                       # more than a ring: the feeder thread keeps up
            assert server.mixer.streams.underruns == 0 and all(server.threads_alive().values())
        server.stop()
    finally:
        if server.running:
            server.stop()
    out, _ = soundfile.read(str(tmp_path / "live.wav"), dtype="float32")
    heard = out[start:, 0]
    np.testing.assert_array_equal(heard, source[:len(heard)])
