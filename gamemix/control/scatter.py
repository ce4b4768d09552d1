"""Scatterers (FMOD Studio's scatterer instrument): a sound spawned again and again, at random
intervals and at random points around a centre.

An event's `scatter` action plays its sound `count` times: the first when the
action runs, each next one an interval drawn uniformly from [min, max] s
later (rounded to the sample: the plays are sample-accurate), each as its
own instance, so each keeps its own position.  Each play's position is drawn
when it comes due: a point in the horizontal plane around the centre, at a
distance uniform in [min, max] m (uniform over the ring's area, so a wide
ring is not crowded at its inner edge) and an azimuth uniform over the
circle, raised by a height uniform in [min, max] m.  The centre is the
event's emitter (where the game last put it) or the listener, at that
moment.  The sound's own variants, volume and pitch randomisation apply to
each play.  All draws come from the mixer's generator, seeded per scene
and render, so a render repeats exactly.

Control side.
"""

from __future__ import annotations

import math

import numpy as np


def times(rng: np.random.Generator, start: int, count: int, interval: tuple[float, float],
          sample_rate: float) -> list[int]:
    """The sample times of `count` plays from `start`: 0, then cumulative uniform intervals."""
    gaps = rng.uniform(interval[0], interval[1], count - 1) if count > 1 else np.zeros(0)
    offsets = np.concatenate([[0.0], np.cumsum(gaps)])
    return [start + int(round(t * sample_rate)) for t in offsets]


def position(rng: np.random.Generator, centre, distance: tuple[float, float],
             height: tuple[float, float]) -> tuple[float, float, float]:
    """A point around `centre` (x, y, z; y up): ring [min, max] m, uniform over its area."""
    lo, hi = distance
    r = math.sqrt(rng.uniform(lo * lo, hi * hi))
    azimuth = rng.uniform(0.0, 2.0 * math.pi)
    return (centre[0] + r * math.sin(azimuth), centre[1] + rng.uniform(height[0], height[1]),
            centre[2] - r * math.cos(azimuth))
