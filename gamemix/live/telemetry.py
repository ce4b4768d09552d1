"""What the live server says about the mix: telemetry frames, `query` replies, and their schema.

Telemetry is published on the PUB socket every few blocks (about
--telemetry-hz per second): per-bus levels and loudness, each bus processor's
figures (the registry's `readings`), voices, snapshots and the audio
thread's health.  `query` returns the same state and more, on request.  The
models below describe the frames for `gamemix schema --protocol`; the frames
themselves are built by `telemetry` and `query`.

Control side of the live server: runs on the render thread between blocks.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import numpy as np
from pydantic import Field, create_model

from gamemix import processors
from gamemix.core.arrays import BF_PEAK, BF_SUMSQ
from gamemix.protocol.messages import PROTOCOL_VERSION
from gamemix.protocol.schema import ErrorBody, Frame
from gamemix.units import level_db


class BusMeters(Frame):
    """One bus's post-fader levels and loudness (BS.1770-4); null = not measured yet or silence."""

    peak_dbfs: Optional[float] = Field(description="sample peak of the last block, dBFS")
    rms_dbfs: Optional[float] = Field(description="RMS of the last block over all channels, dBFS")
    momentary_lufs: Optional[float] = Field(description="momentary loudness (400 ms), LUFS")
    short_term_lufs: Optional[float] = Field(description="short-term loudness (3 s), LUFS")
    integrated_lufs: Optional[float] = Field(description="integrated loudness since the start, LUFS")
    lra_lu: float = Field(description="loudness range (EBU Tech 3342), LU")
    max_momentary_lufs: Optional[float] = Field(description="highest momentary loudness since the start, LUFS")
    max_short_term_lufs: Optional[float] = Field(description="highest short-term loudness since the start, LUFS")
    true_peak_dbtp: Optional[float] = Field(description="highest true peak since the start, dBTP")
    sample_peak_dbfs: Optional[float] = Field(description="highest sample peak since the start, dBFS")


BusLevel = create_model(
    "BusLevel", __base__=BusMeters, __module__=__name__,
    __doc__=("One bus's levels, loudness and processors' figures; the processor fields appear only on buses "
             "that have that processor (gamemix/processors/)."),
    **{r.name: (r.type, Field(None, description=r.description)) for r in processors.readings()})


class VoiceCounts(Frame):
    real: int = Field(ge=0, description="voices rendered (playing or fading out)")
    virtual: int = Field(ge=0, description="voices tracked but not rendered")


class FaultCounts(Frame):
    total: int = Field(ge=0, description="faults caught on the server's threads since start (live/supervision.py)")
    by_stage: dict[str, int] = Field(description="the count per stage: command, control, kernel, network, reload, "
                                                  "'<thread> stall', ...")
    last: Optional[str] = Field(description="the last fault's stage and message, or null")


class Clock(Frame):
    """The mixer's sample clock against the wall clock: schedule a message for wall time T with
    at_sample = sample + (T - time) x sample_rate (+ latency_s x sample_rate to be heard at T)."""

    sample: int = Field(ge=0, description="first sample of the last block rendered")
    time: float = Field(description="when its rendering began, seconds since the Unix epoch")
    sample_rate: int
    latency_s: float = Field(description="from rendering to the speaker: render-ahead and the device's latency")


class MicCapture(Frame):
    """The microphone's input on the device's clock (io/portaudio.py, DeviceInput)."""

    blocks: int = Field(ge=0, description="blocks captured")
    delivered: int = Field(ge=0, description="blocks the render thread took")
    overruns: int = Field(ge=0, description="captured blocks lost: the ring was full or held more than it needs")
    underruns: int = Field(ge=0, description="blocks the render thread found no capture for (silence instead)")
    fill: int = Field(ge=0, description="captured blocks waiting")
    latency_ms: float = Field(description="capture side: PortAudio's input latency and the blocks held")


class MicStatus(Frame):
    """AR mode (docs/architecture.md, "The input path"): what the microphone tells the mix."""

    status: str = Field(description="capturing, file PATH, off: why, or unavailable: why")
    detector: Optional[str] = Field(None, description="the voice-activity detector")
    echo: Optional[str] = Field(None, description="headphones or speakers")
    ambient_lufs: Optional[float] = Field(None, description="the ambient noise estimate, LUFS (null until known)")
    speech: Optional[bool] = Field(None, description="a person is speaking now")
    segments: Optional[int] = Field(None, ge=0, description="speech segments found since start")
    echo_delay_ms: Optional[float] = Field(None, description="speakers: the output-to-mic delay measured")
    echo_path_db: Optional[float] = Field(None, description="speakers: the echo path's gain learned")
    vetoed_frames: Optional[int] = Field(None, ge=0, description="speakers: detector frames the echo explained")
    dropped: Optional[int] = Field(None, ge=0, description="blocks the analysis thread fell too far behind to see")
    lag_blocks: Optional[int] = Field(None, ge=0, description="blocks waiting for the analysis thread")
    analysis_us_median: Optional[float] = Field(None, description="the analysis's time per block (its own thread)")
    capture: Optional[MicCapture] = Field(None, description="a device's capture (absent for a file)")
    boost_db: Optional[dict[str, float]] = Field(None, description="each following bus's ambient boost, dB")
    duck_db: Optional[dict[str, float]] = Field(None, description="each ducking bus's speech duck, dB")


