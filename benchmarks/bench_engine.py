"""Engine cost on the moving-voices workload, against NumPy and OpenAL Soft in one run.

Workload: /work/shared/bench/workload.md (see benchmarks/README.md): N orbiting
emitters (64, 256, 1024), looping 1 s mono clips from the shared LCG/sine
definition, start offset (i*997) mod 48000, positions recomputed and pushed
every 256-frame block, pitch 1.01 so every implementation resamples,
inverse-clamped distance (ref 1, rolloff 1, max 1000), constant-power pan,
ramped gains, stereo float32 at 48 kHz.

Implementations, one core each, measured in the same run:

- gamemix: the real Mixer + Engine on a scene written to a temp folder.  Two
  ways of pushing positions each block, as a game would:
    gamemix        vectorised write into params.vf[rows, VF_X:VF_X+3]
                   (what the batched `emitters` protocol message does);
    gamemix/emit   one Mixer.set_emitter(id, pos) call per emitter (the
                   per-instance control API, Python per call).
  "render" = Mixer.render only (control tick + the nogil kernel + reap).
- numpy: a vectorised NumPy mixer written here doing the same work (distance,
  pan, linear-interpolation resampling at fractional positions with looping
  by modulo, gains ramped across the block, summed to stereo).
- openal: OpenAL Soft via /work/shared/bench/openal_bench.c (loopback device,
  linear resampler, --pitch=1.01), built with gcc against libopenal-dev.

Figures: process CPU time of the render loop (positions computed and pushed
every block, included), median of --runs runs.  ns/voice-frame = CPU s /
(N x audio s x 48000); ms/block; real-time factor; % of one core; output RMS.
The "render" columns exclude computing and pushing positions; for the Python
implementations they are the loop's CPU time apportioned by perf_counter
shares of each part (the clock calls around each part cost ~0.1 us).

    .venv/bin/python benchmarks/bench_engine.py [--seconds 5] [--runs 3] [--quick] [--json FILE]

With --layout NAME ..., the same workload is rendered to each output layout
side by side (stereo, a VBAP speaker layout such as 7.1, 3OA, binaural with
its default mix of direct and ambisonic voices, binaural-ambisonic (every
voice through the ambisonic field), binaural-direct (every voice through its
own HRTF filters, at N <= 64, the most slots there are)), against OpenAL
Soft with and without its HRTF (openal_bench --hrtf), and with
--baseline-ref, the stereo rows of an earlier commit in the same run:

    .venv/bin/python benchmarks/bench_engine.py --layout stereo 7.1 ambix3 binaural binaural-direct \
        --baseline-ref 9cfe47a
"""

from __future__ import annotations

import os

# single thread everywhere, before numpy / numba load
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SR, BLOCK, NCLIPS, CLIPLEN = 48000, 256, 32, 48000
GOLDEN = 2.399963229728653
PITCH = 1.01
BLOCK_MS = BLOCK / SR * 1e3
HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("GAMEMIX_BENCH_SHARED", HERE.parents[1] / "shared" / "bench"))
BUILD = HERE / "build"

TARGETS = {
    "vs_openal": 0.5,        # gamemix ns/voice-frame <= half of OpenAL Soft's (same run)
    "budget_1024_pct": 10.0,  # 1024 voices under 10 % of the block budget
    "vs_numpy": 1.0,         # no slower than the NumPy baseline
    "warm_start_s": 2.0,     # warm-cache start (import .. first block) under 2 s
    "binaural_vs_openal_hrtf": 3.0,   # binaural: >= 3x OpenAL Soft HRTF's real-time voice count
    "vbap_vs_stereo": 1.5,   # VBAP 7.1: per-voice cost within 1.5x stereo's
    "stereo_vs_before": 1.05,  # stereo: no slower than the baseline commit (5 % for noise)
}
# --layout modes: (output.channels, output.hrtf_voices, the voice counts measured, or None: --voices)
LAYOUT_MODES = {"stereo": ("stereo", 16, None), "quad": ("quad", 16, None), "5.1": ("5.1", 16, None),
                "7.1": ("7.1", 16, None), "7.1.4": ("7.1.4", 16, None), "ambix1": ("ambix1", 16, None),
                "ambix3": ("ambix3", 16, None), "binaural": ("binaural", 16, None),
                "binaural-ambisonic": ("binaural", 0, None), "binaural-direct": ("binaural", 64, [16, 32, 64])}


