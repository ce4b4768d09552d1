"""Sounds from the game (`upload`, FMOD's programmer sounds): audio the game made is played as sent,
resampled when its rate differs, refused with a clear code when it does not fit, kept through a
reload, and carried over real loopback sockets.  Oracles: the samples sent, a tone's frequency,
the sample counts the rates imply."""

import time

import numpy as np
import pytest
import soundfile

from conftest import SR, render_blocks, sine
from gamemix.errors import CommandError, LocatedError
from gamemix.live.client import Client, CommandFailed
from gamemix.live.server import Server, ServerConfig
from gamemix.protocol import messages as m
from gamemix.scene.assets import prepare_upload


def chat_mixer(scene_dir, **upload):
    scene_dir.audio("tone.wav", sine(1000.0, 0.5))
    return scene_dir.mixer({"chat": {"upload": {"max_seconds": 1.0, **upload}, "pan": -1.0},
                            "tone": {"files": ["tone.wav"]}})


def upload(mixer, sound: str, data: np.ndarray, rate: int = SR) -> dict:
    """What the server does: prepare on the network thread, fill on the render thread."""
    channels = 1 if data.ndim == 1 else data.shape[1]
    pcm = data.astype("<f4").tobytes()
    return mixer.fill_upload(sound, prepare_upload(pcm, channels, rate, mixer.sample_rate, mixer.bank.uploads[sound]))


def test_an_uploaded_sound_plays_the_samples_sent(scene_dir):
    mixer = chat_mixer(scene_dir)
    render_blocks(mixer, 2)
    mixer.apply(m.Play(sound="chat", id=1))
    assert np.all(render_blocks(mixer, 2) == 0.0)            # silent before anything was uploaded
    assert 1 not in mixer.instances
    sent = (np.random.default_rng(5).standard_normal(20_000) * 0.1).astype(np.float32)
    assert upload(mixer, "chat", sent) == {"sound": "chat", "frames": 20_000, "seconds": pytest.approx(20_000 / SR)}
    mixer.apply(m.Play(sound="chat", id=2))
    out = render_blocks(mixer, 100)[:, 0]
    np.testing.assert_allclose(out[:20_000], sent, atol=1e-6)
    assert np.all(out[20_000:] == 0.0) and 2 not in mixer.instances


