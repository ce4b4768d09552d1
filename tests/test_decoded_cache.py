"""The decoded-audio cache (scene/decoded_cache.py): a load that reads it gives the very pool a decode
gives, an edited or damaged entry is never read, plain WAVs are not cached, and the folder stays small.

The oracle for every bank here is a load with the cache off (GAMEMIX_DECODED_CACHE=off), and for the
audio itself the signal written to the file."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile

from conftest import sine
from gamemix.scene import decoded_cache
from gamemix.scene.assets import MAX_SAMPLE, build_bank
from gamemix.scene.load import load_scene


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GAMEMIX_DECODED_CACHE", str(folder))
    return folder


def entries(folder):
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


def uncached_bank(scene, monkeypatch):
    with monkeypatch.context() as m:
        m.setenv("GAMEMIX_DECODED_CACHE", "off")
        return build_bank(scene)


def lane(bank, sound, k=0):
    v = bank.variants[sound][0]
    off = bank.lane_offset[v.lanes[k]]
    return bank.pool[off:off + v.frames]


def mixed_scene(scene_dir):
    """An OGG (stereo, 2D), a FLAC at 44.1 kHz (mono-mixed for 3D) and a float WAV at 22.05 kHz with
    samples beyond MAX_SAMPLE: every kind of file the cache keeps (the FLAC twice: mixed down and not)."""
    left, right = sine(440.0, 0.6, 0.4), sine(660.0, 0.6, 0.3)
    soundfile.write(str(scene_dir.root / "music.ogg"), np.stack([left, right], 1), 48000, format="OGG",
                    subtype="VORBIS")
    soundfile.write(str(scene_dir.root / "rain.flac"), np.stack([sine(300.0, 1.5, 0.5, 44100)] * 2, 1), 44100,
                    format="FLAC", subtype="PCM_24")
    hot = sine(200.0, 0.5, 0.5, 22050)
    hot[1000:1010] = 9.0                                     # ten samples beyond +12 dBFS: clamped, warned
    soundfile.write(str(scene_dir.root / "hot.wav"), hot, 22050, subtype="FLOAT")
    return load_scene(scene_dir.scene({"music": {"files": ["music.ogg"]},
                                       "rain": {"files": ["rain.flac"], "spatial": {}},
                                       "rain_2d": {"files": ["rain.flac"]},    # the same file, not mixed down
                                       "hot": {"files": ["hot.wav"]}}))


def test_a_load_from_the_cache_is_the_decode_bit_for_bit(scene_dir, cache, monkeypatch):
    scene = mixed_scene(scene_dir)
    reference = uncached_bank(scene, monkeypatch)
    assert entries(cache) == []
    first = build_bank(scene)                    # decodes and fills the cache
    assert len(entries(cache)) == 4              # one entry per file and mixdown
    again = build_bank(scene)                    # reads it back
    for bank in (first, again):
        assert np.array_equal(bank.pool, reference.pool)
        assert np.array_equal(bank.lane_offset, reference.lane_offset)
        assert np.array_equal(bank.lane_length, reference.lane_length)
        assert [str(w) for w in bank.warnings] == [str(w) for w in reference.warnings]
    assert "samples beyond" in str(again.warnings[0])      # the clamping, counted at the output rate
    assert np.abs(lane(again, "hot")).max() == MAX_SAMPLE


def test_a_hit_reads_the_cache_and_does_not_decode(scene_dir, cache, monkeypatch):
    scene = mixed_scene(scene_dir)
    build_bank(scene)
    from gamemix.scene import assets

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the cache holds the file")
    monkeypatch.setattr(assets, "_decode", no_decoding)
    build_bank(scene)


def test_an_edited_file_is_decoded_again(scene_dir, cache):
    tone = sine(1000.0, 0.5, 0.5, 44100)
    soundfile.write(str(scene_dir.root / "t.flac"), tone, 44100, format="FLAC", subtype="PCM_24")
    scene = load_scene(scene_dir.scene({"t": {"files": ["t.flac"]}}))
    before = lane(build_bank(scene), "t").copy()
    soundfile.write(str(scene_dir.root / "t.flac"), tone * 0.25, 44100, format="FLAC", subtype="PCM_24")
    after = lane(build_bank(scene), "t")
    assert len(entries(cache)) == 2
    level = np.sqrt(np.mean(after[2000:-2000] ** 2)) / np.sqrt(np.mean(before[2000:-2000] ** 2))
    assert level == pytest.approx(0.25, rel=1e-3)           # the new file's audio, not the old entry's


def relaned(data: bytes) -> bytes:
    """An entry whose header claims other lanes (1 <-> 2), its size consistent with the claim: whole,
    but not what the file decodes to."""
    magic, frames, lanes, clamped = decoded_cache.HEADER.unpack(data[:decoded_cache.HEADER.size])
    other = 2 if lanes == 1 else 1
    frames = frames * lanes // other
    body = data[decoded_cache.HEADER.size:decoded_cache.HEADER.size + frames * other * 4]
    return decoded_cache.HEADER.pack(magic, frames, other, clamped) + body


def header_lanes(path) -> int:
    return decoded_cache.HEADER.unpack(path.read_bytes()[:decoded_cache.HEADER.size])[2]


@pytest.mark.parametrize("damage", ["truncate", "foreign", "empty", "relaned"])
def test_a_damaged_entry_is_a_miss_and_is_replaced(scene_dir, cache, monkeypatch, damage):
    scene = mixed_scene(scene_dir)
    reference = uncached_bank(scene, monkeypatch)
    build_bank(scene)
    lanes = {p.name: header_lanes(p) for p in entries(cache)}
    for path in entries(cache):
        data = path.read_bytes()
        path.write_bytes({"truncate": data[:len(data) // 2], "foreign": b"RIFF" + data[4:], "empty": b"",
                          "relaned": relaned(data)}[damage])
    bank = build_bank(scene)
    assert np.array_equal(bank.pool, reference.pool)
    assert np.array_equal(build_bank(scene).pool, reference.pool)     # rewritten whole, and read
    assert all(decoded_cache.read(p.name, lambda *a: None, 4096, lanes[p.name], None) is not None
               for p in entries(cache))


def test_an_entry_longer_than_the_limit_is_a_miss(scene_dir, cache):
    tone = sine(1000.0, 0.5, 0.5, 44100)
    soundfile.write(str(scene_dir.root / "t.flac"), tone, 44100, format="FLAC", subtype="PCM_24")
    build_bank(load_scene(scene_dir.scene({"t": {"files": ["t.flac"]}})))
    [entry] = entries(cache)
    frames = decoded_cache.HEADER.unpack(entry.read_bytes()[:decoded_cache.HEADER.size])[1]
    assert decoded_cache.read(entry.name, lambda *a: None, 4096, 1, frames) is not None
    assert decoded_cache.read(entry.name, lambda *a: None, 4096, 1, frames - 1) is None


def test_plain_wavs_at_the_output_rate_are_not_cached(scene_dir, cache):
    scene_dir.audio("a.wav", sine(500.0, 0.3), subtype="PCM_16")
    scene_dir.audio("b.wav", sine(700.0, 0.3), subtype="FLOAT")
    build_bank(load_scene(scene_dir.scene({"a": {"files": ["a.wav"]}, "b": {"files": ["b.wav"]}})))
    assert entries(cache) == []


def test_off_and_an_unwritable_folder_still_load(scene_dir, tmp_path, monkeypatch):
    scene = mixed_scene(scene_dir)
    monkeypatch.setenv("GAMEMIX_DECODED_CACHE", "off")
    reference = build_bank(scene)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("GAMEMIX_DECODED_CACHE", str(blocked))
    assert np.array_equal(build_bank(scene).pool, reference.pool)


def test_the_default_folder_is_beside_the_kernels(monkeypatch, tmp_path):
    monkeypatch.delenv("GAMEMIX_DECODED_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert decoded_cache.folder() == tmp_path / "gamemix" / "decoded"


def test_trim_drops_the_least_recently_used_first(cache):
    cache.mkdir()
    for i, name in enumerate(["old", "mid", "new"]):
        (cache / name).write_bytes(b"x" * 1000)
        os.utime(cache / name, (1000.0 + i, 1000.0 + i))
    (cache / ".part-dead").write_bytes(b"x")
    os.utime(cache / ".part-dead", (1.0, 1.0))
    decoded_cache.trim(2000)
    assert sorted(p.name for p in cache.iterdir()) == ["mid", "new"]
