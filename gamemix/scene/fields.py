"""The field types scene models share: units, ranges, and the strict base model.

Every number a designer writes is checked against the range the engine can
honour, and NaN or infinity is never accepted.  Control side.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Decibels = Annotated[float, Field(ge=-144.0, le=24.0, allow_inf_nan=False)]
Priority = Annotated[int, Field(ge=0, le=255, description="0 least .. 255 most important")]
Seconds = Annotated[float, Field(ge=0.0, le=3600.0, allow_inf_nan=False)]
Milliseconds = Annotated[float, Field(ge=0.0, le=60000.0, allow_inf_nan=False)]
Hertz = Annotated[float, Field(ge=10.0, le=96000.0, allow_inf_nan=False)]
Level = Annotated[float, Field(ge=-120.0, le=24.0, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Semitones = Annotated[float, Field(ge=-48.0, le=48.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]
StealPolicy = Literal["oldest", "quietest", "lowest_priority", "furthest", "refuse"]


def ranged(lo: float, hi: float, **kwargs):
    """A finite float field type within [lo, hi]."""
    return Annotated[float, Field(ge=lo, le=hi, allow_inf_nan=False, **kwargs)]


class Strict(BaseModel):
    """Base for every scene model: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
