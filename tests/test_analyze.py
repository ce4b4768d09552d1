"""`gamemix analyze`: the analysis JSON, its schema, its description and its HTML report.

Oracles: pyloudnorm for loudness, band-limited noises whose overlap is known for
masking, the constant-power pan law for the pan map, the render's own voice
statistics for the voice counts, a known fader offset for the reference
comparison, and pixels of a headless-Chromium screenshot for the HTML report.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import shutil
import subprocess

import numpy as np
import pyloudnorm
import pytest
import soundfile
import yaml
from scipy import ndimage

from conftest import SR
from gamemix.cli import main
from gamemix.offline.analysis import frames, masking, panmap
from gamemix.offline.analysis.analyze import analyze
from gamemix.offline.analysis.model import SCHEMA_PATH, json_schema
from gamemix.offline.analysis.report_html import PLOT_FRAME
from gamemix.scene.located_yaml import parse_dotted
from test_protocol_schema import check

SHOWCASE = "gamemix/showcase"
FRAME_RGB = tuple(int(PLOT_FRAME[i:i + 2], 16) for i in (1, 3, 5))


def band_noise(bands, seconds: float, rms_db: float, seed: int) -> np.ndarray:
    """Stereo (identical channels) noise with all its energy in `bands` [(lo, hi) Hz], at rms_db dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    keep = np.zeros_like(f, dtype=bool)
    for lo, hi in bands:
        keep |= (f >= lo) & (f < hi)
    x = np.fft.irfft(spectrum * keep, n)
    x *= 10 ** (rms_db / 20) / np.sqrt(np.mean(x ** 2))
    return np.stack([x, x], 1).astype(np.float32)


# Bus a: 600-900 Hz and 2.4-3.6 kHz.  Bus b: 2.4-3.6 kHz 4 dB above a's part there, and 9-14 kHz.
# b masks a in 2-4 kHz only; a masks b nowhere (b is the stronger where they overlap).
A_BANDS = [(600, 900), (2400, 3600)]
B_BANDS = [(2400, 3600), (9000, 14000)]


def two_bus_scene(root, b_volume_db: float = 0.0):
    """A scene of two buses, each playing a looped band-limited noise, and a 4 s script."""
    root.mkdir(parents=True, exist_ok=True)
    a = band_noise(A_BANDS[:1], 2.0, -26, 1) + band_noise(A_BANDS[1:], 2.0, -26, 2)
    b = band_noise(B_BANDS[:1], 2.0, -22, 3) + band_noise(B_BANDS[1:], 2.0, -26, 4)
    soundfile.write(str(root / "a.wav"), a, SR, subtype="FLOAT")
    soundfile.write(str(root / "b.wav"), b, SR, subtype="FLOAT")
    scene = {"version": 1, "name": "two", "output": {"sample_rate": SR, "block_size": 256},
             "buses": {"master": {}, "a": {}, "b": {"volume_db": b_volume_db}},
             "sounds": {"a": {"files": ["a.wav"], "loop": True, "bus": "a"},
                        "b": {"files": ["b.wav"], "loop": True, "bus": "b"}}}
    script = {"version": 1, "duration": 4.0, "seed": 1,
              "messages": [{"at": 0.0, "type": "play", "sound": "a", "id": 1},
                           {"at": 0.0, "type": "play", "sound": "b", "id": 2}]}
    (root / "scene.yaml").write_text(yaml.safe_dump(scene, sort_keys=False))
    (root / "script.yaml").write_text(yaml.safe_dump(script, sort_keys=False))
    return root / "scene.yaml", root / "script.yaml"


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """The two-bus scene rendered by `gamemix render` into a folder, and analysed from it."""
    root = tmp_path_factory.mktemp("two")
    scene, script = two_bus_scene(root / "scene")
    run = root / "run"
    assert main(["render", str(scene), "--script", str(script), "--out", str(run / "mix.wav"),
                 "--stems", str(run / "stems"), "--report", str(run / "report.json")]) == 0
    out = root / "analysis"
    assert main(["analyze", str(run), "--scene", str(scene), "--out", str(out)]) == 0
    return {"root": root, "scene": scene, "script": script, "run": run,
            "doc": json.loads((out / "analysis.json").read_text())}


