"""Scatterers: a sound spawned count times at random intervals and random points around a centre,
seeded (control/scatter.py).  Onsets are found in the rendered samples."""

import numpy as np
import pytest

from conftest import BLOCK, SR, render_blocks, sine
from gamemix.errors import LocatedError

CLICK = sine(1000.0, 0.01, amp=0.5)


def mixer(scene_dir, action, seed=0):
    scene_dir.audio("click.wav", CLICK)
    sounds = {"shot": {"files": ["click.wav"], "spatial": {"rolloff": "none", "max_distance": 1000}}}
    return scene_dir.mixer(sounds, extra={"events": {"fight": [{"action": "scatter", "sound": "shot", **action}]}},
                           seed=seed, max_voices=64)


def onsets(out):
    loud = np.abs(out).max(axis=1) > 0.05
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    return starts[np.concatenate([[True], np.diff(starts) > 0.02 * SR])]     # one per click


def test_it_plays_count_times_at_intervals_within_its_range(scene_dir):
    m = mixer(scene_dir, {"count": 25, "interval": [0.1, 0.25], "distance": [5, 10]})
    m.post_event("fight", 1)
    found = onsets(render_blocks(m, int(8 * SR / BLOCK)))
    assert len(found) == 25 and m.stats.plays == 25
    gaps = np.diff(found) / SR
    assert gaps.min() >= 0.1 - 2 / SR and gaps.max() <= 0.25 + 2 / SR
    assert gaps.std() > 0.02                                  # random, not a fixed rate


def positions_of_spawns(m, blocks):
    """Where each spawned instance was when it started (read every block)."""
    seen = {}
    block = np.zeros((BLOCK, 2), np.float32)
    for _ in range(blocks):
        m.render(block)
        for instance in m.instances:
            if instance not in seen and instance >= 1000 and m.rows_of(instance):
                seen[instance] = np.array(m.instances[instance].pose(m.arrays.vf)[0])
    return np.array(list(seen.values()))


@pytest.mark.parametrize("around", ["emitter", "listener"])
def test_each_play_lands_in_its_ring_around_the_centre(scene_dir, around):
    m = mixer(scene_dir, {"count": 40, "interval": [0.02, 0.05], "distance": [5, 10], "height": [1, 2],
                          "around": around})
    m.set_listener((100.0, 0.0, 0.0))
    m.post_event("fight", 1, position=(-50.0, 0.0, 20.0))
    centre = np.array([100.0, 0.0, 0.0]) if around == "listener" else np.array([-50.0, 0.0, 20.0])
    where = positions_of_spawns(m, int(3 * SR / BLOCK)) - centre
    assert len(where) == 40
    flat = np.hypot(where[:, 0], where[:, 2])
    assert flat.min() >= 5 - 1e-6 and flat.max() <= 10 + 1e-6
    assert where[:, 1].min() >= 1 - 1e-9 and where[:, 1].max() <= 2 + 1e-9
    quadrants = {(x > 0, z > 0) for x, _, z in where}
    assert len(quadrants) == 4                                # all around, not on one side


def test_the_emitter_is_read_when_each_play_comes_due(scene_dir):
    m = mixer(scene_dir, {"count": 10, "interval": [0.2, 0.2], "distance": [1, 1]})
    m.post_event("fight", 1, position=(0.0, 0.0, 0.0))
    render_blocks(m, int(1.0 * SR / BLOCK))
    m.set_emitter(1, (500.0, 0.0, 0.0))                       # the event's emitter moved
    late = positions_of_spawns(m, int(2 * SR / BLOCK))
    assert len(late) == 5 and np.all(np.abs(late[:, 0] - 500.0) <= 1.0 + 1e-6)


def test_stopping_the_event_stops_the_plays_to_come(scene_dir):
    m = mixer(scene_dir, {"count": 30, "interval": [0.1, 0.1]})
    m.post_event("fight", 1)
    render_blocks(m, int(0.95 * SR / BLOCK))
    m.stop(1)
    render_blocks(m, int(3 * SR / BLOCK))
    assert m.stats.plays == 10 and 1 not in m.instances


def test_a_seed_repeats_it_and_another_seed_does_not(scene_dir):
    action = {"count": 20, "interval": [0.05, 0.2], "distance": [2, 30]}
    outs = []
    for seed in (3, 3, 4):
        m = mixer(scene_dir, action, seed=seed)
        m.post_event("fight", 1)
        outs.append(render_blocks(m, int(3 * SR / BLOCK)))
    assert np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])


@pytest.mark.parametrize("action, says", [({"count": 5}, "needs `count` and `interval"),
                                          ({"count": 5, "interval": [0.3, 0.1]}, "min <= max"),
                                          ({"count": 5000, "interval": [0.1, 0.2]}, "less than or equal to 1000")])
def test_a_scatter_without_what_it_needs_is_a_located_error(scene_dir, action, says):
    with pytest.raises(LocatedError) as error:
        mixer(scene_dir, action)
    message = "\n".join(str(p) for p in error.value.problems)
    assert "events.fight[0]" in message and says in message, message
