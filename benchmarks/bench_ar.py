"""AR mode's costs and latency: the mic path per block next to the engine's block, the detectors'
precision and recall on the same recordings, and the capture-to-output latency through PulseAudio.

1. **Detectors** (the same test set for both): espeak-ng speech (scenes/ar/make_mic.py) over a quiet
   room (-50 LUFS) then a street 24 dB louder, at two speech levels (street SNR +8 and +2 dB); frame-level
   (10 ms) precision and recall of the speech segments found (ar/segments.py) against the utterances'
   spans, and each detector's cost per frame and per engine block (256 frames at 48 kHz).
2. **Cost per block** (medians over the recording, one thread, this process): the render thread's share
   (the capture copied into the mic stage and the pair pushed to the analysis ring:
   live/mic.py, and a capture block through DeviceInput's ring); the analysis thread's (the ambient
   estimate, each detector, the echo reference: gate, canceller and delay estimator; and the whole
   analysis per block, headphones and speakers); the engine's block for the AR scene with and without
   its microphone stages, in the same run.
3. **Capture-to-output latency** through a private PulseAudio: the output's own monitor is the
   microphone (a perfect loopback), a full-duplex PortAudio stream (io/portaudio.py) plays a click every
   half second and captures; the latency is the frames from the block the click was rendered in to the
   captured block it came back in (output, then input, latency: the round trip a hear-through adds and
   the echo reference is aligned by).  PortAudio's own figures are printed next to it.

    .venv/bin/python benchmarks/bench_ar.py [--clicks 10] [--buffers 256 1024] [--no-live]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SR, BLOCK = 48000, 256
BLOCK_S = BLOCK / SR


def make_mic():
    spec = importlib.util.spec_from_file_location("make_mic", ROOT / "scenes" / "ar" / "make_mic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_set(mm, speech_lufs: float):
    starts = [1.5, 6.0, 13.5, 18.0, 22.5, 29.5, 33.5, 37.0]
    sections = [("room", 12.0, -50.0), ("street", 16.0, -26.0), ("room", 12.0, -50.0)]
    audio, truth = mm.recording(sections, list(zip(starts, mm.LINES)), speech_lufs, seed=21)
    truth.pop("_noise")
    return audio, truth


def precision_recall(found, truth, duration: float) -> tuple[float, float]:
    n = int(duration / 0.01)

    def mask(spans):
        m = np.zeros(n, bool)
        for s, e in spans:
            m[int(round(s / 0.01)):int(round(e / 0.01))] = True
        return m
    got, want = mask(found), mask([(u["start"], u["end"]) for u in truth["speech"]])
    tp = np.count_nonzero(got & want)
    return tp / max(1, np.count_nonzero(got)), tp / max(1, np.count_nonzero(want))


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def detectors(sets: dict) -> dict:
    """Precision, recall and cost of each detector on each test set."""
    from gamemix.ar import detectors as det
    from gamemix.ar.analysis import MicAnalysis
    from gamemix.scene.microphone import Microphone
    out = {}
    for name in ("silero", "webrtc"):
        for label, (audio, truth) in sets.items():
            analysis = MicAnalysis(Microphone(bus="mic", detector=name), SR)
            for k in range(len(audio) // BLOCK):
                analysis.process(audio[k * BLOCK:(k + 1) * BLOCK, None], None)
            analysis.finish()
            out[(name, label)] = precision_recall(analysis.segments, truth, len(audio) / SR)
        d = det.make(name)
        frame = np.zeros(d.frame, np.float32)
        x = sets["street +8 dB"][0][::3]                # 16 kHz, roughly: the cost does not depend on it
        times = []
        for k in range(min(600, len(x) // d.frame)):
            frame[:] = x[k * d.frame:(k + 1) * d.frame]
            times.append(timed(d, frame))
        out[(name, "cost")] = (median_us(times), median_us(times) * BLOCK_S / (d.frame / det.RATE))
    return out


def analysis_costs(audio: np.ndarray, out_audio: np.ndarray) -> dict:
    """Per block: the estimate alone, the echo parts alone, and the whole analysis in each setup."""
    from gamemix.ar.ambient import AmbientEstimate
    from gamemix.ar.analysis import MicAnalysis
    from gamemix.ar.echo import FRAME, Canceller, Gate, History, gcc_phat_delay
    from gamemix.scene.microphone import Microphone
    blocks = len(audio) // BLOCK
    res = {}
    amb = AmbientEstimate(SR, 4.0, 20.0)
    t = []
    for k in range(blocks):
        t.append(timed(amb.feed, audio[k * BLOCK:(k + 1) * BLOCK]))
        amb.judge(amb.steps_done, lambda s: True)
    res["ambient estimate"] = median_us(t)
    gate, canceller = Gate(6.0), Canceller()
    x16 = audio[::3].astype(np.float32)
    r16 = out_audio[::3].astype(np.float32)
    tg, tc = [], []
    for k in range(min(2000, len(x16) // FRAME)):
        m, r = x16[k * FRAME:(k + 1) * FRAME], r16[k * FRAME:(k + 1) * FRAME]
        tg.append(timed(gate.frame, m, r))
        tc.append(timed(canceller.process, m, r))
    per_block = BLOCK_S / (FRAME / 16000)
    res["echo gate"] = median_us(tg) * per_block
    res["echo canceller"] = median_us(tc) * per_block
    h_m, h_r = History(64000), History(64000)
    h_m.push(x16[:64000])
    h_r.push(r16[:64000])
    tgcc = [timed(gcc_phat_delay, h_m.span(32000, 32000), h_r.span(32000, 32000), 8000) for _ in range(20)]
    res["echo delay (GCC-PHAT, once a second)"] = median_us(tgcc) * BLOCK_S / 1.0
    for label, spec in (("analysis, headphones, silero", Microphone(bus="mic")),
                        ("analysis, headphones, webrtc", Microphone(bus="mic", detector="webrtc")),
                        ("analysis, speakers, silero", Microphone(bus="mic", hear_through_db=None,
                                                                  echo={"mode": "speakers"}))):
        a = MicAnalysis(spec, SR)
        t = [timed(a.process, audio[k * BLOCK:(k + 1) * BLOCK, None], out_audio[k * BLOCK:(k + 1) * BLOCK, None])
             for k in range(blocks)]
        res[label] = median_us(t)
        res[label + " (p99)"] = float(np.percentile(t, 99) * 1e6)
    return res


def render_thread_costs(audio: np.ndarray) -> dict:
    """The render thread's per-block mic work, and a capture block through DeviceInput's ring."""
    from gamemix.io.portaudio import DeviceInput
    from gamemix.io.wav import WavInput  # noqa: F401  (the live --mic path is measured by the server)
    from gamemix.live.mic import LiveMicrophone
    from gamemix.scene.load import load_scene
    from gamemix.control.mixer import Mixer
    from gamemix.live.supervision import Faults, Heartbeat

    class Frozen:                       # the analysis as the render thread sees it: its two numbers
        ambient_lufs, speech = -40.0, False

        def status(self):
            return {}
    mixer = Mixer(load_scene(ROOT / "scenes" / "ar" / "scene.yaml"))
    dev = DeviceInput(1, SR, BLOCK, 2, stream_channels=2)
    live = LiveMicrophone(Frozen(), dev, 1, 2, BLOCK, Faults(), Heartbeat("mic", 1.0), "capturing")
    out = np.zeros((BLOCK, 2), np.float32)
    captured = [np.stack([audio[k * BLOCK:(k + 1) * BLOCK]] * 2, axis=1).astype(np.float32).tobytes()
                for k in range(400)]
    t_push, t_take, t_after = [], [], []
    for k in range(3000):
        t_push.append(timed(dev.push, captured[k % 400]))
        t_take.append(timed(live.take, mixer.microphone))
        t_after.append(timed(live.push, out))
        live.ring.release() if live.ring.read_slot() is not None else None
    return {"capture block into the ring (device thread)": median_us(t_push),
            "capture into the mic stage + findings (render thread, block start)": median_us(t_take),
            "pair into the analysis ring (render thread, after the block)": median_us(t_after)}


def engine_costs() -> dict:
    """The engine's block for the AR scene, with its microphone stages (speech on, the ambience asking for
    a boost) and without them (the same scene less its microphone), rendered in turns so both see the
    same machine load."""
    import yaml
    from gamemix.control.mixer import Mixer
    from gamemix.scene.load import load_scene
    raw = yaml.safe_load((ROOT / "scenes" / "ar" / "scene.yaml").read_text())
    docs = {"engine block, AR scene": raw,
            "engine block, same scene without microphone":
                {k: v for k, v in raw.items() if k not in ("microphone", "mappings", "snapshots")}}
    mixers, times = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "scenes" / "ar" / "assets", Path(tmp) / "assets")
        for label, doc in docs.items():
            path = Path(tmp) / f"{len(mixers)}.yaml"
            path.write_text(yaml.safe_dump(doc))
            mixer = Mixer(load_scene(path))
            mixer.play("music", 1)
            mixer.play("npc", 2)
            if mixer.microphone.enabled:
                mixer.microphone.update(-30.0, True)
            mixers[label], times[label] = mixer, []
        block = np.zeros((BLOCK, 2), np.float32)
        for k in range(4000):
            for label, mixer in mixers.items():
                t = timed(mixer.render, block)
                if k >= 100:
                    times[label].append(t)
    return {label: median_us(t) for label, t in times.items()}


def loopback_latency(buffers: list[int], clicks: int) -> dict:
    """Capture-to-output latency through a private PulseAudio's loopback (the sink's monitor as the mic)."""
    from pulse import pulse_null_sink
    from gamemix.io.portaudio import AudioOutput
    res = {}
    with pulse_null_sink("gamemix_bench_ar", SR):
        for buf in buffers:
            every = int(0.5 * SR / BLOCK)
            state = {"k": 0, "rendered": [], "mic": []}
            mic_block = np.zeros((BLOCK, 1), np.float32)

            def render(out):
                k = state["k"]
                out[:] = 0.0
                if k > 40 and k % every == 0 and len(state["rendered"]) < clicks:
                    out[0, :] = 0.5
                    state["rendered"].append(k * BLOCK)
                if output.input is not None:
                    output.input.read(mic_block)
                    hit = np.flatnonzero(np.abs(mic_block[:, 0]) > 0.1)
                    if len(hit):
                        state["mic"].append(k * BLOCK + int(hit[0]))
                state["k"] += 1
            output = AudioOutput(render, 2, SR, BLOCK, device="pulse", ahead=0, device_buffer=buf,
                                 capture_channels=1)
            output.start()
            time.sleep(0.5 * clicks + 2.0)
            stats = output.stats()
            output.stop()
            lat = []
            for r in state["rendered"]:
                back = [m for m in state["mic"] if m >= r]
                if back:
                    lat.append((back[0] - r) / SR * 1e3)
            res[buf] = {"measured_ms": statistics.median(lat) if lat else math.nan,
                        "max_ms": max(lat) if lat else math.nan, "clicks": len(lat),
                        "portaudio_out_ms": stats["latency_ms"],
                        "portaudio_in_ms": stats["capture"]["latency_ms"],
                        "underruns": stats["capture"]["underruns"], "overruns": stats["capture"]["overruns"],
                        "xruns": stats["xruns"]}
    return res


def speaker_path(x: np.ndarray, delay_s: float = 0.035, gain_db: float = -6.0) -> np.ndarray:
    """tests/test_ar.py's loudspeaker: band-passed 150 Hz-6 kHz, a 7 ms reflection, delayed, attenuated."""
    from scipy.signal import butter, sosfilt
    y = sosfilt(butter(4, [150, 6000], btype="band", fs=SR, output="sos"), x.astype(np.float64))
    y = y + 0.3 * np.concatenate([np.zeros(int(0.007 * SR)), y[:-int(0.007 * SR)]])
    d = int(round(delay_s * SR))
    return (np.concatenate([np.zeros(d), y[:-d]]) * 10 ** (gain_db / 20)).astype(np.float32)


