"""The interface every bus processor implements (one registry entry each, see __init__.py).

A processor is an optional part of a bus's chain (a compressor, a sidechain
duck, ...).  It has two halves:

- its kernels, one module in core/dsp/ (allocate / set / block, and the
  stage it registers with core/chain.py), which know nothing of scenes;
- its entry here, a subclass of `Processor`, which declares what the rest of
  gamemix needs to know and does the control-side work:

  | declared            | used by                                                    |
  |---------------------|------------------------------------------------------------|
  | `key`, `field`      | scene/model.py: the field of `Bus` it is configured by     |
  |                     | (None: a top-level section names its buses; microphone.py)  |
  | `movables`          | scene/model.py (`BusOverride` fields), mappings' properties,|
  |                     | control/snapshots.py and control/buses.py (the values moved)|
  | `readings`          | reports, telemetry (live/telemetry.py) and its schema      |
  | `reads`, `feeds`    | scene/graph.py: processing order and cycle checks          |
  | `check`             | scene/checks.py: what the field types cannot express       |
  | `stages`            | core/arrays.py: its states in the chain                    |
  | `base`, `write`     | control/chains.py: the scene's values, then each block's   |
  | `read`, `adopt`     | reports and telemetry; hot reload                          |

An instance is made per loaded scene: it sizes and configures its stages
from the scene and then writes into them what snapshots and mappings move.
Control side: nothing here runs inside the audio kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Movable:
    """A processor value that snapshots and game-parameter mappings may move (in dB).

    `name` is the mapping property and, unless `override` says otherwise, the
    `BusOverride` field.  `per` says how many values a bus has: None, one;
    "send", one per send (a snapshot gives {target bus: dB}, a mapping names
    its `send`); "key", one per sidechain key (a snapshot or mapping value
    moves every fixed-depth key).  [lo, hi] is the range of a snapshot's
    value or offset.  `setting`: for a one-per-bus value, the field of the
    processor's settings that is its value in the scene (the default `base`
    reads it)."""

    name: str
    lo: float
    hi: float
    description: str
    override: str | None = None
    per: str | None = None
    setting: str | None = None

    @property
    def field(self) -> str:
        """The BusOverride field that moves it."""
        return self.override or self.name


@dataclass(frozen=True)
class Reading:
    """A figure a processor reports per bus (telemetry and render reports): name, JSON type, meaning."""

    name: str
    type: Any
    description: str


class Processor:
    """One kind of bus processor; see the module docstring.  Subclasses set the class attributes
    and implement the methods; the defaults do nothing."""

    key: ClassVar[str]
    field: ClassVar[tuple]                 # (annotation, pydantic Field(...)) of Bus.<key>
    movables: ClassVar[tuple[Movable, ...]] = ()
    readings: ClassVar[tuple[Reading, ...]] = ()

    def __init__(self, scene, bus_index: dict[str, int], channels: int, sample_rate: float):
        self.scene = scene
        self.bus_index = bus_index
        self.channels = channels
        self.sample_rate = sample_rate
        self.specs = {name: getattr(bus, self.key) for name, bus in scene.buses.items()
                      if getattr(bus, self.key)}     # buses that have it: name -> its settings
        self.stages: tuple = ()

    # ------------------------------------------------------------ the scene graph (raw YAML data)
    @staticmethod
    def reads(raw: dict) -> list[tuple[tuple, Any]]:
        """Buses whose signal this processor reads on a bus given as raw YAML (processed before it):
        (location below the bus, name)."""
        return []

    @staticmethod
    def feeds(raw: dict) -> list[tuple[tuple, Any]]:
        """Buses this processor adds the bus's signal into (processed after it): (location, name)."""
        return []

    @classmethod
    def check(cls, doc, name: str, raw: dict, graph=None) -> list:
        """Problems of a bus's settings that the field types cannot express (`graph`: the scene's
        BusGraph, for settings that name other buses)."""
        return []

    @classmethod
    def columns(cls, movable: Movable, raw: dict) -> list[str]:
        """The names a dict-valued movable takes on a bus given as raw YAML (per == 'send')."""
        return []

    # ------------------------------------------------------------ per loaded scene
    def width(self, movable: Movable) -> int:
        """How many values of `movable` each bus has."""
        return 1

    def column(self, movable: Movable, bus: str, name: str) -> int:
        """The column of a named value of `movable` on `bus` (per == 'send')."""
        raise KeyError(name)

    def base(self, moved: dict[str, np.ndarray]) -> None:
        """Write the scene's own values of this processor's movables into `moved` (its arrays start
        as NaN: where a bus lacks the processor).  The default: each one-per-bus movable's `setting`."""
        for m in self.movables:
            if m.setting is not None:
                for name, spec in self.specs.items():
                    moved[m.name][self.bus_index[name], 0] = getattr(spec, m.setting)

    @staticmethod
    def given(moved: dict[str, np.ndarray], movable: Movable) -> tuple[np.ndarray, np.ndarray]:
        """(mask of the buses that have a value of a one-per-bus movable this block, those values)."""
        value = moved[movable.name][:, 0]
        has = np.isfinite(value)
        return has, value[has]

    def start(self, moved: dict[str, np.ndarray]) -> None:
        """At load, before the first write: make the scene's values the current state as well as the
        target, where the kernels ramp from a current value (so the first block does not ramp)."""

    def write(self, moved: dict[str, np.ndarray]) -> None:
        """Write this block's values of the movables into the stages' arrays."""

    def read(self, b: int) -> dict:
        """What the kernels measured on bus b ({} if the bus lacks the processor)."""
        return {}

    def adopt(self, old: "Processor") -> None:
        """After a scene reload: keep the state of buses that still exist, so nothing jumps."""

    def reset_meters(self, b: int | None) -> None:
        """Restart any meter this processor keeps for bus b (None: all)."""
