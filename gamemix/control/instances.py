"""Instances: what a game's id names, and the voices it started.

A `play` or an `event` creates an *instance*; it may hold several voices (an
event's play actions), all moved by `emitter` and stopped by `stop`
together.  Each voice owns a row of the engine's arrays (control/voices.py
hands them out).  Starting a voice applies the sound's, its category's and
the global limits (stealing or refusing, control/voices.py), chooses the
file from the sound's container (random with weights, random without
repeat, or in sequence, from the mixer's seeded generator) and fills the
row: bus, lanes, volume and pitch with their random ranges, pan, the 3D
settings, the fade-in.

`Instances` is the table of ids: it hands out ids the game did not choose
(from AUTO_ID_BASE up), finds the rows of many ids at once (a frame's
batch of poses, looked up in C for one-voice instances), and forgets an
instance once it has no voice and no queued event action.

Instance control (what a game does to a sound once it plays): its volume
and pitch offsets on top of the sound's (the volume glides, at least a
block), a 2D sound's pan, a 3D one's pose; pause and resume (each a fade;
a paused voice holds its place and counts against the limits); seek (the
voices fade out over a block, jump, and fade back in, so the jump never
clicks); and what it is doing now (`info`).

Lifecycle notices.  For the instances in `watched`, what happens to them is
appended to `notices` (bounded): `started` (its first voice started, with
the sample), `virtual` and `real` (a voice moved between the two), `stolen`
(a voice limit took a voice of it for a new sound), `paused`, `ended` (the
instance is gone: its last voice ended), `refused` (a delayed play of its
event was refused).  The live server sends them to the client that owns
the instance (live/server.py).

Control side.
"""

from __future__ import annotations

import collections
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from gamemix.core.arrays import (
    DIST_MODELS, FRAC_ONE, PAUSED, PLAYING, STOPPING, VF_DOPPLER, VF_FADE, VF_FADE_STEP, VF_FADE_TARGET,
    VF_MAX_DIST, VF_MIN_DIST, VF_PAN, VF_PITCH, VF_ROLLOFF, VF_VFADE, VF_VFADE_STEP, VF_VFADE_TARGET, VF_VOLUME,
    VF_VX, VF_X, VI_BUS, VI_CAT, VI_DELAY, VI_LANE0, VI_LANE1, VI_LOOP, VI_LOOPS, VI_MODEL, VI_PAUSE, VI_POS,
    VI_EXTRA, VI_SOUND, VI_SPATIAL, VI_STATE, VI_TO_VIRTUAL, VIRTUAL, VX_AIR, VX_CENTRE, VX_CONE_GAIN, VX_CONE_HF,
    VX_CONE_IN, VX_CONE_OUT, VX_DIR_X, VX_DIR_Z, VX_LFE, VX_OBS, VX_OBS_DB, VX_OBS_HF_DB, VX_OCC, VX_OCC_DB,
    VX_OCC_HF_DB, VX_PROP, VX_REST, VX_SPREAD,
)
from gamemix.control import listeners
from gamemix.core import propagation
from gamemix.core.propagation import unit
from gamemix.errors import CommandError
from gamemix.protocol.messages import AUTO_ID_BASE
from gamemix.units import db_to_gain, semitones_to_ratio


NOTICES_KEPT = 65536
VOICE_LOG_KEPT = 5000       # steals and virtual/real switches kept for the render report (all are counted)


@dataclass(frozen=True)
class PlayOptions:
    """How one play starts: offsets on the sound's volume and pitch, its fade-in, a 2D pan, a loop
    count (None: the sound's own looping), and a start this many samples into the block."""

    volume_db: float = 0.0
    pitch_semitones: float = 0.0
    fade_in: float = 0.0
    pan: float | None = None
    loops: int | None = None
    delay: int = 0