# ---------------------------------------------------------------- workload
def make_clips() -> np.ndarray:
    """The 32 clips of workload.h (float32), noise from the LCG generated clip after clip."""
    pool = np.empty((NCLIPS, CLIPLEN), dtype=np.float32)
    t = np.arange(CLIPLEN, dtype=np.float64) / SR
    s = 12345
    for k in range(NCLIPS):
        raw = np.empty(CLIPLEN, dtype=np.uint32)
        for j in range(CLIPLEN):
            s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
            raw[j] = s
        noise = (raw >> 9).astype(np.float64) * (1.0 / 8388608.0) - 1.0   # exact in float32 and float64
        f1 = 110.0 + 20.0 * k
        f2 = f1 * 1.5 + 3.0
        pool[k] = 0.15 * np.sin(2 * np.pi * f1 * t) + 0.1 * np.sin(2 * np.pi * f2 * t) + 0.05 * noise
    return pool


def positions(n: int, t: float, i: np.ndarray | None = None) -> np.ndarray:
    """(n, 3) float64 emitter positions at time t (workload.h wl_emitter_pos)."""
    if i is None:
        i = np.arange(n)
    r = 1.0 + 19.0 * (i + 0.5) / n
    a = i * GOLDEN + (0.5 + 0.1 * (i % 7)) * t
    return np.stack([r * np.sin(a), 0.5 * np.sin(0.3 * t + i), -r * np.cos(a)], axis=1)


def all_positions(n: int, blocks: int) -> np.ndarray:
    """(blocks, n, 3) positions for every block: the game's own work, done before the timed loop."""
    i = np.arange(n)
    return np.stack([positions(n, b * BLOCK / SR, i) for b in range(blocks)])


def master_gain(n: int) -> float:
    """1/sqrt(N) on the master fader (gamemix) / the mix (numpy) so the sum stays below the 0 dBFS
    ceiling gamemix's output stage clamps to; OpenAL Soft's float output is not clamped.  The RMS
    column is scaled back to unity so the three compare."""
    return 1.0 / math.sqrt(n)


def start_offsets(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.int64) * 997) % CLIPLEN


# ---------------------------------------------------------------- gamemix
def write_scene(folder: Path, clips: np.ndarray, n: int, layout: str = "stereo", hrtf_voices: int = 16,
                tag: str = "") -> Path:
    """32 float32 WAVs + scene_<n><tag>.yaml (one looping 3-D sound per clip); returns the yaml."""
    import soundfile
    import yaml
    sounds = {}
    for k in range(NCLIPS):
        wav = folder / f"clip{k:02d}.wav"
        if not wav.exists():
            soundfile.write(wav, clips[k], SR, subtype="FLOAT")   # float32 WAV, 48 kHz mono
        sounds[f"clip{k:02d}"] = {
            "files": [wav.name], "loop": True, "pitch_semitones": 12.0 * math.log2(PITCH),
            "spatial": {"min_distance": 1.0, "max_distance": 1000.0, "rolloff": "inverse", "rolloff_factor": 1.0},
        }
    scene = {"version": 1, "name": f"bench-{n}",
             "output": {"sample_rate": SR, "block_size": BLOCK, "max_voices": max(n, 1024), "max_instances": max(n, 1024),
                        "channels": layout, "hrtf_voices": hrtf_voices},
             "listener": {"position": [0, 0, 0], "forward": [0, 0, -1], "up": [0, 1, 0]},
             "buses": {"master": {"volume_db": 20.0 * math.log10(master_gain(n))}},
             "sounds": sounds}
    path = folder / f"scene_{n}{tag}.yaml"
    path.write_text(yaml.safe_dump(scene, sort_keys=False))
    return path


def gamemix_setup(scene_path: Path, n: int):
    """A fresh Mixer with N instances playing (ids 0..N-1); returns (mixer, rows)."""
    from gamemix.control.mixer import Mixer
    from gamemix.core.arrays import FRAC_BITS, VI_POS
    from gamemix.scene.load import load_scene
    mixer = Mixer(load_scene(scene_path))
    p0 = positions(n, 0.0).tolist()
    for i in range(n):
        mixer.play(f"clip{i % NCLIPS:02d}", i, position=p0[i])
    rows = np.array([mixer.instances[i].rows[0] for i in range(n)], dtype=np.int64)
    # per-emitter start offset: the fixed-point read position, written directly
    mixer.arrays.vi[rows, VI_POS] = start_offsets(n) << FRAC_BITS
    return mixer, rows