@pytest.fixture(scope="module")
def showcase(tmp_path_factory):
    """The showcase rendered by analyze itself (script + --scene) and analysed."""
    out = tmp_path_factory.mktemp("showcase")
    analyze(f"{SHOWCASE}/script.yaml", out, scene=f"{SHOWCASE}/scene.yaml")
    return {"out": out, "doc": json.loads((out / "analysis.json").read_text())}


def band_percent(doc, masker, target, label):
    pair = next(p for p in doc["masking"]["pairs"] if p["masker"] == masker and p["target"] == target)
    labels = [b["label"] for b in doc["masking"]["bands"]]
    return dict(zip(labels, pair["by_band_percent"]))[label] if label else pair["by_band_percent"]


# ------------------------------------------------------------------ masking
def test_masking_of_two_synthetic_buses_is_in_exactly_their_overlapping_band(two):
    doc = two["doc"]
    b_on_a = dict(zip([b["label"] for b in doc["masking"]["bands"]], band_percent(doc, "b", "a", None)))
    assert b_on_a["2–4 kHz"] >= 95.0
    assert all(v <= 5.0 for label, v in b_on_a.items() if label != "2–4 kHz"), b_on_a
    assert all(v <= 5.0 for v in band_percent(doc, "a", "b", None))      # b is the stronger where they meet
    masked = {(p["masker"], p["target"]): p["masked_percent"] for p in doc["masking"]["pairs"]}
    assert masked[("b", "a")] >= 95.0 and masked[("a", "b")] <= 5.0   # a's loudness sits mostly at 2.4-3.6 kHz


def test_masking_swaps_when_the_masker_is_turned_below_the_target():
    """The same two signals with b 8 dB down (4 dB under a where they overlap): now a masks b, at
    2-4 kHz only, and b masks a nowhere."""
    centres, edges = frames.erb_bands(SR)
    a = band_noise(A_BANDS[:1], 2.0, -26, 1) + band_noise(A_BANDS[1:], 2.0, -26, 2)
    b = band_noise(B_BANDS[:1], 2.0, -30, 3) + band_noise(B_BANDS[1:], 2.0, -34, 4)
    doc = {"masking": masking.analyse({"a": frames.band_powers(a, SR, edges),
                                       "b": frames.band_powers(b, SR, edges)}, centres, ["a", "b"])}
    assert all(v <= 5.0 for v in band_percent(doc, "b", "a", None))
    a_on_b = dict(zip([b["label"] for b in doc["masking"]["bands"]], band_percent(doc, "a", "b", None)))
    assert a_on_b["2–4 kHz"] >= 95.0 and all(v <= 5.0 for k, v in a_on_b.items() if k != "2–4 kHz"), a_on_b


def test_the_spreading_function_peaks_at_0_db_with_slopes_of_25_db_below_and_10_db_above():
    """Schroeder, Atal & Hall (1979): 0 dB at the masker, asymptotically +25 dB per band below it and
    -10 dB per band above it (the upward spread of masking)."""
    s = 10 * np.log10(masking.spreading_matrix(21))
    assert s[10, 10] == pytest.approx(0.0, abs=0.05)
    assert s[10, 5] - s[10, 4] == pytest.approx(25.0, abs=1.0)
    assert s[10, 16] - s[10, 15] == pytest.approx(-10.0, abs=1.0)


# ------------------------------------------------------------------ loudness, pan, reference
def test_loudness_over_time_and_integrated_agree_with_pyloudnorm(two):
    stem, rate = soundfile.read(str(two["run"] / "stems" / "a.wav"), dtype="float64", always_2d=True)
    lo = two["doc"]["loudness"]["a"]
    meter = pyloudnorm.Meter(rate)
    assert lo["integrated_lufs"] == pytest.approx(meter.integrated_loudness(stem), abs=0.1)
    hop = rate // 10
    for step in (9, 20, 35):                                    # momentary: the 400 ms ending at the step's end
        end = (step + 1) * hop
        block = pyloudnorm.Meter(rate, block_size=0.4)
        assert lo["momentary"][step] == pytest.approx(block.integrated_loudness(stem[end - 4 * hop:end]), abs=0.1)
    assert lo["short_term"][25] is None and lo["short_term"][35] is not None   # 3 s of signal first


