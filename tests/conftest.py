"""Shared helpers: build real scene folders (YAML + audio files) and render them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

from gamemix.control.mixer import Mixer
from gamemix.scene.load import load_scene

SR = 48000
BLOCK = 256


def sine(freq: float, seconds: float, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    """A float32 sine with an integer number of samples."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


class SceneDir:
    """A scene folder on disk: write audio files and a scene.yaml, then load it."""

    def __init__(self, root: Path):
        self.root = root

    def audio(self, name: str, data: np.ndarray, sr: int = SR, subtype: str = "FLOAT") -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), data, sr, subtype=subtype)
        return name

    def scene(self, sounds: dict, buses: dict | None = None, extra: dict | None = None, **output) -> Path:
        doc = {"version": 1, "output": {"sample_rate": SR, "block_size": BLOCK, **output},
               "buses": buses or {"master": {}}, "sounds": sounds, **(extra or {})}
        path = self.root / "scene.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def mixer(self, sounds: dict, buses: dict | None = None, seed: int = 0, extra: dict | None = None,
              **output) -> Mixer:
        return Mixer(load_scene(self.scene(sounds, buses, extra, **output)), seed=seed)


@pytest.fixture
def scene_dir(tmp_path) -> SceneDir:
    return SceneDir(tmp_path)


def render_blocks(mixer: Mixer, nblocks: int) -> np.ndarray:
    """Render nblocks and return them as one (frames, channels) array."""
    out = np.zeros((nblocks * mixer.block_size, mixer.channels), dtype=np.float32)
    block = np.zeros((mixer.block_size, mixer.channels), dtype=np.float32)
    for b in range(nblocks):
        mixer.render(block)
        out[b * mixer.block_size:(b + 1) * mixer.block_size] = block
    return out


def wait_for(predicate, timeout: float = 3.0) -> bool:
    """Poll `predicate` every 10 ms until it holds (True) or `timeout` s pass (False)."""
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def db(x: float) -> float:
    return 20 * np.log10(x)


def level_db(x) -> float:
    """dB of a (non-negative) amplitude, -inf for 0."""
    return 20 * np.log10(x) if x > 0 else -np.inf