def gamemix_run(scene_path: Path, n: int, pos_all: np.ndarray, push: str) -> dict:
    """push = 'vf' (vectorised write into params.vf) or 'emit' (set_emitter per emitter)."""
    from gamemix.core.arrays import VF_X
    mixer, rows = gamemix_setup(scene_path, n)
    vf = mixer.arrays.vf
    blocks = len(pos_all)
    out = np.zeros((BLOCK, mixer.channels), np.float32)
    sumsq = 0.0
    w_game = w_push = w_render = 0
    pc = time.perf_counter_ns
    c0, w0 = time.process_time(), pc()
    for b in range(blocks):
        t0 = pc()
        pos = pos_all[b]
        if push == "emit":
            pos = pos.tolist()                       # a game holds its poses as Python floats (not counted)
        t1 = pc()
        if push == "vf":
            vf[rows, VF_X:VF_X + 3] = pos
        else:
            set_emitter = mixer.set_emitter
            for i in range(n):
                set_emitter(i, pos[i])
        t2 = pc()
        mixer.render(out)
        t3 = pc()
        flat = out.ravel()
        sumsq += float(np.dot(flat, flat))
        w_game += t1 - t0
        w_push += t2 - t1
        w_render += t3 - t2
    cpu, wall = time.process_time() - c0, (pc() - w0)
    game = cpu * w_game / wall if push == "emit" else 0.0    # the tolist() above: not the engine's work
    return {"cpu_s": cpu - game, "render_cpu_s": cpu * w_render / wall, "push_cpu_s": cpu * w_push / wall,
            "game_cpu_s": game, "wall_s": wall * 1e-9,
            "rms": math.sqrt(sumsq / (blocks * BLOCK * 2)) / master_gain(n), "playing": mixer.active_voices()}
    # (RMS per stereo pair: for wider layouts the power is spread over more channels, summed here)


def gamemix_profile(scene_path: Path, n: int, pos_all: np.ndarray) -> dict:
    """One run with Mixer.render taken apart: control tick, kernel, reap (CPU-apportioned, us/block)."""
    from gamemix.core.arrays import VF_X
    mixer, rows = gamemix_setup(scene_path, n)
    vf = mixer.arrays.vf
    blocks = len(pos_all)
    out = np.zeros((BLOCK, mixer.channels), np.float32)
    pc = time.perf_counter_ns
    parts = {"tick": 0, "assign": 0, "kernel": 0, "reap": 0}
    assign = mixer.voices.assign
    timed_assign_ns = [0]

    def timed(*a, **k):  # wrap VoicePool.assign to see its share of the tick
        s = pc()
        assign(*a, **k)
        timed_assign_ns[0] += pc() - s
    mixer.voices.assign = timed
    c0, w0 = time.process_time(), pc()
    for b in range(blocks):
        vf[rows, VF_X:VF_X + 3] = pos_all[b]
        t0 = pc()
        mixer.tick()
        t1 = pc()
        mixer.engine.render(out)
        t2 = pc()
        mixer._reap()
        mixer.block_index += 1
        t3 = pc()
        parts["tick"] += t1 - t0
        parts["kernel"] += t2 - t1
        parts["reap"] += t3 - t2
    cpu, wall = time.process_time() - c0, pc() - w0
    parts["assign"] = timed_assign_ns[0]
    return {k: cpu * v / wall / blocks * 1e6 for k, v in parts.items()}