@dataclass
class Instance:
    """What the game's id names: one or more voices sharing a pose.

    While it has voices, its pose lives in their rows of the arrays; `position`
    and `velocity` hold it only while it has none (an event waiting on a
    delayed play)."""

    rows: list[int] = field(default_factory=list)
    position: tuple = (0.0, 0.0, 0.0)
    velocity: tuple = (0.0, 0.0, 0.0)
    direction: tuple = (0.0, 0.0, 0.0)     # where the emitter faces (a unit vector; 0: no direction)
    occlusion: float = 0.0                 # the factors the game set (core/propagation.py)
    obstruction: float = 0.0
    sends: dict = field(default_factory=dict)   # aux index -> linear level the game set (`aux_sends`)

    def pose(self, vf: np.ndarray) -> tuple[tuple, tuple]:
        """(position, velocity) now: from its first voice if it has one."""
        if self.rows:
            r = self.rows[0]
            return tuple(vf[r, VF_X:VF_X + 3]), tuple(vf[r, VF_VX:VF_VX + 3])
        return self.position, self.velocity

    def facing(self, vx: np.ndarray) -> tuple:
        """Its direction now: from its first voice if it has one."""
        return tuple(vx[self.rows[0], VX_DIR_X:VX_DIR_Z + 1]) if self.rows else self.direction


