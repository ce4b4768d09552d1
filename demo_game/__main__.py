"""`python -m demo_game`: walk through a village, a cave and a battle, mixed live by gamemix.

    python -m demo_game                      # play (a window; sound on the default device)
    python -m demo_game --bot --seconds 60   # the bot plays the route by itself
    python -m demo_game --headless           # no window: the bot plays, the mix goes to out/demo.wav

Without a display the demo runs headless by itself (SDL's dummy video
driver), and without a sound device it writes the mix to a WAV file; either
way the server records every message it applied (out/demo.record.yaml,
which `gamemix render` replays) and a short mix report is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SCENE = Path(__file__).parent / "scene" / "scene.yaml"
FPS = 60


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("win32", "darwin")


def has_sound_device() -> bool:
    """Whether PortAudio sees an output device (asked in a child process: ALSA's chatter stays out)."""
    probe = ("import pyaudio; p = pyaudio.PyAudio(); "
             "print(any(p.get_device_info_by_index(i)['maxOutputChannels'] > 0 for i in range(p.get_device_count())))")
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.stdout.strip().endswith("True")


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m demo_game", description=__doc__.split("\n\n")[0])
    ap.add_argument("--bot", action="store_true", help="the bot plays the scripted route")
    ap.add_argument("--headless", action="store_true", help="no window (implies --bot)")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this long (bot default: 75)")
    ap.add_argument("--output", default="auto", help="'auto', 'device', 'null' or a WAV path (auto: the device, "
                                                     "else OUT_DIR/demo.wav)")
    ap.add_argument("--out-dir", default="out")
    ap.add_argument("--connect", default="auto",
                    help="the command endpoint of a server to use; 'auto' (default): a server already on the default "
                         "endpoints that plays this scene, else one spawned for the game; 'spawn': always spawn")
    ap.add_argument("--screenshot", default=None, help="save the last frame (with the HUD) to this PNG")
    ap.add_argument("--no-hud", dest="hud", action="store_false", help="start with the HUD hidden")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if not args.headless and not has_display():
        args.headless = True
    args.bot = args.bot or args.headless
    if args.seconds is None and args.bot:
        args.seconds = 75.0
    return args


def main(argv=None) -> int:
    args = parse(argv)
    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from demo_game import assets, hud, report, view
    from demo_game.audio import AudioLink, running_server
    from demo_game.bot import Bot
    from demo_game.world import Controls, World

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    assets.ensure()
    output = args.output
    if output == "auto":
        output = "device" if not args.headless and has_sound_device() else str(out / "demo.wav")
    record = str(out / "demo.record.yaml")
    started = time.monotonic()
    client = running_server() if args.connect == "auto" else None
    if client is not None:
        link = AudioLink(client)
        link.spawned = False
    else:
        if args.connect in ("auto", "spawn"):
            # the kernels compile on a machine's first run (about half a minute): show it happen, as the
            # set-up step would, instead of waiting silently for the spawned server to be ready
            subprocess.run([sys.executable, "-m", "gamemix", "warmup"], check=False)
        print(f"demo: starting gamemix serve ({'sound device' if output == 'device' else output})", flush=True)
        link = AudioLink.start(str(SCENE), output, record, connect=None if args.connect in ("auto", "spawn")
                               else args.connect)
    which = "spawned" if link.spawned else "already running (its own output and recording)"
    print(f"demo: mixer ready after {time.monotonic() - started:.1f} s ({which})", flush=True)

    pygame.display.init()
    pygame.font.init()
    screen = pygame.display.set_mode(view.SIZE)
    pygame.display.set_caption("gamemix demo: village, cave, battle")
    font = pygame.font.Font(None, 20)
    clock = pygame.time.Clock()
    world, bot = World(seed=args.seed), Bot() if args.bot else None
    show_hud, running, began = args.hud, True, time.monotonic()
    link.begin(world)
    try:
        while running:
            dt = 1.0 / FPS
            controls = Controls()
            for e in pygame.event.get():
                if e.type == pygame.QUIT:
                    running = False
                elif e.type == pygame.KEYDOWN:
                    if e.key in (pygame.K_q,):
                        running = False
                    elif e.key == pygame.K_h:
                        show_hud = not show_hud
                    elif e.key == pygame.K_ESCAPE:
                        controls.pause = True
                    elif e.key == pygame.K_SPACE:
                        controls.fire = True
            if bot is not None:
                controls = bot.controls(world, dt)
            else:
                keys = pygame.key.get_pressed()
                controls.move = (float(keys[pygame.K_RIGHT] or keys[pygame.K_d]) - float(keys[pygame.K_LEFT] or keys[pygame.K_a]),
                                 float(keys[pygame.K_DOWN] or keys[pygame.K_s]) - float(keys[pygame.K_UP] or keys[pygame.K_w]))
                controls.rain = float(keys[pygame.K_r]) - float(keys[pygame.K_f])
            link.frame(world, world.step(dt, controls))
            view.draw(screen, world, font)
            if show_hud:
                hud.draw(screen, font, link.telemetry.last, link.telemetry.notices)
            pygame.display.flip()
            clock.tick(FPS)
            if args.seconds is not None and time.monotonic() - began >= args.seconds:
                running = False
        if args.screenshot:
            pygame.image.save(screen, args.screenshot)
    except KeyboardInterrupt:
        pass
    finally:
        played = time.monotonic() - began
        link.close()
        pygame.quit()
    files = {"recording": record, **({"mix": output} if output.endswith(".wav") else {})} if link.spawned else {}
    if args.screenshot:
        files["screenshot"] = args.screenshot
    figures = report.figures(world, link.telemetry, played, files, link.refusals)
    (out / "demo.json").write_text(json.dumps(figures, indent=2))
    print(report.text(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