# ---------------------------------------------------------------- NumPy baseline
def numpy_run(clips: np.ndarray, n: int, pos_all: np.ndarray) -> dict:
    """The same work, vectorised over voices x frames.

    Per block: distance gain and constant-power pan for all N (listener at the
    origin facing -Z, so the lateral component is x / d); read positions
    pos + k * pitch (float64, fractional), looped by modulo, linear
    interpolation from a pool with one wrap-around guard sample per clip;
    per-voice gains ramped linearly from the previous block's to this block's,
    summed to stereo, master gain, clamped to +-1 like gamemix's output stage.  The ramped sum is two BLAS products:
        out[f, c] = sum_v x[v, f] (g0[c, v] + ramp[f] dg[c, v])
                  = (g0 @ x)[c, f] + ramp[f] (dg @ x)[c, f]
    """
    guarded = np.concatenate([clips, clips[:, :1]], axis=1)          # (32, 48001): sample 48000 = sample 0
    flat = np.ascontiguousarray(guarded).ravel()
    base = ((np.arange(n) % NCLIPS) * (CLIPLEN + 1))[:, None]
    pos = start_offsets(n).astype(np.float64)
    steps = np.arange(BLOCK, dtype=np.float64) * PITCH
    ramp = (np.arange(BLOCK) / BLOCK).astype(np.float32)
    blocks = len(pos_all)
    master = master_gain(n)
    g_prev = None
    out = np.empty((2, BLOCK), np.float32)
    sumsq = 0.0
    w_game = w_mix = 0
    pc = time.perf_counter_ns
    c0, w0 = time.process_time(), pc()
    for b in range(blocks):
        t0 = pc()
        p = pos_all[b]
        t1 = pc()
        # gains: inverse clamped distance x constant-power pan, (2, n) float32
        d = np.sqrt(np.einsum("ij,ij->i", p, p))
        dist = master / (1.0 + (np.clip(d, 1.0, 1000.0) - 1.0))
        lateral = np.divide(p[:, 0], d, out=np.zeros(n), where=d > 1e-9)
        theta = (np.clip(lateral, -1.0, 1.0) + 1.0) * (math.pi / 4.0)
        g = np.empty((2, n), np.float32)
        g[0] = dist * np.cos(theta)
        g[1] = dist * np.sin(theta)
        if g_prev is None:
            g_prev = g
        # resample: fractional read positions, looped by modulo
        rp = pos[:, None] + steps                                    # (n, BLOCK) float64
        i0 = rp.astype(np.int32)                                     # floor (rp >= 0)
        frac = (rp - i0).astype(np.float32)
        np.remainder(i0, CLIPLEN, out=i0)
        i0 += base
        a = flat.take(i0)
        x = flat.take(i0 + 1)
        x -= a
        x *= frac
        x += a                                                       # (n, BLOCK) float32
        # ramped gains, summed to stereo
        np.matmul(g_prev, x, out=out)
        out += ramp * ((g - g_prev) @ x)
        g_prev = g
        pos = np.remainder(pos + BLOCK * PITCH, CLIPLEN)
        np.clip(out, -1.0, 1.0, out=out)                             # the same 0 dBFS ceiling as gamemix
        t2 = pc()
        flat_out = out.ravel()
        sumsq += float(np.dot(flat_out, flat_out))
        w_game += t1 - t0
        w_mix += t2 - t1
    cpu, wall = time.process_time() - c0, pc() - w0
    return {"cpu_s": cpu, "render_cpu_s": cpu * w_mix / wall, "push_cpu_s": 0.0,
            "game_cpu_s": cpu * w_game / wall, "wall_s": wall * 1e-9,
            "rms": math.sqrt(sumsq / (blocks * BLOCK * 2)) / master, "playing": n}


# ---------------------------------------------------------------- OpenAL Soft
def openal_binary() -> tuple[Path | None, str]:
    src = SHARED / "openal_bench.c"
    exe = BUILD / "openal_bench"
    if not src.exists():
        return None, f"{src} not found"
    if exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime:
        return exe, ""
    BUILD.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["gcc", "-O2", "-o", str(exe), str(src), f"-I{SHARED}", "-lopenal", "-lm"],
                           capture_output=True, text=True)
    except FileNotFoundError:
        return None, "gcc not found (make bench installs it)"
    if r.returncode != 0:
        return None, f"build failed (apt install libopenal-dev, or make bench): {r.stderr.strip()[:300]}"
    return exe, ""


