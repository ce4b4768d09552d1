"""The control side: commands in, targets out, once per block.

`Mixer` owns a loaded scene and every piece of control state, one module
each: the instances and their voices (instances, voices), the buses (buses,
chains), game parameters and their curves (parameters), the snapshot stack
(snapshots), ducking rules (ducking), the HDR window (hdr) and delayed event
actions (events).  A message is carried out by the handler its kind maps to
in `Mixer.handlers` (one entry per mixer kind of protocol/messages.py); it is
validated against the scene and either applied completely or refused with a
CommandError whose code is stable; a refused command changes nothing.

Once per block, before the engine renders, `tick` runs due event actions,
glides parameters and faders, blends snapshots into bus targets, computes
ducking and HDR gains per category, and ranks every instance to decide which
are real.  The mixer never touches samples: it writes targets into the
engine's arrays and the engine ramps to them.  The mixer is single-threaded
by design: the live server runs commands on the render thread between blocks.
"""

from __future__ import annotations

import collections
import math
from dataclasses import replace

import numpy as np

from gamemix.control import listeners, reload, scatter
from gamemix.control.autopan import AutoPanner
from gamemix.control.buses import Buses
from gamemix.control.chains import BusChains
from gamemix.control.ducking import Ducker
from gamemix.control.events import Scheduler
from gamemix.control.hdr import HdrWindow
from gamemix.control.instances import AUTO_ID_BASE, Instances, PlayOptions
from gamemix.control.parameters import GameParameters, MappedValues
from gamemix.control.local import LocalParameters
from gamemix.control.microphone import MicrophoneControl
from gamemix.control.objects import GameObjects
from gamemix.control.snapshots import SnapshotMixer
from gamemix.control.streams import Streams
from gamemix.control.voices import VoicePool
from gamemix.control.zones import Zones
from gamemix.core import panning
from gamemix.core.arrays import (
    FREE, FRAC_ONE, LF_CEILING, LF_DOPPLER_FACTOR, LF_FX, LF_SAMPLE_RATE, LF_SPEED_OF_SOUND, LF_UX, LF_X, LF_Z,
    PLAYING, SM_GAIN, SM_PITCH, STOPPING, VF_AUDIBILITY, VI_POS, VI_SOUND, VI_STATE, VIRTUAL, EngineArrays,
)
from gamemix.core.engine import Engine
from gamemix.errors import CommandError
from gamemix.protocol import messages as protocol
from gamemix.scene.assets import ClipBank, build_bank
from gamemix.scene.model import Action, Scene
from gamemix.units import db_to_gain, db_to_gain_array, semitones_to_ratio

__all__ = ["AUTO_ID_BASE", "Mixer"]

ERRORS_KEPT = 1000          # refused delayed actions kept for the report (the last ones; all are counted)
MAX_PENDING_ACTIONS = 4096  # delayed event actions waiting at once


