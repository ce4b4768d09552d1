"""The analysis as one self-contained HTML page: plots as embedded PNGs (matplotlib), tables, and
the plain-words description.  Drawn from the analysis JSON alone, so the page and
analysis.json never disagree.  Every plot sits in an <img class="plot"> framed in
PLOT_FRAME, which tests/test_analyze.py finds in a headless-Chromium screenshot.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PLOT_FRAME = "#123456"          # the plots' border colour (18, 52, 86)
FLOOR_LUFS = -70.0
WIDTH_IN = 11.0


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(fig, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _curve(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _times(doc: dict, n: int) -> np.ndarray:
    return (np.arange(n) + 1) * doc["step_s"]


def _mark(ax, doc: dict) -> None:
    """Snapshot starts (solid) and stops (dashed), and the script's events (dotted), on a time axis."""
    for m in doc["markers"]["snapshots"]:
        ax.axvline(m["t"], color="tab:purple", lw=0.8, ls="-" if m["event"] == "start" else "--", alpha=0.7)
    for e in doc["markers"]["events"]:
        ax.axvline(e["t"], color="0.4", lw=0.6, ls=":", alpha=0.8)


def _label_markers(ax, doc: dict) -> None:
    top = ax.get_ylim()[1]
    for m in doc["markers"]["snapshots"]:
        if m["event"] == "start":
            ax.text(m["t"], top, f" {m['snapshot']}", rotation=90, va="top", fontsize=7, color="tab:purple")