class Instances:
    """The game's ids, their voices, and how voices start; see the module docstring."""

    def __init__(self, scene, arrays, voices, bank, rng, sound_index: dict[str, int], cat_index: dict[str, int],
                 bus_index: dict[str, int], streams):
        self.scene, self.arrays, self.voices, self.bank, self.rng = scene, arrays, voices, bank, rng
        self.streams = streams                           # control/streams.py: rings of streamed sounds
        self.on_forget = None                            # called with each instance forgotten
        self.sound_index, self.cat_index, self.bus_index = sound_index, cat_index, bus_index
        self.cat_names = list(cat_index)
        self.sound_names = list(sound_index)
        self.sample_rate = scene.output.sample_rate
        self.groups: dict[int, Instance] = {}
        self.single_row: dict[int, int] = {}   # id -> row of instances with exactly one voice (fast path)
        self.row_instance = np.full(arrays.max_instances, -1, dtype=np.int64)
        self.rating = np.full(arrays.max_instances, np.nan)   # HDR loudness rating per row
        self.last_variant: dict[str, int] = {}
        self.next_auto_id = AUTO_ID_BASE
        self.rand_db = np.full(arrays.max_instances, np.nan)   # per row: the volume offset drawn at its play
        self.rand_st = np.full(arrays.max_instances, np.nan)   # per row: the pitch offset drawn at its play
        self.glides: dict[int, tuple[float, float]] = {}  # row -> (target gain, change per block)
        self.seeks: dict[int, int] = {}                  # row -> position it jumps to once faded out
        self.stream_seeks: dict[int, int] = {}           # row -> file frame a streamed voice jumps to
        self.from_pause: set[int] = set()                # rows a resume made virtual, to be made real again
        self.watched: set[int] = set()
        self.notices: collections.deque = collections.deque(maxlen=NOTICES_KEPT)
        self.voice_log: collections.deque = collections.deque(maxlen=VOICE_LOG_KEPT)   # steals, (de)virtualizations
        self.voice_log_total = 0
        self.block_index = 0                             # kept by the mixer, for notices
        self.rooms = bool(scene.zones)                   # zones may occlude any 3D voice (core/propagation.py)
        voices.on_switch = self._switched

    # ------------------------------------------------------------ the table
    def __len__(self) -> int:
        return len(self.groups)

    def __contains__(self, instance: int) -> bool:
        return instance in self.groups

    def __iter__(self):
        return iter(self.groups)

    def __getitem__(self, instance: int) -> Instance:
        return self.groups[instance]

    def get(self, instance: int) -> Instance | None:
        return self.groups.get(instance)

    def items(self):
        return self.groups.items()

    def group(self, instance: int) -> Instance:
        """The instance with this id; CommandError 'unknown_instance' if there is none."""
        group = self.groups.get(instance)
        if group is None:
            raise CommandError("unknown_instance", f"no playing instance with id {instance}")
        return group

    def new(self, instance: int | None, position, velocity, direction=None) -> Instance:
        """A new, voiceless instance at a pose; CommandError 'bad_value' for an id in the mixer's own
        range, 'duplicate_id' if the id is taken."""
        if instance is not None and not 0 <= instance < AUTO_ID_BASE:
            raise CommandError("bad_value", f"instance id {instance} is not a game's: games name instances "
                                            f"with ids from 0 to 2^62 - 1 (the mixer's own start at 2^62)")
        if instance is not None and instance in self.groups:
            raise CommandError("duplicate_id", f"instance id {instance} is already playing")
        return Instance(position=tuple(position) if position is not None else (0.0, 0.0, 0.0),
                        velocity=tuple(velocity) if velocity is not None else (0.0, 0.0, 0.0),
                        direction=unit(direction) if direction is not None else (0.0, 0.0, 0.0))

    def register(self, instance: int | None, group: Instance) -> int:
        """Enter `group` under `instance` (or the next id of the mixer's own); returns the id."""
        if instance is None:
            instance, self.next_auto_id = self.next_auto_id, self.next_auto_id + 1
        self.groups[instance] = group
        for v in group.rows:
            self.row_instance[v] = instance
        self.reindex(instance)
        return instance

    def reindex(self, instance: int) -> None:
        """Keep `single_row` true after an instance's voices changed."""
        group = self.groups.get(instance)
        if group is not None and len(group.rows) == 1:
            self.single_row[instance] = group.rows[0]
        else:
            self.single_row.pop(instance, None)

    def forget(self, instance: int) -> None:
        """Drop a voiceless instance from the table (its id is free again); `ended` is its last notice."""
        if self.groups.pop(instance, None) is not None:
            self.notify(instance, "ended")
        self.single_row.pop(instance, None)
        self.watched.discard(instance)
        if self.on_forget is not None:
            self.on_forget(instance)

    def discard(self, instance: int) -> None:
        """Undo an instance that was just made: free the voices it started (none has rendered yet)
        and forget it."""
        group = self.groups.get(instance)
        if group is None:
            return
        for v in group.rows:
            self.row_instance[v] = -1
            self.streams.end(v)
            self.voices.release(v)
        self.forget(instance)

    def add_voice(self, instance: int, row: int) -> None:
        """A voice started later for a registered instance (an event's delayed play)."""
        self.row_instance[row] = instance
        self.reindex(instance)

    def notify(self, instance: int, event: str, **extra) -> None:
        """A lifecycle notice for a watched instance (see the module docstring)."""
        if instance in self.watched:
            self.notices.append({"id": instance, "event": event, "block": self.block_index, **extra})

    def _switched(self, kind: str, rows, reason: str) -> None:
        """VoicePool's report of rows gone virtual or real this block, or stolen: a notice for
        their watched instances, and an entry in the voice log (the last VOICE_LOG_KEPT)."""
        seen = set()
        for v in rows:
            instance = int(self.row_instance[v])
            if v in self.from_pause:
                self.from_pause.discard(v)
                if kind == "real":                       # the end of a resume: 'resumed' was the notice
                    continue
            if instance >= 0 and instance not in seen:
                seen.add(instance)
                self.notify(instance, kind)
                self.voice_log.append({"block": self.block_index, "event": kind, "id": instance,
                                       "sound": self.sound_names[int(self.arrays.vi[v, VI_SOUND])], "reason": reason})
                self.voice_log_total += 1

    def reap(self, ended_rows, pending_for) -> None:
        """Forget the rows the kernel ended, and instances left with no voice and no queued action."""
        for v in ended_rows:
            self.streams.end(v)
            instance = int(self.row_instance[v])
            self.row_instance[v] = -1
            self.glides.pop(v, None)
            self.seeks.pop(v, None)
            self.stream_seeks.pop(v, None)
            self.from_pause.discard(v)
            group = self.groups.get(instance)
            if group is None:
                continue
            group.rows.remove(v)
            if not group.rows and pending_for(instance) == 0:
                self.forget(instance)
            self.reindex(instance)

    # ------------------------------------------------------------ starting a voice
    def start_voice(self, group: Instance, sound: str, opts: PlayOptions = PlayOptions()) -> int:
        """Start one voice of `sound` in `group` (limits and stealing apply); returns its row."""
        spec = self.scene.sounds[sound]
        s, c = self.sound_index[sound], self.cat_index[self.scene.sound_category(sound)]
        priority = self.scene.sound_priority(sound)
        group.position, group.velocity = group.pose(self.arrays.vf)
        self._make_room(sound, s, c, priority, group.position)
        choice = self.choose_variant(sound, spec)
        variant = self.bank.variants[sound][choice]
        v = self.voices.allocate(priority)
        try:
            self._fill_row(v, sound, spec, s, c, variant, group, opts)
            if sound in self.streams.rooms:         # a ring of its own, read from disk as it plays
                self.streams.start(v, sound, choice, int(self.arrays.vi[v, VI_LOOPS]))
        except BaseException:
            self.voices.release(v)          # a row half filled is not left to play
            raise
        group.rows.append(v)
        return v

    def _make_room(self, sound: str, s: int, c: int, priority: int, position) -> None:
        vi, out = self.arrays.vi, self.scene.output
        spec = self.scene.sounds[sound]
        category = self.scene.categories.get(self.cat_names[c])
        distance = (float(np.linalg.norm(listeners.nearest(self.arrays.lf, np.array([position], float))[1][0]))
                    if spec.spatial else 0.0)
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

    def choose_variant(self, name: str, spec) -> int:
        """Index of the file to play from a sound's container, per its mode and weights."""
        n = len(self.bank.variants[name])
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

    def volume_db(self, v: int, spec, offset_db: float) -> float:
        """A row's volume: the sound's, the play's (or set_instance's) offset, the random draw."""
        volume = spec.volume_db + offset_db
        if not np.isnan(self.rand_db[v]):
            volume += float(self.rand_db[v])
        return volume

    def pitch_st(self, v: int, spec, offset_st: float) -> float:
        """A row's pitch in semitones, made the same way as its volume."""
        pitch = spec.pitch_semitones + offset_st
        if not np.isnan(self.rand_st[v]):
            pitch += float(self.rand_st[v])
        return pitch

    def _fill_extras(self, v: int, spec, group: Instance) -> None:
        """A row's own spread, centre share and LFE send (core/arrays.py, vx), where its sound has them,
        and a 3D sound's propagation: its cone, air absorption, what occlusion and obstruction do, and
        the instance's direction, factors and aux sends."""
        a = self.arrays
        spread = spec.spatial.spread if spec.spatial is not None else 0.0
        lfe = 0.0 if spec.lfe_db is None else db_to_gain(spec.lfe_db)
        if spread > 0.0 or spec.centre > 0.0 or lfe > 0.0:
            a.vx[v, VX_SPREAD], a.vx[v, VX_CENTRE], a.vx[v, VX_LFE] = spread, spec.centre, lfe
            a.vi[v, VI_EXTRA] = 1
        a.prop.vsend[v] = 0.0
        a.prop.vsend_prev[v] = 0.0
        if spec.spatial is None:
            return
        sp, vx = spec.spatial, a.vx
        vx[v, VX_OCC_DB], vx[v, VX_OCC_HF_DB] = sp.occlusion.volume_db, self._hf_db(sp.occlusion.lowpass_hz)
        vx[v, VX_OBS_DB], vx[v, VX_OBS_HF_DB] = sp.obstruction.volume_db, self._hf_db(sp.obstruction.lowpass_hz)
        vx[v, VX_AIR] = sp.air_absorption
        if sp.cone is not None:
            vx[v, VX_CONE_IN], vx[v, VX_CONE_OUT] = math.radians(sp.cone.inner_angle), math.radians(sp.cone.outer_angle)
            vx[v, VX_CONE_GAIN] = db_to_gain(sp.cone.outer_volume_db)
            vx[v, VX_CONE_HF] = 10.0 ** (self._hf_db(sp.cone.outer_lowpass_hz) / 20.0)
        vx[v, VX_DIR_X:VX_DIR_Z + 1] = group.facing(vx)
        vx[v, VX_OCC], vx[v, VX_OBS] = group.occlusion, group.obstruction
        for aux, level in group.sends.items():
            a.prop.vsend[v, aux] = level
        if sp.cone is not None or sp.air_absorption > 0.0 or group.occlusion > 0.0 or group.obstruction > 0.0 \
                or self.rooms:
            vx[v, VX_PROP] = 1.0
            a.vi[v, VI_EXTRA] = 1

    def _hf_db(self, cutoff_hz: float) -> float:
        """dB at the reference frequency of the voices' one-pole low-pass at this cutoff (0: open)."""
        return propagation.cutoff_hf_db(cutoff_hz, self.sample_rate)

    # ------------------------------------------------------------ propagation (core/propagation.py)
    def orient(self, instance: int, direction) -> None:
        """Face an instance's voices towards `direction` (normalised; zero: no direction, no cone)."""
        group = self.group(instance)
        group.direction = unit(direction)
        self.arrays.vx[group.rows, VX_DIR_X:VX_DIR_Z + 1] = group.direction

    def set_occlusion(self, instance: int, occlusion: float | None, obstruction: float | None) -> None:
        """Set an instance's occlusion and obstruction factors (0..1; None leaves one as it is)."""
        group = self.group(instance)
        if occlusion is not None:
            group.occlusion = float(occlusion)
        if obstruction is not None:
            group.obstruction = float(obstruction)
        rows = [v for v in group.rows if self.arrays.vi[v, VI_SPATIAL] != 0]
        vx = self.arrays.vx
        vx[rows, VX_OCC], vx[rows, VX_OBS] = group.occlusion, group.obstruction
        vx[rows, VX_PROP] = 1.0
        self.arrays.vi[rows, VI_EXTRA] = 1

    def set_sends(self, instance: int, sends: dict[int, float]) -> None:
        """Replace an instance's aux send levels (aux index -> linear gain); they ramp from the last block's."""
        group = self.group(instance)
        group.sends = dict(sends)
        vsend = self.arrays.prop.vsend
        vsend[group.rows] = 0.0
        for aux, level in group.sends.items():
            vsend[group.rows, aux] = level

    def _fill_row(self, v, sound, spec, s, c, variant, group: Instance, opts: PlayOptions) -> None:
        a = self.arrays
        vi, vf = a.vi, a.vf
        self.rand_db[v] = self.rng.uniform(*spec.volume_random_db) if spec.volume_random_db else np.nan
        self.rand_st[v] = self.rng.uniform(*spec.pitch_random_semitones) if spec.pitch_random_semitones else np.nan
        volume = self.volume_db(v, spec, opts.volume_db)
        pitch = self.pitch_st(v, spec, opts.pitch_semitones)
        vi[v, :] = 0
        vf[v, :] = 0.0
        a.gain[v] = 0.0
        vi[v, VI_SOUND], vi[v, VI_CAT] = s, c
        vi[v, VI_BUS] = self.bus_index[self.scene.sound_bus(sound)]
        vi[v, VI_LANE0] = variant.lanes[0]
        vi[v, VI_LANE1] = variant.lanes[1] if len(variant.lanes) > 1 else -1
        loops = opts.loops if opts.loops is not None else (-1 if spec.loop else 0)
        vi[v, VI_LOOP] = int(loops != 0)
        vi[v, VI_LOOPS] = loops
        vi[v, VI_DELAY] = opts.delay
        vf[v, VF_VOLUME] = db_to_gain(volume)
        vf[v, VF_PITCH] = semitones_to_ratio(pitch)
        a.vx[v] = VX_REST                                  # until its own parameters move it (VI_EXTRA 0)
        self._fill_extras(v, spec, group)
        vf[v, VF_PAN] = spec.pan if opts.pan is None else opts.pan
        if spec.spatial is not None:
            sp = spec.spatial
            vi[v, VI_SPATIAL] = 1
            vi[v, VI_MODEL] = DIST_MODELS[sp.rolloff]
            vf[v, VF_MIN_DIST], vf[v, VF_MAX_DIST] = sp.min_distance, sp.max_distance
            vf[v, VF_ROLLOFF], vf[v, VF_DOPPLER] = sp.rolloff_factor, sp.doppler
            vf[v, VF_X:VF_X + 3] = group.position
            vf[v, VF_VX:VF_VX + 3] = group.velocity
        vf[v, VF_FADE_TARGET] = 1.0
        if opts.fade_in > 0.0:
            vf[v, VF_FADE_STEP] = 1.0 / (opts.fade_in * self.sample_rate)
        else:
            vf[v, VF_FADE] = 1.0
        vf[v, VF_VFADE] = vf[v, VF_VFADE_TARGET] = 1.0
        self.rating[v] = np.nan if spec.loudness_db is None else spec.loudness_db
        vi[v, VI_STATE] = VIRTUAL   # `assign` makes it real, from its first sample, before the next block

    # ------------------------------------------------------------ moving and stopping
    def stop(self, instance: int, fade: float, scheduler) -> None:
        """Stop every voice of an instance, fading over `fade` seconds (at least one block), and drop
        its queued event actions."""
        group = self.group(instance)
        for v in list(group.rows):
            self.voices.stop(v, fade)
        scheduler.cancel(instance)
        if not group.rows:            # only queued actions (a delayed play, a scatterer): nothing left of it
            self.forget(instance)

    def stop_matching(self, sound: str | None, category: str | None, fade: float) -> int:
        """Stop every live voice of a sound or a category; returns how many."""
        vi = self.arrays.vi
        if sound is not None:
            mask = vi[:, VI_SOUND] == self.sound_index[sound]
        else:
            mask = vi[:, VI_CAT] == self.cat_index[category]
        rows = np.flatnonzero(mask & self.voices.live())
        for v in rows:
            self.voices.stop(int(v), fade)
        return len(rows)

    def move(self, instance: int, position, velocity=None) -> None:
        """Move every voice of an instance; velocity (m/s) drives Doppler."""
        group = self.group(instance)
        group.position = tuple(position)
        if velocity is not None:
            group.velocity = tuple(velocity)
        vf = self.arrays.vf
        vf[group.rows, VF_X:VF_X + 3] = position
        if velocity is not None:
            vf[group.rows, VF_VX:VF_VX + 3] = velocity

    # ------------------------------------------------------------ instance control
    def set(self, instance: int, volume_db=None, pitch_semitones=None, pan=None, position=None, velocity=None,
            fade: float = 0.0, block_size: int = 256, direction=None) -> None:
        """Change a playing instance (see the module docstring); the volume glides over `fade` s."""
        group = self.group(instance)
        a = self.arrays
        blocks = max(1.0, fade * self.sample_rate / block_size)
        for v in group.rows:
            spec = self.scene.sounds[self.sound_names[a.vi[v, VI_SOUND]]]
            if volume_db is not None:
                target = db_to_gain(self.volume_db(v, spec, volume_db))
                self.glides[v] = (target, abs(target - a.vf[v, VF_VOLUME]) / blocks)
            if pitch_semitones is not None:
                a.vf[v, VF_PITCH] = semitones_to_ratio(self.pitch_st(v, spec, pitch_semitones))
            if pan is not None:
                a.vf[v, VF_PAN] = pan
        if position is not None:
            self.move(instance, position, velocity)
        if direction is not None:
            self.orient(instance, direction)

    def pause(self, instance: int, paused: bool, fade: float, block_size: int) -> None:
        """Pause an instance (its voices fade out, then hold still) or resume it (they fade back in)."""
        group = self.group(instance)
        vi, vf = self.arrays.vi, self.arrays.vf
        step = 1.0 / max(fade * self.sample_rate, block_size)
        for v in group.rows:
            state = vi[v, VI_STATE]
            if state not in (PLAYING, VIRTUAL, PAUSED):
                continue                                 # stopping: it ends anyway
            if paused:
                vi[v, VI_PAUSE] = 1
                vf[v, VF_FADE_TARGET] = 0.0
                vf[v, VF_FADE_STEP] = step
            else:
                vi[v, VI_PAUSE] = 0
                vf[v, VF_FADE_TARGET] = 1.0
                vf[v, VF_FADE_STEP] = step
                if state == PAUSED:                      # the ranking makes it real again, from where it was
                    vi[v, VI_STATE] = VIRTUAL
                    self.from_pause.add(v)               # (that is the resume the game was told of, not a 'real')
        self.notify(instance, "paused" if paused else "resumed")

    def seek(self, instance: int, seconds: float) -> None:
        """Move an instance's voices to `seconds` into their files: a real voice fades out over a block
        first (tick_control makes the jump), a virtual or paused one jumps now."""
        group = self.group(instance)
        vi, vf = self.arrays.vi, self.arrays.vf
        for v in group.rows:
            if v in self.streams.by_row:             # a streamed voice: its ring starts again there
                stream = self.streams.by_row[v]
                length = self.bank.variants[stream.sound][stream.file].frames
                frames = int(round(seconds * self.sample_rate))
                frames = frames % length if stream.loops else min(frames, length - 1)
                if vi[v, VI_STATE] == PLAYING:
                    self.stream_seeks[v] = frames     # after a block's fade-out, as below
                    vf[v, VF_VFADE_TARGET] = 0.0
                    vf[v, VF_VFADE_STEP] = 1.0 / self.arrays.block_size
                else:
                    self.streams.seek(v, frames)
                continue
            length = int(self.bank.lane_length[vi[v, VI_LANE0]])
            frames = int(round(seconds * self.sample_rate))
            frames = frames % length if vi[v, VI_LOOP] else min(frames, length - 1)
            pos = frames * FRAC_ONE
            if vi[v, VI_STATE] in (VIRTUAL, PAUSED):
                vi[v, VI_POS] = pos
            elif vi[v, VI_STATE] == PLAYING:
                self.seeks[v] = pos
                vf[v, VF_VFADE_TARGET] = 0.0
                vf[v, VF_VFADE_STEP] = 1.0 / self.arrays.block_size

    def tick_control(self) -> None:
        """Once per block, before the kernel: move the volume glides, make the seeks whose fade-out is done."""
        vf, vi = self.arrays.vf, self.arrays.vi
        for v in list(self.glides):
            target, step = self.glides[v]
            g = vf[v, VF_VOLUME]
            g = min(g + step, target) if g < target else max(g - step, target)
            vf[v, VF_VOLUME] = g
            if g == target:
                del self.glides[v]
        for v in list(self.stream_seeks):
            if vf[v, VF_VFADE] <= 0.0 or vi[v, VI_STATE] != PLAYING:
                self.streams.seek(v, self.stream_seeks.pop(v))
                if vi[v, VI_STATE] == PLAYING and vi[v, VI_TO_VIRTUAL] == 0:
                    vf[v, VF_VFADE_TARGET] = 1.0
        for v in list(self.seeks):
            if vf[v, VF_VFADE] <= 0.0 or vi[v, VI_STATE] != PLAYING:
                vi[v, VI_POS] = self.seeks.pop(v)
                if vi[v, VI_STATE] == PLAYING and vi[v, VI_TO_VIRTUAL] == 0:
                    vf[v, VF_VFADE_TARGET] = 1.0

    def info(self, instance: int) -> dict:
        """What an instance is doing now: state, where its first voice is in its file, loops left."""
        group = self.group(instance)
        if not group.rows:
            return {"id": instance, "state": "waiting", "voices": 0}
        vi, vf = self.arrays.vi, self.arrays.vf
        v = group.rows[0]
        state = {PLAYING: "real", VIRTUAL: "virtual", PAUSED: "paused", STOPPING: "stopping"}.get(int(vi[v, VI_STATE]),
                                                                                                   "ended")
        if vi[v, VI_PAUSE] and state != "paused":
            state = "pausing"
        length = int(self.bank.lane_length[vi[v, VI_LANE0]])
        frame = vi[v, VI_POS] / FRAC_ONE
        if v in self.streams.by_row:
            stream = self.streams.by_row[v]
            length, frame = self.bank.variants[stream.sound][stream.file].frames, self.streams.file_frame(v)
        return {"id": instance, "state": state, "voices": len(group.rows),
                "sound": self.sound_names[vi[v, VI_SOUND]],
                "position_s": round(frame / self.sample_rate, 6),
                "length_s": round(length / self.sample_rate, 6), "looping": bool(vi[v, VI_LOOP]),
                "loops_left": int(vi[v, VI_LOOPS]), "volume": round(float(vf[v, VF_VOLUME]), 6)}

    def move_many(self, ids, positions, velocities=None, directions=None) -> int:
        """Move (and turn) many instances in one call (vectorised); returns how many ids were unknown.

        Positions (velocities, directions) are validated as a whole before
        anything moves: a NaN or Inf anywhere refuses the batch.
        """
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        vel = None if velocities is None else np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
        dirs = None if directions is None else np.asarray(directions, dtype=np.float64).reshape(-1, 3)
        if len(pos) != len(ids) or any(x is not None and len(x) != len(ids) for x in (vel, dirs)):
            raise CommandError("bad_value", "ids, positions, velocities and directions must have the same length")
        if not np.isfinite(pos).all() or any(x is not None and not np.isfinite(x).all() for x in (vel, dirs)):
            raise CommandError("bad_value", "positions, velocities and directions must be finite")
        if dirs is not None:                 # unit length, or 0 for no direction
            norm = np.sqrt((dirs * dirs).sum(axis=1, keepdims=True))
            dirs = np.where(norm > 1e-12, dirs / np.maximum(norm, 1e-12), 0.0)
        id_list = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        # one-voice instances (the common case) are looked up in C, without a Python loop
        rows = np.fromiter(map(self.single_row.get, id_list, itertools.repeat(-1)), np.int64, len(id_list))
        src = np.flatnonzero(rows >= 0)
        rows, unknown = rows[src], 0
        extra_rows, extra_src = [], []
        missing = np.ones(len(id_list), dtype=bool)
        missing[src] = False
        for k in np.flatnonzero(missing).tolist():
            group = self.groups.get(id_list[k])
            if group is None:
                unknown += 1
            elif group.rows:
                extra_rows += group.rows
                extra_src += [k] * len(group.rows)
            else:
                group.position = tuple(pos[k])
                if vel is not None:
                    group.velocity = tuple(vel[k])
                if dirs is not None:
                    group.direction = tuple(dirs[k])
        if extra_rows:
            rows = np.concatenate([rows, extra_rows]).astype(np.int64)
            src = np.concatenate([src, extra_src]).astype(np.int64)
        vf = self.arrays.vf
        vf[rows, VF_X:VF_X + 3] = pos[src]
        if vel is not None:
            vf[rows, VF_VX:VF_VX + 3] = vel[src]
        if dirs is not None:
            self.arrays.vx[rows, VX_DIR_X:VX_DIR_Z + 1] = dirs[src]
        return unknown

