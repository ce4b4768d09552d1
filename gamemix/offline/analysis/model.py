"""The analysis JSON (analysis.json), as pydantic models: its documentation and its JSON Schema.

`schema.json` beside this file is `python -m gamemix.offline.analysis.model`'s output,
published for other tools; tests/test_analyze.py checks that the file is
current and that every analysis validates against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_PATH = Path(__file__).with_name("schema.json")
VERSION = 1

Lufs = Optional[float]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(Model):
    folder: str = Field(description="the render folder analysed")
    scene: Optional[str] = Field(description="the scene file, when known")
    script: Optional[str] = Field(description="the script rendered, when known")
    scene_name: Optional[str]
    seed: int
    sample_rate: int
    duration_s: float


class BusLoudness(Model):
    """One bus's loudness over time (every 100 ms, at each step's end) and over the whole render."""

    momentary: list[Lufs] = Field(description="momentary loudness (400 ms) at the end of each step, LUFS; "
                                              "null = silence")
    short_term: list[Lufs] = Field(description="short-term loudness (3 s) at the end of each step, LUFS")
    integrated_lufs: Lufs
    lra_lu: Optional[float] = Field(description="loudness range (EBU Tech 3342), LU")
    true_peak_dbtp: Optional[float]
    max_momentary_lufs: Lufs
    max_short_term_lufs: Lufs
    target_lufs: Optional[float] = Field(description="the bus's `loudness` target in the scene, if any")


class SnapshotMarker(Model):
    t: float
    snapshot: str
    event: str


class EventMarker(Model):
    t: float
    name: str = Field(description="the event the script posted")


class Markers(Model):
    snapshots: list[SnapshotMarker]
    events: list[EventMarker]


class Figures(Model):
    mean_lu: Optional[float] = Field(description="energy-mean margin while the protected bus speaks, LU")
    by_snapshot: dict[str, Optional[float]] = Field(description="the same, during each snapshot")


class Balance(Model):
    bus: str = Field(description="the protected bus")
    against: list[str]
    speaking_percent: Optional[float]
    rest: Figures = Field(description="against the sum of the `against` buses")
    per_bus: dict[str, Figures]


class Band(Model):
    lo_hz: float
    hi_hz: float
    label: str


class MaskingPair(Model):
    masker: str
    target: str
    masked_percent: Optional[float] = Field(description="share of the target's active steps in which the masker "
                                                       "masks at least half of it (loudness-weighted), %")
    by_band_percent: list[Optional[float]] = Field(description="per report band: share of the target's active "
                                                              "steps in which that band of it is masked, %")
    timeline: list[Optional[float]] = Field(description="per step: the masked share of the target (0-1), null "
                                                       "while the target is silent")
    band_timeline: list[list[int]] = Field(description="per report band, per step: 1 where that band is masked")


class Masking(Model):
    measure: str
    tmr_db: float
    present_range_db: float
    active_dbfs: float
    bands: list[Band]
    erb_centres_hz: list[Optional[float]]
    active_percent: dict[str, Optional[float]]
    pairs: list[MaskingPair]


class PanBand(Model):
    hz: Optional[float]
    level_db: Optional[float]
    pan: Optional[float] = Field(description="-1 left .. 1 right (constant-power law)")
    spread: Optional[float]


class ReverbLevel(Model):
    bus: str
    ret: str = Field(alias="return")
    send_db: float
    dry_lufs: Lufs
    reverb_lufs: Lufs
    reverb_lu: Optional[float] = Field(description="reverb loudness relative to the dry bus (De Man et al. 2017), LU")
    explained_db: Optional[float] = Field(description="energy of the senders' shares against the return's stem, dB")


class VoiceCounts(Model):
    real: list[int]
    virtual: list[int]


class VoiceEvent(Model):
    t: float
    event: str
    id: int
    sound: str
    reason: str


class Voices(Model):
    counts: Optional[VoiceCounts] = Field(description="most real / virtual voices per step (null: unknown)")
    counts_source: Optional[Literal["report", "replay"]]
    peak_real: int
    peak_virtual: int
    plays: int
    refused: int
    steals: int
    virtualizations: int
    devirtualizations: int
    log_total: int
    events: list[VoiceEvent]


class Line(Model):
    model_config = ConfigDict(extra="allow")
    bus: str
    sound: str
    start: float
    end: float
    worst_3s_margin_lu: Optional[float]
    mean_margin_lu: Optional[float]


class Sentence(Model):
    text: str
    sources: list[str] = Field(description="JSON paths (a.b[2].c) of the values the sentence's numbers come from, "
                                           "in order")


class BusDifference(Model):
    integrated_lu: Optional[float] = Field(description="this render minus the reference, LU")
    short_term_mean_lu: Optional[float]
    lra_lu: Optional[float]
    true_peak_db: Optional[float]


class Reference(Model):
    folder: str
    buses: dict[str, BusDifference]
    masking_percent: dict[str, Optional[float]] = Field(description="'masker>target': this minus the reference, "
                                                                   "percentage points")
    balance_lu: dict[str, Optional[float]] = Field(description="protected bus's mean margin over the rest: "
                                                              "this minus the reference, LU")
    short_term: dict[str, list[Lufs]] = Field(description="the reference's short-term curves, for the overlay")


class Analysis(Model):
    """analysis.json: what `gamemix analyze` measured in one render (docs/analysis.md)."""

    version: Literal[1]
    source: Source
    notes: list[str]
    buses: list[str]
    mix_buses: list[str]
    step_s: float
    steps: int
    loudness: dict[str, BusLoudness]
    markers: Markers
    balance: list[Balance]
    masking: Masking
    panmap: dict[str, list[PanBand]]
    reverb: list[ReverbLevel]
    voices: Voices
    lines: list[Line]
    description: list[Sentence]
    reference: Optional[Reference]


def json_schema() -> dict:
    schema = Analysis.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gamemix analysis"
    return schema


if __name__ == "__main__":
    SCHEMA_PATH.write_text(json.dumps(json_schema(), indent=2) + "\n")
