"""Cross-references a scene's field types cannot express, checked on the raw YAML data.

Every name a scene uses (a sound's bus, a snapshot's bus, a mapping's
parameter, an event's sound, ...) must be defined; the bus graph
(scene/graph.py, built once) must be a tree whose processors' references can
be processed in some order; each processor checks its own settings (its
registry entry's `check`); snapshots and mappings may only move what the
bus has.  The checks read the raw data, tolerant of wrong types, so a
file's type errors (from pydantic) and its reference errors are reported
together.  Audio files must exist inside the scene's folder.

Control side.
"""

from __future__ import annotations

from pathlib import Path

from gamemix import processors
from gamemix.errors import Problem
from gamemix.scene.graph import BusGraph
from gamemix.scene.located_yaml import LocatedYaml
from gamemix.scene.model import BUILTIN_PARAMETERS, MAPPABLE, MAX_AUX, MAX_STREAM_SLOTS
from gamemix.scene.paths import safe_path


def reference_problems(doc: LocatedYaml, raw: dict) -> list[Problem]:
    """Every cross-reference problem of a scene document (see the module docstring)."""
    buses = raw.get("buses") if isinstance(raw.get("buses"), dict) else {"master": {}}
    graph = BusGraph(buses, processors.REGISTRY)
    names = _Names(buses, _section(raw, "categories", dict), _section(raw, "sounds", dict),
                   _section(raw, "snapshots", dict),
                   {**{b: {"scope": "builtin"} for b in BUILTIN_PARAMETERS}, **_section(raw, "parameters", dict)})
    problems = graph.tree_problems(doc) + graph.reference_problems(doc)
    for name, spec in graph.raw.items():
        for p in processors.REGISTRY:
            problems += p.check(doc, name, spec, graph)
    if not problems:
        problems += graph.order_problems(doc)
    for check in (_category_problems, _vca_problems, _sound_problems, _ducking_problems, _snapshot_problems,
                  _parameter_problems, _mapping_problems, _event_problems, _hdr_problems, _zone_problems,
                  _microphone_problems):
        problems += check(doc, raw, names)
    return problems


def _section(raw: dict, key: str, kind: type):
    value = raw.get(key)
    return value if isinstance(value, kind) else kind()


class _Names:
    """The names a scene defines, for reference checks."""

    def __init__(self, buses, categories, sounds, snapshots, parameters):
        self.buses, self.sounds, self.snapshots, self.parameters = buses, sounds, snapshots, parameters
        self.categories = list(categories) + [b for b in buses if b not in categories]

    def check(self, doc, loc, kind: str, value) -> list[Problem]:
        known = {"bus": self.buses, "category": self.categories, "sound": self.sounds,
                 "snapshot": self.snapshots, "parameter": self.parameters}[kind]
        if isinstance(value, str) and value not in known:
            listing = ", ".join(list(known)[:20]) or "none defined"
            return [doc.problem(loc, f"unknown {kind} {value!r} (known: {listing})")]
        return []


def _category_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, cat in _section(raw, "categories", dict).items():
        if isinstance(cat, dict):
            problems += names.check(doc, ("categories", name, "bus"), "bus", cat.get("bus"))
    return problems


def _vca_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, vca in _section(raw, "vcas", dict).items():
        buses = vca.get("buses") if isinstance(vca, dict) else None
        for j, bus in enumerate(buses if isinstance(buses, list) else []):
            problems += names.check(doc, ("vcas", name, "buses", j), "bus", bus)
            if bus in buses[:j]:
                problems.append(doc.problem(("vcas", name, "buses", j), f"bus {bus!r} is listed twice"))
    return problems


