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

Control side: a handful of rules, once per block, in one jitted pass over the voice table.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gamemix.core.arrays import PLAYING, VI_CAT, VI_STATE
from gamemix.scene.model import DuckRule

# the columns of Ducker.params (per rule) and Ducker.state (per rule)
DK_DEPTH, DK_ATTACK, DK_RELEASE, DK_HOLD = 0, 1, 2, 3
DK_LEVEL, DK_HOLD_LEFT = 0, 1


class Ducker:
    """Envelopes of the scene's ducking rules and the per-category duck they produce.  The rules'
    categories are index tables (-1 padded) and their envelopes an array, so a block's work is one
    jitted pass (`duck_tick`)."""

    def __init__(self, rules: list[DuckRule], cat_index: dict[str, int], combine: str, floor_db: float):
        self.rules = list(rules)
        self.when = _table([[cat_index[c] for c in r.when] for r in rules])
        self.duck = _table([[cat_index[c] for c in r.duck] for r in rules])
        self.params = np.array([[r.depth_db, r.attack, r.release, r.hold] for r in rules],
                               dtype=np.float64).reshape(-1, 4)
        self.state = np.zeros((len(rules), 2))          # DK_LEVEL (dB), DK_HOLD_LEFT (s)
        self.n = len(cat_index)
        self.combine = combine
        self.floor_db = floor_db
        self._playing = np.zeros(self.n, dtype=np.bool_)
        self._out = np.zeros(self.n)

    def tick(self, dt: float, vi: np.ndarray) -> list[float]:
        """Advance every rule by dt given which categories have a playing sound (vi's rows);
        per-category dB."""
        duck_tick(vi, self._playing, self.when, self.duck, self.params, self.state, dt,
                  self.combine == "sum", self.floor_db, self._out)
        return self._out.tolist()

    def adopt(self, old: "Ducker") -> None:
        """After a scene reload: a rule that watches and ducks the same categories as one of the
        old scene's keeps that rule's envelope (level and hold), so an edited depth or time
        takes over from where the duck is instead of restarting it."""
        before = {_key(r): k for k, r in enumerate(old.rules)}
        for k, rule in enumerate(self.rules):
            prev = before.get(_key(rule))
            if prev is not None:
                level, hold_left = old.state[prev]
                self.state[k, DK_LEVEL] = max(level, rule.depth_db) if rule.depth_db < 0.0 else 0.0
                self.state[k, DK_HOLD_LEFT] = min(hold_left, rule.hold)

    def levels(self) -> list[float]:
        """Each rule's current duck in dB (for reports)."""
        return self.state[:, DK_LEVEL].tolist()


@njit(cache=True, nogil=True)
def duck_tick(vi, playing, when, duck, params, state, dt, add, floor_db, out):
    """One block of every rule (in order): whether any of its `when` categories has a PLAYING row,
    its envelope moved (`advance`), and its level combined into out[category]: the deepest, or
    (`add`) the sum floored at floor_db.  Python's max and min as the rules always used them
    (max(a, b) = b if b > a else a), so the same numbers."""
    playing[:] = False
    for v in range(vi.shape[0]):
        if vi[v, VI_STATE] == PLAYING:
            playing[vi[v, VI_CAT]] = True
    out[:] = 0.0
    for r in range(params.shape[0]):
        triggered = False
        for j in range(when.shape[1]):
            c = when[r, j]
            if c >= 0 and playing[c]:
                triggered = True
                break
        advance(params[r], state[r], dt, triggered)
        level = state[r, DK_LEVEL]
        for j in range(duck.shape[1]):
            c = duck[r, j]
            if c < 0:
                break
            if add:
                out[c] += level
            elif not out[c] < level:
                out[c] = level
    if add:
        for c in range(out.shape[0]):
            if not out[c] > floor_db:
                out[c] = floor_db


@njit(cache=True, nogil=True, inline="always")
def advance(rule, st, dt, triggered):
    """A rule's envelope one block on: towards its depth at |depth|/attack dB/s while triggered;
    then held for `hold` s; then back to 0 dB at |depth|/release dB/s."""
    depth = rule[DK_DEPTH]
    if triggered:
        st[DK_HOLD_LEFT] = rule[DK_HOLD]
        rate = abs(depth) / rule[DK_ATTACK] if rule[DK_ATTACK] > 0 else np.inf
        x = st[DK_LEVEL] - rate * dt
        st[DK_LEVEL] = x if x > depth else depth
    elif st[DK_HOLD_LEFT] > 0.0:
        x = st[DK_HOLD_LEFT] - dt
        st[DK_HOLD_LEFT] = x if x > 0.0 else 0.0
    else:
        rate = abs(depth) / rule[DK_RELEASE] if rule[DK_RELEASE] > 0 else np.inf
        x = st[DK_LEVEL] + rate * dt
        st[DK_LEVEL] = x if x < 0.0 else 0.0


def _table(rows: list[list[int]]) -> np.ndarray:
    """Lists of indices as one int64 table, each row padded with -1."""
    width = max((len(r) for r in rows), default=0)
    table = np.full((len(rows), max(width, 1)), -1, dtype=np.int64)
    for k, r in enumerate(rows):
        table[k, :len(r)] = r
    return table


def _key(rule: DuckRule) -> tuple[frozenset, frozenset]:
    """What identifies a rule across scene edits: the categories it watches and ducks."""
    return frozenset(rule.when), frozenset(rule.duck)
