"""`gamemix top`: a terminal view of a running server, fed by its telemetry socket.

Per bus: a momentary-loudness meter, momentary (M), short-term (S) and
integrated (I) loudness, true peak, the gain its processors take off (GR:
sidechain duck + compressor + limiter + the deepest unmasking band, dB) and
the loudness stage's gain; above the table, voices real and virtual, active
snapshots with their weights, each protected bus's intelligibility margin
(and the cut it puts on the others), xruns, CPU load and faults.  Refreshed
at the telemetry rate (`gamemix serve --telemetry-hz`).  Plain text and ANSI
colour through rich, so it works in any terminal, over SSH too.

Edge: needs only gamemix.client (the SUB socket) and rich.
"""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from gamemix.client import Client

METER_FLOOR, METER_TOP = -60.0, 0.0
METER_WIDTH = 24


def meter_bar(lufs: float | None, width: int = METER_WIDTH) -> Text:
    """A bar from METER_FLOOR to METER_TOP LUFS: green, yellow above -23, red above -14."""
    if lufs is None:
        return Text("·" * width, style="dim")
    frac = min(1.0, max(0.0, (lufs - METER_FLOOR) / (METER_TOP - METER_FLOOR)))
    n = round(frac * width)
    style = "red" if lufs > -14 else "yellow" if lufs > -23 else "green"
    return Text("█" * n, style=style) + Text("·" * (width - n), style="dim")


def _v(x, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def gain_reduction(bus: dict) -> float | None:
    """The dB a bus's own processors take off now (<= 0), or None if it has none of them."""
    parts = [bus.get(k) for k in ("sidechain_db", "compressor_gr_db", "limiter_gr_db")]
    unmask = bus.get("unmask_cut_db")
    if unmask:
        parts.append(min(unmask.values()))
    parts = [p for p in parts if p is not None]
    return sum(parts) if parts else None


def bus_table(frame: dict) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (("bus", "left"), ("momentary", "left"), ("M", "right"), ("S", "right"), ("I", "right"),
                          ("TP", "right"), ("GR", "right"), ("loud.gain", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for name, b in frame["buses"].items():
        table.add_row(name, meter_bar(b.get("momentary_lufs")), _v(b.get("momentary_lufs")),
                      _v(b.get("short_term_lufs")), _v(b.get("integrated_lufs")), _v(b.get("true_peak_dbtp")),
                      _v(gain_reduction(b)), _v(b.get("loudness_gain_db")))
    return table


def header(frame: dict, endpoint: str) -> Text:
    v = frame["voices"]
    faults = frame.get("faults", {}).get("total", 0)
    text = Text(f"gamemix top  {endpoint + '  ' if endpoint else ''}t {frame['time_s']:.1f} s  ", style="bold")
    text += Text(f"voices {v['real']} real / {v['virtual']} virtual  ")
    text += Text(f"xruns {frame['xruns']}", style="red" if frame["xruns"] else "")
    text += Text(f"  cpu {100 * frame.get('cpu_load', 0.0):.0f} %  faults {faults}",
                 style="red" if faults else "")
    return text


def snapshots_line(frame: dict) -> Text:
    snaps = frame.get("snapshots") or {}
    body = ", ".join(f"{n} {w:.0f} %" for n, w in snaps.items()) or "none"
    return Text(f"snapshots: {body}")


def margins_line(frame: dict) -> Text | None:
    parts = [f"{name} {_v(b.get('intelligibility_margin_lu'))} LU (others cut {_v(b.get('intelligibility_cut_db'))} dB)"
             for name, b in frame["buses"].items() if "intelligibility_margin_lu" in b]
    return Text("dialogue margin: " + "; ".join(parts)) if parts else None


def view(frame: dict, endpoint: str = "") -> Group:
    """One screen of the view for one telemetry frame."""
    lines = [header(frame, endpoint), snapshots_line(frame)]
    margin = margins_line(frame)
    if margin is not None:
        lines.append(margin)
    return Group(*lines, bus_table(frame))


def next_telemetry(client: Client, deadline: float) -> dict | None:
    """The next telemetry frame (skipping ready, fault and reload frames), or None at the deadline."""
    while time.monotonic() < deadline:
        frame = client.telemetry(timeout=min(0.5, max(0.01, deadline - time.monotonic())))
        if frame is not None and frame.get("type") == "telemetry":
            return frame
    return None


def run(client: Client, console: Console, frames: int | None = None, timeout: float = 5.0,
        endpoint: str = "") -> int:
    """Show frames until `frames` have been shown (None: until interrupted); 1 if none came within
    `timeout` s.  On a terminal the view redraws in place; elsewhere each frame is printed."""
    frame = next_telemetry(client, time.monotonic() + timeout)
    if frame is None:
        console.print(f"gamemix top: no telemetry from {endpoint or 'the server'} within {timeout:g} s")
        return 1
    if console.is_terminal and frames != 1:
        with Live(view(frame, endpoint), console=console, auto_refresh=False) as live:
            return _loop(client, console, frame, frames, timeout,
                         lambda f: live.update(view(f, endpoint), refresh=True))
    return _loop(client, console, frame, frames, timeout, lambda f: console.print(view(f, endpoint)))


def _loop(client: Client, console: Console, frame: dict, frames: int | None, timeout: float, show) -> int:
    shown = 0
    while True:
        show(frame)
        shown += 1
        if frames is not None and shown >= frames:
            return 0
        frame = next_telemetry(client, time.monotonic() + timeout)
        if frame is None:
            console.print(f"gamemix top: telemetry stopped ({timeout:g} s without a frame)")
            return 1


def main(endpoint: str | None, frames: int | None, timeout: float, console: Console | None = None) -> int:
    """`gamemix top`: connect to the telemetry endpoint (default: the server's default) and show it."""
    client = Client(**({"telemetry": endpoint} if endpoint else {}))
    try:
        return run(client, console or Console(), frames, timeout, client.endpoints[2])
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()
