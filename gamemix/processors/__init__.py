"""Bus processors: the registry.  One entry per kind of optional processing a bus can carry.

Adding a processor takes two pieces: its kernels, one module in core/dsp/
(allocate / set / block, plus the stage it registers with core/chain.py, which
fixes its place in every bus's chain), and its entry, one module here (a
`Processor` subclass, see base.py, declaring its scene model, what snapshots
and mappings may move, and what it reports), listed in REGISTRY below.  Its
scene field, snapshot fields, mapping properties, telemetry fields, graph
checks and state on reload then follow from the entry.

An entry whose `field` is None has no field on `Bus`: it is configured by a
top-level section that names its buses (Microphone, by `microphone`).

REGISTRY's order is the order of the processors' figures in reports and
telemetry (and of the fields in the scene schema); the chain's order is the
stages' (core/chain.py).
"""

from __future__ import annotations

from gamemix.processors.base import Movable, Processor, Reading
from gamemix.processors.compressor import Compressor
from gamemix.processors.intelligibility import Intelligibility
from gamemix.processors.limiter import Limiter
from gamemix.processors.microphone import Microphone
from gamemix.processors.loudness import Loudness
from gamemix.processors.reverb import Reverb
from gamemix.processors.sends import Sends
from gamemix.processors.sidechain import Sidechain
from gamemix.processors.unmask import Unmasking

REGISTRY: tuple[type[Processor], ...] = (Sidechain, Compressor, Loudness, Unmasking, Intelligibility, Limiter, Reverb,
                                         Sends, Microphone)


def movables() -> list[tuple[type[Processor], Movable]]:
    """Every value snapshots and mappings may move, with the processor it belongs to."""
    return [(p, m) for p in REGISTRY for m in p.movables]


def readings() -> list[Reading]:
    """Every figure the processors report per bus, in report order."""
    return [r for p in REGISTRY for r in p.readings]


__all__ = ["REGISTRY", "Movable", "Processor", "Reading", "movables", "readings"]
