"""Priority ducking: while a category plays, others go down.

Each rule watches its `when` categories.  While any of their sounds is real
and playing, the rule's envelope moves towards `depth_db` at |depth|/attack
dB per second; once they stop it holds for `hold` seconds, then returns to 0 dB
at |depth|/release dB per second (linear in dB, so an attack of 0.2 s reaches
the depth in 0.2 s).  Overlapping rules on one category combine by
`ducking_combine`: `deepest` (the deepest duck wins; the default, as in
Wwise's auto-ducking) or `sum` (ducks add in dB, floored at
`ducking_floor_db`).  The result is a gain per category that the kernel applies
to each voice of it, ramped per block.

Control side: a handful of rules, once per block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gamemix.scene.model import DuckRule


@dataclass
class _RuleState:
    rule: DuckRule
    when: np.ndarray      # category indices that trigger
    duck: np.ndarray      # category indices that are ducked
    level_db: float = 0.0
    hold_left: float = 0.0

    def __post_init__(self):
        self.when_list = self.when.tolist()
        self.duck_list = self.duck.tolist()


class Ducker:
    """Envelopes of the scene's ducking rules and the per-category duck they produce."""

    def __init__(self, rules: list[DuckRule], cat_index: dict[str, int], combine: str, floor_db: float):
        self.states = [_RuleState(r, np.array([cat_index[c] for c in r.when]),
                                  np.array([cat_index[c] for c in r.duck])) for r in rules]
        self.n = len(cat_index)
        self.combine = combine
        self.floor_db = floor_db

    def tick(self, dt: float, playing: np.ndarray) -> list[float]:
        """Advance every rule by dt given which categories have a playing sound; per-category dB.
        In Python floats (a handful of rules and categories), with NumPy's minimum and maximum
        (x1 unless x2 is smaller, resp. larger) and its additions, so the same numbers as before."""
        duck = [0.0] * self.n
        playing = playing.tolist()
        for st in self.states:
            triggered = False
            for c in st.when_list:
                if playing[c]:
                    triggered = True
                    break
            self._advance(st, dt, triggered)
            level = st.level_db
            for c in st.duck_list:
                if self.combine == "sum":
                    duck[c] += level
                elif not duck[c] < level:
                    duck[c] = level
        if self.combine == "sum":
            duck = [d if d > self.floor_db else self.floor_db for d in duck]
        return duck

    @staticmethod
    def _advance(st: _RuleState, dt: float, triggered: bool) -> None:
        depth = st.rule.depth_db
        if triggered:
            st.hold_left = st.rule.hold
            rate = abs(depth) / st.rule.attack if st.rule.attack > 0 else float("inf")
            st.level_db = max(depth, st.level_db - rate * dt)
        elif st.hold_left > 0.0:
            st.hold_left = max(0.0, st.hold_left - dt)
        else:
            rate = abs(depth) / st.rule.release if st.rule.release > 0 else float("inf")
            st.level_db = min(0.0, st.level_db + rate * dt)

    def adopt(self, old: "Ducker") -> None:
        """After a scene reload: a rule that watches and ducks the same categories as one of the
        old scene's keeps that rule's envelope (level and hold), so an edited depth or time
        takes over from where the duck is instead of restarting it."""
        before = {_key(st.rule): st for st in old.states}
        for st in self.states:
            prev = before.get(_key(st.rule))
            if prev is not None:
                st.level_db = max(prev.level_db, st.rule.depth_db) if st.rule.depth_db < 0.0 else 0.0
                st.hold_left = min(prev.hold_left, st.rule.hold)

    def levels(self) -> list[float]:
        """Each rule's current duck in dB (for reports)."""
        return [st.level_db for st in self.states]


def _key(rule: DuckRule) -> tuple[frozenset, frozenset]:
    """What identifies a rule across scene edits: the categories it watches and ducks."""
    return frozenset(rule.when), frozenset(rule.duck)
