"""The bus graph: the tree of buses plus what each bus's processors read and feed, built once.

Two relations matter.  The *tree*: every bus sums into its parent (master
for a bus without one; master has none).  The *before* relation: the engine
must process a bus after its children, after the buses its processors read
(a sidechain key, an unmasking target) and before the buses it feeds (a
send's return).  From them, in one pass each:

- tree problems: no master, master with a parent, an unknown parent, a cycle
  of parents;
- reference problems: an unknown bus named by a processor, or one that the
  bus already sums into (or is), which could never be processed first;
- the processing order: a topological sort of `before` that, among the buses
  free to go, takes the deepest first and then the first in the file (so
  siblings sum in file order), with master last; or the cycle that makes
  one impossible.

Everything is linear in the number of buses and references (the sort,
O(n log n), uses a heap), and nothing recurses, so 4,096 buses or a chain
1,000 deep cost milliseconds.  The graph is built from the raw YAML data,
tolerant of wrong types (those are reported by the model's validation), so a
file's type errors and reference errors are reported together.

Control side.
"""

from __future__ import annotations

import heapq
from typing import Any

from gamemix.errors import Problem


class BusGraph:
    """The bus graph of a scene's `buses` section (raw YAML data); see the module docstring."""

    def __init__(self, buses: dict, processors=()):
        self.names = list(buses)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.raw = {name: spec if isinstance(spec, dict) else {} for name, spec in buses.items()}
        self.parent = {name: self._parent_of(name) for name in self.names}
        self.processors = tuple(processors)
        self.in_cycle = self._parent_cycles()
        self._tour()

    def _parent_of(self, name: str) -> str | None:
        if name == "master":
            return None
        parent = self.raw[name].get("parent")
        return parent if isinstance(parent, str) and parent in self.index else ("master" if "master" in self.index
                                                                                 else None)

    def _parent_cycles(self) -> dict[str, list[str]]:
        """Buses on a cycle of parents, each with the cycle as seen from it (walked once: O(n))."""
        state: dict[str, int] = {}      # 1: on the current walk, 2: done
        cycles: dict[str, list[str]] = {}
        for start in self.names:
            walk, b = [], start
            while b is not None and b not in state:
                state[b] = 1
                walk.append(b)
                b = self.parent[b]
            if b is not None and state.get(b) == 1:      # the walk closed on itself
                ring = walk[walk.index(b):]
                for k, member in enumerate(ring):
                    loop = ring[k:] + ring[:k]
                    cycles[member] = loop + [member]
            for w in walk:
                state[w] = 2
        return cycles

    def _tour(self) -> None:
        """Depth, and entry and exit times of a walk of the tree, so that 'a is an ancestor of b'
        is two comparisons.  Buses on a parent cycle are left out (depth -1)."""
        children: dict[str, list[str]] = {name: [] for name in self.names}
        for name in self.names:
            p = self.parent[name]
            if p is not None and name not in self.in_cycle:
                children[p].append(name)
        self.depth = {name: -1 for name in self.names}
        self.tin: dict[str, int] = {}
        self.tout: dict[str, int] = {}
        clock = 0
        roots = [n for n in self.names if n not in self.in_cycle and
                 (self.parent[n] is None or self.parent[n] in self.in_cycle)]
        for root in roots:
            self.depth[root] = 0
            stack = [(root, iter(children[root]))]
            self.tin[root] = clock
            clock += 1
            while stack:
                node, it = stack[-1]
                child = next(it, None)
                if child is None:
                    self.tout[node] = clock
                    clock += 1
                    stack.pop()
                    continue
                self.depth[child] = self.depth[node] + 1
                self.tin[child] = clock
                clock += 1
                stack.append((child, iter(children[child])))

    def sums_into(self, name: str, other: str) -> bool:
        """True if bus `name` is `other` or sums into it (directly or through its ancestors)."""
        if name == other:
            return True
        if name not in self.tin or other not in self.tin:
            return False
        return self.tin[other] <= self.tin[name] and self.tout[name] <= self.tout[other]

    # ------------------------------------------------------------ problems
    def tree_problems(self, doc) -> list[Problem]:
        problems = []
        if "master" not in self.index:
            problems.append(doc.problem(("buses",), "the bus tree needs a bus named 'master'"))
        for name in self.names:
            parent = self.raw[name].get("parent")
            if name == "master" and parent is not None:
                problems.append(doc.problem(("buses", name, "parent"), "master is the root and has no parent"))
            elif isinstance(parent, str) and parent not in self.index:
                problems.append(doc.problem(("buses", name, "parent"), f"unknown bus {parent!r}"))
        for name in self.names:
            if name in self.in_cycle and self.raw[name].get("parent") is not None:
                problems.append(doc.problem(("buses", name, "parent"),
                                            "bus tree has a cycle: " + " -> ".join(self.in_cycle[name])))
        return problems

    def references(self) -> list[tuple[str, tuple, Any, str]]:
        """Every bus a processor names: (bus, location below it, the name, 'reads' or 'feeds')."""
        out = []
        for name in self.names:
            for p in self.processors:
                out += [(name, loc, ref, "reads") for loc, ref in p.reads(self.raw[name])]
                out += [(name, loc, ref, "feeds") for loc, ref in p.feeds(self.raw[name])]
        return out

    def reference_problems(self, doc) -> list[Problem]:
        problems = []
        for name, loc, ref, kind in self.references():
            if not isinstance(ref, str):
                continue
            where = ("buses", name) + loc
            if ref not in self.index:
                problems.append(doc.problem(where, f"unknown bus {ref!r}"))
            elif kind == "feeds" and self.sums_into(name, ref):
                problems.append(doc.problem(where, f"{name!r} already sums into {ref!r}; send to a return bus"))
            elif kind == "reads" and self.sums_into(name, ref):
                problems.append(doc.problem(where, f"{ref!r} contains {name!r} (or is it), so it cannot drive it; "
                                                   "use a sibling bus such as dialogue"))
        return problems

    # ------------------------------------------------------------ order
    def _needs(self) -> dict[str, set[str]]:
        """For each bus, the buses that must be processed before it."""
        needs: dict[str, set[str]] = {name: set() for name in self.names}
        for name in self.names:
            if self.parent[name] is not None:
                needs[self.parent[name]].add(name)
        for name, _, ref, kind in self.references():
            if isinstance(ref, str) and ref in self.index and ref != name:
                if kind == "reads":
                    needs[name].add(ref)
                else:
                    needs[ref].add(name)
        return needs

    def order(self) -> tuple[list[str], list[str]]:
        """(processing order, []) or (the buses ordered so far, a cycle of `before` as a list of names).

        Kahn's algorithm with a heap keyed (-depth, file index): among the buses whose needs are
        all processed, the deepest, then the first in the file."""
        needs = self._needs()
        waiting = {name: len(n) for name, n in needs.items()}
        unlocks: dict[str, list[str]] = {name: [] for name in self.names}
        for name, n in needs.items():
            for before in n:
                unlocks[before].append(name)
        ready = [(-self.depth[n], self.index[n], n) for n in self.names if waiting[n] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, _, name = heapq.heappop(ready)
            order.append(name)
            for after in unlocks[name]:
                waiting[after] -= 1
                if waiting[after] == 0:
                    heapq.heappush(ready, (-self.depth[after], self.index[after], after))
        if len(order) == len(self.names):
            return order, []
        return order, self._cycle({n for n in self.names if waiting[n] > 0}, needs)

    def _cycle(self, left: set[str], needs: dict[str, set[str]]) -> list[str]:
        """A cycle among the buses the sort could not place (each has a need among them), without
        recursion: from the first of them in the file, follow the first need until one repeats."""
        first = self.index.__getitem__
        start = min(left, key=first)
        path, seen = [start], {start: 0}
        while True:
            nxt = min((n for n in needs[path[-1]] if n in left), key=first)
            if nxt in seen:
                return path[seen[nxt]:] + [nxt]
            seen[nxt] = len(path)
            path.append(nxt)

    def order_problems(self, doc) -> list[Problem]:
        _, cycle = self.order()
        if not cycle:
            return []
        return [doc.problem(("buses", cycle[0]), "sidechains, unmasking or sends form a circle: " + " -> ".join(cycle))]
