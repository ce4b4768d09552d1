"""The game's side of the link to gamemix, written as an engine integrator would write it.

Only `gamemix.client` is used (docs/integrating.md): the game starts its own
server when none runs (`spawn`), waits until it is ready, then every frame
it posts what happened (events, one-shots at a place), sends the listener
(the player) and one `emitters` batch with every moving source's pose,
sets the rain parameter when it moved, polls its notices and reads the
telemetry the HUD draws.  Nothing here waits for the mixer: posted commands
return at once.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from gamemix.client import Client, spawn

from demo_game.world import BIRDS, CAVE, World


def running_server(timeout: float = 0.3) -> Client | None:
    """A client of the server on the default endpoints, if one answers within `timeout` and has this
    game's sounds; else None."""
    client = Client(timeout=timeout)
    try:
        client.wait_ready(timeout=timeout)
        client.sound_info("cart")
    except Exception:                # nothing there, not ready, or another game's scene
        client.close()
        return None
    return client


def pos3(p: tuple[float, float]) -> tuple[float, float, float]:
    """A map point (x right, y down the screen) as a position in gamemix's frame (x right, -z ahead)."""
    return (float(p[0]), 0.0, float(p[1]))


@dataclass
class Telemetry:
    """What the HUD and the report read: the newest frame and a few figures over the session."""

    last: dict | None = None
    frames: int = 0
    max_real: int = 0
    max_virtual: int = 0
    notices: collections.Counter = field(default_factory=collections.Counter)

    def take(self, frame: dict) -> None:
        if frame.get("type") != "telemetry":
            return
        self.last = frame
        self.frames += 1
        self.max_real = max(self.max_real, frame["voices"]["real"])
        self.max_virtual = max(self.max_virtual, frame["voices"]["virtual"])


class AudioLink:
    """The mixer as the game sees it: handles for the world's sources, one batch of poses a frame."""

    def __init__(self, client: Client):
        self.mix = client
        self.telemetry = Telemetry()
        self.loops: dict[str, int] = {}          # source name -> instance handle
        self.rain_sent: float | None = None
        self.refusals: list[dict] = []

    @classmethod
    def start(cls, scene: str, output: str, record: str | None, connect: str | None = "auto",
              ready_timeout: float = 300.0) -> "AudioLink":
        """Use a running server, or spawn one for this game (`spawn`: free ports, stopped with the game).

        `connect`: a command endpoint to use; 'auto' uses a server already on the default endpoints if
        it answers at once and plays this game's scene (it knows the 'cart'), else spawns; None spawns."""
        if connect == "auto":
            client = running_server()
        elif connect:
            client = Client(commands=connect)
            client.wait_ready(timeout=ready_timeout)
        else:
            client = None
        if client is None:
            args = ("--record", record) if record else ()
            client = spawn(scene, output=output, args=args, ready_timeout=ready_timeout)
        link = cls(client)
        link.spawned = client.server is not None
        return link

    def begin(self, world: World) -> None:
        """The level starts: music, rain, wind, then a handle for every looping source of the map."""
        self.mix.event("game_start")
        for i, spot in enumerate(BIRDS):
            self.loops[f"bird{i}"] = self.mix.play("bird", position=pos3(spot))
        self.loops["river"] = self.mix.play("river", position=pos3(world.river_point))
        self.loops["cart"] = self.mix.play("cart", position=pos3(world.cart), velocity=pos3(world.cart_velocity))
        centre = ((CAVE[0] + CAVE[2]) / 2, (CAVE[1] + CAVE[3]) / 2)
        self.loops["cave"] = self.mix.play("cave_air", position=pos3(centre))

    def frame(self, world: World, happenings) -> None:
        """Once per game frame: what happened, then the poses, the rain, the notices, the telemetry."""
        for h in happenings:
            where = pos3(h.position) if h.position is not None else None
            if h.kind == "event":
                self.mix.event(h.name, position=where)
            else:
                self.mix.play(h.name, position=where)
        self.mix.listener(pos3(world.player), velocity=pos3(world.velocity))
        self.mix.emitters([self.loops["river"], self.loops["cart"]],
                          [pos3(world.river_point), pos3(world.cart)],
                          [(0.0, 0.0, 0.0), pos3(world.cart_velocity)])
        if self.rain_sent is None or abs(world.rain - self.rain_sent) > 0.01:
            self.mix.set_parameter("rain", round(world.rain, 3))
            self.rain_sent = world.rain
        for notice in self.mix.poll():
            self.telemetry.notices[notice.get("event", "reply")] += 1
            if notice.get("event") == "refused" and len(self.refusals) < 50:
                self.refusals.append(notice)
        while (frame := self.mix.telemetry(timeout=0)) is not None:
            self.telemetry.take(frame)

    def close(self) -> None:
        """Stop the server this game started (its recording and WAV are written on the way out)."""
        self.mix.close()

