"""Hot reload: a new scene's mixer takes over the state of the one it replaces.

Kept: the block count, the listener pose, the faders, mutes and VCAs the
game moved on buses (VCAs) that still exist (a fader the game did not touch goes to the
edited scene's value, gliding there over RELOAD_GLIDE_S from where it was,
so an edit is heard and nothing jumps), the processors' state
(control/chains.py), parameter values (clamped to new ranges), active
snapshots that still exist, and every instance whose sound still exists:
same id, pose, read position (clamped to the new file), fades and current
gains, so a voice goes on seamlessly and ramps to the new scene's values;
the envelopes of ducking rules on the same categories and the HDR window's
top; event actions still queued (and the event instances waiting on them).
Random draws are made anew from the new mixer's seed.

Control side: runs on the render thread at a block start, between blocks.
"""

from __future__ import annotations

import numpy as np

from gamemix.control.instances import Instance
from gamemix.core.arrays import (
    BF_GAIN, FRAC_ONE, LF_EXTRA_LISTENERS, LF_FRAMES, LF_MORE, LF_VX, LF_X, PAUSED, PLAYING, VF_FADE, VF_FADE_STEP, VF_FADE_TARGET, VF_VFADE, VF_VFADE_STEP,
    VF_VFADE_TARGET, VI_BLOCKS, VI_LANE0, VI_LOOP, VI_LOOPS, VI_PAUSE, VI_POS, VI_SOUND, VI_STATE, VI_TO_VIRTUAL, VIRTUAL,
)
from gamemix.errors import CommandError

RELOAD_GLIDE_S = 0.25       # a fader the edit moved reaches its new value in this time


def adopt(new, old) -> None:
    """Carry over into mixer `new` the state of mixer `old` (see the module docstring)."""
    new.block_index = old.block_index
    new.instances.next_auto_id = max(new.instances.next_auto_id, old.instances.next_auto_id)
    new.arrays.lf[LF_X:LF_VX + 3] = old.arrays.lf[LF_X:LF_VX + 3]
    new.arrays.lf[LF_MORE:LF_FRAMES] = old.arrays.lf[LF_MORE:LF_FRAMES]          # the other listeners
    new.arrays.lf[LF_EXTRA_LISTENERS] = old.arrays.lf[LF_EXTRA_LISTENERS]
    for name, b in new.bus_index.items():
        if name in old.bus_index:
            new.buses.take_over(name, old.buses, RELOAD_GLIDE_S)
            new.arrays.bf[b, BF_GAIN] = old.arrays.bf[old.bus_index[name], BF_GAIN]
    new.buses.take_over_vcas(old.buses, RELOAD_GLIDE_S)
    _adopt_uploads(new, old)
    new.chains.adopt(old.chains)
    for name, value in old.parameters.values.items():
        spec = new.parameters.specs.get(name)
        if spec is not None:
            new.parameters.values[name] = min(max(value, spec.min), spec.max)
            new.parameters.targets[name] = min(max(old.parameters.targets[name], spec.min), spec.max)
    new.snapshots.adopt(old.snapshots)
    new.ducker.adopt(old.ducker)
    if new.hdr is not None and old.hdr is not None:
        new.hdr.top_db = max(old.hdr.top_db, new.hdr.spec.threshold_db)
    new.scheduler.adopt(old.scheduler)
    for instance, group in old.instances.items():
        _adopt_instance(new, old, instance, group)
    new.instances.watched = {i for i in old.instances.watched if i in new.instances}
    for obj, found in old.objects.objects.items():           # game objects, with what still plays on them
        found.instances = {i for i in found.instances if i in new.instances}
        new.objects.objects[obj] = found
        new.objects.of.update({i: obj for i in found.instances})
    new.local.values = {i: {k: x for k, x in values.items() if k in new.local.specs}
                        for i, values in old.local.values.items() if i in new.instances}


def _adopt_uploads(new, old) -> None:
    """What the game uploaded goes on playing in sounds that still take it (and still fit)."""
    for name, room in new.bank.uploads.items():
        was = old.bank.uploads.get(name)
        if was is None or name not in old.bank.variants:
            continue
        n = old.bank.variants[name][0].frames
        if n <= 1 or n > room.reserve or len(was.lanes) != len(room.lanes):
            continue
        data = np.stack([old.bank.pool[old.bank.lane_offset[k]:old.bank.lane_offset[k] + n] for k in was.lanes],
                        axis=1)
        new.bank.fill(name, data)


def _adopt_instance(new, old, instance: int, group: Instance) -> None:
    """Restart each voice of an old instance whose sound still exists, where it was."""
    position, velocity = group.pose(old.arrays.vf)
    new_group = Instance(position=position, velocity=velocity)
    ovi, ovf, ogain = old.arrays.vi, old.arrays.vf, old.arrays.gain
    vi, vf, gain = new.arrays.vi, new.arrays.vf, new.arrays.gain
    for v in group.rows:
        sound = old.sound_names[ovi[v, VI_SOUND]]
        if sound not in new.scene.sounds or ovi[v, VI_STATE] not in (PLAYING, VIRTUAL, PAUSED):
            continue
        try:
            nv = new.instances.start_voice(new_group, sound)
        except CommandError:
            continue
        streamed = new.streams.carry_over(nv, old.streams, v)     # a streamed voice goes on in its file
        if not streamed:
            length = int(new.bank.lane_length[vi[nv, VI_LANE0]])
            vi[nv, VI_POS] = min(int(ovi[v, VI_POS]), (length - 1) * FRAC_ONE)
        for f in (VF_FADE, VF_FADE_TARGET, VF_FADE_STEP, VF_VFADE, VF_VFADE_TARGET, VF_VFADE_STEP):
            vf[nv, f] = ovf[v, f]
        for f in (VI_STATE, VI_TO_VIRTUAL, VI_BLOCKS, VI_PAUSE) + (() if streamed else (VI_LOOP, VI_LOOPS)):
            vi[nv, f] = ovi[v, f]
        gain[nv] = ogain[v]
    if new_group.rows or new.scheduler.pending_for(instance):
        new.instances.register(instance, new_group)
