"""Game objects: the game's entities that sounds play on (Wwise's game objects; FMOD's 3D
attributes shared by the event instances of one entity).

A game object has an id the game chooses (below 2^62, its own namespace:
it may equal an instance id), a pose, and its own values of the
per-instance parameters.  `object` places (creating) or removes one; a
play or event with `object` starts on it: its instances take the object's
pose, move when it moves (one message moves every sound of a car: engine,
tyres, radio) and take its parameter values unless set for themselves.
Removing an object stops what plays on it (fading over `fade`).

At most MAX_OBJECTS exist at once; an object's list of instances holds only
live ones (an instance leaves it when it is forgotten).

Control side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gamemix.core.propagation import unit
from gamemix.errors import CommandError

MAX_OBJECTS = 65_536


@dataclass
class GameObject:
    position: tuple
    velocity: tuple
    instances: set = field(default_factory=set)
    values: dict = field(default_factory=dict)       # its own values of per-instance parameters
    direction: tuple = (0.0, 0.0, 0.0)               # where it faces (cones), and what it is muffled by
    occlusion: float = 0.0
    obstruction: float = 0.0
    sends: dict = field(default_factory=dict)         # aux index -> linear level (`aux_sends`)


class GameObjects:
    """The table of game objects; see the module docstring."""

    def __init__(self, instances, local, scheduler):
        self.instances, self.local, self.scheduler = instances, local, scheduler
        self.objects: dict[int, GameObject] = {}
        self.of: dict[int, int] = {}                   # instance -> its object

    def get(self, obj: int) -> GameObject:
        found = self.objects.get(obj)
        if found is None:
            raise CommandError("unknown_object", f"no game object {obj} (place it with an `object` message first)")
        return found

    def place(self, obj: int, position, velocity=None, direction=None) -> None:
        """Create or move (and turn) an object; every instance on it moves along."""
        found = self.objects.get(obj)
        if found is None:
            if len(self.objects) >= MAX_OBJECTS:
                raise CommandError("object_limit", f"{MAX_OBJECTS} game objects exist already: remove some first")
            self.objects[obj] = GameObject(tuple(position), tuple(velocity or (0.0, 0.0, 0.0)),
                                           direction=unit(direction or (0.0, 0.0, 0.0)))
            return
        found.position = tuple(position)
        if velocity is not None:
            found.velocity = tuple(velocity)
        if direction is not None:
            found.direction = unit(direction)
        for instance in found.instances:
            self.instances.move(instance, found.position, found.velocity)
            if direction is not None:
                self.instances.orient(instance, found.direction)

    def set_occlusion(self, obj: int, occlusion: float | None, obstruction: float | None) -> None:
        """An object's occlusion and obstruction factors, which its instances take."""
        found = self.get(obj)
        found.occlusion = found.occlusion if occlusion is None else float(occlusion)
        found.obstruction = found.obstruction if obstruction is None else float(obstruction)
        for instance in found.instances:
            self.instances.set_occlusion(instance, found.occlusion, found.obstruction)

    def set_sends(self, obj: int, sends: dict[int, float]) -> None:
        """An object's aux send levels, which its instances take (Wwise's per game object sends)."""
        found = self.get(obj)
        found.sends = dict(sends)
        for instance in found.instances:
            self.instances.set_sends(instance, found.sends)

    def remove(self, obj: int, fade: float) -> None:
        """Remove an object, stopping what plays on it."""
        found = self.get(obj)
        for instance in list(found.instances):
            if instance in self.instances:
                self.instances.stop(instance, fade, self.scheduler)
            self.of.pop(instance, None)
        del self.objects[obj]

    def attach(self, obj: int, instance: int) -> None:
        """An instance plays on the object: it takes the object's direction, factors and sends."""
        found = self.get(obj)
        found.instances.add(instance)
        self.of[instance] = obj
        if found.direction != (0.0, 0.0, 0.0):
            self.instances.orient(instance, found.direction)
        if found.occlusion > 0.0 or found.obstruction > 0.0:
            self.instances.set_occlusion(instance, found.occlusion, found.obstruction)
        if found.sends:
            self.instances.set_sends(instance, found.sends)

    def detach(self, instance: int) -> None:
        """An instance was forgotten: it leaves its object."""
        obj = self.of.pop(instance, None)
        if obj is not None and obj in self.objects:
            self.objects[obj].instances.discard(instance)

    def set_value(self, obj: int, name: str, value: float) -> None:
        """An object's own value of a per-instance parameter (its instances take it)."""
        found = self.get(obj)
        self.local.check(name, value)
        found.values[name] = float(value)

    def values_of(self, instance: int) -> dict:
        """The parameter values an instance inherits from its object ({} if it has none)."""
        obj = self.of.get(instance)
        return self.objects[obj].values if obj is not None and obj in self.objects else {}