def _sound_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, sound in names.sounds.items():
        if not isinstance(sound, dict):
            continue
        problems += names.check(doc, ("sounds", name, "bus"), "bus", sound.get("bus"))
        problems += names.check(doc, ("sounds", name, "category"), "category", sound.get("category"))
        files, upload = sound.get("files"), sound.get("upload")
        if upload is None and files in (None, []):
            problems.append(doc.problem(("sounds", name), "needs `files` (at least one) or `upload`"))
        if upload is not None and files not in (None, []):
            problems.append(doc.problem(("sounds", name, "upload"), "a sound takes `files` or `upload`, not both"))
        if isinstance(upload, dict) and upload.get("channels") == 2 and sound.get("spatial") is not None:
            problems.append(doc.problem(("sounds", name, "upload", "channels"), "a 3D sound is mono: channels 1"))
        if sound.get("stream") is True and upload is not None:
            problems.append(doc.problem(("sounds", name, "stream"), "an uploaded sound is not streamed from disk"))
        limit = sound.get("max_instances")
        if sound.get("stream") is True and isinstance(limit, int) and limit > MAX_STREAM_SLOTS:
            problems.append(doc.problem(("sounds", name, "max_instances"),
                                        f"a streamed sound plays at most {MAX_STREAM_SLOTS} instances at once"))
        weights = sound.get("weights")
        if isinstance(weights, list) and isinstance(files, list) and len(weights) != len(files):
            problems.append(doc.problem(("sounds", name, "weights"),
                                        f"needs one weight per file ({len(files)} files, {len(weights)} weights)"))
    return problems


def _ducking_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for i, rule in enumerate(_section(raw, "ducking", list)):
        for key in ("when", "duck"):
            values = rule.get(key) if isinstance(rule, dict) else None
            for j, value in enumerate(values if isinstance(values, list) else []):
                problems += names.check(doc, ("ducking", i, key, j), "category", value)
    return problems


def _named_columns(names, bus: str) -> dict[str, list[str]]:
    """For each dict-valued movable (sends), the names it takes on `bus` (raw data)."""
    spec = names.buses.get(bus)
    spec = spec if isinstance(spec, dict) else {}
    return {m.name: p.columns(m, spec) for p, m in processors.movables() if m.per == "send"}


def _snapshot_problems(doc, raw, names) -> list[Problem]:
    problems = []
    per_send = [m for _, m in processors.movables() if m.per == "send"]
    for name, snap in names.snapshots.items():
        overrides = snap.get("buses") if isinstance(snap, dict) else None
        for bus, o in (overrides if isinstance(overrides, dict) else {}).items():
            problems += names.check(doc, ("snapshots", name, "buses", bus), "bus", bus)
            columns = _named_columns(names, bus)
            for m in per_send:
                given = o.get(m.field) if isinstance(o, dict) else None
                for target in given if isinstance(given, dict) else {}:
                    if target not in columns[m.name]:
                        problems.append(doc.problem(("snapshots", name, "buses", bus, m.field, target),
                                                    f"bus {bus!r} has no send to {target!r}"))
    return problems


def _zone_problems(doc, raw, names) -> list[Problem]:
    """Zones send to buses and start snapshots that exist; snapshots move zones that exist, at sends
    the zone has; the auxiliary buses (zone send targets, `auxiliary: true`) are at most MAX_AUX."""
    problems = []
    zones = _section(raw, "zones", dict)
    targets = set()
    for name, zone in zones.items():
        if not isinstance(zone, dict):
            continue
        sends = zone.get("sends") if isinstance(zone.get("sends"), dict) else {}
        for bus in sends:
            problems += names.check(doc, ("zones", name, "sends", bus), "bus", bus)
            if bus == "master":
                problems.append(doc.problem(("zones", name, "sends", bus), "a zone sends to an auxiliary bus, "
                                                                           "not to master"))
            targets.add(bus)
        if zone.get("snapshot") is not None:
            problems += names.check(doc, ("zones", name, "snapshot"), "snapshot", zone.get("snapshot"))
    aux = [b for b, spec in names.buses.items() if b in targets or isinstance(spec, dict) and spec.get("auxiliary")]
    if len(aux) > MAX_AUX:
        problems.append(doc.problem(("zones",) if zones else ("buses",),
                                    f"{len(aux)} auxiliary buses ({', '.join(aux)}); at most {MAX_AUX}"))
    for snap, spec in names.snapshots.items():
        moved = spec.get("zones") if isinstance(spec, dict) and isinstance(spec.get("zones"), dict) else {}
        for zone, o in moved.items():
            if zone not in zones:
                problems.append(doc.problem(("snapshots", snap, "zones", zone),
                                            f"unknown zone {zone!r} (known: {', '.join(zones) or 'none defined'})"))
                continue
            has = zones[zone].get("sends") if isinstance(zones[zone], dict) else None
            for bus in (o.get("sends") if isinstance(o, dict) and isinstance(o.get("sends"), dict) else {}):
                if not isinstance(has, dict) or bus not in has:
                    problems.append(doc.problem(("snapshots", snap, "zones", zone, "sends", bus),
                                                f"zone {zone!r} has no send to {bus!r}"))
    return problems