def loudness_plot(doc: dict) -> str:
    buses = ["master"] + doc["mix_buses"]
    fig, axes = plt.subplots(len(buses), 1, figsize=(WIDTH_IN, 1.25 * len(buses) + 0.6), sharex=True,
                             squeeze=False)
    for ax, bus in zip(axes[:, 0], buses):
        lo = doc["loudness"][bus]
        m, s = _curve(lo["momentary"]), _curve(lo["short_term"])
        t = _times(doc, len(m))
        ax.plot(t, m, color="tab:blue", lw=0.7, alpha=0.6, label="momentary")
        ax.plot(t, s, color="tab:red", lw=1.6, label="short-term")
        if lo["target_lufs"] is not None:
            ax.axhline(lo["target_lufs"], color="tab:green", lw=1, ls="--", label="target")
        ax.set_ylim(-60, max(-10, np.nanmax(np.concatenate([m, s, [-60]])) + 3))
        ax.set_ylabel(bus, rotation=0, ha="right", fontsize=9)
        ax.grid(alpha=0.3)
        _mark(ax, doc)
    _label_markers(axes[0, 0], doc)
    axes[0, 0].legend(loc="lower right", fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("time (s)   LUFS per bus; purple: snapshot start (solid) / stop (dashed); "
                           "grey dotted: script events")
    fig.tight_layout()
    return _img(fig, "loudness over time")


def range_peak_plot(doc: dict) -> str:
    buses = doc["buses"]
    lra = [doc["loudness"][b]["lra_lu"] or 0.0 for b in buses]
    tp = [doc["loudness"][b]["true_peak_dbtp"] if doc["loudness"][b]["true_peak_dbtp"] is not None else -100.0
          for b in buses]
    fig, (a, b) = plt.subplots(1, 2, figsize=(WIDTH_IN, 3.0))
    a.bar(buses, lra, color="tab:blue")
    a.set_title("loudness range (LU)", fontsize=10)
    b.bar(buses, tp, color="tab:orange", bottom=0)
    b.set_ylim(min(-60.0, min(tp) - 3), 0)
    b.axhline(-1.0, color="tab:red", lw=1, ls="--")
    b.set_title("true peak (dBTP)", fontsize=10)
    for ax in (a, b):
        ax.tick_params(axis="x", rotation=45, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _img(fig, "loudness range and true peak")


def masking_matrix_plot(doc: dict) -> str:
    buses = doc["mix_buses"]
    index = {b: i for i, b in enumerate(buses)}
    m = np.full((len(buses), len(buses)), np.nan)
    for p in doc["masking"]["pairs"]:
        m[index[p["masker"]], index[p["target"]]] = p["masked_percent"] or 0.0
    fig, ax = plt.subplots(figsize=(6.5, 5.2))
    im = ax.imshow(m, cmap="magma_r", vmin=0, vmax=100)
    ax.set_xticks(range(len(buses)), buses, rotation=45, ha="right")
    ax.set_yticks(range(len(buses)), buses)
    ax.set_xlabel("target (masked)")
    ax.set_ylabel("masker")
    for i in range(len(buses)):
        for j in range(len(buses)):
            if not np.isnan(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > 50 else "black")
    fig.colorbar(im, ax=ax, label="% of the target's active time")
    fig.tight_layout()
    return _img(fig, "masking matrix")


def masking_time_plot(doc: dict, target: str) -> str:
    """For one target: each masker's masked bands over time (one image row per band)."""
    pairs = [p for p in doc["masking"]["pairs"] if p["target"] == target]
    bands = [b["label"] for b in doc["masking"]["bands"]]
    fig, axes = plt.subplots(len(pairs), 1, figsize=(WIDTH_IN, 0.9 * len(pairs) + 0.8), sharex=True, squeeze=False)
    n = doc["steps"]
    for ax, p in zip(axes[:, 0], pairs):
        img = np.array(p["band_timeline"], dtype=float) if p["band_timeline"] else np.zeros((len(bands), n))
        ax.imshow(img, aspect="auto", origin="lower", cmap="Reds", vmin=0, vmax=1,
                  extent=(0, n * doc["step_s"], -0.5, len(bands) - 0.5), interpolation="nearest")
        ax.set_yticks(range(len(bands))[::2], bands[::2], fontsize=6)
        ax.set_ylabel(p["masker"], rotation=0, ha="right", fontsize=9)
        _mark(ax, doc)
    axes[-1, 0].set_xlabel(f"time (s): where each bus masks {target}, per octave band")
    fig.tight_layout()
    return _img(fig, f"masking of {target} over time")


def panmap_plot(doc: dict) -> str:
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, bus in enumerate(doc["mix_buses"]):
        pts = [p for p in doc["panmap"].get(bus, []) if p["level_db"] is not None and p["level_db"] > -90]
        if not pts:
            continue
        lv = np.array([p["level_db"] for p in pts])
        size = 4 + 300 * np.clip((lv + 90) / 70, 0, 1) ** 2
        ax.scatter([p["pan"] for p in pts], [p["hz"] for p in pts], s=size, alpha=0.45,
                   color=colours[i % len(colours)], label=bus, edgecolors="none")
        ax.errorbar([p["pan"] for p in pts], [p["hz"] for p in pts], xerr=[p["spread"] for p in pts], fmt="none",
                    ecolor=colours[i % len(colours)], alpha=0.25, lw=0.8)
    ax.set_yscale("log")
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("pan (left -1 .. right 1); bars: spread over time")
    ax.set_ylabel("frequency (Hz)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", ncol=2)
    fig.tight_layout()
    return _img(fig, "pan and frequency map")


def reverb_plot(doc: dict) -> str:
    rows = [r for r in doc["reverb"] if r["reverb_lu"] is not None]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.5 * len(rows) + 1.2))
    ax.barh([f"{r['bus']} → {r['return']}" for r in rows], [r["reverb_lu"] for r in rows], color="tab:cyan")
    ax.set_xlabel("reverb loudness relative to dry (LU)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _img(fig, "reverb levels")


def voices_plot(doc: dict) -> str:
    v = doc["voices"]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.8))
    if v["counts"] is not None:
        t = _times(doc, len(v["counts"]["real"]))
        ax.step(t, v["counts"]["real"], where="post", color="tab:green", label="real")
        ax.step(t, v["counts"]["virtual"], where="post", color="tab:gray", label="virtual")
    top = max([v["peak_real"], v["peak_virtual"], 1])
    styles = {"stolen": ("x", "tab:red", "stolen", 1.12), "virtual": ("v", "tab:orange", "went virtual", 1.08),
              "real": ("^", "tab:blue", "went real", 1.04)}
    for kind, (marker, colour, label, y) in styles.items():
        ts = [e["t"] for e in v["events"] if e["event"] == kind]
        if ts:
            ax.scatter(ts, [top * y] * len(ts), marker=marker, color=colour, s=18, label=label)
    _mark(ax, doc)
    ax.set_ylim(0, top * 1.45)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("voices")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", ncol=5)
    else:
        ax.text(0.5, 0.5, "no voice counts for this render (no scene and script known)", transform=ax.transAxes,
                ha="center")
    fig.tight_layout()
    return _img(fig, "voices over time")


def reference_plot(doc: dict) -> str:
    ref = doc["reference"]
    buses = ["master"] + [b for b in doc["mix_buses"] if b in ref["short_term"]]
    fig, axes = plt.subplots(len(buses), 1, figsize=(WIDTH_IN, 1.1 * len(buses) + 0.6), sharex=True, squeeze=False)
    for ax, bus in zip(axes[:, 0], buses):
        this, other = _curve(doc["loudness"][bus]["short_term"]), _curve(ref["short_term"][bus])
        ax.plot(_times(doc, len(this)), this, color="tab:red", lw=1.4, label="this render")
        ax.plot(_times(doc, len(other)), other, color="0.3", lw=1.0, ls="--", label="reference")
        ax.set_ylim(-60, -5)
        ax.set_ylabel(bus, rotation=0, ha="right", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="lower right")
    axes[-1, 0].set_xlabel("time (s): short-term loudness (LUFS)")
    fig.tight_layout()
    return _img(fig, "against the reference")


