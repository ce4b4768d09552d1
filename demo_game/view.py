"""Drawing the map from above (pygame): village, road and cart, river and bridge, cave, battle."""

from __future__ import annotations

import pygame

from demo_game import world as w

SCALE = 8                                   # pixels per metre
SIZE = (int(w.WIDTH * SCALE), int(w.HEIGHT * SCALE))
GRASS, ROAD, WATER, ROCK, SAND = (70, 120, 60), (150, 130, 100), (60, 110, 190), (70, 70, 80), (170, 150, 110)
HOUSES = ((6, 14, 8, 6), (20, 12, 7, 7), (30, 20, 9, 6), (8, 48, 8, 7), (32, 36, 7, 6))
HELP = "arrows/WASD move   space fire   R/F rain   Esc pause   H HUD   Q quit"


def px(p) -> tuple[int, int]:
    return int(p[0] * SCALE), int(p[1] * SCALE)


def rect(r) -> pygame.Rect:
    x0, y0, x1, y1 = r
    return pygame.Rect(int(x0 * SCALE), int(y0 * SCALE), int((x1 - x0) * SCALE), int((y1 - y0) * SCALE))


def draw(surface: pygame.Surface, world: w.World, font: pygame.font.Font) -> None:
    """The whole map, then the rain over it and the help line under it."""
    surface.fill(GRASS)
    pygame.draw.rect(surface, SAND, rect(w.BATTLE))
    pygame.draw.rect(surface, ROCK, rect(w.CAVE), border_radius=24)
    pygame.draw.rect(surface, (30, 30, 36), rect((62, 34, 70, 38)))            # the cave's mouth
    pygame.draw.rect(surface, WATER, rect((w.RIVER_X - 2.5, 0, w.RIVER_X + 2.5, w.HEIGHT)))
    pygame.draw.rect(surface, ROAD, rect((0, w.ROAD_Y - 2, w.WIDTH, w.ROAD_Y + 2)))
    for hx, hy, hw, hh in HOUSES:
        pygame.draw.rect(surface, (120, 70, 50), rect((hx, hy, hx + hw, hy + hh)))
    for bx, by in w.BIRDS:
        pygame.draw.circle(surface, (40, 90, 40), px((bx, by)), 18)              # its tree
        pygame.draw.circle(surface, (240, 220, 90), px((bx, by)), 3)
    cx, cy = world.cart
    pygame.draw.rect(surface, (110, 70, 30), pygame.Rect(px((cx - 1.5, cy - 1.0)), (3 * SCALE, 2 * SCALE)))
    pygame.draw.circle(surface, (230, 200, 160), px(w.NPC), 7)
    for e in world.enemies:
        colour = (200, 40, 40) if e.alive else (90, 60, 60)
        pygame.draw.circle(surface, colour, px((e.x, e.y)), 7)
    pygame.draw.circle(surface, (250, 250, 250), px(world.player), 8)
    pygame.draw.circle(surface, (20, 20, 20), px(world.player), 8, 2)
    _rain(surface, world)
    label = f"{world.region()}   t {world.time:5.1f} s   rain {world.rain:.2f}"
    surface.blit(font.render(label, True, (255, 255, 255)), (10, 8))
    surface.blit(font.render(HELP, True, (255, 255, 255)), (10, SIZE[1] - 22))
    if world.paused:
        shade = pygame.Surface(SIZE, pygame.SRCALPHA)
        shade.fill((0, 0, 0, 140))
        surface.blit(shade, (0, 0))
        surface.blit(font.render("PAUSED  (Esc resumes)", True, (255, 255, 255)), (SIZE[0] // 2 - 90, SIZE[1] // 2))


def _rain(surface: pygame.Surface, world: w.World) -> None:
    """Streaks whose count follows the rain parameter (drawn from the game clock: deterministic)."""
    n = int(world.rain * 220)
    t = int(world.time * 60)
    for i in range(n):
        x = (i * 7919 + t * 13) % SIZE[0]
        y = (i * 104729 + t * 29) % SIZE[1]
        pygame.draw.line(surface, (170, 180, 220), (x, y), (x - 3, y + 9))
