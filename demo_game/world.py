"""The game itself, without pygame or sound: a village, a road, a river, a cave and a battle.

Everything here is plain state and a `step(dt, controls)` that moves it and
says what happened (`Happening`s: an event to post, a one-shot to play at a
place).  The window (view.py) draws it, audio.py turns it into gamemix
messages, bot.py drives it; so the game runs the same with a window, headless
or in a test.

Units are metres.  The map is seen from above: x to the right, y down the
screen.  The listener (the player) always faces up the screen, as a top-down
camera does, so a source on the screen's right is heard on the right.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

WIDTH, HEIGHT = 120.0, 80.0                 # the map, metres
ROAD_Y = 60.0                               # the cart's road, across the whole map
RIVER_X = 48.0                              # the river runs down the map here
VILLAGE = (0.0, 0.0, 45.0, HEIGHT)          # x0, y0, x1, y1
CAVE = (55.0, 8.0, 80.0, 38.0)
BATTLE = (88.0, 8.0, 118.0, 50.0)
NPC = (22.0, 44.0)
TALK_RADIUS = 5.0
PLAYER_SPEED = 6.0                          # m/s
CART_SPEED = 8.0
STEP_EVERY = 0.45                           # s between footsteps while walking
BIRDS = ((6, 10), (14, 22), (30, 8), (38, 28), (10, 36), (34, 48), (8, 72), (40, 74),
         (52, 50), (60, 70), (70, 52), (84, 66), (86, 74), (26, 30), (18, 4), (44, 16))
ENEMY_POSTS = ((96, 18), (110, 22), (100, 40), (112, 44))
ENEMY_HP = 3


def inside(rect: tuple[float, float, float, float], x: float, y: float) -> bool:
    x0, y0, x1, y1 = rect
    return x0 <= x <= x1 and y0 <= y <= y1


@dataclass
class Happening:
    """Something the game tells the mixer: an `event` (scene events) or a `play` of a one-shot."""

    kind: str                                # 'event' or 'play'
    name: str
    position: tuple[float, float] | None = None


@dataclass
class Controls:
    """What the player (or the bot) asks for this frame."""

    move: tuple[float, float] = (0.0, 0.0)   # direction, length <= 1
    fire: bool = False
    pause: bool = False                      # toggles the pause menu
    rain: float = 0.0                        # -1 .. 1: less or more rain


@dataclass
class Enemy:
    post: tuple[float, float]
    phase: float
    x: float = 0.0
    y: float = 0.0
    vx: float = 0.0
    vy: float = 0.0
    hp: int = ENEMY_HP
    next_shot: float = 0.0
    next_step: float = 0.0
    next_growl: float = 0.0

    @property
    def alive(self) -> bool:
        return self.hp > 0


@dataclass
class World:
    """The game's state; `step` advances it."""

    seed: int = 1
    time: float = 0.0                       # game time (stands still while paused)
    clock: float = 0.0                      # session time (runs on through a pause)
    player: list[float] = field(default_factory=lambda: [20.0, 66.0])
    velocity: tuple[float, float] = (0.0, 0.0)
    cart: list[float] = field(default_factory=lambda: [-6.0, ROAD_Y])
    cart_dir: float = 1.0
    rain: float = 0.2
    paused: bool = False
    in_cave: bool = False
    in_combat: bool = False
    talked: bool = False
    warned: bool = False
    won: bool = False
    step_clock: float = 0.0
    next_drip: float = 0.0
    enemies: list[Enemy] = field(default_factory=list)
    log: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.enemies = [Enemy(post=p, phase=self.rng.uniform(0, 6.28)) for p in ENEMY_POSTS]
        for e in self.enemies:
            e.x, e.y = e.post

    # ------------------------------------------------------------ queries
    @property
    def river_point(self) -> tuple[float, float]:
        """Where the river is heard from: its nearest point to the player (a line source)."""
        return RIVER_X, min(max(self.player[1], 0.0), HEIGHT)

    @property
    def cart_velocity(self) -> tuple[float, float]:
        return (0.0, 0.0) if self.paused else (self.cart_dir * CART_SPEED, 0.0)

    def region(self) -> str:
        x, y = self.player
        for name, rect in (("cave", CAVE), ("battle", BATTLE), ("village", VILLAGE)):
            if inside(rect, x, y):
                return name
        return "fields"

    # ------------------------------------------------------------ the step
    def step(self, dt: float, c: Controls) -> list[Happening]:
        """Advance the world by dt seconds under the controls; what happened, in order."""
        out: list[Happening] = []
        self.clock += dt
        if c.pause:
            self.paused = not self.paused
            out.append(Happening("event", "pause_menu" if self.paused else "resume"))
            self.log.append((self.clock, "pause" if self.paused else "resume"))
        if self.paused:
            self.velocity = (0.0, 0.0)
            return out
        self.time += dt
        self.rain = min(max(self.rain + c.rain * 0.5 * dt, 0.0), 1.0)
        self._walk(dt, c, out)
        self._drive(dt)
        self._regions(out)
        self._npc(out)
        self._cave(out)
        self._battle(dt, c, out)
        return out

    def _walk(self, dt: float, c: Controls, out: list[Happening]) -> None:
        mx, my = c.move
        norm = math.hypot(mx, my)
        if norm > 1.0:
            mx, my = mx / norm, my / norm
        vx, vy = mx * PLAYER_SPEED, my * PLAYER_SPEED
        self.player[0] = min(max(self.player[0] + vx * dt, 0.0), WIDTH)
        self.player[1] = min(max(self.player[1] + vy * dt, 0.0), HEIGHT)
        self.velocity = (vx, vy)
        if norm > 0.1:
            self.step_clock += dt
            if self.step_clock >= STEP_EVERY:
                self.step_clock -= STEP_EVERY
                out.append(Happening("play", "footstep"))        # 2D: the player's own steps
        else:
            self.step_clock = STEP_EVERY * 0.8

    def _drive(self, dt: float) -> None:
        self.cart[0] += self.cart_dir * CART_SPEED * dt
        if self.cart[0] > WIDTH + 10 or self.cart[0] < -10:
            self.cart_dir = -self.cart_dir

    def _regions(self, out: list[Happening]) -> None:
        cave = self.region() == "cave"
        if cave != self.in_cave:
            self.in_cave = cave
            out.append(Happening("event", "enter_cave" if cave else "exit_cave"))
            self.log.append((self.clock, "enter cave" if cave else "leave cave"))
        combat = self.region() == "battle" and not self.won
        if combat != self.in_combat:
            self.in_combat = combat
            out.append(Happening("event", "enter_combat" if combat else "exit_combat"))
            self.log.append((self.clock, "combat" if combat else "combat over"))

    def _npc(self, out: list[Happening]) -> None:
        near = math.dist(self.player, NPC) < TALK_RADIUS
        if near and not self.talked:
            self.talked = True
            out.append(Happening("event", "npc_talk", NPC))
            self.log.append((self.clock, "the villager speaks"))
        if self.talked and not self.warned and self.player[0] > RIVER_X + 2:
            self.warned = True
            out.append(Happening("event", "npc_warns", tuple(self.player)))
            self.log.append((self.clock, "a warning on the radio"))

    def _cave(self, out: list[Happening]) -> None:
        cx, cy = (CAVE[0] + CAVE[2]) / 2, (CAVE[1] + CAVE[3]) / 2
        if self.time >= self.next_drip and math.dist(self.player, (cx, cy)) < 30:
            self.next_drip = self.time + self.rng.uniform(0.5, 1.4)
            spot = (self.rng.uniform(CAVE[0] + 2, CAVE[2] - 2), self.rng.uniform(CAVE[1] + 2, CAVE[3] - 2))
            out.append(Happening("play", "drip", spot))

    def _battle(self, dt: float, c: Controls, out: list[Happening]) -> None:
        for e in self.enemies:
            if not e.alive:
                e.vx = e.vy = 0.0
                continue
            ox, oy = e.x, e.y
            e.phase += dt * 0.8
            e.x = e.post[0] + 3.0 * math.cos(e.phase)
            e.y = e.post[1] + 2.0 * math.sin(2 * e.phase)
            e.vx, e.vy = (e.x - ox) / dt, (e.y - oy) / dt
            if self.time >= e.next_step:
                e.next_step = self.time + 0.5
                out.append(Happening("play", "enemy_step", (e.x, e.y)))
            if self.time >= e.next_growl:
                e.next_growl = self.time + self.rng.uniform(3.0, 7.0)
                out.append(Happening("play", "growl", (e.x, e.y)))
            if self.in_combat and self.time >= e.next_shot:
                e.next_shot = self.time + self.rng.uniform(0.8, 2.2)
                out.append(Happening("event", "enemy_fired", (e.x, e.y)))
        if c.fire and self.in_combat:
            out.append(Happening("event", "player_fired", tuple(self.player)))
            target = min((e for e in self.enemies if e.alive), key=lambda e: math.dist(self.player, (e.x, e.y)),
                         default=None)
            if target is not None:
                target.hp -= 1
        if self.in_combat and not any(e.alive for e in self.enemies):
            self.won = True
            out.append(Happening("event", "battle_won", tuple(self.player)))
            self.log.append((self.clock, "the battle is won"))
