"""The short mix report printed when a session ends: from the mixer's own meters (telemetry).

Duration, integrated loudness and peak per bus (BS.1770-4, as the server's
meters read them after each bus's chain), the master's true peak, the
voices (most real and virtual at once, steals and virtualisations), and
what the player did.  `figures()` is the same as data (written as JSON).
"""

from __future__ import annotations

from demo_game.audio import Telemetry
from demo_game.world import World


def figures(world: World, tele: Telemetry, seconds: float, files: dict[str, str], refusals=()) -> dict:
    """The session's figures (the first refused commands among them); buses are null where the
    telemetry never arrived."""
    refusals = list(refusals)
    last = tele.last or {}
    buses = {name: {"integrated_lufs": b.get("integrated_lufs"), "max_short_term_lufs": b.get("max_short_term_lufs"),
                    "true_peak_dbtp": b.get("true_peak_dbtp"), "lra_lu": b.get("lra_lu")}
             for name, b in last.get("buses", {}).items()}
    return {"seconds": round(seconds, 2), "mixer_seconds": last.get("time_s"),
            "buses": buses, "master_true_peak_dbtp": buses.get("master", {}).get("true_peak_dbtp"),
            "voices": {"max_real": tele.max_real, "max_virtual": tele.max_virtual,
                       "notices": dict(tele.notices)},
            "refusals": [{k: n.get(k) for k in ("id", "kind", "code", "message")} for n in refusals[:5]],
            "xruns": last.get("xruns"), "faults": (last.get("faults") or {}).get("total"),
            "story": [{"t": round(t, 2), "what": what} for t, what in world.log], "files": files}


def text(f: dict) -> str:
    """The figures as the lines the terminal shows."""
    def num(v, unit=""):
        return "   --" if v is None else f"{v:6.1f}{unit}"
    lines = [f"demo session: {f['seconds']:.1f} s played, mixer clock {f['mixer_seconds']} s",
             "", f"{'bus':10} {'integrated':>11} {'max S':>8} {'true peak':>10}"]
    for name, b in f["buses"].items():
        lines.append(f"{name:10} {num(b['integrated_lufs'], ' LUFS')} {num(b['max_short_term_lufs'])} "
                     f"{num(b['true_peak_dbtp'], ' dBTP')}")
    v = f["voices"]
    n = v["notices"]
    lines += ["", f"master true peak {num(f['master_true_peak_dbtp'], ' dBTP')}",
              f"voices: up to {v['max_real']} real and {v['max_virtual']} virtual at once; "
              f"{n.get('started', 0)} started, {n.get('stolen', 0)} stolen, {n.get('virtual', 0)} virtualised, "
              f"{n.get('refused', 0)} refused",
              f"xruns {f['xruns']}, faults {f['faults']}",
              *[f"refused: {r['kind']} {r['code']}: {r['message']}" for r in f["refusals"]], "",
              "what happened: " + "; ".join(f"{s['t']:.1f} s {s['what']}" for s in f["story"])]
    lines += [f"{k}: {p}" for k, p in f["files"].items()]
    return "\n".join(lines)
