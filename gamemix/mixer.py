"""The control side: turns commands into targets in the parameter arrays.

`Mixer` owns a loaded scene, its clip bank, the Params and the Engine.  Each
command (play, stop, emitter and listener poses, bus faders) is validated
against the scene and either applied completely or refused with a
CommandError whose code is stable; a refused command changes nothing.  The
mixer never touches samples: it writes targets, and the engine ramps to them.

Commands take effect at the start of the next rendered block.  The mixer is
single-threaded by design: the live server runs commands on the render thread
between blocks (see docs/architecture.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gamemix.assets import ClipBank, build_bank
from gamemix.engine import Engine
from gamemix.errors import CommandError
from gamemix.params import (
    BF_GAIN, BF_STEP, BF_TARGET, BI_PARENT, DIST_MODELS, ENDED, FREE, LF_CEILING,
    LF_DOPPLER_FACTOR, LF_FX, LF_SPEED_OF_SOUND, LF_UX, LF_VX, LF_X, PLAYING, STOPPING,
    VF_AUDIBILITY, VF_DOPPLER, VF_FADE, VF_FADE_STEP, VF_FADE_TARGET, VF_MAX_DIST,
    VF_MIN_DIST, VF_PAN, VF_PITCH, VF_ROLLOFF, VF_VOLUME, VF_VX, VF_X, VI_BLOCKS,
    VI_BUS, VI_LANE0, VI_LANE1, VI_LOOP, VI_MODEL, VI_POS, VI_SNAP, VI_SPATIAL,
    VI_STATE, Params,
)
from gamemix import protocol
from gamemix.scene import Scene

AUTO_ID_BASE = 1 << 62  # ids the mixer assigns; games use ids below this


def db_to_gain(db: float) -> float:
    """Linear amplitude of a level in dB (-inf -> 0)."""
    return 0.0 if db == -math.inf else 10.0 ** (db / 20.0)


def semitones_to_ratio(st: float) -> float:
    """Playback-rate ratio of a pitch offset in semitones."""
    return 2.0 ** (st / 12.0)


@dataclass
class MixStats:
    """Counters the render report and telemetry publish."""

    plays: int = 0
    refused: int = 0
    ended: int = 0
    peak_voices: int = 0
    errors: list[str] = field(default_factory=list)


class Mixer:
    """Control state of one loaded scene; see the module docstring."""

    def __init__(self, scene: Scene, seed: int = 0, bank: ClipBank | None = None):
        self.scene = scene
        self.bank = bank if bank is not None else build_bank(scene)
        out = scene.output
        self.sample_rate = out.sample_rate
        self.block_size = out.block_size
        self.channels = 2
        self.bus_names = list(scene.buses)
        self.bus_index = {name: i for i, name in enumerate(self.bus_names)}
        self.params = Params(out.max_voices, len(self.bus_names), self.channels, out.block_size)
        self.engine = Engine(self.params, self.bank.pool, self.bank.lane_offset, self.bank.lane_length)
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.instances: dict[int, int] = {}          # instance id -> voice slot
        self.slot_instance = [-1] * out.max_voices   # voice slot -> instance id
        self.free_slots = list(range(out.max_voices - 1, -1, -1))
        self.last_variant: dict[str, int] = {}
        self.next_auto_id = AUTO_ID_BASE
        self.block_index = 0
        self.stats = MixStats()
        self._init_buses()
        self._init_listener()

    # ----------------------------------------------------------- set-up
    def _init_buses(self) -> None:
        p = self.params
        self.bus_volume_db = {n: b.volume_db for n, b in self.scene.buses.items()}
        self.bus_muted = {n: b.mute for n, b in self.scene.buses.items()}
        for name, i in self.bus_index.items():
            parent = self.scene.bus_parent(name)
            p.bi[i, BI_PARENT] = -1 if parent is None else self.bus_index[parent]
            g = self._bus_gain(name)
            p.bf[i, BF_GAIN] = p.bf[i, BF_TARGET] = g
            p.bf[i, BF_STEP] = 1.0
        p.bus_order[:] = [self.bus_index[n] for n in self.scene.bus_order()]

    def _init_listener(self) -> None:
        lf, out, pose = self.params.lf, self.scene.output, self.scene.listener
        lf[LF_X:LF_X + 3] = pose.position
        lf[LF_FX:LF_FX + 3] = pose.forward
        lf[LF_UX:LF_UX + 3] = pose.up
        lf[LF_SPEED_OF_SOUND] = out.speed_of_sound
        lf[LF_DOPPLER_FACTOR] = out.doppler_factor
        lf[LF_CEILING] = db_to_gain(out.ceiling_dbfs)

    # ----------------------------------------------------------- dispatch
    def apply(self, msg) -> dict:
        """Carry out one protocol message; returns the reply data (may be empty)."""
        if isinstance(msg, protocol.Play):
            return {"id": self.play(msg.sound, msg.id, msg.position, msg.velocity, msg.volume_db,
                                    msg.pitch_semitones, msg.fade_in)}
        if isinstance(msg, protocol.Stop):
            self.stop(msg.id, msg.fade)
        elif isinstance(msg, protocol.Emitter):
            self.set_emitter(msg.id, msg.position, msg.velocity)
        elif isinstance(msg, protocol.Listener):
            self.set_listener(msg.position, msg.forward, msg.up, msg.velocity)
        elif isinstance(msg, protocol.BusVolume):
            self.set_bus_volume(msg.bus, msg.volume_db, msg.fade)
        elif isinstance(msg, protocol.BusMute):
            self.set_bus_mute(msg.bus, msg.mute, msg.fade)
        else:
            raise CommandError("unknown_message", f"unknown message type {type(msg).__name__}")
        return {}

    # ----------------------------------------------------------- voices
    def play(self, sound: str, instance: int | None = None, position=None, velocity=None,
             volume_db: float = 0.0, pitch_semitones: float = 0.0, fade_in: float = 0.0) -> int:
        """Start `sound`; returns its instance id.  Refused (CommandError) if the
        sound is unknown, the id is taken, or no voice is free."""
        spec = self.scene.sounds.get(sound)
        if spec is None:
            raise CommandError("unknown_sound", f"unknown sound {sound!r}")
        if instance is not None and instance in self.instances:
            raise CommandError("duplicate_id", f"instance id {instance} is already playing")
        if not self.free_slots:
            self.stats.refused += 1
            raise CommandError("voice_limit", f"all {self.params.max_voices} voices are busy; {sound!r} refused")
        variant = self.bank.variants[sound][self._choose_variant(sound, spec)]
        v = self.free_slots.pop()
        if instance is None:
            instance, self.next_auto_id = self.next_auto_id, self.next_auto_id + 1
        self._start_voice(v, spec, variant, position, velocity, volume_db, pitch_semitones, fade_in)
        self.instances[instance] = v
        self.slot_instance[v] = instance
        self.stats.plays += 1
        return instance

    def _choose_variant(self, name: str, spec) -> int:
        """Index of the file to play from a sound's container, per its mode."""
        n = len(spec.files)
        last = self.last_variant.get(name, -1)
        if n == 1:
            choice = 0
        elif spec.mode == "sequence":
            choice = (last + 1) % n
        elif spec.mode == "random_no_repeat" and last >= 0:
            choice = int(self.rng.integers(n - 1))
            choice += choice >= last
        else:
            choice = int(self.rng.integers(n))
        self.last_variant[name] = choice
        return choice

    def _start_voice(self, v, spec, variant, position, velocity, volume_db, pitch_st, fade_in) -> None:
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
        vi[v, VI_BUS] = self.bus_index[spec.bus]
        vi[v, VI_LANE0] = variant.lanes[0]
        vi[v, VI_LANE1] = variant.lanes[1] if len(variant.lanes) > 1 else -1
        vi[v, VI_LOOP] = int(spec.loop)
        vf[v, VF_VOLUME] = db_to_gain(volume)
        vf[v, VF_PITCH] = semitones_to_ratio(pitch)
        vf[v, VF_PAN] = spec.pan
        if spec.spatial is not None:
            s = spec.spatial
            vi[v, VI_SPATIAL] = 1
            vi[v, VI_MODEL] = DIST_MODELS[s.rolloff]
            vf[v, VF_MIN_DIST], vf[v, VF_MAX_DIST] = s.min_distance, s.max_distance
            vf[v, VF_ROLLOFF], vf[v, VF_DOPPLER] = s.rolloff_factor, s.doppler
            vf[v, VF_X:VF_X + 3] = position if position is not None else (0.0, 0.0, 0.0)
            vf[v, VF_VX:VF_VX + 3] = velocity if velocity is not None else (0.0, 0.0, 0.0)
        vf[v, VF_FADE_TARGET] = 1.0
        if fade_in > 0.0:
            vf[v, VF_FADE_STEP] = 1.0 / (fade_in * self.sample_rate)
        else:
            vf[v, VF_FADE] = 1.0
            vi[v, VI_SNAP] = 1
        vi[v, VI_STATE] = PLAYING

    def stop(self, instance: int, fade: float = 0.0) -> None:
        """Fade an instance out over `fade` seconds (at least one block) and free it."""
        v = self._slot(instance)
        vf = self.params.vf
        samples = max(fade * self.sample_rate, self.block_size)
        vf[v, VF_FADE_TARGET] = 0.0
        vf[v, VF_FADE_STEP] = max(vf[v, VF_FADE], 1e-9) / samples
        self.params.vi[v, VI_STATE] = STOPPING

    def set_emitter(self, instance: int, position, velocity=None) -> None:
        """Move a playing instance; velocity (m/s) drives Doppler."""
        v = self._slot(instance)
        vf = self.params.vf
        vf[v, VF_X:VF_X + 3] = position
        if velocity is not None:
            vf[v, VF_VX:VF_VX + 3] = velocity

    def _slot(self, instance: int) -> int:
        v = self.instances.get(instance)
        if v is None:
            raise CommandError("unknown_instance", f"no playing instance with id {instance}")
        return v

    # ----------------------------------------------------------- listener, buses
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
        self.bus_volume_db[bus] = volume_db
        self._retarget_bus(bus, fade)

    def set_bus_mute(self, bus: str, mute: bool, fade: float = 0.0) -> None:
        """Mute or unmute a bus, ramped like a fader move."""
        self._bus(bus)
        self.bus_muted[bus] = mute
        self._retarget_bus(bus, fade)

    def _bus(self, bus: str) -> int:
        i = self.bus_index.get(bus)
        if i is None:
            raise CommandError("unknown_bus", f"unknown bus {bus!r} (buses: {', '.join(self.bus_names)})")
        return i

    def _bus_gain(self, bus: str) -> float:
        return 0.0 if self.bus_muted[bus] else db_to_gain(self.bus_volume_db[bus])

    def _retarget_bus(self, bus: str, fade: float) -> None:
        bf, b = self.params.bf, self.bus_index[bus]
        target = self._bus_gain(bus)
        samples = max(fade * self.sample_rate, self.block_size)
        bf[b, BF_TARGET] = target
        bf[b, BF_STEP] = max(abs(target - bf[b, BF_GAIN]), 1e-12) / samples

    # ----------------------------------------------------------- rendering
    def render(self, out: np.ndarray) -> None:
        """Render the next block into out (block_size, channels) and reclaim ended voices."""
        self.engine.render(out)
        self._reap()
        self.block_index += 1

    def _reap(self) -> None:
        vi = self.params.vi
        states = vi[:, VI_STATE]
        active = int(np.count_nonzero(states))
        self.stats.peak_voices = max(self.stats.peak_voices, active)
        for v in np.flatnonzero(states == ENDED):
            vi[v, VI_STATE] = FREE
            del self.instances[self.slot_instance[v]]
            self.slot_instance[v] = -1
            self.free_slots.append(int(v))
            self.stats.ended += 1

    def active_voices(self) -> int:
        """Voices currently playing or fading out."""
        states = self.params.vi[:, VI_STATE]
        return int(np.count_nonzero((states == PLAYING) | (states == STOPPING)))

    def audibility(self, instance: int) -> float:
        """Total gain (volume x fade x distance) an instance had in the last block."""
        return float(self.params.vf[self._slot(instance), VF_AUDIBILITY])

    def position_frames(self, instance: int) -> float:
        """Read position of an instance, in frames of its clip."""
        from gamemix.params import FRAC_ONE
        return self.params.vi[self._slot(instance), VI_POS] / FRAC_ONE