def openal_run(exe: Path, n: int, audio_s: float, hrtf: bool = False) -> dict:
    r = subprocess.run([str(exe), str(n), f"{audio_s:.6f}", f"--pitch={PITCH}", *(["--hrtf"] if hrtf else [])],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openal_bench failed: {r.stderr.strip()}")
    d = json.loads(r.stdout.strip().splitlines()[-1])
    return {"cpu_s": d["cpu_s"], "render_cpu_s": d["render_cpu_s"], "push_cpu_s": d["update_cpu_s"],
            "game_cpu_s": 0.0, "wall_s": d["wall_s"], "rms": d["rms"], "playing": d["playing"],
            "version": d["version"]}


# ---------------------------------------------------------------- JIT warm-up
WARMUP_SCRIPT = r"""
import os, sys, time
t0 = time.perf_counter()
import gamemix.control.mixer
from gamemix.scene.load import load_scene
import numpy as np
t1 = time.perf_counter()
m = gamemix.control.mixer.Mixer(load_scene(sys.argv[1]))
for i in range(64):
    m.play("clip%02d" % (i % 32), i, position=(1.0 + i * 0.1, 0.0, -1.0))
t2 = time.perf_counter()
m.render(np.zeros((256, 2), np.float32))
t3 = time.perf_counter()
print("%.4f %.4f %.4f %.4f" % (t3 - t0, t1 - t0, t2 - t1, t3 - t2))
"""


def jit_warmup(scene_path: Path, warm_runs: int = 2) -> dict:
    """Cold: NUMBA_CACHE_DIR = a fresh empty dir; warm: the same dir again, now filled."""
    with tempfile.TemporaryDirectory(prefix="gamemix-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = []
        for _ in range(1 + warm_runs):
            r = subprocess.run([sys.executable, "-c", WARMUP_SCRIPT, str(scene_path)], env=env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"warm-up subprocess failed: {r.stderr.strip()[-500:]}")
            total, imp, build, first = map(float, r.stdout.split())
            runs.append({"total_s": total, "import_s": imp, "setup_s": build, "first_block_s": first})
    warm = min(runs[1:], key=lambda x: x["total_s"])
    return {"cold": runs[0], "warm": warm, "warm_runs": runs[1:]}


# ---------------------------------------------------------------- report
def summarise(impl: str, n: int, results: list[dict], blocks: int, audio_s: float) -> dict:
    med = {k: statistics.median(r[k] for r in results)
           for k in ("cpu_s", "render_cpu_s", "push_cpu_s", "game_cpu_s", "wall_s", "rms")}
    vf = n * audio_s * SR
    row = {"impl": impl, "n": n, "runs": len(results), **med,
           "cpu_s_all": [r["cpu_s"] for r in results],
           "ns_per_voice_frame": med["cpu_s"] / vf * 1e9,
           "render_ns_per_voice_frame": med["render_cpu_s"] / vf * 1e9,
           "ms_per_block": med["cpu_s"] / blocks * 1e3,
           "render_ms_per_block": med["render_cpu_s"] / blocks * 1e3,
           "push_us_per_emitter": med["push_cpu_s"] / (blocks * n) * 1e6,
           "rtf": audio_s / med["cpu_s"], "core_pct": med["cpu_s"] / audio_s * 100,
           "playing": min(r["playing"] for r in results)}
    if "version" in results[0]:
        row["version"] = results[0]["version"]
    return row


def fit(rows: list[dict], key: str) -> dict | None:
    """Least-squares line ms/block = fixed + per_voice * N over the measured N; largest real-time N."""
    pts = sorted((r["n"], r[key]) for r in rows)
    if len(pts) < 2:
        return None
    slope, icept = np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)
    n_max = int((BLOCK_MS - icept) / slope) if slope > 0 and icept < BLOCK_MS else None
    return {"fixed_us_per_block": icept * 1e3, "ns_per_voice_per_block": slope * 1e6,
            "ns_per_voice_frame": slope * 1e6 / BLOCK, "max_realtime_n": n_max}


def print_table(rows: list[dict]) -> None:
    hdr = (f"{'impl':<14}{'N':>6}{'ns/v-frame':>11}{'render':>9}{'ms/block':>10}{'render':>9}"
           f"{'RTF':>8}{'% core':>8}{'push us/em':>11}{'RMS':>8}{'playing':>9}  flags")
    print(hdr)
    print("-" * len(hdr))
    ref = {r["n"]: r["rms"] for r in rows if r["impl"] == "numpy"}
    for r in rows:
        flags = []
        if not r["rms"] > 1e-4:
            flags.append("SILENT")
        if r["n"] in ref and ref[r["n"]] > 0:
            ratio = r["rms"] / ref[r["n"]]
            r["rms_vs_numpy"] = ratio
            # gamemix and numpy do identical maths: within 5 %; OpenAL Soft pans its own way: within 0.7..1.4
            lo, hi = (0.95, 1.05) if r["impl"].startswith("gamemix") else (0.7, 1.4)
            if not lo <= ratio <= hi:
                flags.append(f"RMS x{ratio:.2f} vs numpy")
        if r["playing"] < r["n"]:
            flags.append(f"only {r['playing']} playing")
        r["flags"] = flags
        print(f"{r['impl']:<14}{r['n']:>6}{r['ns_per_voice_frame']:>11.2f}{r['render_ns_per_voice_frame']:>9.2f}"
              f"{r['ms_per_block']:>10.3f}{r['render_ms_per_block']:>9.3f}{r['rtf']:>8.1f}{r['core_pct']:>8.1f}"
              f"{r['push_us_per_emitter']:>11.3f}{r['rms']:>8.4f}{r['playing']:>9}  {' '.join(flags)}")


def layouts_main(args) -> int:
    """--layout: every layout asked for on the same workload, interleaved run by run with OpenAL Soft
    (plain and --hrtf), each one's fixed + per-voice cost and largest real-time N, and the targets."""
    blocks = max(1, round(args.seconds * SR / BLOCK))
    audio_s = blocks * BLOCK / SR
    cpu_model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
                     platform.processor())
    print(f"gamemix layouts benchmark  {datetime.datetime.now().isoformat(timespec='seconds')}  {cpu_model}, "
          f"load {os.getloadavg()[0]:.2f}; {audio_s:.2f} s of audio per run, median of {args.runs}")
    clips = make_clips()
    exe, why = (None, "--no-openal") if args.no_openal else openal_binary()
    if exe is None:
        print(f"openal: skipped ({why})")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="gamemix-bench-") as tmp:
        folder = Path(tmp)
        plan = {}                                  # impl name -> (voice counts, runner(n, pos_all))
        for mode in args.layout:
            channels, hrtf_voices, counts = LAYOUT_MODES[mode]
            scenes = {n: write_scene(folder, clips, n, channels, hrtf_voices, f"-{mode}")
                      for n in counts or args.voices}
            plan[f"gamemix[{mode}]"] = (counts or args.voices,
                                        lambda n, p, s=scenes: gamemix_run(s[n], n, p, "vf"))
        if exe is not None:
            counts = sorted(set(args.voices) | {c for m in args.layout for c in (LAYOUT_MODES[m][2] or [])})
            plan["openal"] = (counts, lambda n, p: openal_run(exe, n, audio_s))
            plan["openal-hrtf"] = (counts, lambda n, p: openal_run(exe, n, audio_s, hrtf=True))
        for impl, (counts, run) in plan.items():        # load the kernels outside the measurements
            if impl.startswith("gamemix"):
                run(counts[0], all_positions(counts[0], 20))
        for n in sorted({c for counts, _ in plan.values() for c in counts}):
            pos_all = all_positions(n, blocks)
            impls = [(impl, run) for impl, (counts, run) in plan.items() if n in counts]
            results: dict[str, list[dict]] = {impl: [] for impl, _ in impls}
            for _ in range(args.runs):                  # interleaved, so load elsewhere hits every one
                for impl, run in impls:
                    results[impl].append(run(n, pos_all))
            rows += [summarise(impl, n, results[impl], blocks, audio_s) for impl, _ in impls]
    baseline = baseline_rows(args) if args.baseline_ref else []
    rows += baseline
    print()
    print_table(rows)
    print(f"\nfixed + per-voice cost and largest real-time N on one core (block {BLOCK_MS:.3f} ms):")
    fits = {}
    for impl in dict.fromkeys(r["impl"] for r in rows):
        f = fit([r for r in rows if r["impl"] == impl], "ms_per_block")
        fits[impl] = f
        if f is not None:
            print(f"  {impl:<28} {f['fixed_us_per_block']:8.1f} us/block + {f['ns_per_voice_frame']:6.2f} ns/voice-frame"
                  f"  -> max N {f['max_realtime_n'] if f['max_realtime_n'] is not None else 'n/a':>7}")
    print("  (binaural-direct: every voice filtered, measured up to the 64 slots there are; its max N is what an"
          " all-direct engine would reach)")
    checks = layout_checks(fits, rows, baseline)
    print("\ntargets:")
    for what, got, target, ok in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {what:<62} {got:>9}  (target {target})")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "fits": fits, "targets": TARGETS, "checks": [
            {"what": w, "value": v, "target": t, "ok": bool(ok)} for w, v, t, ok in checks]}, indent=2, default=float))
        print(f"wrote {args.json}")
    return 0


