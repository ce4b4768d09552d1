"""The demo game, headless, against a real server on loopback: what it sent, what was heard, what the HUD shows.

One session of the bot (SDL's dummy video driver, the server spawned by
the game through `gamemix.client.spawn`, the mix written to a WAV file) is
run once for the module; the tests read its recording, its WAV, an offline
re-render of the recording with stems, and its screenshot.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pygame
import pyloudnorm
import pytest
import soundfile as sf
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from demo_game import hud  # noqa: E402

SECONDS = 13.0


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    env.pop("DISPLAY", None)
    done = subprocess.run([sys.executable, "-m", "demo_game", "--headless", "--seconds", str(SECONDS),
                           "--out-dir", str(out), "--screenshot", str(out / "shot.png"), "--connect", "spawn"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    script = yaml.safe_load((out / "demo.record.yaml").read_text())
    return out, done.stdout, script["messages"]


def test_recording_holds_the_story(session):
    """The events the route triggers in its first seconds were applied by the mixer, in order."""
    _, _, messages = session
    events = [m["name"] for m in messages if m["type"] == "event"]
    assert events[0] == "game_start"
    for name in ("npc_talk", "pause_menu", "resume"):
        assert name in events, events
    assert events.index("pause_menu") < events.index("resume")
    kinds = {m["type"] for m in messages}
    assert {"play", "event", "listener", "emitters", "set_parameter"} <= kinds
    footsteps = [m for m in messages if m["type"] == "play" and m["sound"] == "footstep"]
    assert len(footsteps) >= 5                           # the bot walked to the villager
    batches = [m for m in messages if m["type"] == "emitters"]
    assert len(batches) > 5 * SECONDS                    # one batch a frame (some merged by the server)


def test_mix_is_heard(session):
    """The live WAV holds the session at a sensible level (pyloudnorm, BS.1770-4)."""
    out, stdout, _ = session
    audio, rate = sf.read(out / "demo.wav")
    assert audio.shape[1] == 2 and len(audio) / rate > SECONDS - 2
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-3
    loudness = pyloudnorm.Meter(rate).integrated_loudness(audio)
    assert -35 < loudness < -15, loudness
    report = json.loads((out / "demo.json").read_text())
    assert report["buses"]["dialogue"]["integrated_lufs"] is not None          # the villager was heard
    assert report["refusals"] == [] and report["voices"]["notices"].get("refused", 0) == 0   # a game without mistakes
    assert "integrated" in stdout and "voices:" in stdout


def _cart_track(messages):
    """(block, cart x - listener x) from the recording: where the game put the cart, per block."""
    cart = next(m["id"] for m in messages if m["type"] == "play" and m["sound"] == "cart")
    listener_x, track = None, []
    for m in messages:
        if m["type"] == "listener":
            listener_x = m["position"][0]
        elif m["type"] == "emitters" and cart in m["ids"] and listener_x is not None:
            track.append((m["block"], m["positions"][m["ids"].index(cart)][0] - listener_x))
    return track


def test_cart_pans_left_to_right(session, tmp_path):
    """Rendered again offline from the recording, the cart's bus is on the left while the game had the
    cart left of the player and on the right once it had passed."""
    out, _, messages = session
    stems = tmp_path / "stems"
    done = subprocess.run([sys.executable, "-m", "gamemix", "render", str(ROOT / "demo_game/scene/scene.yaml"),
                           "--script", str(out / "demo.record.yaml"), "--out", str(tmp_path / "mix.wav"),
                           "--stems", str(stems)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cart, rate = sf.read(stems / "vehicles.wav")
    track = _cart_track(messages)
    left = [b for b, dx in track if -25 < dx < -6]
    right = [b for b, dx in track if 6 < dx < 25]
    assert left and right and max(left) < min(right), "the cart passed the player from left to right"

    def balance(blocks):
        frames = np.concatenate([cart[b * 256:(b + 1) * 256] for b in blocks])
        l, r = np.sqrt((frames ** 2).mean(axis=0))
        return 20 * np.log10(r / l)
    assert balance(left) < -6 and balance(right) > 6, (balance(left), balance(right))


def test_hud_screenshot_shows_meters(session):
    """The last frame's HUD has level bars drawn (pixels of the bar colour in the panel)."""
    out, _, _ = session
    shot = pygame.image.load(str(out / "shot.png"))
    width, height = shot.get_size()
    pixels = pygame.surfarray.array3d(shot)                       # (x, y, rgb)
    panel = pixels[width - hud.PANEL_WIDTH:, :]
    lit = np.all(panel == np.array(hud.BAR_COLOUR), axis=-1)
    rows = np.flatnonzero(lit.any(axis=0))
    assert lit.sum() > 500 and len(rows) > 40, (lit.sum(), len(rows))   # several buses' bars, not one line
    assert not np.all(pixels[: width - hud.PANEL_WIDTH] == pixels[0, 0]), "the map is drawn"


def test_demo_talks_to_gamemix_only_through_the_client():
    """As an engine would: the game imports gamemix.client and nothing else of gamemix."""
    used = set()
    for path in (ROOT / "demo_game").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gamemix"):
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used |= {a.name for a in node.names if a.name.startswith("gamemix")}
    assert used == {"gamemix.client"}, used
