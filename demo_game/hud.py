"""The HUD: the mix as the server's telemetry describes it, drawn over the map (H toggles it).

Per bus: a level bar (the block's RMS, from -60 to 0 dBFS, with a tick at
its peak), its short-term loudness and the gain reduction its processors
apply (sidechain, compressor, intelligibility cut, limiter: the deepest is
shown).  Under them: real and virtual voices, the snapshots active and their
weight, the dialogue's margin over the rest (its intelligibility reading),
and the audio thread's load and xruns.
"""

from __future__ import annotations

import pygame

FLOOR_DB = -60.0
BAR_COLOUR = (60, 200, 90)          # tests look for this colour: a level above the floor draws it
PEAK_COLOUR = (250, 230, 90)
GR_COLOUR = (230, 90, 60)
PANEL_WIDTH = 330
ROW = 18
REDUCTIONS = ("sidechain_db", "compressor_gr_db", "intelligibility_cut_db", "limiter_gr_db")


def fraction(db: float | None) -> float:
    """Where a level sits on a bar from FLOOR_DB to 0 dBFS, 0..1."""
    if db is None:
        return 0.0
    return min(max((db - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0)


def reduction(bus: dict) -> float:
    """The deepest gain reduction a bus's processors report, dB (<= 0)."""
    values = [bus.get(k) for k in REDUCTIONS]
    return min([v for v in values if isinstance(v, (int, float))], default=0.0)


def _fmt(value, unit: str, digits: int = 1) -> str:
    return "  --  " if value is None else f"{value:6.{digits}f}{unit}"


def draw(surface: pygame.Surface, font: pygame.font.Font, frame: dict | None, notices) -> pygame.Rect:
    """The panel at the right of the screen; returns where it was drawn."""
    width, height = surface.get_size()
    panel = pygame.Rect(width - PANEL_WIDTH, 0, PANEL_WIDTH, height)
    shade = pygame.Surface(panel.size, pygame.SRCALPHA)
    shade.fill((10, 12, 16, 210))
    surface.blit(shade, panel.topleft)
    x, y = panel.x + 10, 10
    text = lambda s, at, colour=(230, 230, 230): surface.blit(font.render(s, True, colour), at)  # noqa: E731
    if frame is None:
        text("waiting for telemetry...", (x, y))
        return panel
    text("bus        level       LUFS-S   GR dB", (x, y), (160, 200, 255))
    y += ROW + 2
    for name, bus in frame["buses"].items():
        text(f"{name[:9]:9}", (x, y))
        bar = pygame.Rect(x + 78, y + 3, 90, ROW - 6)
        pygame.draw.rect(surface, (40, 44, 52), bar)
        level = fraction(bus.get("rms_dbfs"))
        if level > 0:
            pygame.draw.rect(surface, BAR_COLOUR, pygame.Rect(bar.x, bar.y, max(1, int(bar.w * level)), bar.h))
        peak = fraction(bus.get("peak_dbfs"))
        if peak > 0:
            pygame.draw.line(surface, PEAK_COLOUR, (bar.x + int(bar.w * peak), bar.y),
                             (bar.x + int(bar.w * peak), bar.bottom - 1), 2)
        text(_fmt(bus.get("short_term_lufs"), ""), (x + 176, y))
        gr = reduction(bus)
        gr = gr if gr < -0.05 else 0.0
        text(f"{gr:6.1f}", (x + 248, y), GR_COLOUR if gr < -0.5 else (230, 230, 230))
        y += ROW
    y += 6
    voices = frame["voices"]
    text(f"voices  real {voices['real']:3}   virtual {voices['virtual']:3}", (x, y))
    y += ROW
    text(f"stolen {notices.get('stolen', 0)}  virtualised {notices.get('virtual', 0)}  "
         f"ended {notices.get('ended', 0)}", (x, y))
    y += ROW + 4
    text("snapshots", (x, y), (160, 200, 255))
    y += ROW
    for name, weight in (frame["snapshots"] or {"(none)": 0.0}).items():
        text(f"  {name:10} {weight:5.0f} %", (x, y))
        y += ROW
    y += 4
    margin = frame["buses"].get("dialogue", {}).get("intelligibility_margin_lu")
    text(f"dialogue margin {_fmt(margin, ' LU')}", (x, y))
    y += ROW
    text(f"audio CPU {frame['cpu_load'] * 100:5.1f} %   xruns {frame['xruns']}", (x, y))
    y += ROW
    text(f"mixer time {frame['time_s']:7.1f} s", (x, y))
    return panel