def test_an_upload_at_another_rate_is_resampled_and_a_stereo_one_mixed_down_for_3d(scene_dir):
    mixer = chat_mixer(scene_dir)
    tone16k = sine(1000.0, 0.5, amp=0.5, sr=16000)
    assert upload(mixer, "chat", tone16k, rate=16000)["frames"] == pytest.approx(3 * len(tone16k), abs=2)
    mixer.apply(m.Play(sound="chat", id=1))
    out = render_blocks(mixer, 90)[2000:22000, 0]
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert np.argmax(spectrum) * SR / len(out) == pytest.approx(1000.0, abs=SR / len(out))
    assert np.sqrt(np.mean(out.astype(np.float64) ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    scene_dir.audio("x.wav", sine(100.0, 0.1))
    spatial = scene_dir.mixer({"voice": {"upload": {"max_seconds": 1.0}, "spatial": {}}})
    both = np.stack([np.full(1000, 0.2), np.full(1000, 0.4)], axis=1)
    assert upload(spatial, "voice", both)["frames"] == 1000
    lane = spatial.bank.uploads["voice"].lanes[0]
    off = spatial.bank.lane_offset[lane]
    np.testing.assert_allclose(spatial.bank.pool[off:off + 1000], 0.3, atol=1e-7)   # the mean of the two


@pytest.mark.parametrize("case, code", [("too_long", "bad_upload"), ("busy", "sound_busy"),
                                        ("not_declared", "not_uploadable")])
def test_an_upload_that_does_not_fit_is_refused_and_the_old_one_stays(scene_dir, case, code):
    mixer = chat_mixer(scene_dir)
    first = np.full(4800, 0.25, dtype=np.float32)
    upload(mixer, "chat", first)
    with pytest.raises((CommandError, ValueError)) as info:
        if case == "too_long":
            try:
                upload(mixer, "chat", np.zeros(SR + 1, dtype=np.float32))
            except ValueError as exc:
                raise CommandError("bad_upload", str(exc)) from None
        elif case == "busy":
            mixer.apply(m.Play(sound="chat", id=1))
            upload(mixer, "chat", np.zeros(10, dtype=np.float32))
        else:
            mixer.fill_upload("tone", np.zeros((10, 1), dtype=np.float32))
    assert info.value.code == code
    if case == "too_long":
        assert "upload.max_seconds" in info.value.message
    if 1 in mixer.instances:
        mixer.apply(m.Stop(id=1))
    render_blocks(mixer, 4)
    mixer.apply(m.Play(sound="chat", id=2))
    out = render_blocks(mixer, 30)[:, 0]
    np.testing.assert_allclose(out[:4800], first, atol=1e-6)        # what was there plays


@pytest.mark.parametrize("sound, where, says", [
    ({"pan": 0.5}, "sounds.chat", "needs `files` (at least one) or `upload`"),
    ({"files": ["a.wav"], "upload": {}}, "sounds.chat.upload", "not both"),
    ({"upload": {"channels": 2}, "spatial": {}}, "sounds.chat.upload.channels", "a 3D sound is mono"),
    ({"upload": {"max_seconds": 0}}, "sounds.chat.upload.max_seconds", "greater than 0"),
])
def test_an_upload_declaration_is_checked_with_a_located_error(scene_dir, sound, where, says):
    scene_dir.audio("a.wav", sine(100.0, 0.1))
    with pytest.raises(LocatedError) as info:
        scene_dir.mixer({"chat": sound})
    assert where in str(info.value) and says in str(info.value) and "scene.yaml:" in str(info.value)


def test_a_reload_keeps_what_the_game_uploaded(scene_dir):
    mixer = chat_mixer(scene_dir)
    sent = np.linspace(-0.5, 0.5, 3000, dtype=np.float32)
    upload(mixer, "chat", sent)
    edited = chat_mixer(scene_dir)
    edited.adopt(mixer)
    edited.apply(m.Play(sound="chat", id=1))
    out = render_blocks(edited, 20)[:, 0]
    np.testing.assert_allclose(out[:3000], sent, atol=1e-6)


def test_upload_over_the_wire_then_play_it(scene_dir, tmp_path):
    scene_dir.audio("tone.wav", sine(1000.0, 0.5))
    scene = scene_dir.scene({"chat": {"upload": {"max_seconds": 2.0}, "pan": -1.0}, "tone": {"files": ["tone.wav"]}})
    server = Server(ServerConfig(scene=scene, commands="tcp://127.0.0.1:*", streams="tcp://127.0.0.1:*",
                                 telemetry="tcp://127.0.0.1:*", output=str(tmp_path / "live.wav"))).start()
    try:
        with Client(*server.bound.values(), timeout=3.0) as client:
            client.wait_ready()
            marker = np.zeros(9600, dtype=np.float32)
            marker[::960] = 0.9                                      # ten clicks, 20 ms apart
            assert client.upload_sound("chat", marker)["frames"] == 9600
            for bad, code in ((dict(sound="tone"), "not_uploadable"), (dict(pcm=b"\x00" * 6), "bad_upload"),
                              (dict(pcm=b"\x00" * (4 * 2 * SR + 4)), "bad_upload")):
                with pytest.raises(CommandFailed) as info:
                    client.request(m.UploadSound(**{"sound": "chat", "pcm": b"\x00" * 8, **bad}))
                assert info.value.code == code
            start = client.clock()["sample"] + SR // 5
            client.play("chat", at_sample=start)
            time.sleep(0.6)
        server.stop()
    finally:
        if server.running:
            server.stop()
    out, _ = soundfile.read(str(tmp_path / "live.wav"), dtype="float32")
    assert list(np.flatnonzero(out[:, 0] > 0.5)) == [start + 960 * k for k in range(10)]