def _fmt(v, digits=1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _table(head: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _loudness_table(doc: dict) -> str:
    rows = [[b, _fmt(lo["integrated_lufs"]), _fmt(lo["target_lufs"]), _fmt(lo["lra_lu"]),
             _fmt(lo["max_momentary_lufs"]), _fmt(lo["max_short_term_lufs"]), _fmt(lo["true_peak_dbtp"])]
            for b, lo in doc["loudness"].items()]
    return _table(["bus", "integrated LUFS", "target", "LRA LU", "max M", "max S", "true peak dBTP"], rows)


def _masking_table(doc: dict) -> str:
    m = doc["masking"]
    pairs = sorted(m["pairs"], key=lambda p: -(p["masked_percent"] or 0))[:12]
    rows = [[p["masker"], p["target"], _fmt(p["masked_percent"])] + [_fmt(v, 0) for v in p["by_band_percent"]]
            for p in pairs]
    return _table(["masker", "target", "masked %"] + [b["label"] for b in m["bands"]], rows)


def _balance_table(doc: dict) -> str:
    rows = []
    for b in doc["balance"]:
        for a, f in [("(the rest)", b["rest"])] + list(b["per_bus"].items()):
            during = ", ".join(f"{k} {_fmt(v)}" for k, v in f["by_snapshot"].items() if v is not None)
            rows.append([b["bus"], a, _fmt(f["mean_lu"]), during or "–"])
    return _table(["protected", "against", "mean LU", "during snapshots (LU)"], rows)


def _lines_table(doc: dict) -> str:
    rows = [[x["bus"], x["sound"], _fmt(x["start"], 2), _fmt(x["end"], 2), _fmt(x["worst_3s_margin_lu"]),
             _fmt(x["mean_margin_lu"])] for x in doc["lines"]]
    return _table(["bus", "sound", "start s", "end s", "worst 3 s margin LU", "mean margin LU"], rows)


def _reference_table(doc: dict) -> str:
    ref = doc["reference"]
    rows = [[b, _fmt(d["integrated_lu"]), _fmt(d["short_term_mean_lu"]), _fmt(d["lra_lu"]), _fmt(d["true_peak_db"])]
            for b, d in ref["buses"].items()]
    return _table(["bus", "integrated Δ LU", "short-term mean Δ LU", "LRA Δ LU", "true peak Δ dB"], rows)


CSS = f"""
body {{ font-family: sans-serif; margin: 16px 24px; color: #222; max-width: 1100px; }}
h1 {{ font-size: 22px; margin: 4px 0; }} h2 {{ font-size: 17px; margin: 22px 0 6px; border-bottom: 1px solid #ccc; }}
img.plot {{ display: block; max-width: 100%; border: 4px solid {PLOT_FRAME}; margin: 6px 0; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 6px 0; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; }}
th {{ background: #eee; }} td:first-child, td:nth-child(2) {{ text-align: left; }}
.desc p {{ margin: 3px 0; }} .note {{ color: #a50; font-size: 12px; }}
"""


def page(doc: dict) -> str:
    """The whole HTML page of an analysis."""
    src = doc["source"]
    parts = [f"<h1>Mix analysis: {html.escape(src['scene_name'] or src['folder'])}</h1>",
             f"<p>{html.escape(src['folder'])}: {src['duration_s']:.1f} s at {src['sample_rate']} Hz, "
             f"seed {src['seed']}</p>"]
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in doc["notes"]]
    parts.append('<h2>In words</h2><div class="desc">' +
                 "".join(f"<p>{html.escape(s['text'])}</p>" for s in doc["description"]) + "</div>")
    parts += ["<h2>Loudness over time</h2>", loudness_plot(doc), _loudness_table(doc),
              "<h2>Loudness range and true peak</h2>", range_peak_plot(doc),
              "<h2>Masking</h2>", f"<p>{html.escape(doc['masking']['measure'])}</p>",
              masking_matrix_plot(doc), _masking_table(doc)]
    targets = [b["bus"] for b in doc["balance"]] or _most_masked(doc)
    for target in targets:
        parts.append(masking_time_plot(doc, target))
    if doc["balance"]:
        parts += ["<h2>Balance of the protected buses</h2>", _balance_table(doc)]
    parts += ["<h2>Pan and frequency</h2>", panmap_plot(doc)]
    if doc["reverb"]:
        parts += ["<h2>Reverb</h2>", reverb_plot(doc)]
    parts += ["<h2>Voices</h2>", voices_plot(doc)]
    if doc["lines"]:
        parts += ["<h2>Dialogue lines</h2>", _lines_table(doc)]
    if doc["reference"]:
        parts += [f"<h2>Against the reference ({html.escape(doc['reference']['folder'])})</h2>",
                  _reference_table(doc), reference_plot(doc)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>gamemix analysis</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def _most_masked(doc: dict) -> list[str]:
    pairs = [p for p in doc["masking"]["pairs"] if p["masked_percent"]]
    return [max(pairs, key=lambda p: p["masked_percent"])["target"]] if pairs else []