class Mixer:
    """Control state of one loaded scene; see the module docstring."""

    def __init__(self, scene: Scene, seed: int = 0, bank: ClipBank | None = None):
        self.scene = scene
        self.bank = bank if bank is not None else build_bank(scene)
        out = scene.output
        self.sample_rate = out.sample_rate
        self.block_size = out.block_size
        self.dt = out.block_size / out.sample_rate
        layout = panning.layout(out.channels)
        self.layout = layout.spec
        self.channels = len(layout.channels)
        self.bus_names = list(scene.buses)
        self.bus_index = {name: i for i, name in enumerate(self.bus_names)}
        self.sound_names = list(scene.sounds)
        self.sound_index = {name: i for i, name in enumerate(self.sound_names)}
        self.cat_names = scene.category_names()
        self.cat_index = {name: i for i, name in enumerate(self.cat_names)}
        self.chains = BusChains(scene, self.bus_index, self.channels, out.sample_rate)
        self.microphone = MicrophoneControl(scene, self.chains, out.sample_rate)
        # rows beyond max_instances hold stolen or stopped voices while they fade out
        rows = out.max_instances + out.max_voices
        self.arrays = EngineArrays(out.max_voices, len(self.bus_names), self.channels, out.block_size,
                                   layout.make_panner(self._panner_context(rows)), rows,
                                   len(self.sound_names), len(self.cat_names), out.sample_rate, self.chains.stages,
                                   layout.spec.weights, len(scene.zones))
        self.zones = Zones(scene, self.arrays.prop, self.bus_index)
        self.microphone.route(self.arrays.panner)
        self.engine = Engine(self.arrays, self.bank.pool, self.bank.lane_offset, self.bank.lane_length)
        self.voices = VoicePool(self.arrays, out.sample_rate, out.block_size, out.audibility_threshold_db,
                                out.virtual_fade_ms, out.steal_fade_ms)
        self.parameters = GameParameters(scene)
        self.snapshots = SnapshotMixer(scene, self.bus_index, self.chains.column)
        self.ducker = Ducker(scene.ducking, self.cat_index, scene.ducking_combine, scene.ducking_floor_db)
        self.hdr = self._make_hdr()
        self.scheduler = Scheduler(out.sample_rate, out.block_size)
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.streams = Streams(self.bank, self.arrays, out.sample_rate)
        self.local = LocalParameters(scene, self.arrays, self.sound_index, self.parameters.values)
        self.instances = Instances(scene, self.arrays, self.voices, self.bank, self.rng, self.sound_index,
                                   self.cat_index, self.bus_index, self.streams)
        self.objects = GameObjects(self.instances, self.local, self.scheduler)
        self.autopan = AutoPanner(scene, self.bank, self.arrays, self.bus_index, list(self.sound_index),
                                  out.sample_rate, out.block_size)
        self.local.inherited = self.objects.values_of
        self.instances.on_forget = self._forgotten
        self.block_index = 0
        self.action_errors: collections.deque = collections.deque(maxlen=ERRORS_KEPT)   # delayed actions refused
        self.action_errors_total = 0
        self.mapped = MappedValues()
        self._sound_mapped: MappedValues | None = None      # the mapped values sound_mod was written from
        self._cat_db: list[float] | None = None             # the dB cat_gain was written from
        self._no_hdr = [0.0] * len(self.cat_names)
        self._hdr_categories = [] if self.hdr is None else self.hdr.categories.tolist()
        self._hdr_db: tuple | None = None        # (the last attenuation, the per-category dB made of it)
        self.buses = Buses(scene, self.arrays, self.chains, self.bus_index, self.dt)
        self.buses.start(self.buses.own_values(MappedValues()))
        self._init_listener()
        self.handlers = {
            protocol.Play: self._apply_play,
            protocol.Event: lambda m: self.post_event(m.name, m.id, m.position, m.velocity, m.at_sample, m.object,
                                                      m.direction),
            protocol.Stop: lambda m: self.stop(m.id, m.fade, m.at_sample),
            protocol.SetInstance: lambda m: self.instances.set(m.id, m.volume_db, m.pitch_semitones, m.pan,
                                                               m.position, m.velocity, m.fade, self.block_size,
                                                               m.direction),
            protocol.Pause: lambda m: self.instances.pause(m.id, m.paused, m.fade, self.block_size),
            protocol.Seek: lambda m: self.instances.seek(m.id, m.seconds),
            protocol.Emitter: lambda m: self.set_emitter(m.id, m.position, m.velocity, m.direction),
            protocol.Emitters: lambda m: {"unknown": self.set_emitters(m.ids, m.positions, m.velocities,
                                                                       m.directions)},
            protocol.Listener: lambda m: self.set_listener(m.position, m.forward, m.up, m.velocity, m.index, m.remove),
            protocol.BusVolume: lambda m: self.set_bus_volume(m.bus, m.volume_db, m.fade),
            protocol.VcaVolume: lambda m: self.buses.set_vca(m.vca, m.volume_db, m.fade),
            protocol.BusMute: lambda m: self.set_bus_mute(m.bus, m.mute, m.fade),
            protocol.SetParameter: self._apply_set_parameter,
            protocol.GameObjectPose: self._apply_object,
            protocol.Occlusion: self._apply_occlusion,
            protocol.AuxSends: self._apply_aux_sends,
            protocol.SnapshotStart: lambda m: self.snapshot_start(m.name, m.intensity, m.fade),
            protocol.SnapshotStop: lambda m: self.snapshot_stop(m.name, m.fade),
            protocol.SnapshotIntensity: lambda m: self.snapshots.set_intensity(m.name, m.intensity),
            protocol.ResetMeters: lambda m: self.chains.reset_meters(None if m.bus is None else
                                                                     self.buses.index(m.bus)),
        }

    def _panner_context(self, rows: int) -> panning.PannerContext:
        """What the layout's panner sizes itself by: the buses 3D sounds play on and, for binaural
        output, the HRTF set (scene/hrtf.py; loaded once per file and rate)."""
        out = self.scene.output
        spatial = sorted({self.bus_index[self.scene.sound_bus(name)] for name, spec in self.scene.sounds.items()
                          if spec.spatial is not None})
        tables = None
        if self.layout.kind == "binaural":
            from gamemix.scene import hrtf
            tables = hrtf.load(None if out.hrtf is None else self.scene.asset_path(out.hrtf), out.sample_rate)
        return panning.PannerContext(out.sample_rate, out.block_size, rows, len(self.bus_names), tuple(spatial),
                                     tables, out.hrtf_voices)

    @property
    def stats(self):
        """Voice counters (plays, refused, steals, virtualizations, ...)."""
        return self.voices.stats

    @property
    def bus_values(self):
        """The buses' values as last written (after snapshots)."""
        return self.buses.values

    # ----------------------------------------------------------- set-up
    def _init_listener(self) -> None:
        lf, out, pose = self.arrays.lf, self.scene.output, self.scene.listener
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
        return HdrWindow(spec, mask, self.arrays.max_instances)

    # ----------------------------------------------------------- dispatch
    def apply(self, msg) -> dict:
        """Carry out one protocol message; returns the reply data (may be empty)."""
        handler = self.handlers.get(type(msg))
        if handler is None:
            raise CommandError("unknown_message", f"the mixer does not carry out {protocol.kind_of(msg)!r} messages")
        return handler(msg) or {}

    # ----------------------------------------------------------- instances
    def _apply_play(self, m: protocol.Play) -> dict:
        """A play message: its id, and what it asked for that does not apply to the sound (warnings)."""
        instance = self.play(m.sound, m.id, m.position, m.velocity, m.volume_db, m.pitch_semitones, m.fade_in,
                             m.pan, m.loops, m.at_sample, m.object, m.direction)
        spatial = self.scene.sounds[m.sound].spatial is not None
        warnings = []
        if (m.position is not None or m.velocity is not None) and not spatial:
            warnings.append(f"position ignored: {m.sound!r} is a 2D sound (give it `spatial` to place it)")
        if m.pan is not None and spatial:
            warnings.append(f"pan ignored: {m.sound!r} is a 3D sound, panned by its position")
        return {"id": instance, **({"warnings": warnings} if warnings else {})}

    def _when(self, at_sample: int | None) -> tuple[int, int]:
        """(block, samples into it) where a message timed to `at_sample` of the mixer's clock takes
        effect: the block about to render, at its start, for a time already past."""
        if at_sample is None or at_sample <= self.block_index * self.block_size:
            return self.block_index, 0
        return divmod(int(at_sample), self.block_size)

    def _reserve(self, delayed: int, what: str) -> None:
        if len(self.scheduler) + delayed > MAX_PENDING_ACTIONS:
            raise CommandError("pending_limit", f"{what} refused: {len(self.scheduler)} delayed actions "
                                                f"are waiting already (at most {MAX_PENDING_ACTIONS})")

    def play(self, sound: str, instance: int | None = None, position=None, velocity=None,
             volume_db: float = 0.0, pitch_semitones: float = 0.0, fade_in: float = 0.0, pan: float | None = None,
             loops: int | None = None, at_sample: int | None = None, obj: int | None = None,
             direction=None) -> int:
        """Start `sound` as a new instance; returns its id.  Refused (CommandError) if the sound is
        unknown, the id is taken, or a voice limit refuses it.  With `at_sample`, it starts at that
        sample of the mixer's clock: the id is taken now, the voice starts then.  With `obj`, it plays
        on that game object (its pose, unless one is given; control/objects.py).  `direction`: where
        it faces (its cone; core/propagation.py)."""
        if sound not in self.scene.sounds:
            known = ", ".join(list(self.scene.sounds)[:30]) or "none defined"
            raise CommandError("unknown_sound", f"unknown sound {sound!r} (sounds: {known})")
        position, velocity = self._on_object(obj, position, velocity)
        group = self.instances.new(instance, position, velocity, direction)
        opts = PlayOptions(volume_db, pitch_semitones, fade_in, pan, loops)
        block, offset = self._when(at_sample)
        if block > self.block_index:
            self._reserve(1, f"play of {sound!r}")
            instance = self.instances.register(instance, group)
            self.scheduler.schedule_at(block, offset, ("play", sound, opts), instance)
            self._attach(obj, instance)
            return instance
        self.instances.start_voice(group, sound, replace(opts, delay=offset))
        instance = self.instances.register(instance, group)
        self._attach(obj, instance)
        self.instances.notify(instance, "started", sample=self.block_index * self.block_size + offset)
        return instance

    def _forgotten(self, instance: int) -> None:
        """An instance is gone: its parameter values and its place on a game object go too."""
        self.local.forget(instance)
        self.objects.detach(instance)

    def _on_object(self, obj: int | None, position, velocity):
        """The pose a new instance takes: its own, else its game object's."""
        if obj is None:
            return position, velocity
        found = self.objects.get(obj)
        return (found.position if position is None else position), (found.velocity if velocity is None else velocity)

    def _attach(self, obj: int | None, instance: int) -> None:
        if obj is not None and instance in self.instances:
            self.objects.attach(obj, instance)

    def post_event(self, name: str, instance: int | None = None, position=None, velocity=None,
                   at_sample: int | None = None, obj: int | None = None, direction=None) -> dict:
        """Run an event's actions (delayed ones later); returns {'id': ..., 'refused': [...]}.

        An event that leaves nothing behind (no voice started, no delayed action) is forgotten at
        once: its id is free again.  An event whose delayed actions would take the queue past
        MAX_PENDING_ACTIONS is refused ('pending_limit').  If an action fails unexpectedly, the
        event is undone: the voices it started are freed, its delayed actions dropped, its id
        forgotten (a voice it stole stays stopped), and the exception goes on to the caller.
        With `at_sample` the event starts at that sample of the mixer's clock (its id is taken now)."""
        actions = self.scene.events.get(name)
        if actions is None:
            known = ", ".join(list(self.scene.events)[:20]) or "none defined"
            raise CommandError("unknown_event", f"unknown event {name!r} (known: {known})")
        block, offset = self._when(at_sample)
        self._reserve(sum((action.delay > 0.0) + (action.count or 0) for action in actions) + (block > self.block_index),
                      f"event {name!r}")
        position, velocity = self._on_object(obj, position, velocity)
        group = self.instances.new(instance, position, velocity, direction)
        instance = self.instances.register(instance, group)
        self._attach(obj, instance)
        if block > self.block_index:
            self.scheduler.schedule_at(block, offset, ("event", name), instance)
            return {"id": instance, "refused": []}
        return {"id": instance, "refused": self._start_event(actions, instance, offset)}

    def _start_event(self, actions: list[Action], instance: int, offset: int) -> list[dict]:
        """An event's actions for a registered instance: the immediate ones now (`offset` samples into
        the block), the delayed ones queued; returns the refusals.  See post_event."""
        group = self.instances.get(instance)
        refused = []
        try:
            for action in actions:
                if action.delay > 0.0:
                    self.scheduler.schedule(self.block_index, action, instance)
                    continue
                try:
                    self._run_action(action, instance, offset)
                except CommandError as exc:
                    refused.append({"code": exc.code, "message": exc.message})
        except Exception:
            self.scheduler.cancel(instance)
            self.instances.discard(instance)
            raise
        if group.rows:
            self.instances.notify(instance, "started", sample=self.block_index * self.block_size + offset)
        elif not self.scheduler.pending_for(instance):
            self.instances.forget(instance)
        return refused

    def _run_action(self, action: Action, instance: int, offset: int = 0) -> None:
        """Carry out one event action for an event instance (now)."""
        kind = action.action
        if kind == "play":
            group = self.instances.get(instance)
            if group is None:        # the event instance was stopped before a delayed play
                return
            first = not group.rows
            v = self.instances.start_voice(group, action.sound, PlayOptions(action.volume_db or 0.0, 0.0,
                                                                            action.fade_in or 0.0, delay=offset))
            self.instances.add_voice(instance, v)
            if first and action.delay > 0.0:
                self.instances.notify(instance, "started", sample=self.block_index * self.block_size + offset)
        elif kind == "scatter":
            self._scatter(action, instance, offset)
        elif kind == "stop":
            self.instances.stop_matching(action.sound, action.category, action.fade or 0.0)
        elif kind == "snapshot_start":
            self.snapshot_start(action.snapshot, action.intensity, action.fade)
        elif kind == "snapshot_stop":
            self.snapshot_stop(action.snapshot, action.fade)
        elif kind == "set_parameter":
            self.set_parameter(action.parameter, action.value)

    def _scatter(self, action: Action, instance: int, offset: int) -> None:
        """A scatter action: queue its `count` plays, the first now and each next one a uniform
        draw from `interval` later, sample-accurately; their positions are drawn when each plays
        (control/scatter.py).  The draws come from the mixer's seeded generator, so a render
        repeats them exactly."""
        if instance not in self.instances:
            return
        start = self.block_index * self.block_size + offset
        for at in scatter.times(self.rng, start, action.count, action.interval, self.sample_rate):
            self.scheduler.schedule_at(at // self.block_size, at % self.block_size, ("spawn", action), instance)

    def _spawn(self, action: Action, instance: int, at_sample: int) -> None:
        """One play of a scatter action: a new instance of its sound at a random point around the
        event's emitter (its pose now) or the listener."""
        group = self.instances.get(instance)
        if group is None:
            return
        if action.around == "listener":
            centre = tuple(float(x) for x in self.arrays.lf[LF_X:LF_Z + 1])
        else:
            centre = group.pose(self.arrays.vf)[0]
        position = scatter.position(self.rng, centre, action.distance, action.height)
        self.play(action.sound, position=position, volume_db=action.volume_db or 0.0,
                  fade_in=action.fade_in or 0.0, at_sample=at_sample)

    def _run_timed(self, pending) -> None:
        """A message that came with `at_sample`, in its block."""
        kind, instance = pending.action[0], pending.group
        if kind == "spawn":
            self._spawn(pending.action[1], instance, pending.block * self.block_size + pending.offset)
            return
        if kind == "play":
            group = self.instances.get(instance)
            if group is not None:
                v = self.instances.start_voice(group, pending.action[1], replace(pending.action[2],
                                                                                 delay=pending.offset))
                self.instances.add_voice(instance, v)
                self.instances.notify(instance, "started", sample=pending.block * self.block_size + pending.offset)
        elif kind == "event":
            if instance in self.instances:
                self._start_event(self.scene.events[pending.action[1]], instance, pending.offset)
        elif kind == "stop":
            if instance in self.instances:
                self.instances.stop(instance, pending.action[1], self.scheduler)

    def stop(self, instance: int, fade: float = 0.0, at_sample: int | None = None) -> None:
        """Stop every voice of an instance, fading over `fade` seconds (at least one block); with
        `at_sample`, in the block that holds that sample of the mixer's clock."""
        self.instances.group(instance)
        block, _ = self._when(at_sample)
        if block > self.block_index:
            self._reserve(1, f"stop of {instance}")
            self.scheduler.schedule_at(block, 0, ("stop", fade), instance)
            return
        self.instances.stop(instance, fade, self.scheduler)

    def set_emitter(self, instance: int, position, velocity=None, direction=None) -> None:
        """Move every voice of an instance; velocity (m/s) drives Doppler; direction turns its cone."""
        self.instances.move(instance, position, velocity)
        if direction is not None:
            self.instances.orient(instance, direction)

    def set_emitters(self, ids, positions, velocities=None, directions=None) -> int:
        """Move many instances in one call (vectorised); returns how many ids were unknown."""
        return self.instances.move_many(ids, positions, velocities, directions)

    # ----------------------------------------------------------- listener, buses, mix state
    def set_listener(self, position, forward=(0.0, 0.0, -1.0), up=(0.0, 1.0, 0.0), velocity=(0.0, 0.0, 0.0),
                     index: int = 0, remove: bool = False) -> None:
        """Set a listener's pose (0, or 1-3 for split screen: each 3D voice is heard from its nearest
        listener), or with `remove` stop using listener `index`; forward and up must span a plane."""
        if remove:
            listeners.remove(self.arrays.lf, index)
        else:
            listeners.set_pose(self.arrays.lf, index, position, forward, up, velocity)

    def set_bus_volume(self, bus: str, volume_db: float, fade: float = 0.0) -> None:
        """Move a bus fader to `volume_db` over `fade` seconds (at least one block)."""
        self.buses.set_volume(bus, volume_db, fade)

    def set_bus_mute(self, bus: str, mute: bool, fade: float = 0.0) -> None:
        """Mute or unmute a bus, ramped like a fader move."""
        self.buses.set_mute(bus, mute, fade)

    def set_parameter(self, name: str, value: float, instance: int | None = None) -> None:
        """Set a game parameter (it glides at its seek speed), or with `instance` that instance's value
        of a per-instance one (control/local.py)."""
        if instance is None:
            self.parameters.set(name, value)
            return
        self.instances.group(instance)
        self.local.set(instance, name, value)

    def _apply_set_parameter(self, m: protocol.SetParameter) -> None:
        if m.id is not None and m.object is not None:
            raise CommandError("bad_value", "set_parameter takes `id` (an instance) or `object`, not both")
        if m.object is not None:
            self.objects.set_value(m.object, m.name, m.value)
        else:
            self.set_parameter(m.name, m.value, m.id)

    def _apply_object(self, m: protocol.GameObjectPose) -> None:
        if m.remove:
            self.objects.remove(m.id, m.fade)
        else:
            self.objects.place(m.id, m.position, m.velocity, m.direction)

    def _apply_occlusion(self, m: protocol.Occlusion) -> None:
        """Occlusion and obstruction of an instance, a game object's instances, or a zone (its walls)."""
        if m.zone is not None:
            if m.occlusion is not None:
                self.zones.set_occlusion(m.zone, m.occlusion)
        elif m.object is not None:
            self.objects.set_occlusion(m.object, m.occlusion, m.obstruction)
        else:
            self.instances.set_occlusion(m.id, m.occlusion, m.obstruction)

    def _apply_aux_sends(self, m: protocol.AuxSends) -> None:
        """The auxiliary send levels of an instance or a game object's instances (checked first)."""
        sends = self.zones.sends(m.sends)
        if m.object is not None:
            self.objects.set_sends(m.object, sends)
        else:
            self.instances.set_sends(m.id, sends)

    def snapshot_start(self, name: str, intensity: float | None = None, fade: float | None = None) -> None:
        """Start a snapshot (fading in over its own time unless `fade` is given)."""
        self.snapshots.start(name, intensity, fade, when=self.block_index * self.dt)

    def snapshot_stop(self, name: str, fade: float | None = None) -> None:
        """Fade a snapshot out."""
        self.snapshots.stop(name, fade, when=self.block_index * self.dt)

    # ----------------------------------------------------------- per block
    def tick(self) -> None:
        """Everything the control side does before a block (see module docstring)."""
        self.instances.block_index = self.block_index
        for pending in self.scheduler.due(self.block_index):
            try:
                if isinstance(pending.action, tuple):
                    self._run_timed(pending)
                else:
                    self._run_action(pending.action, pending.group)
            except CommandError as exc:
                self.action_errors.append({"block": self.block_index, "code": exc.code, "message": exc.message})
                self.action_errors_total += 1
                self.instances.notify(pending.group, "refused", code=exc.code, message=exc.message)
            group = self.instances.get(pending.group)
            if group is not None and not group.rows and not self.scheduler.pending_for(pending.group):
                self.instances.forget(pending.group)      # its last action played nothing: nothing left of it
        self.instances.tick_control()
        self.autopan.tick(self.block_index)
        self.local.tick(self.instances.row_instance)
        for row in self.streams.tick():               # streamed voices at their file's end
            self.voices.stop(row, 0.0)
        self.mapped = self.parameters.tick(self.dt)
        self._apply_sound_mappings()
        self.buses.glide()
        self.snapshots.tick(self.dt)
        self.zones.tick(self.snapshots, self.arrays.lf, self.block_index * self.dt)
        if self.buses.changed(self.mapped, self.snapshots):   # else last block's targets stand
            self.buses.write(self.snapshots.apply(self.buses.own_values(self.mapped), self.mapped.snapshot_intensity))
        hdr_db, hdr_below = self._hdr()
        # rank on what is heard now, so a fader move's own ramp is never steepened by a virtualization fade
        self.voices.assign(self.buses.heard(), hdr_below)
        self._category_gains(hdr_db)   # after ranking: a sound starting this block ducks this block

    def _apply_sound_mappings(self) -> None:
        if self.mapped is self._sound_mapped:       # the parameters did not move: sound_mod stands
            return
        self._sound_mapped = self.mapped
        mod = self.arrays.sound_mod
        mod[:, SM_GAIN] = 1.0
        mod[:, SM_PITCH] = 1.0
        for name, db in self.mapped.sound_volume_db.items():
            mod[self.sound_index[name], SM_GAIN] = db_to_gain(db)
        for name, st in self.mapped.sound_pitch.items():
            mod[self.sound_index[name], SM_PITCH] = semitones_to_ratio(st)

    def _hdr(self) -> tuple[list[float], np.ndarray | None]:
        """HDR attenuation per category (dB; 0 for the others) and the mask of instances below the window."""
        if self.hdr is None:
            return self._no_hdr, None
        attenuation, below = self.hdr.tick(self.dt, self.instances.rating, self.voices.own_gain, self.arrays.vi)
        last = self._hdr_db
        if last is None or last[0] != attenuation or math.copysign(1.0, last[0]) != math.copysign(1.0, attenuation):
            self._hdr_db = last = (attenuation, [attenuation if hdr else 0.0 for hdr in self._hdr_categories])
        return last[1], below

    def _category_gains(self, hdr_db: list[float]) -> None:
        """Ducking (from the categories playing now) and HDR, as a gain per category: their dB added in
        Python floats (a handful of categories), the gains by NumPy's array power as always, and only
        when the dB changed."""
        if not self.ducker.rules and self.hdr is None:
            return      # cat_gain keeps the 1.0 it was made with
        total_db = [d + h for d, h in zip(self.ducker.tick(self.dt, self.arrays.vi), hdr_db)]
        if total_db != self._cat_db:        # else cat_gain already holds these gains (+0 and -0 give 1)
            self._cat_db = total_db
            self.arrays.cat_gain[:] = db_to_gain_array(np.array(total_db))

    def render(self, out: np.ndarray) -> None:
        """Tick, render the next block into out (block_size, channels), reclaim ended voices."""
        self.tick()
        self.engine.render(out)
        self.finish_block()

    def finish_block(self) -> None:
        """After the kernel rendered a block: reclaim the voices it ended; the block count moves on."""
        self._reap()
        self.block_index += 1

    def _reap(self) -> None:
        ended = self.voices.reclaim()
        if ended:
            self.instances.reap(ended, self.scheduler.pending_for)

    # ----------------------------------------------------------- hot reload
    def adopt(self, old: "Mixer") -> None:
        """Carry over the state of the mixer this one replaces (a scene reload; control/reload.py)."""
        reload.adopt(self, old)

    # ----------------------------------------------------------- queries
    def active_voices(self) -> int:
        """Voices being rendered (playing or fading out)."""
        states = self.arrays.vi[:, VI_STATE]
        return int(np.count_nonzero((states == PLAYING) | (states == STOPPING)))

    def virtual_voices(self) -> int:
        """Instances tracked without being rendered."""
        return int(np.count_nonzero(self.arrays.vi[:, VI_STATE] == VIRTUAL))

    def rows_of(self, instance: int) -> list[int]:
        """Parameter-array rows of an instance's voices."""
        return sorted(self.instances.group(instance).rows)

    def audibility(self, instance: int) -> float:
        """Total gain the first voice of an instance had in the last block."""
        return float(self.arrays.vf[self.rows_of(instance)[0], VF_AUDIBILITY])

    def position_frames(self, instance: int) -> float:
        """Read position of an instance's first voice, in frames of its clip."""
        return self.arrays.vi[self.rows_of(instance)[0], VI_POS] / FRAC_ONE

    def state_of(self, instance: int) -> str:
        """'real' or 'virtual' (of its first voice)."""
        return "virtual" if self.arrays.vi[self.rows_of(instance)[0], VI_STATE] == VIRTUAL else "real"

    def fill_upload(self, sound: str, data: np.ndarray) -> dict:
        """Put audio the game uploaded (prepared: scene/assets.py, prepare_upload) in a sound declared
        with `upload`.  Refused ('not_uploadable') for another sound, ('sound_busy') while it has voices."""
        if sound not in self.bank.uploads:
            names = ", ".join(list(self.bank.uploads)[:30]) or "none declared"
            raise CommandError("not_uploadable", f"{sound!r} is not a sound with `upload` (those: {names})")
        vi = self.arrays.vi
        if np.any((vi[:, VI_SOUND] == self.sound_index[sound]) & (vi[:, VI_STATE] != FREE)):
            raise CommandError("sound_busy", f"{sound!r} has voices playing: stop them before uploading to it")
        try:
            frames = self.bank.fill(sound, data)
        except ValueError as exc:
            raise CommandError("bad_upload", str(exc)) from None
        return {"sound": sound, "frames": frames, "seconds": round(frames / self.sample_rate, 6)}

    def sound_info(self, name: str) -> dict:
        """What a game may ask about a sound before it plays it: its files' lengths, whether it
        loops, is 3D, and where it is routed (FMOD's EventDescription, Wwise's GetSourcePlayPosition
        helpers)."""
        spec = self.scene.sounds.get(name)
        if spec is None:
            known = ", ".join(list(self.scene.sounds)[:30]) or "none defined"
            raise CommandError("unknown_sound", f"unknown sound {name!r} (sounds: {known})")
        rate = self.sample_rate
        vi = self.arrays.vi
        live = (vi[:, VI_SOUND] == self.sound_index[name]) & (vi[:, VI_STATE] != FREE)
        return {"sound": name, "files": [{"file": v.file, "length_s": round(v.frames / rate, 6),
                                          "channels": len(v.lanes)} for v in self.bank.variants.get(name, [])],
                "loop": bool(spec.loop), "spatial": spec.spatial is not None,
                "bus": self.scene.sound_bus(name), "category": self.scene.sound_category(name),
                "voices": int(np.count_nonzero(live))}