def echo_figures(mm) -> dict:
    """The echo path through the simulated loudspeaker: the delay GCC-PHAT finds, and how much echo the
    canceller removes (ERLE) while the game speaks, after its first line."""
    import soxr
    from gamemix.ar.echo import FRAME, Canceller, gcc_phat_delay
    game = np.zeros(30 * SR, np.float32)
    for k, text in enumerate(mm.NPC_LINES * 2):
        line = mm.at_loudness(mm.speak(text, "en-gb+m3"), -20.0)
        game[int((1 + 5 * k) * SR):int((1 + 5 * k) * SR) + len(line)] += line[:max(0, len(game) - int((1 + 5 * k) * SR))]
    mic = speaker_path(game) + mm.at_loudness(mm.room_noise(30.0), -50.0)
    m16 = soxr.resample(mic, SR, 16000).astype(np.float32)
    r16 = soxr.resample(game, SR, 16000).astype(np.float32)
    d = gcc_phat_delay(m16[16000:48000], r16[16000:48000], 8000)
    c = Canceller()
    res = np.concatenate([c.process(m16[k * FRAME:(k + 1) * FRAME],
                                    r16[k * FRAME - d + 32:(k + 1) * FRAME - d + 32] if k * FRAME - d + 32 >= 0
                                    else np.zeros(FRAME, np.float32)) for k in range(len(m16) // FRAME)])
    active = np.abs(r16[:len(res)]) > 0.01
    active[:6 * 16000] = False                          # after the first line: converged
    erle = 10 * np.log10(np.mean(m16[:len(res)][active] ** 2) / np.mean(res[active] ** 2))
    return {"delay_ms": d / 16.0, "erle_db": erle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--buffers", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--no-live", action="store_true", help="skip the PulseAudio latency")
    args = parser.parse_args()
    mm = make_mic()
    sets = {"street +8 dB": test_set(mm, -18.0), "street +2 dB": test_set(mm, -24.0)}
    print("detectors on the same recordings (40 s: room -50 LUFS, street -26 LUFS, room; 8 utterances),\n"
          "frame-level precision / recall of the speech segments against the utterances' spans:")
    found = detectors(sets)
    print(f"  {'detector':<8} {'set':<14} {'precision':>9} {'recall':>7}")
    for (name, label), value in found.items():
        if label != "cost":
            print(f"  {name:<8} {label:<14} {value[0]:9.3f} {value[1]:7.3f}")
    for name in ("silero", "webrtc"):
        per_frame, per_block = found[(name, "cost")]
        print(f"  {name}: {per_frame:.1f} us per frame, {per_block:.1f} us per engine block (median)")
    audio = sets["street +8 dB"][0]
    game = (0.1 * np.sin(2 * np.pi * 300 * np.arange(len(audio)) / SR)).astype(np.float32)
    print("\ncost per block (median, us; 256 frames = 5,333 us of real time):")
    rows = {**render_thread_costs(audio), **analysis_costs(audio, game), **engine_costs()}
    for label, us in rows.items():
        print(f"  {label:<66} {us:8.1f}")
    e = echo_figures(mm)
    print(f"\necho reference on tests/test_ar.py's loudspeaker path (35 ms, band-passed, -6 dB): delay found "
          f"{e['delay_ms']:.2f} ms; the canceller removes {e['erle_db']:.1f} dB of echo while the game speaks "
          f"(ERLE, after its first line)")
    if not args.no_live:
        print("\ncapture-to-output latency through PulseAudio's loopback (full-duplex PortAudio, ahead 0):")
        for buf, r in loopback_latency(args.buffers, args.clicks).items():
            print(f"  device buffer {buf:5}: measured {r['measured_ms']:.1f} ms median, {r['max_ms']:.1f} max "
                  f"({r['clicks']} clicks); PortAudio says out {r['portaudio_out_ms']:.1f} + in "
                  f"{r['portaudio_in_ms']:.1f} ms; capture underruns {r['underruns']}, overruns {r['overruns']}, "
                  f"output xruns {r['xruns']}")


if __name__ == "__main__":
    main()
