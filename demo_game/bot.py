"""The bot: plays the demo by itself along a scripted route, so it can run unattended.

It waits by the road while the cart passes (left to right), walks to the
villager, who speaks, opens the pause menu for a moment, turns the rain up,
crosses the bridge (a warning comes on the radio), goes through the cave,
fights the battle until it is won, and walks back to the village.  Each leg
is a `Leg`; the bot is a function of the world's state, so its route is the
same in every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from demo_game.world import NPC, ROAD_Y, Controls, World


@dataclass
class Leg:
    kind: str                          # 'wait', 'goto', 'pause', 'rain', 'fight'
    target: tuple[float, float] = (0.0, 0.0)
    seconds: float = 0.0


ROUTE = (
    Leg("wait", seconds=4.0),                    # the cart passes from left to right
    Leg("goto", (NPC[0], NPC[1] + 3.0)),         # to the villager, who speaks
    Leg("wait", seconds=3.0),
    Leg("pause", seconds=1.5),                   # the pause menu: everything low-passed, the click clear
    Leg("rain", seconds=2.0),                    # the storm comes
    Leg("goto", (40.0, ROAD_Y)),
    Leg("goto", (58.0, ROAD_Y)),                 # over the bridge: a warning on the radio
    Leg("goto", (66.0, 36.0)),                   # into the cave
    Leg("goto", (70.0, 14.0)),
    Leg("goto", (84.0, 12.0)),
    Leg("goto", (92.0, 28.0)),                   # into the battle
    Leg("fight", seconds=20.0),
    Leg("goto", (70.0, ROAD_Y)),
    Leg("goto", (20.0, ROAD_Y + 4.0)),
)


class Bot:
    """Controls for each frame, from the route and the world."""

    def __init__(self, route=ROUTE):
        self.route = list(route)
        self.leg = 0
        self.clock = 0.0                  # seconds spent in the current leg
        self.toggled = False
        self.shot_clock = 0.0

    @property
    def done(self) -> bool:
        return self.leg >= len(self.route)

    def controls(self, world: World, dt: float) -> Controls:
        if self.done:
            return Controls()
        leg = self.route[self.leg]
        self.clock += dt
        c = Controls()
        if leg.kind == "goto":
            dx, dy = leg.target[0] - world.player[0], leg.target[1] - world.player[1]
            dist = math.hypot(dx, dy)
            if dist < 0.5:
                return self._next(c)
            c.move = (dx / dist, dy / dist)
        elif leg.kind in ("wait", "rain"):
            c.rain = 1.0 if leg.kind == "rain" else 0.0
            if self.clock >= leg.seconds:
                return self._next(c)
        elif leg.kind == "pause":
            if not self.toggled:
                self.toggled, c.pause = True, True
            elif self.clock >= leg.seconds:
                c.pause = True
                return self._next(c)
        elif leg.kind == "fight":
            self.shot_clock += dt
            if self.shot_clock >= 0.6:
                self.shot_clock, c.fire = 0.0, True
            if world.won or self.clock >= leg.seconds:
                return self._next(c)
        return c

    def _next(self, c: Controls) -> Controls:
        self.leg += 1
        self.clock = 0.0
        self.toggled = False
        return c
