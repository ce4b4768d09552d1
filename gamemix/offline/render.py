"""Offline rendering: a scene plus a script of timed messages to WAV files.

The same Mixer and Engine as the live server, driven block by block from the
script instead of the network, so a recorded session replays to the same
samples.  Same scene + script + seed gives bit-identical output.  A command the
mixer refuses (unknown sound, no free voice, ...) is listed in the report with
the script line that sent it, and rendering goes on.

Edge: file output.
"""

from __future__ import annotations

import dataclasses
import json
import math
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from numba import njit

from gamemix.errors import CommandError
from gamemix.control.mixer import Mixer
from gamemix.control.voices import census
from gamemix.core.arrays import BF_PEAK, BF_SUMSQ
from gamemix.scene.load import load_scene
from gamemix.scene.model import Scene
from gamemix.scene.script import Script, load_script
from gamemix.io.wav import WavWriter
from gamemix.offline.margins import LineMargins
from gamemix.offline.microphone import MicRecording

SNAPSHOT_SAMPLE_S = 0.1   # how often the report samples snapshot levels


def level_db(x: float) -> float | None:
    """dBFS of a linear level; None for silence (JSON has no -inf)."""
    return round(20.0 * math.log10(x), 3) if x > 0.0 else None


class LevelTally:
    """Peak and RMS of each bus across a render, from the engine's per-block meters."""

    def __init__(self, n_buses: int):
        self.peak = np.zeros(n_buses)
        self.sumsq = np.zeros(n_buses)
        self.samples = 0

    def add(self, levels: np.ndarray, samples: int) -> None:
        """Blocks' levels, levels[block, bus] = (peak, sum of squares) from the engine's per-block
        meters, each block of `samples` samples: the running maximum, and the sums added one block
        after another (np.add.accumulate, not a pairwise sum), as block by block."""
        np.maximum(self.peak, levels[:, :, 0].max(axis=0, initial=0.0), out=self.peak)
        self.sumsq = np.add.accumulate(np.concatenate([self.sumsq[None], levels[:, :, 1]]), axis=0)[-1]
        self.samples += samples * len(levels)

    def bus(self, i: int) -> dict:
        rms = math.sqrt(self.sumsq[i] / self.samples) if self.samples else 0.0
        return {"peak_dbfs": level_db(self.peak[i]), "rms_dbfs": level_db(rms)}


class VoiceTimeline:
    """The most real and most virtual voices in each STEP_S of the render (the report's
    voices.timeline: what `gamemix analyze` plots without rendering again)."""

    STEP_S = 0.1

    def __init__(self, dt: float):
        self.dt = dt
        self.steps: list[dict] = []

    def sample(self, block: int, vi: np.ndarray) -> None:
        _, real, virtual = census(vi)
        step = int(block * self.dt / self.STEP_S + 1e-9)
        if step >= len(self.steps):
            self.steps.append({"t": round(step * self.STEP_S, 3), "real": real, "virtual": virtual})
        else:
            last = self.steps[-1]
            if real > last["real"]:
                last["real"] = real
            if virtual > last["virtual"]:
                last["virtual"] = virtual


