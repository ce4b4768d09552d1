"""The bus tree as the analyses need it: which stems partition the mix, which bus is protected
against which, and who sends to which reverb return.

Stems are post-fader and a parent's stem holds its children, so the stems
that add up to the master's input are the master's children ("mix buses");
masking and balance are measured between them.  A bus is *protected* when
the scene says it must be heard: it has an `intelligibility` rule, or it keys
a `sidechain`, or it is an `unmask` target.  It is measured against the
rule's `against` list, else (as the rule's default) the children of each of
its ancestors that are not on its own path.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamemix.scene.model import Scene


@dataclass(frozen=True)
class BusTree:
    """Names and relations of a scene's buses (or of a report's, flat, when no scene is known)."""

    names: tuple[str, ...]
    parent: dict[str, str | None]
    protected: dict[str, tuple[str, ...]]         # protected bus -> the buses it is measured against
    sends: dict[str, dict[str, float]]            # sender -> {return: send dB}
    returns: tuple[str, ...]                      # buses with a reverb

    @property
    def mix_buses(self) -> list[str]:
        """The master's children: their stems add up to what the master receives."""
        return [b for b in self.names if self.parent.get(b) == "master"]

    def path(self, bus: str) -> list[str]:
        """The bus and its ancestors up to master."""
        out = [bus]
        while self.parent.get(out[-1]) is not None:
            out.append(self.parent[out[-1]])
        return out

    def top(self, bus: str) -> str:
        """The mix bus a bus sums into (itself if it is one; master for master)."""
        path = self.path(bus)
        return path[-2] if len(path) >= 2 else bus


def from_scene(scene: Scene) -> BusTree:
    names = tuple(scene.buses)
    parent = {n: (None if n == "master" else (b.parent or "master")) for n, b in scene.buses.items()}
    tree = BusTree(names, parent, {}, {}, ())
    protected: dict[str, tuple[str, ...]] = {}
    for name, bus in scene.buses.items():
        rule = bus.intelligibility
        if rule is not None:
            protected[name] = tuple(rule.against) if rule.against else _default_against(tree, name)
        for key in bus.sidechain or []:
            protected.setdefault(key.key, _default_against(tree, key.key))
        if bus.unmask is not None:
            protected.setdefault(bus.unmask.target, _default_against(tree, bus.unmask.target))
    sends = {n: dict(b.sends) for n, b in scene.buses.items() if b.sends}
    returns = tuple(n for n, b in scene.buses.items() if b.reverb is not None)
    return BusTree(names, parent, protected, sends, returns)


def flat(bus_names) -> BusTree:
    """No scene: every bus but master sums into master; nothing protected, no sends."""
    names = tuple(bus_names)
    return BusTree(names, {n: (None if n == "master" else "master") for n in names}, {}, {}, ())


def _default_against(tree: BusTree, bus: str) -> tuple[str, ...]:
    """The intelligibility rule's default: each ancestor's children off the bus's own path."""
    path = tree.path(bus)
    out = []
    for ancestor in path[1:]:
        out += [b for b in tree.names if tree.parent.get(b) == ancestor and b not in path]
    return tuple(out)