def baseline_rows(args) -> list[dict]:
    """The stereo gamemix rows of `--baseline-ref`, from its own bench_engine in a temporary worktree."""
    repo = HERE.parent
    with tempfile.TemporaryDirectory(prefix="gamemix-base-") as tmp:
        tree, out = Path(tmp) / "tree", Path(tmp) / "base.json"
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), args.baseline_ref],
                       check=True, capture_output=True)
        try:
            subprocess.run([sys.executable, str(tree / "benchmarks" / "bench_engine.py"), "--no-openal", "--no-warmup",
                            "--seconds", str(args.seconds), "--runs", str(args.runs), "--voices", *map(str, args.voices),
                            "--json", str(out)], check=True, cwd=tree, capture_output=True,
                           env=dict(os.environ, PYTHONPATH=str(tree)))
            found = json.loads(out.read_text())["rows"]
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True)
    return [{**r, "impl": f"gamemix[stereo]@{args.baseline_ref}"} for r in found if r["impl"] == "gamemix"]


def layout_checks(fits: dict, rows: list[dict], baseline: list[dict]) -> list[tuple]:
    """The spatial issue's goals, from the fits and rows of this run."""
    checks = []
    b, o = fits.get("gamemix[binaural]"), fits.get("openal-hrtf")
    if b and o and b["max_realtime_n"] and o["max_realtime_n"]:
        ratio = b["max_realtime_n"] / o["max_realtime_n"]
        checks.append(("binaural / OpenAL Soft HRTF real-time voices", f"{ratio:.1f}x",
                       f">= {TARGETS['binaural_vs_openal_hrtf']}x", ratio >= TARGETS["binaural_vs_openal_hrtf"]))
    v, s = fits.get("gamemix[7.1]"), fits.get("gamemix[stereo]")
    if v and s:
        ratio = v["ns_per_voice_frame"] / s["ns_per_voice_frame"]
        checks.append(("VBAP 7.1 / stereo per-voice cost", f"{ratio:.2f}x", f"<= {TARGETS['vbap_vs_stereo']}x",
                       ratio <= TARGETS["vbap_vs_stereo"]))
    by = {(r["impl"], r["n"]): r for r in rows}
    for r in baseline:
        now = by.get(("gamemix[stereo]", r["n"]))
        if now:
            ratio = now["ns_per_voice_frame"] / r["ns_per_voice_frame"]
            checks.append((f"N={r['n']}: stereo now / {r['impl'].split('@')[1]} ns per voice-frame", f"{ratio:.2f}",
                           f"<= {TARGETS['stereo_vs_before']}", ratio <= TARGETS["stereo_vs_before"]))
    return checks