class BlockBuffer:
    """The render's outputs of each block, gathered about a second at a time and then written and
    tallied: the mix, each bus's post-fader stem (its buffer as the block ended, interleaved as the
    file wants it) and the buses' levels are copied into preallocated arrays by one jitted call a
    block (`gather`), where writing a block to every file and tallying it cost ~55 us a block in
    per-call overhead (10 files, 7,500 blocks for the showcase).  The files' bytes are the same;
    each is written, and its header patched, once a second of audio, as WavWriter does block by
    block (so a file still reads up to its last second after a crash)."""

    def __init__(self, mixer: Mixer, out: WavWriter, stems: list[WavWriter], tally: LevelTally):
        self.out, self.stems, self.tally = out, stems, tally
        self.arrays = mixer.arrays
        n = mixer.block_size
        self.blocks = -(-out.sync_frames // n)         # blocks per flush: a second of audio, rounded up
        self.frames = n
        self.mix = np.zeros((self.blocks, n, mixer.channels), dtype=np.float32)
        # each stem's blocks as they go to its file: (frame, channel), where the engine has (channel, frame)
        self.buses = np.zeros((len(stems), self.blocks, n, mixer.channels), dtype=np.float32)
        self.levels = np.zeros((self.blocks, len(mixer.bus_names), 2))
        self.filled = 0

    def add(self, block: np.ndarray) -> None:
        """Take the block just rendered (and the engine's bus buffers and levels as it left them)."""
        gather(self.filled, block, self.arrays.bus_buf, self.arrays.bf, self.mix, self.buses, self.levels)
        self.filled += 1
        if self.filled == self.blocks:
            self.flush()

    def flush(self) -> None:
        """Write and tally what was gathered."""
        k = self.filled
        if k == 0:
            return
        channels = self.mix.shape[2]
        self.out.write(self.mix[:k].reshape(-1, channels))
        for i, stem in enumerate(self.stems):
            stem.write(self.buses[i, :k].reshape(-1, channels))
        self.tally.add(self.levels[:k], self.frames * channels)
        self.filled = 0


@njit(cache=True, nogil=True)
def gather(k, block, bus_buf, bf, mix, stems, levels):
    """Block k of the flush: the mix, each stem (stems[s, k, frame, channel] from the engine's
    bus_buf[s, channel, frame]) and each bus's (peak, sum of squares) of the block."""
    n, channels = block.shape
    for i in range(n):
        for c in range(channels):
            mix[k, i, c] = block[i, c]
    for s in range(stems.shape[0]):
        for c in range(channels):
            for i in range(n):
                stems[s, k, i, c] = bus_buf[s, c, i]
    for b in range(levels.shape[1]):
        levels[k, b, 0] = bf[b, BF_PEAK]
        levels[k, b, 1] = bf[b, BF_SUMSQ]


def render(scene: Scene | str | Path, script: Script | str | Path, out_path: str | Path,
           seed: int | None = None, stems_dir: str | Path | None = None,
           report_path: str | Path | None = None, fmt: str = "float", strict: bool = False,
           bank=None, layout: str | None = None, mic: str | Path | None = None) -> dict:
    """Render `script` through `scene` into `out_path`; returns the report dict.  With `strict`, a
    script naming what the scene lacks is refused before rendering (LocatedError), as
    `gamemix validate --script` does; commands the mixer refuses are listed in the report either way.
    `bank`: the scene's decoded audio from an earlier render of the same scene (mix CI renders many
    recordings through one scene; a scene with `upload` sounds must not share it).  `layout`: the
    output layout instead of the scene's (a path only; a Scene object is rendered as it is).  `mic`: a
    recording that stands in for the scene's microphone (offline/microphone.py); the report's
    `microphone` gives the ambient estimate, gains and speech segments over time."""
    if not isinstance(scene, Scene):
        scene = load_scene(scene, layout=layout)
    out_cfg = scene.output
    if not isinstance(script, Script):
        script = load_script(script, out_cfg.sample_rate, out_cfg.block_size, scene if strict else None)
    seed = seed if seed is not None else (script.seed or 0)
    mixer = Mixer(scene, seed=seed, bank=bank)
    tally = LevelTally(len(mixer.bus_names))
    lines = LineMargins(mixer)
    voices = VoiceTimeline(mixer.dt)
    errors: list[dict] = []
    snapshot_levels: list[dict] = []
    levels_every = max(1, round(SNAPSHOT_SAMPLE_S / mixer.dt))
    nblocks = script.blocks(out_cfg.sample_rate, out_cfg.block_size)
    block = np.zeros((out_cfg.block_size, mixer.channels), dtype=np.float32)
    recording = MicRecording(mic, mixer) if mic is not None else None
    with ExitStack() as files:
        out = files.enter_context(_open(out_path, out_cfg.sample_rate, mixer.channels, fmt, mixer.layout.mask))
        sink = BlockBuffer(mixer, out, _open_stems(files, stems_dir, mixer, fmt), tally)
        pending, k = script.messages, 0
        for b in range(nblocks):
            while k < len(pending) and pending[k].block <= b:
                _apply(mixer, pending[k], errors)
                k += 1
            if recording is not None:
                recording.before()
            mixer.render(block)
            if recording is not None:
                recording.after(b, block)
            sink.add(block)
            voices.sample(b, mixer.arrays.vi)
            lines.sample(b)
            if b % levels_every == 0 and mixer.snapshots.active:
                snapshot_levels.append({"t": round(b * mixer.dt, 4), **mixer.snapshots.levels()})
        sink.flush()
    report = _report(scene, mixer, tally, nblocks, seed, errors, snapshot_levels)
    report["lines"] = lines.report()
    report["voices"]["timeline"] = voices.steps
    if recording is not None:
        report["microphone"] = recording.report()
    if report_path is not None:
        Path(report_path).write_text(json.dumps(report, indent=2) + "\n")
    return report


def _open(path, rate, channels, fmt, mask=None):
    return WavWriter(path, rate, channels, fmt, mask=mask)


def _open_stems(files: ExitStack, stems_dir, mixer: Mixer, fmt):
    if stems_dir is None:
        return []
    Path(stems_dir).mkdir(parents=True, exist_ok=True)
    return [files.enter_context(_open(Path(stems_dir) / f"{name}.wav", mixer.sample_rate, mixer.channels, fmt,
                                      mixer.layout.mask))
            for name in mixer.bus_names]


def _apply(mixer: Mixer, item, errors: list[dict]) -> None:
    try:
        mixer.apply(item.message)
    except CommandError as exc:
        errors.append({"block": item.block, "where": item.where, "code": exc.code, "message": exc.message})


def _report(scene: Scene, mixer: Mixer, tally: LevelTally, nblocks: int, seed: int, errors,
            snapshot_levels: list[dict]) -> dict:
    out = scene.output
    master = mixer.bus_index["master"]
    return {
        "scene": scene.name,
        "seed": seed,
        "sample_rate": out.sample_rate,
        "block_size": out.block_size,
        "blocks": nblocks,
        "duration_s": round(nblocks * out.block_size / out.sample_rate, 6),
        "master": tally.bus(master),
        "buses": {name: tally.bus(i) for i, name in enumerate(mixer.bus_names)},
        "voices": {**dataclasses.asdict(mixer.stats), "log": _voice_log(mixer),
                   "log_total": mixer.instances.voice_log_total},
        "loudness": mixer.chains.readings(),
        "snapshots": {"events": list(mixer.snapshots.timeline), "levels": snapshot_levels},
        "errors": errors + [dict(e, where="event action") for e in mixer.action_errors],
    }


def _voice_log(mixer: Mixer) -> list[dict]:
    """Each steal and each switch between real and virtual: when (s), what and why (the last
    VOICE_LOG_KEPT; `log_total` counts them all)."""
    return [{"t": round(e["block"] * mixer.dt, 4), **{k: v for k, v in e.items() if k != "block"}}
            for e in mixer.instances.voice_log]


def format_report(report: dict) -> str:
    """A short human summary of a render report."""
    def fmt(x):
        return "-inf" if x is None else f"{x:7.2f}"
    lines = [f"rendered {report['duration_s']:.2f} s at {report['sample_rate']} Hz "
             f"({report['blocks']} blocks of {report['block_size']}), seed {report['seed']}",
             f"master  peak {fmt(report['master']['peak_dbfs'])} dBFS  rms {fmt(report['master']['rms_dbfs'])} dBFS",
             "bus            peak dBFS   rms dBFS"]
    for name, lv in report["buses"].items():
        lines.append(f"  {name:<12} {fmt(lv['peak_dbfs'])}    {fmt(lv['rms_dbfs'])}")
    lo = report.get("loudness", {}).get("master", {})
    if lo.get("integrated_lufs") is not None:
        lines.append(f"master loudness {lo['integrated_lufs']:.1f} LUFS integrated, LRA {lo['lra_lu']:.1f} LU, "
                     f"true peak {fmt(lo['true_peak_dbtp']).strip()} dBTP")
    v = report["voices"]
    lines.append(f"voices: {v['plays']} played, {v['refused']} refused, {v['steals']} stolen; "
                 f"peak {v['peak_real']} real, {v['peak_virtual']} virtual; "
                 f"{v['virtualizations']} virtualizations, {v['devirtualizations']} devirtualizations")
    for e in report["snapshots"]["events"]:
        lines.append(f"  {e['t']:7.2f} s  snapshot {e['snapshot']} {e['event']}")
    for e in report["errors"]:
        lines.append(f"error at {e['where']} (block {e['block']}): {e['code']}: {e['message']}")
    return "\n".join(lines)