def _parameter_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, par in names.parameters.items():
        if not isinstance(par, dict) or par.get("scope") == "builtin":
            continue
        if name in BUILTIN_PARAMETERS:
            problems.append(doc.problem(("parameters", name), f"{name!r} is a built-in parameter (of every instance: "
                                                              f"{', '.join(BUILTIN_PARAMETERS)}); name yours otherwise"))
            continue
        lo, hi, default = par.get("min", 0.0), par.get("max", 1.0), par.get("default")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            if lo >= hi:
                problems.append(doc.problem(("parameters", name, "max"), "must be greater than min"))
            elif isinstance(default, (int, float)) and not lo <= default <= hi:
                problems.append(doc.problem(("parameters", name, "default"), f"must lie in [{lo}, {hi}]"))
    return problems


def _mapping_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for i, m in enumerate(_section(raw, "mappings", list)):
        if not isinstance(m, dict):
            continue
        problems += names.check(doc, ("mappings", i, "parameter"), "parameter", m.get("parameter"))
        targets = [k for k in ("sound", "bus", "snapshot") if m.get(k) is not None]
        if len(targets) != 1:
            problems.append(doc.problem(("mappings", i), "name exactly one target: sound, bus or snapshot"))
            continue
        kind = targets[0]
        par = names.parameters.get(m.get("parameter")) if isinstance(m.get("parameter"), str) else None
        if isinstance(par, dict) and par.get("scope") in ("instance", "builtin") and kind != "sound":
            problems.append(doc.problem(("mappings", i, kind), f"{m.get('parameter')!r} has a value per instance: "
                                                               "its mappings drive a sound's volume_db or pitch_semitones"))
        problems += names.check(doc, ("mappings", i, kind), kind, m.get(kind))
        prop = m.get("property")
        if isinstance(prop, str) and prop not in MAPPABLE[kind]:
            problems.append(doc.problem(("mappings", i, "property"),
                                        f"a {kind} mapping sets one of: {', '.join(MAPPABLE[kind])}"))
        elif isinstance(prop, str):
            problems += _curve_range_problems(doc, i, m.get("points"), prop, *MAPPABLE[kind][prop])
        per_send = kind == "bus" and prop in {m.name for _, m in processors.movables() if m.per == "send"}
        if per_send != (m.get("send") is not None):
            problems.append(doc.problem(("mappings", i), f"property {prop} and `send` go together" if per_send
                                        else "`send` goes with property send_db"))
        elif per_send and isinstance(m.get("bus"), str) and m.get("send") not in _named_columns(names, m["bus"])[prop]:
            problems.append(doc.problem(("mappings", i, "send"), f"bus {m.get('bus')!r} has no send to {m.get('send')!r}"))
    return problems


def _curve_range_problems(doc, i: int, points, prop: str, lo: float, hi: float) -> list[Problem]:
    """A curve's every point must give a value `prop` takes: every shape stays between its points."""
    problems = []
    for j, point in enumerate(points if isinstance(points, list) else []):
        y = point[1] if isinstance(point, (list, tuple)) and len(point) == 2 else None
        if isinstance(y, (int, float)) and not isinstance(y, bool) and not lo <= y <= hi:
            problems.append(doc.problem(("mappings", i, "points", j, 1),
                                        f"{prop} takes values in [{lo:g}, {hi:g}]; this point gives {y:g}"))
    return problems


_ACTION_NEEDS = {"play": ("sound",), "scatter": ("sound", "count", "interval"), "stop": (), "snapshot_start": ("snapshot",),
                 "snapshot_stop": ("snapshot",), "set_parameter": ("parameter", "value")}