def main() -> int:
    ap = argparse.ArgumentParser(description="gamemix engine vs NumPy vs OpenAL Soft on the moving-voices workload")
    ap.add_argument("--seconds", type=float, default=5.0, help="audio seconds per run (default 5)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure, the median is kept (default 3)")
    ap.add_argument("--voices", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--quick", action="store_true", help="smoke run: 0.5 s of audio, 1 run")
    ap.add_argument("--no-openal", action="store_true")
    ap.add_argument("--no-warmup", action="store_true", help="skip the cold/warm JIT start measurement")
    ap.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    ap.add_argument("--layout", nargs="+", choices=list(LAYOUT_MODES),
                    help="compare output layouts side by side (and OpenAL Soft with and without HRTF)")
    ap.add_argument("--baseline-ref", help="with --layout: also the stereo rows of this commit, in the same run")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.runs = 0.5, 1
    if args.layout:
        return layouts_main(args)
    blocks = max(1, round(args.seconds * SR / BLOCK))
    audio_s = blocks * BLOCK / SR
    started = time.perf_counter()

    cpu_model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
                     platform.processor())
    import numba
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu_model,
            "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "audio_s": audio_s, "blocks": blocks, "runs": args.runs,
            "load_before": os.getloadavg()}
    print(f"gamemix engine benchmark  {meta['date']}  {cpu_model}, {os.cpu_count()} cores, "
          f"load {meta['load_before'][0]:.2f}/{meta['load_before'][1]:.2f}")
    print(f"workload: {audio_s:.2f} s of audio per run ({blocks} blocks of {BLOCK}), median of {args.runs}, "
          f"pitch {PITCH}, one thread; python {meta['python']}, numpy {meta['numpy']}, numba {meta['numba']}")

    clips = make_clips()
    exe, why = (None, "--no-openal") if args.no_openal else openal_binary()
    if exe is None:
        print(f"openal: skipped ({why})")
    rows: list[dict] = []
    profiles: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="gamemix-bench-") as tmp:
        folder = Path(tmp)
        scenes = {n: write_scene(folder, clips, n) for n in args.voices}
        n0 = args.voices[0]
        warm_pos = all_positions(n0, 200)
        gamemix_run(scenes[n0], n0, warm_pos, "vf")            # JIT cache load and first-touch outside the measurements
        numpy_run(clips, n0, warm_pos)
        for n in args.voices:
            pos_all = all_positions(n, blocks)
            impls = [("gamemix", lambda: gamemix_run(scenes[n], n, pos_all, "vf")),
                     ("gamemix/emit", lambda: gamemix_run(scenes[n], n, pos_all, "emit")),
                     ("numpy", lambda: numpy_run(clips, n, pos_all))]
            if exe is not None:
                impls.append(("openal", lambda: openal_run(exe, n, audio_s)))
            # runs interleaved (A B C D, A B C D, ...) so a burst of load elsewhere hits every implementation
            results: dict[str, list[dict]] = {name: [] for name, _ in impls}
            for _ in range(args.runs):
                for name, fn in impls:
                    results[name].append(fn())
            rows += [summarise(name, n, results[name], blocks, audio_s) for name, _ in impls]
            profiles[n] = gamemix_profile(scenes[n], n, pos_all)
            del pos_all
        warm = None if args.no_warmup else jit_warmup(scenes[args.voices[0]])
    meta["load_after"] = os.getloadavg()
    meta["elapsed_s"] = time.perf_counter() - started

    print()
    print_table(rows)
    print("ns/v-frame = CPU s / (N x audio s x 48000) of the loop: push positions + render (openal: + computing the")
    print("positions in C); render = without the push; push us/em = the push per emitter per block; RMS at unity")
    print("master gain (gamemix and numpy run at 1/sqrt(N) to stay under the 0 dBFS ceiling, scaled back here)")

    print(f"\nfixed + per-voice cost (least-squares line through ms/block at N = {args.voices}); "
          f"largest real-time N on one core = (block {BLOCK_MS:.3f} ms - fixed) / per-voice, extrapolated:")
    fits = {}
    for impl in dict.fromkeys(r["impl"] for r in rows):
        sel = [r for r in rows if r["impl"] == impl]
        fits[impl] = {"total": fit(sel, "ms_per_block"), "render": fit(sel, "render_ms_per_block")}
        f, fr = fits[impl]["total"], fits[impl]["render"]
        if f is None:
            continue
        line = (f"  {impl:<13} {f['fixed_us_per_block']:8.1f} us/block + {f['ns_per_voice_frame']:6.2f} ns/voice-frame"
                f"  -> max N {f['max_realtime_n'] if f['max_realtime_n'] is not None else 'n/a':>7}")
        if fr is not None and impl.startswith("gamemix"):
            line += (f"   (render only: {fr['fixed_us_per_block']:.1f} us + {fr['ns_per_voice_frame']:.2f} ns"
                     f" -> {fr['max_realtime_n']})")
        print(line)
    if any(f["total"] and f["total"]["max_realtime_n"] and f["total"]["max_realtime_n"] > 4096
           for k, f in fits.items() if k.startswith("gamemix")):
        print("  (gamemix scenes cap output.max_voices at 4096: beyond that is an extrapolation of the kernel only)")

    print("\ngamemix Mixer.render taken apart (us per block, one run): control tick (of which VoicePool.assign), "
          "kernel, reap")
    for n, pr in profiles.items():
        print(f"  N={n:<5} tick {pr['tick']:8.1f} (assign {pr['assign']:6.1f})   kernel {pr['kernel']:8.1f} "
              f"({pr['kernel'] * 1e3 / (n * BLOCK):.2f} ns/voice-frame)   reap {pr['reap']:6.1f}")

    print("\ntargets:")
    by = {(r["impl"], r["n"]): r for r in rows}
    checks = []
    for n in args.voices:
        g, o, p = by.get(("gamemix", n)), by.get(("openal", n)), by.get(("numpy", n))
        if g and o:
            ratio = g["ns_per_voice_frame"] / o["ns_per_voice_frame"]
            checks.append((f"N={n}: gamemix / OpenAL Soft ns per voice-frame", f"{ratio:.2f}", f"<= {TARGETS['vs_openal']}",
                           ratio <= TARGETS["vs_openal"]))
        if g and p:
            ratio = g["ns_per_voice_frame"] / p["ns_per_voice_frame"]
            checks.append((f"N={n}: gamemix / NumPy ns per voice-frame", f"{ratio:.2f}", f"<= {TARGETS['vs_numpy']}",
                           ratio <= TARGETS["vs_numpy"]))
    g = by.get(("gamemix", 1024))
    if g:
        checks.append(("N=1024: gamemix share of the block budget (render+update)", f"{g['core_pct']:.1f} %",
                       f"< {TARGETS['budget_1024_pct']} %", g["core_pct"] < TARGETS["budget_1024_pct"]))
        checks.append(("N=1024: gamemix share of the block budget (render only)",
                       f"{g['render_cpu_s'] / audio_s * 100:.1f} %", f"< {TARGETS['budget_1024_pct']} %",
                       g["render_cpu_s"] / audio_s * 100 < TARGETS["budget_1024_pct"]))
    if warm:
        checks.append(("gamemix warm start (import .. first block)", f"{warm['warm']['total_s']:.2f} s",
                       f"< {TARGETS['warm_start_s']} s", warm["warm"]["total_s"] < TARGETS["warm_start_s"]))
    for what, got, target, ok in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {what:<62} {got:>9}  (target {target})")

    if warm:
        c, w = warm["cold"], warm["warm"]
        print("\ngamemix JIT start, import gamemix.control.mixer .. first rendered block (fresh subprocess each):")
        print(f"  cold cache {c['total_s']:6.2f} s  (import {c['import_s']:.2f}, scene+64 plays {c['setup_s']:.2f}, "
              f"first block {c['first_block_s']:.2f})")
        print(f"  warm cache {w['total_s']:6.2f} s  (import {w['import_s']:.2f}, scene+64 plays {w['setup_s']:.2f}, "
              f"first block {w['first_block_s']:.2f})")
    print(f"\nload average before {meta['load_before'][0]:.2f}, after {meta['load_after'][0]:.2f}; "
          f"benchmark took {meta['elapsed_s']:.0f} s")

    if args.json:
        Path(args.json).write_text(json.dumps(
            {"meta": meta, "targets": TARGETS, "rows": rows, "fits": fits, "gamemix_profile_us_per_block": profiles,
             "jit_start": warm,
             "checks": [{"what": w, "value": v, "target": t, "ok": ok} for w, v, t, ok in checks]}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