def test_the_pan_map_reads_back_the_constant_power_pan_law():
    centres, edges = frames.erb_bands(SR)
    mono = band_noise([(200, 8000)], 1.0, -20, 5)[:, 0]
    for pan in (-0.6, 0.0, 0.45):
        theta = (pan + 1) * np.pi / 4
        x = np.stack([np.cos(theta) * mono, np.sin(theta) * mono], 1)
        bands = panmap.bus_map(frames.band_powers(x, SR, edges), centres)
        inside = [b for b in bands if 300 < b["hz"] < 7000]
        assert inside and all(b["pan"] == pytest.approx(pan, abs=0.01) for b in inside)
        assert all(b["spread"] < 0.02 for b in inside)


def test_a_reference_render_reports_the_fader_offset_per_bus(two, tmp_path):
    scene, script = two_bus_scene(tmp_path / "louder", b_volume_db=3.0)
    out = tmp_path / "cmp"
    doc = analyze(script, out, scene=scene, reference=two["run"], html=False)
    diff = doc["reference"]["buses"]
    assert diff["b"]["integrated_lu"] == pytest.approx(3.0, abs=0.05)
    assert diff["a"]["integrated_lu"] == pytest.approx(0.0, abs=0.05)
    assert diff["b"]["true_peak_db"] == pytest.approx(3.0, abs=0.1)
    assert any("b is 3.0 LU louder" in s["text"] for s in doc["description"])


# ------------------------------------------------------------------ the showcase: schema, words, voices, reverb
def test_the_published_schema_is_current_and_the_analysis_validates_against_it(showcase, two):
    published = json.loads(SCHEMA_PATH.read_text())
    assert published == json_schema(), "regenerate: python -m gamemix.offline.analysis.model"
    for doc in (showcase["doc"], two["doc"]):
        assert check(published, doc, published) == []
    broken = json.loads(json.dumps(showcase["doc"]))
    broken["masking"]["pairs"][0]["masked_percent"] = "a lot"
    del broken["voices"]["steals"]
    errors = check(published, broken, published)
    assert any("masked_percent" in e for e in errors) and any("steals" in e for e in errors)


NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def numbers_in(text: str) -> list[str]:
    return NUMBER.findall(text)


def at(doc, path: str):
    v = doc
    for part in parse_dotted(path):
        v = v[part]
    return v


def matches(written: str, value) -> bool:
    """A number as the text writes it against a JSON value (its size: the words give the direction)."""
    digits = len(written.split(".")[1]) if "." in written else 0
    return isinstance(value, (int, float)) and round(abs(float(value)), digits) == abs(float(written))


def sourced(sentence: dict, doc: dict) -> bool:
    """The sentence's numbers, in order, are the values at its sources (numbers inside string values count)."""
    expected = []
    for path in sentence["sources"]:
        v = at(doc, path)
        expected += [float(n) for n in numbers_in(v)] if isinstance(v, str) else [v]
    written = numbers_in(sentence["text"])
    return len(written) == len(expected) and all(matches(w, v) for w, v in zip(written, expected))


def test_every_number_in_the_description_comes_from_the_json(showcase):
    doc = showcase["doc"]
    text = " ".join(s["text"] for s in doc["description"])
    assert len(numbers_in(text)) >= 10, text
    for sentence in doc["description"]:
        assert sourced(sentence, doc), sentence
    assert "dialogue sits" in text and "masks" in text and "during combat" in text
    forged = dict(doc["description"][0], text=doc["description"][0]["text"].replace("LUFS", "LUFS (12.34)", 1))
    assert not sourced(forged, doc)                             # the check can fail


def test_voice_counts_over_time_peak_where_the_render_says(showcase):
    v = showcase["doc"]["voices"]
    assert v["counts_source"] == "report"            # render writes voices.timeline (equal to a replay: below)
    assert max(v["counts"]["real"]) == v["peak_real"] > 0
    assert max(v["counts"]["virtual"]) == v["peak_virtual"] > 0
    assert len(v["counts"]["real"]) == showcase["doc"]["steps"] == 400
    assert sum(e["event"] == "virtual" for e in v["events"]) == v["virtualizations"]