def _event_problems(doc, raw, names) -> list[Problem]:
    problems = []
    for name, actions in _section(raw, "events", dict).items():
        for i, act in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(act, dict):
                continue
            loc = ("events", name, i)
            kind = act.get("action")
            for key in _ACTION_NEEDS.get(kind, ()):
                if act.get(key) is None:
                    problems.append(doc.problem(loc, f"a {kind} action needs '{key}'"))
            if kind == "stop" and (act.get("sound") is None) == (act.get("category") is None):
                problems.append(doc.problem(loc, "a stop action names exactly one of 'sound' or 'category'"))
            for key in ("sound", "category", "snapshot", "parameter"):
                problems += names.check(doc, loc + (key,), key, act.get(key))
    return problems


def _hdr_problems(doc, raw, names) -> list[Problem]:
    hdr = raw.get("hdr")
    cats = hdr.get("categories") if isinstance(hdr, dict) else None
    problems = []
    for j, value in enumerate(cats if isinstance(cats, list) else []):
        problems += names.check(doc, ("hdr", "categories", j), "category", value)
    return problems


def _microphone_problems(doc, raw, names) -> list[Problem]:
    """The microphone's buses exist; a following bus has a level to keep over the noise and the master a
    limiter to keep the boost under the ceiling; the mic bus does not duck itself; loudspeakers are not fed
    the microphone (they would feed back)."""
    mic = raw.get("microphone")
    if not isinstance(mic, dict):
        return []
    problems = names.check(doc, ("microphone", "bus"), "bus", mic.get("bus"))
    buses = names.buses
    for section in ("follow", "duck"):
        for bus in _section(mic, section, dict):
            problems += names.check(doc, ("microphone", section, bus), "bus", bus)
    if mic.get("bus") in _section(mic, "duck", dict):
        problems.append(doc.problem(("microphone", "duck", mic["bus"]), "the mic bus would duck the speech that "
                                                                        "ducks it: duck other buses"))
    follow = _section(mic, "follow", dict)
    for bus, spec in follow.items():
        own = buses.get(bus) if isinstance(buses.get(bus), dict) else None
        if own is None or (isinstance(spec, dict) and spec.get("level_lufs") is not None):
            continue
        if not isinstance(own.get("loudness"), dict):
            problems.append(doc.problem(("microphone", "follow", bus), f"bus {bus!r} needs a level to keep over the "
                                        "noise: give `level_lufs` here, or the bus a `loudness` target"))
    master = buses.get("master") if isinstance(buses.get("master"), dict) else {}
    if follow and master.get("limiter") is None:
        problems.append(doc.problem(("microphone", "follow"), "ambient-adaptive gain needs the master's true-peak "
                                    "limiter (buses.master.limiter), which keeps every boost under the ceiling"))
    echo = mic.get("echo")
    if isinstance(echo, dict) and echo.get("mode") == "speakers" and mic.get("hear_through_db", 0.0) is not None:
        problems.append(doc.problem(("microphone", "hear_through_db"), "with echo mode speakers the loudspeakers "
                                    "would play the microphone back into itself (feedback): set hear_through_db: "
                                    "null, or use headphones"))
    return problems


def file_problems(doc: LocatedYaml, raw: dict, folder: Path) -> list[Problem]:
    problems = []
    output = raw.get("output") if isinstance(raw.get("output"), dict) else {}
    if isinstance(output.get("hrtf"), str):              # an HRTF set: a file inside the folder, as audio is
        try:
            if not safe_path(folder, output["hrtf"]).is_file():
                problems.append(doc.problem(("output", "hrtf"), f"HRTF file not found: {output['hrtf']}"))
        except ValueError as exc:
            problems.append(doc.problem(("output", "hrtf"), str(exc)))
    sounds = raw.get("sounds") if isinstance(raw.get("sounds"), dict) else {}
    for name, sound in sounds.items():
        files = sound.get("files") if isinstance(sound, dict) else None
        if not isinstance(files, list):
            continue
        for i, rel in enumerate(files):
            if not isinstance(rel, str):
                continue
            loc = ("sounds", name, "files", i)
            try:
                path = safe_path(folder, rel)
            except ValueError as exc:
                problems.append(doc.problem(loc, str(exc)))
                continue
            if not path.is_file():
                problems.append(doc.problem(loc, f"audio file not found: {rel}"))
    return problems


