"""The control side: commands in, targets out, once per block.

`Mixer` owns a loaded scene and every piece of control state: the voice pool
(voices), game parameters and their curves (parameters), the snapshot stack
(snapshots), ducking rules (ducking), the HDR window (hdr) and delayed event
actions (events).  Commands are validated against the scene and either
applied completely or refused with a CommandError whose code is stable; a
refused command changes nothing.

Once per block, before the engine renders, `tick` runs due event actions,
glides parameters and faders, blends snapshots into bus targets, computes
ducking and HDR gains per category, and ranks every instance to decide which
are real.  The mixer never touches samples: it writes targets into the
parameter arrays and the engine ramps to them.

Instance ids: a `play` or an `event` creates an *instance* (an id the game can
name later); it may hold several sounds (an event's play actions), all moved
by `emitter` and stopped by `stop` together.  The mixer is single-threaded by
design: the live server runs commands on the render thread between blocks.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from gamemix.protocol import messages as protocol
from gamemix.scene.assets import ClipBank, build_bank
from gamemix.control.ducking import Ducker
from gamemix.core.engine import Engine
from gamemix.errors import CommandError
from gamemix.units import FLOOR_DB, db_to_gain, db_to_gain_array, gain_to_db, semitones_to_ratio
from gamemix.control.events import Scheduler
from gamemix.control.hdr import HdrWindow
from gamemix.control.parameters import GameParameters, MappedValues
from gamemix.core.arrays import (
    BF_GAIN, BF_GAIN_STEP, BF_GAIN_TARGET, BF_PITCH, LF_SAMPLE_RATE, DIST_MODELS, FRAC_ONE, LF_CEILING,
    LF_DOPPLER_FACTOR, LF_FX, LF_SPEED_OF_SOUND, LF_UX, LF_VX, LF_X, PLAYING, SM_GAIN,
    SM_PITCH, STOPPING, VF_AUDIBILITY, VF_DOPPLER, VF_FADE, VF_FADE_STEP, VF_FADE_TARGET,
    VF_MAX_DIST, VF_MIN_DIST, VF_PAN, VF_PITCH, VF_ROLLOFF, VF_VFADE, VF_VFADE_TARGET,
    VF_VOLUME, VF_VX, VF_X, VI_BUS, VI_CAT, VI_LANE0, VI_LANE1, VI_LOOP, VI_MODEL, VI_POS,
    VI_BLOCKS, VI_SOUND, VI_SPATIAL, VI_STATE, VI_TO_VIRTUAL, VF_VFADE_STEP, VIRTUAL, EngineArrays,
)
from gamemix.core.dsp.filters import FL_HP, FL_HP_TARGET, FL_LP, FL_LP_TARGET
from gamemix.core import panning
from gamemix.control.chains import BusChains
from gamemix.scene.model import Action, Scene
from gamemix.control.snapshots import BusValues, SnapshotMixer
from gamemix.control.voices import VoicePool, categories_playing

AUTO_ID_BASE = 1 << 62  # ids the mixer assigns; games use ids below this


@dataclass
class Instance:
    """What the game's id names: one or more voices sharing a pose.

    While it has voices, its pose lives in their rows of the arrays; `position`
    and `velocity` hold it only while it has none (an event waiting on a
    delayed play)."""

    rows: list[int] = field(default_factory=list)
    position: tuple = (0.0, 0.0, 0.0)
    velocity: tuple = (0.0, 0.0, 0.0)

    def pose(self, vf: np.ndarray) -> tuple[tuple, tuple]:
        """(position, velocity) now: from its first voice if it has one."""
        if self.rows:
            r = self.rows[0]
            return tuple(vf[r, VF_X:VF_X + 3]), tuple(vf[r, VF_VX:VF_VX + 3])
        return self.position, self.velocity


@dataclass
class Glide:
    """A control value moving linearly to a target (bus faders, mutes)."""

    value: float
    target: float
    rate: float = math.inf   # units per second

    def set(self, target: float, seconds: float, min_seconds: float) -> None:
        self.target = target
        self.rate = abs(target - self.value) / max(seconds, min_seconds)

    def tick(self, dt: float) -> float:
        step = self.rate * dt
        self.value = min(self.value + step, self.target) if self.value < self.target else max(self.value - step, self.target)
        return self.value


class Mixer:
    """Control state of one loaded scene; see the module docstring."""

    def __init__(self, scene: Scene, seed: int = 0, bank: ClipBank | None = None):
        self.scene = scene
        self.bank = bank if bank is not None else build_bank(scene)
        out = scene.output
        self.sample_rate = out.sample_rate
        self.block_size = out.block_size
        self.dt = out.block_size / out.sample_rate
        self.channels = 2
        self.bus_names = list(scene.buses)
        self.bus_index = {name: i for i, name in enumerate(self.bus_names)}
        self.sound_names = list(scene.sounds)
        self.sound_index = {name: i for i, name in enumerate(self.sound_names)}
        self.cat_names = scene.category_names()
        self.cat_index = {name: i for i, name in enumerate(self.cat_names)}
        self.chains = BusChains(scene, self.bus_index, self.channels, out.sample_rate)
        # rows beyond max_instances hold stolen or stopped voices while they fade out
        self.params = EngineArrays(out.max_voices, len(self.bus_names), self.channels, out.block_size,
                                   panning.layout(out.channels).make_panner(), out.max_instances + out.max_voices,
                                   len(self.sound_names), len(self.cat_names), out.sample_rate, self.chains.stages)
        self.engine = Engine(self.params, self.bank.pool, self.bank.lane_offset, self.bank.lane_length)
        self.voices = VoicePool(self.params, out.sample_rate, out.block_size, out.audibility_threshold_db,
                                out.virtual_fade_ms, out.steal_fade_ms)
        self.parameters = GameParameters(scene)
        self.snapshots = SnapshotMixer(scene, self.bus_index, self.chains.column)
        self.ducker = Ducker(scene.ducking, self.cat_index, scene.ducking_combine, scene.ducking_floor_db)
        self.hdr = self._make_hdr()
        self.scheduler = Scheduler(out.sample_rate, out.block_size)
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.instances: dict[int, Instance] = {}
        self.single_row: dict[int, int] = {}   # id -> row of instances with exactly one voice (fast path)
        self.row_instance = np.full(self.params.max_instances, -1, dtype=np.int64)
        self.rating = np.full(self.params.max_instances, np.nan)
        self.last_variant: dict[str, int] = {}
        self.next_auto_id = AUTO_ID_BASE
        self.block_index = 0
        self.action_errors: list[dict] = []
        self.mapped = MappedValues()
        self._playing = np.zeros(len(self.cat_names), dtype=np.bool_)
        self._last_bus_inputs = None
        self._init_buses()
        self._init_listener()

    @property
    def stats(self):
        """Voice counters (plays, refused, steals, virtualizations, ...)."""
        return self.voices.stats

    # ----------------------------------------------------------- set-up
    def _init_buses(self) -> None:
        p, scene = self.params, self.scene
        self.faders = {n: Glide(db_to_gain(b.volume_db), db_to_gain(b.volume_db)) for n, b in scene.buses.items()}
        self.mutes = {n: Glide(0.0 if b.mute else 1.0, 0.0 if b.mute else 1.0) for n, b in scene.buses.items()}
        for name, i in self.bus_index.items():
            parent = scene.bus_parent(name)
            p.bus_parent[i] = -1 if parent is None else self.bus_index[parent]
        p.bus_order[:] = [self.bus_index[n] for n in scene.bus_order()]
        self.bus_values = self._bus_values(MappedValues())
        self.chains.start(p.meters, self.bus_values.moved)
        p.bf[:, BF_GAIN] = self._write_bus_targets(self.bus_values)
        cutoff = p.filters.cutoff
        cutoff[:, FL_LP] = cutoff[:, FL_LP_TARGET]
        cutoff[:, FL_HP] = cutoff[:, FL_HP_TARGET]

    def _init_listener(self) -> None:
        lf, out, pose = self.params.lf, self.scene.output, self.scene.listener
        lf[LF_X:LF_X + 3] = pose.position
        lf[LF_FX:LF_FX + 3] = pose.forward
        lf[LF_UX:LF_UX + 3] = pose.up
        lf[LF_SPEED_OF_SOUND] = out.speed_of_sound
        lf[LF_DOPPLER_FACTOR] = out.doppler_factor
        lf[LF_CEILING] = db_to_gain(out.ceiling_dbfs)
        lf[LF_SAMPLE_RATE] = out.sample_rate

    def _make_hdr(self) -> HdrWindow | None:
        spec = self.scene.hdr
        if spec is None:
            return None
        mask = np.zeros(len(self.cat_names), dtype=bool)
        mask[[self.cat_index[c] for c in (spec.categories or self.cat_names)]] = True
        return HdrWindow(spec, mask)

    # ----------------------------------------------------------- dispatch
    def apply(self, msg) -> dict:
        """Carry out one protocol message; returns the reply data (may be empty)."""
        if isinstance(msg, protocol.Play):
            return {"id": self.play(msg.sound, msg.id, msg.position, msg.velocity, msg.volume_db,
                                    msg.pitch_semitones, msg.fade_in)}
        if isinstance(msg, protocol.Event):
            return self.post_event(msg.name, msg.id, msg.position, msg.velocity)
        handlers = {
            protocol.Stop: lambda m: self.stop(m.id, m.fade),
            protocol.Emitter: lambda m: self.set_emitter(m.id, m.position, m.velocity),
            protocol.Emitters: lambda m: {"unknown": self.set_emitters(m.ids, m.positions, m.velocities)},
            protocol.Listener: lambda m: self.set_listener(m.position, m.forward, m.up, m.velocity),
            protocol.BusVolume: lambda m: self.set_bus_volume(m.bus, m.volume_db, m.fade),
            protocol.BusMute: lambda m: self.set_bus_mute(m.bus, m.mute, m.fade),
            protocol.SetParameter: lambda m: self.set_parameter(m.name, m.value),
            protocol.SnapshotStart: lambda m: self.snapshot_start(m.name, m.intensity, m.fade),
            protocol.SnapshotStop: lambda m: self.snapshot_stop(m.name, m.fade),
            protocol.SnapshotIntensity: lambda m: self.snapshots.set_intensity(m.name, m.intensity),
            protocol.ResetMeters: lambda m: self.chains.reset_meters(None if m.bus is None else self._bus(m.bus)),
        }
        handler = handlers.get(type(msg))
        if handler is None:
            raise CommandError("unknown_message", f"unknown message type {type(msg).__name__}")
        return handler(msg) or {}

    # ----------------------------------------------------------- instances
    def play(self, sound: str, instance: int | None = None, position=None, velocity=None,
             volume_db: float = 0.0, pitch_semitones: float = 0.0, fade_in: float = 0.0) -> int:
        """Start `sound` as a new instance; returns its id.  Refused (CommandError)
        if the sound is unknown, the id is taken, or a voice limit refuses it."""
        if sound not in self.scene.sounds:
            raise CommandError("unknown_sound", f"unknown sound {sound!r}")
        if instance is not None and instance in self.instances:
            raise CommandError("duplicate_id", f"instance id {instance} is already playing")
        group = Instance(position=tuple(position) if position is not None else (0.0, 0.0, 0.0),
                         velocity=tuple(velocity) if velocity is not None else (0.0, 0.0, 0.0))
        self._play_in(group, sound, volume_db, pitch_semitones, fade_in)
        return self._register(instance, group)

    def post_event(self, name: str, instance: int | None = None, position=None, velocity=None) -> dict:
        """Run an event's actions (delayed ones later); returns {'id': ..., 'refused': [...]}."""
        actions = self.scene.events.get(name)
        if actions is None:
            known = ", ".join(list(self.scene.events)[:20]) or "none defined"
            raise CommandError("unknown_event", f"unknown event {name!r} (known: {known})")
        if instance is not None and instance in self.instances:
            raise CommandError("duplicate_id", f"instance id {instance} is already playing")
        group = Instance(position=tuple(position) if position is not None else (0.0, 0.0, 0.0),
                         velocity=tuple(velocity) if velocity is not None else (0.0, 0.0, 0.0))
        instance = self._register(instance, group)
        refused = []
        for action in actions:
            if action.delay > 0.0:
                self.scheduler.schedule(self.block_index, action, instance)
                continue
            try:
                self._run_action(action, instance)
            except CommandError as exc:
                refused.append({"code": exc.code, "message": exc.message})
        return {"id": instance, "refused": refused}

    def _register(self, instance: int | None, group: Instance) -> int:
        if instance is None:
            instance, self.next_auto_id = self.next_auto_id, self.next_auto_id + 1
        self.instances[instance] = group
        for v in group.rows:
            self.row_instance[v] = instance
        self._reindex(instance)
        return instance

    def _reindex(self, instance: int) -> None:
        """Keep `single_row` true after an instance's voices changed."""
        group = self.instances.get(instance)
        if group is not None and len(group.rows) == 1:
            self.single_row[instance] = group.rows[0]
        else:
            self.single_row.pop(instance, None)

    def _run_action(self, action: Action, instance: int) -> None:
        """Carry out one event action for an event instance (now)."""
        kind = action.action
        if kind == "play":
            group = self.instances.get(instance)
            if group is None:        # the event instance was stopped before a delayed play
                return
            v = self._play_in(group, action.sound, action.volume_db or 0.0, 0.0, action.fade or 0.0)
            self.row_instance[v] = instance
            self._reindex(instance)
        elif kind == "stop":
            self.stop_matching(action.sound, action.category, action.fade or 0.0)
        elif kind == "snapshot_start":
            self.snapshot_start(action.snapshot, action.intensity, action.fade)
        elif kind == "snapshot_stop":
            self.snapshot_stop(action.snapshot, action.fade)
        elif kind == "set_parameter":
            self.set_parameter(action.parameter, action.value)

    def _play_in(self, group: Instance, sound: str, volume_db: float, pitch_st: float, fade_in: float) -> int:
        """Start one voice of `sound` in `group` (limits and stealing apply); returns its row."""
        spec = self.scene.sounds[sound]
        s, c = self.sound_index[sound], self.cat_index[self.scene.sound_category(sound)]
        priority = self.scene.sound_priority(sound)
        group.position, group.velocity = group.pose(self.params.vf)
        self._make_room(sound, s, c, priority, group.position)
        variant = self.bank.variants[sound][self._choose_variant(sound, spec)]
        v = self.voices.allocate(priority)
        self._fill_row(v, spec, s, c, variant, group, volume_db, pitch_st, fade_in)
        group.rows.append(v)
        return v

    def _make_room(self, sound: str, s: int, c: int, priority: int, position) -> None:
        vi, out = self.params.vi, self.scene.output
        spec = self.scene.sounds[sound]
        category = self.scene.categories.get(self.cat_names[c])
        distance = float(np.linalg.norm(np.subtract(position, self.params.lf[LF_X:LF_X + 3]))) if spec.spatial else 0.0
        checks = [(vi[:, VI_SOUND] == s, spec.max_instances, spec.steal, f"sound {sound!r}")]
        if category is not None:
            checks.append((vi[:, VI_CAT] == c, category.max_instances, category.steal, f"category {self.cat_names[c]!r}"))
        checks.append((np.ones(len(vi), dtype=bool), out.max_instances, out.steal, "global"))
        for mask, limit, policy, what in checks:
            reason = self.voices.make_room(mask, limit, policy, priority, distance, what)
            if reason is None and not self.voices.free:
                reason = "no free row while stolen voices fade out"
            if reason is not None:
                self.voices.stats.refused += 1
                raise CommandError("voice_limit", f"{sound!r} refused: {reason}")

    def _choose_variant(self, name: str, spec) -> int:
        """Index of the file to play from a sound's container, per its mode and weights."""
        n = len(spec.files)
        last = self.last_variant.get(name, -1)
        if n == 1:
            choice = 0
        elif spec.mode == "sequence":
            choice = (last + 1) % n
        else:
            weights = np.asarray(spec.weights if spec.weights else [1.0] * n, dtype=float)
            if spec.mode == "random_no_repeat" and last >= 0:
                weights[last] = 0.0
            choice = int(self.rng.choice(n, p=weights / weights.sum()))
        self.last_variant[name] = choice
        return choice

    def _fill_row(self, v, spec, s, c, variant, group: Instance, volume_db, pitch_st, fade_in) -> None:
        vi, vf, p = self.params.vi, self.params.vf, self.params
        volume = spec.volume_db + volume_db
        if spec.volume_random_db:
            volume += self.rng.uniform(*spec.volume_random_db)
        pitch = spec.pitch_semitones + pitch_st
        if spec.pitch_random_semitones:
            pitch += self.rng.uniform(*spec.pitch_random_semitones)
        vi[v, :] = 0
        vf[v, :] = 0.0
        p.gain[v] = 0.0
        vi[v, VI_SOUND], vi[v, VI_CAT] = s, c
        vi[v, VI_BUS] = self.bus_index[self.scene.sound_bus(self.sound_names[s])]
        vi[v, VI_LANE0] = variant.lanes[0]
        vi[v, VI_LANE1] = variant.lanes[1] if len(variant.lanes) > 1 else -1
        vi[v, VI_LOOP] = int(spec.loop)
        vf[v, VF_VOLUME] = db_to_gain(volume)
        vf[v, VF_PITCH] = semitones_to_ratio(pitch)
        vf[v, VF_PAN] = spec.pan
        if spec.spatial is not None:
            sp = spec.spatial
            vi[v, VI_SPATIAL] = 1
            vi[v, VI_MODEL] = DIST_MODELS[sp.rolloff]
            vf[v, VF_MIN_DIST], vf[v, VF_MAX_DIST] = sp.min_distance, sp.max_distance
            vf[v, VF_ROLLOFF], vf[v, VF_DOPPLER] = sp.rolloff_factor, sp.doppler
            vf[v, VF_X:VF_X + 3] = group.position
            vf[v, VF_VX:VF_VX + 3] = group.velocity
        vf[v, VF_FADE_TARGET] = 1.0
        if fade_in > 0.0:
            vf[v, VF_FADE_STEP] = 1.0 / (fade_in * self.sample_rate)
        else:
            vf[v, VF_FADE] = 1.0
        vf[v, VF_VFADE] = vf[v, VF_VFADE_TARGET] = 1.0
        self.rating[v] = np.nan if spec.loudness_db is None else spec.loudness_db
        vi[v, VI_STATE] = VIRTUAL   # `assign` makes it real, from its first sample, before the next block

    def stop(self, instance: int, fade: float = 0.0) -> None:
        """Stop every voice of an instance, fading over `fade` seconds (at least one block)."""
        group = self._group(instance)
        for v in list(group.rows):
            self.voices.stop(v, fade)
        self.scheduler.cancel(instance)

    def stop_matching(self, sound: str | None, category: str | None, fade: float) -> int:
        """Stop every live voice of a sound or a category; returns how many."""
        vi = self.params.vi
        if sound is not None:
            mask = vi[:, VI_SOUND] == self.sound_index[sound]
        else:
            mask = vi[:, VI_CAT] == self.cat_index[category]
        rows = np.flatnonzero(mask & self.voices.live())
        for v in rows:
            self.voices.stop(int(v), fade)
        return len(rows)

    def set_emitter(self, instance: int, position, velocity=None) -> None:
        """Move every voice of an instance; velocity (m/s) drives Doppler."""
        group = self._group(instance)
        group.position = tuple(position)
        if velocity is not None:
            group.velocity = tuple(velocity)
        vf = self.params.vf
        vf[group.rows, VF_X:VF_X + 3] = position
        if velocity is not None:
            vf[group.rows, VF_VX:VF_VX + 3] = velocity

    def set_emitters(self, ids, positions, velocities=None) -> int:
        """Move many instances in one call (vectorised); returns how many ids were unknown.

        Positions (and velocities) are validated as a whole before anything
        moves: a NaN or Inf anywhere refuses the batch.
        """
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        vel = None if velocities is None else np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
        if len(pos) != len(ids) or (vel is not None and len(vel) != len(ids)):
            raise CommandError("bad_value", "ids, positions and velocities must have the same length")
        if not np.isfinite(pos).all() or (vel is not None and not np.isfinite(vel).all()):
            raise CommandError("bad_value", "positions and velocities must be finite")
        id_list = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        # one-voice instances (the common case) are looked up in C, without a Python loop
        rows = np.fromiter(map(self.single_row.get, id_list, itertools.repeat(-1)), np.int64, len(id_list))
        src = np.flatnonzero(rows >= 0)
        rows, unknown = rows[src], 0
        extra_rows, extra_src = [], []
        missing = np.ones(len(id_list), dtype=bool)
        missing[src] = False
        for k in np.flatnonzero(missing).tolist():
            group = self.instances.get(id_list[k])
            if group is None:
                unknown += 1
            elif group.rows:
                extra_rows += group.rows
                extra_src += [k] * len(group.rows)
            else:
                group.position = tuple(pos[k])
                if vel is not None:
                    group.velocity = tuple(vel[k])
        if extra_rows:
            rows = np.concatenate([rows, extra_rows]).astype(np.int64)
            src = np.concatenate([src, extra_src]).astype(np.int64)
        vf = self.params.vf
        vf[rows, VF_X:VF_X + 3] = pos[src]
        if vel is not None:
            vf[rows, VF_VX:VF_VX + 3] = vel[src]
        return unknown

    def _group(self, instance: int) -> Instance:
        group = self.instances.get(instance)
        if group is None:
            raise CommandError("unknown_instance", f"no playing instance with id {instance}")
        return group

    # ----------------------------------------------------------- listener, buses, mix state
    def set_listener(self, position, forward=(0.0, 0.0, -1.0), up=(0.0, 1.0, 0.0), velocity=(0.0, 0.0, 0.0)) -> None:
        """Set the listener pose; forward and up must span a plane."""
        f, u = np.asarray(forward, float), np.asarray(up, float)
        if not np.linalg.norm(np.cross(f, u)) > 1e-9:
            raise CommandError("bad_value", "listener forward and up must be non-zero and not parallel")
        lf = self.params.lf
        lf[LF_X:LF_X + 3] = position
        lf[LF_FX:LF_FX + 3] = f
        lf[LF_UX:LF_UX + 3] = u
        lf[LF_VX:LF_VX + 3] = velocity

    def set_bus_volume(self, bus: str, volume_db: float, fade: float = 0.0) -> None:
        """Move a bus fader to `volume_db` over `fade` seconds (at least one block)."""
        self._bus(bus)
        self.faders[bus].set(db_to_gain(volume_db), fade, self.dt)

    def set_bus_mute(self, bus: str, mute: bool, fade: float = 0.0) -> None:
        """Mute or unmute a bus, ramped like a fader move."""
        self._bus(bus)
        self.mutes[bus].set(0.0 if mute else 1.0, fade, self.dt)

    def set_parameter(self, name: str, value: float) -> None:
        """Set a game parameter (it glides at its seek speed)."""
        self.parameters.set(name, value)

    def snapshot_start(self, name: str, intensity: float | None = None, fade: float | None = None) -> None:
        """Start a snapshot (fading in over its own time unless `fade` is given)."""
        self.snapshots.start(name, intensity, fade, when=self.block_index * self.dt)

    def snapshot_stop(self, name: str, fade: float | None = None) -> None:
        """Fade a snapshot out."""
        self.snapshots.stop(name, fade, when=self.block_index * self.dt)

    def _bus(self, bus: str) -> int:
        i = self.bus_index.get(bus)
        if i is None:
            raise CommandError("unknown_bus", f"unknown bus {bus!r} (buses: {', '.join(self.bus_names)})")
        return i

    # ----------------------------------------------------------- per block
    def tick(self) -> None:
        """Everything the control side does before a block (see module docstring)."""
        for pending in self.scheduler.due(self.block_index):
            try:
                self._run_action(pending.action, pending.group)
            except CommandError as exc:
                self.action_errors.append({"block": self.block_index, "code": exc.code, "message": exc.message})
        self.mapped = self.parameters.tick(self.dt)
        self._apply_sound_mappings()
        for glide in (*self.faders.values(), *self.mutes.values()):
            glide.tick(self.dt)
        self.snapshots.tick(self.dt)
        inputs = self._bus_inputs()
        if inputs != self._last_bus_inputs:   # else the targets written last block stand (and were reached)
            self.bus_values = self.snapshots.apply(self._bus_values(self.mapped), self.mapped.snapshot_intensity)
            self._write_bus_targets(self.bus_values)
            self._last_bus_inputs = inputs
        heard = self._tree_product(self.params.bf[:, BF_GAIN])  # bus gains as the last block ended
        hdr_db, hdr_below = self._hdr()
        # rank on what is heard now, so a fader move's own ramp is never steepened by a virtualization fade
        self.voices.assign(heard, hdr_below)
        self._category_gains(hdr_db)   # after ranking: a sound starting this block ducks this block

    def _bus_inputs(self) -> tuple:
        """Everything the bus values depend on: faders, mutes, parameter values (through their
        mappings) and the snapshot stack.  The same inputs give the same bus values."""
        return (tuple(g.value for g in self.faders.values()), tuple(g.value for g in self.mutes.values()),
                tuple(self.parameters.values.values()),
                tuple((s.name, s.level, s.intensity, s.order) for s in self.snapshots.active.values()))

    def _apply_sound_mappings(self) -> None:
        mod = self.params.sound_mod
        mod[:, SM_GAIN] = 1.0
        mod[:, SM_PITCH] = 1.0
        for name, db in self.mapped.sound_volume_db.items():
            mod[self.sound_index[name], SM_GAIN] = db_to_gain(db)
        for name, st in self.mapped.sound_pitch.items():
            mod[self.sound_index[name], SM_PITCH] = semitones_to_ratio(st)

    def _bus_values(self, mapped: MappedValues) -> BusValues:
        """Each bus's own values before snapshots: scene, fader, parameter mappings."""
        n = len(self.bus_names)
        values = BusValues(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), self.chains.base(mapped.bus_moved))
        for name, b in self.bus_index.items():
            spec = self.scene.buses[name]
            values.volume_db[b] = gain_to_db(self.faders[name].value) + mapped.bus_volume_db.get(name, 0.0)
            values.lowpass_oct[b] = math.log2(min(spec.lowpass_hz, mapped.bus_lowpass_hz.get(name, math.inf)))
            values.highpass_oct[b] = math.log2(max(spec.highpass_hz, mapped.bus_highpass_hz.get(name, 0.0)))
            values.pitch_st[b] = spec.pitch_semitones + mapped.bus_pitch.get(name, 0.0)
        return values

    def _write_bus_targets(self, values: BusValues) -> np.ndarray:
        """Bus fader targets (reached within the block) and pitch; returns the gains."""
        bf = self.params.bf
        mutes = np.array([self.mutes[n].value for n in self.bus_names])
        gains = db_to_gain_array(values.volume_db) * mutes
        bf[:, BF_GAIN_TARGET] = gains
        bf[:, BF_GAIN_STEP] = np.maximum(np.abs(gains - bf[:, BF_GAIN]), 1e-12) / self.block_size
        bf[:, BF_PITCH] = self._tree_product(2.0 ** (values.pitch_st / 12.0))
        cutoff = self.params.filters.cutoff
        cutoff[:, FL_LP_TARGET] = 2.0 ** values.lowpass_oct     # the kernel clamps to [10 Hz, 0.49 fs]
        cutoff[:, FL_HP_TARGET] = 2.0 ** values.highpass_oct
        self.chains.write(values.moved)
        return gains

    def _tree_product(self, per_bus: np.ndarray) -> np.ndarray:
        """For each bus, the product of `per_bus` over it and its ancestors."""
        out = per_bus.copy()
        parent = self.params.bus_parent
        for b in reversed(self.params.bus_order):   # master first: parents before children
            if parent[b] >= 0:
                out[b] *= out[parent[b]]
        return out

    def _hdr(self) -> tuple[np.ndarray, np.ndarray | None]:
        """HDR attenuation per category (dB) and the mask of instances below the window."""
        zero = np.zeros(len(self.cat_names))
        if self.hdr is None:
            return zero, None
        attenuation, below = self.hdr.tick(self.dt, self.rating, self.voices.own_gain,
                                           self.params.vi[:, VI_CAT], self.voices.live())
        zero[self.hdr.categories] = attenuation
        return zero, below

    def _category_gains(self, hdr_db: np.ndarray) -> None:
        """Ducking (from the categories playing now) and HDR, as a gain per category."""
        if not self.ducker.states and self.hdr is None:
            return      # cat_gain keeps the 1.0 it was made with
        categories_playing(self.params.vi, self._playing)
        total_db = self.ducker.tick(self.dt, self._playing) + hdr_db
        self.params.cat_gain[:] = db_to_gain_array(total_db)

    def render(self, out: np.ndarray) -> None:
        """Tick, render the next block into out (block_size, channels), reclaim ended voices."""
        self.tick()
        self.engine.render(out)
        self._reap()
        self.block_index += 1

    def _reap(self) -> None:
        for v in self.voices.reclaim():
            instance = int(self.row_instance[v])
            self.row_instance[v] = -1
            group = self.instances.get(instance)
            if group is None:
                continue
            group.rows.remove(v)
            if not group.rows and self.scheduler.pending_for(instance) == 0:
                del self.instances[instance]
            self._reindex(instance)

    # ----------------------------------------------------------- hot reload
    def adopt(self, old: "Mixer") -> None:
        """Carry over the state of the mixer this one replaces (a scene reload).

        Kept: the block count, the listener pose, faders and mutes of buses
        that still exist (with their current gains, so nothing jumps), parameter
        values (clamped to new ranges), active snapshots that still exist, and
        every instance whose sound still exists: same id, pose, read position
        (clamped to the new file), fades and current gains, so a voice goes on
        seamlessly and ramps to the new scene's values; the envelopes of
        ducking rules on the same categories and the HDR window's top; event
        actions still queued (and the event instances waiting on them).
        Random draws are made anew from this mixer's seed.
        """
        self.block_index = old.block_index
        self.next_auto_id = max(self.next_auto_id, old.next_auto_id)
        self.params.lf[LF_X:LF_VX + 3] = old.params.lf[LF_X:LF_VX + 3]
        for name, b in self.bus_index.items():
            if name in old.bus_index:
                self.faders[name], self.mutes[name] = old.faders[name], old.mutes[name]
                self.params.bf[b, BF_GAIN] = old.params.bf[old.bus_index[name], BF_GAIN]
        self.chains.adopt(old.chains)
        for name, value in old.parameters.values.items():
            spec = self.parameters.specs.get(name)
            if spec is not None:
                self.parameters.values[name] = min(max(value, spec.min), spec.max)
                self.parameters.targets[name] = min(max(old.parameters.targets[name], spec.min), spec.max)
        for name, snap in old.snapshots.active.items():
            if name in self.snapshots.specs:
                self.snapshots.active[name] = snap
        self.ducker.adopt(old.ducker)
        if self.hdr is not None and old.hdr is not None:
            self.hdr.top_db = max(old.hdr.top_db, self.hdr.spec.threshold_db)
        self.scheduler.adopt(old.scheduler)
        for instance, group in old.instances.items():
            self._adopt_instance(old, instance, group)

    def _adopt_instance(self, old: "Mixer", instance: int, group: Instance) -> None:
        position, velocity = group.pose(old.params.vf)
        new_group = Instance(position=position, velocity=velocity)
        ovi, ovf, ogain = old.params.vi, old.params.vf, old.params.gain
        vi, vf, gain = self.params.vi, self.params.vf, self.params.gain
        for v in group.rows:
            sound = old.sound_names[ovi[v, VI_SOUND]]
            if sound not in self.scene.sounds or ovi[v, VI_STATE] not in (PLAYING, VIRTUAL):
                continue
            try:
                nv = self._play_in(new_group, sound, 0.0, 0.0, 0.0)
            except CommandError:
                continue
            length = int(self.bank.lane_length[vi[nv, VI_LANE0]])
            vi[nv, VI_POS] = min(int(ovi[v, VI_POS]), (length - 1) * FRAC_ONE)
            for f in (VF_FADE, VF_FADE_TARGET, VF_FADE_STEP, VF_VFADE, VF_VFADE_TARGET, VF_VFADE_STEP):
                vf[nv, f] = ovf[v, f]
            for f in (VI_STATE, VI_TO_VIRTUAL, VI_BLOCKS):
                vi[nv, f] = ovi[v, f]
            gain[nv] = ogain[v]
        if new_group.rows or self.scheduler.pending_for(instance):
            self._register(instance, new_group)

    # ----------------------------------------------------------- queries
    def active_voices(self) -> int:
        """Voices being rendered (playing or fading out)."""
        states = self.params.vi[:, VI_STATE]
        return int(np.count_nonzero((states == PLAYING) | (states == STOPPING)))

    def virtual_voices(self) -> int:
        """Instances tracked without being rendered."""
        return int(np.count_nonzero(self.params.vi[:, VI_STATE] == VIRTUAL))

    def rows_of(self, instance: int) -> list[int]:
        """Parameter-array rows of an instance's voices."""
        return sorted(self._group(instance).rows)

    def audibility(self, instance: int) -> float:
        """Total gain the first voice of an instance had in the last block."""
        return float(self.params.vf[self.rows_of(instance)[0], VF_AUDIBILITY])

    def position_frames(self, instance: int) -> float:
        """Read position of an instance's first voice, in frames of its clip."""
        return self.params.vi[self.rows_of(instance)[0], VI_POS] / FRAC_ONE

    def state_of(self, instance: int) -> str:
        """'real' or 'virtual' (of its first voice)."""
        return "virtual" if self.params.vi[self.rows_of(instance)[0], VI_STATE] == VIRTUAL else "real"