class Telemetry(Frame):
    """Published on the PUB socket every few blocks (about --telemetry-hz per second)."""

    v: Literal[1] = Field(description="protocol version")
    type: Literal["telemetry"]
    block: int = Field(ge=0, description="blocks rendered so far")
    time_s: float = Field(description="mixer time at the end of the last rendered block, seconds")
    buses: dict[str, BusLevel]
    voices: VoiceCounts
    snapshots: dict[str, float] = Field(description="weight of each active snapshot, percent")
    xruns: int = Field(ge=0, description="output underruns since start")
    cpu_load: float = Field(description="median render time per block / block period (1.0 = no headroom)")
    stream_drops: int = Field(ge=0, description="stream frames dropped, plus unknown ids in stream poses, since start")
    stream_underruns: int = Field(0, ge=0, description="blocks in which a streamed sound's voice read past what "
                                                       "its file's reader had delivered (heard as a gap)")
    stale_drops: int = Field(ge=0, description="of those, stream frames dropped for being stale (sent before the "
                                               "server was ready, or older than its age limit)")
    faults: FaultCounts
    clock: Clock
    microphone: Optional[MicStatus] = Field(None, description="AR mode, for a scene with a microphone")


class Notify(Frame):
    """Sent on the command socket to the session that owns an instance (live/sessions.py)."""

    v: Literal[1] = Field(description="protocol version")
    type: Literal["notify"]
    id: int = Field(description="the instance")
    event: Literal["started", "virtual", "real", "stolen", "paused", "resumed", "refused", "ended"]
    block: int = Field(description="the block it happened in")
    sample: Optional[int] = Field(None, description="started: the sample its first voice started at")
    code: Optional[str] = Field(None, description="refused: why (an error code)")
    message: Optional[str] = Field(None, description="refused: the explanation")


class Ready(Frame):
    """Published once on the PUB socket when the server is ready: commands are carried out from now on."""

    v: Literal[1] = Field(description="protocol version")
    type: Literal["ready"]
    block: int = Field(ge=0, description="blocks rendered so far (0)")
    sample_rate: int = Field(description="the mixer's sample rate, Hz")
    block_size: int = Field(description="frames per block")
    endpoints: dict[str, str] = Field(description="the endpoints bound: commands, streams, telemetry")
    priority: str = Field(description="the scheduling the render thread got (SCHED_FIFO, a nice value, or normal)")


class Fault(Frame):
    """Published on the PUB socket when a thread of the server stalls (live/supervision.py)."""

    v: Literal[1] = Field(description="protocol version")
    type: Literal["fault"]
    stage: str = Field(description="what stalled or failed, e.g. 'render stall'")
    message: str


class Reload(Frame):
    """Published on the PUB socket after `--watch` reloaded (or failed to reload) the scene."""

    v: Literal[1] = Field(description="protocol version")
    type: Literal["reload"]
    ok: bool
    error: Optional[ErrorBody] = Field(description="why the edit was refused (the old scene keeps playing)")


PUBLISHED = (Telemetry, Ready, Fault, Reload)
SENT = (Notify,)       # frames sent to one client on the command socket, besides replies


def telemetry(mixer, output_stats: dict, stats, faults: dict, clock: dict, microphone: dict | None = None
              ) -> dict[str, Any]:
    """One telemetry frame: levels, voices, audio-thread health."""
    m = mixer
    bf = m.arrays.bf
    n = m.block_size * m.channels
    readings = m.chains.readings()
    buses = {name: {"peak_dbfs": level_db(bf[i, BF_PEAK], 2), "rms_dbfs": level_db(np.sqrt(bf[i, BF_SUMSQ] / n), 2),
                    **readings.get(name, {})}
             for name, i in m.bus_index.items()}
    return {"type": "telemetry", "block": m.block_index, "time_s": round(m.block_index * m.dt, 4),
            "buses": buses, "voices": {"real": m.active_voices(), "virtual": m.virtual_voices()},
            "snapshots": m.snapshots.levels(), "xruns": output_stats.get("xruns", 0),
            "cpu_load": output_stats.get("cpu_load", 0.0), "stream_drops": stats.stream_drops,
            "stream_underruns": m.streams.underruns,
            "stale_drops": stats.stale_drops, "faults": faults, "clock": clock,
            **({"microphone": microphone} if microphone is not None else {})}


def ready(mixer, endpoints: dict[str, str], output_stats: dict) -> dict[str, Any]:
    """The frame published once the server is ready."""
    return {"type": "ready", "block": mixer.block_index, "sample_rate": mixer.sample_rate,
            "block_size": mixer.block_size, "endpoints": dict(endpoints),
            "priority": output_stats.get("priority", "normal")}


def query(mixer, server_stats: dict, output_stats: dict, faults: dict, microphone: dict | None = None
          ) -> dict[str, Any]:
    """The state a `query` command returns."""
    m = mixer
    return {
        "block": m.block_index,
        "time_s": round(m.block_index * m.dt, 6),
        "voices": {"real": m.active_voices(), "virtual": m.virtual_voices(), **vars(m.stats)},
        "instances": len(m.instances),
        "buses": {n: {"volume_db": round(float(m.bus_values.volume_db[i]), 3)} for n, i in m.bus_index.items()},
        "vcas": {n: round(db, 3) for n, db in m.buses.vca_db().items()},
        "loudness": m.chains.readings(),
        "snapshots": m.snapshots.levels(),
        "parameters": dict(m.parameters.values),
        "server": server_stats,
        "output": output_stats,
        "faults": faults,
        **({"microphone": microphone} if microphone is not None else {}),
    }


def ping(mixer, clock: dict) -> dict[str, Any]:
    """The reply to `ping` (and the start of `hello`'s)."""
    return {"version": PROTOCOL_VERSION, "block": mixer.block_index, "clock": clock}