def test_reverb_shares_account_for_the_return_and_sit_below_the_dry_buses(showcase):
    rev = {r["bus"]: r for r in showcase["doc"]["reverb"]}
    assert set(rev) == {"sfx", "dialogue"}
    assert all(abs(r["explained_db"]) < 0.5 for r in rev.values())      # the return is the sum of the shares
    stem, rate = soundfile.read(str(showcase["out"] / "render" / "stems" / "dialogue.wav"), always_2d=True)
    assert rev["dialogue"]["dry_lufs"] == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(stem), abs=0.1)
    assert -40 < rev["dialogue"]["reverb_lu"] < -10


# ------------------------------------------------------------------ the HTML report, in a browser
def screenshot(html_path, png_path, height: int) -> np.ndarray:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for this test (make system-packages installs it)"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png_path}", f"--window-size=1200,{height}", f"file://{html_path}"],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image
    return np.asarray(Image.open(png_path).convert("RGB")).astype(int)


def framed_plots(pixels: np.ndarray) -> list[np.ndarray]:
    """The inside of every plot frame (a box of PLOT_FRAME pixels) in a screenshot."""
    border = np.all(np.abs(pixels - FRAME_RGB) <= 2, axis=2)
    labels, n = ndimage.label(border)
    out = []
    for box in ndimage.find_objects(labels):
        h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
        if h > 60 and w > 200:
            out.append(pixels[box[0].start + 6:box[0].stop - 6, box[1].start + 6:box[1].stop - 6])
    return out


def drawn(inside: np.ndarray) -> bool:
    """A plot, not a blank: many colours, and ink (dark or coloured pixels) over a real share of it."""
    colours = len(np.unique(inside.reshape(-1, 3), axis=0))
    ink = np.mean(np.any(inside < 200, axis=2))
    return colours > 50 and 0.01 < ink < 0.9


def test_the_html_report_shows_its_plots_in_headless_chromium(showcase, tmp_path):
    pixels = screenshot(showcase["out"] / "analysis.html", tmp_path / "report.png", 3000)
    plots = framed_plots(pixels)
    assert len(plots) >= 4, f"{len(plots)} framed plots in the first 3000 px"
    assert all(drawn(p) for p in plots)
    html = (showcase["out"] / "analysis.html").read_text()
    assert html.count('class="plot"') == 7                       # every section's plot, in the page
    assert "<link" not in html and 'src="http' not in html and "<script" not in html   # self-contained


def test_the_screenshot_check_tells_a_blank_image_from_a_plot(tmp_path):
    import base64
    import io
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (600, 300), "white").save(buf, "PNG")
    page = tmp_path / "blank.html"
    page.write_text(f"<html><body><img style='border: 4px solid {PLOT_FRAME}' "
                    f"src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'></body></html>")
    plots = framed_plots(screenshot(page, tmp_path / "blank.png", 600))
    assert len(plots) == 1 and not drawn(plots[0])


def test_the_reports_voice_timeline_is_what_a_replay_counts(tmp_path):
    """render's voices.timeline (most real and virtual voices per 100 ms) equals the analyser's own
    replay of the same scene, script and seed, step for step: analyze can use it and skip the replay."""
    from gamemix.offline.analysis.frames import STEP_S
    from gamemix.offline.analysis.voices import replay_counts
    from gamemix.offline.render import VoiceTimeline, render
    from gamemix.scene.load import load_scene
    from gamemix.scene.script import load_script
    folder = Path(__file__).resolve().parents[1] / "gamemix" / "showcase"
    scene = load_scene(folder / "scene.yaml")
    script = load_script(folder / "script.yaml", scene.output.sample_rate, scene.output.block_size, scene)
    report = render(scene, script, tmp_path / "mix.wav", seed=7)
    timeline = report["voices"]["timeline"]
    assert VoiceTimeline.STEP_S == STEP_S
    counts = replay_counts(scene, script, 7, len(timeline))
    assert [e["real"] for e in timeline] == counts["real"]
    assert [e["virtual"] for e in timeline] == counts["virtual"]
    assert max(counts["virtual"]) > 0                      # the showcase has more emitters than voices
