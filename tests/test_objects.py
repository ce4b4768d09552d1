"""Game objects: the sounds of one entity move together, share its parameter values, and stop with
it.  Oracles: the inverse-distance and pan laws at the object's position, the authored curve."""

import math

import numpy as np
import pytest

from conftest import BLOCK, render_blocks, sine
from gamemix.errors import CommandError
from gamemix.protocol import messages as m


def rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def car(scene_dir):
    scene_dir.audio("a.wav", sine(375.0, 1.0))
    scene_dir.audio("b.wav", sine(750.0, 1.0))
    spatial = {"min_distance": 1.0, "max_distance": 1000.0, "doppler": 0.0}
    return scene_dir.mixer({"engine": {"files": ["a.wav"], "loop": True, "spatial": spatial},
                            "radio": {"files": ["b.wav"], "loop": True, "spatial": spatial}},
                           extra={"parameters": {"rpm": {"scope": "instance", "default": 0}},
                                  "mappings": [{"parameter": "rpm", "sound": "engine", "property": "volume_db",
                                                "points": [[0, -12], [1, 0]]}]})


def test_the_sounds_on_an_object_move_with_it_and_take_its_values(scene_dir):
    mixer = car(scene_dir)
    mixer.apply(m.GameObjectPose(id=7, position=(4.0, 0.0, 0.0)))          # 4 m to the right
    mixer.apply(m.Play(sound="engine", id=1, object=7))
    mixer.apply(m.Play(sound="radio", id=2, object=7))
    mixer.apply(m.SetParameter(name="rpm", value=1.0, object=7))
    out = render_blocks(mixer, 30)[10 * BLOCK:]
    unit = 0.5 / math.sqrt(2)
    assert rms(out[:, 0]) < 1e-6 and rms(out[:, 1]) == pytest.approx(unit / 4 * math.sqrt(2), rel=1e-4)
    mixer.apply(m.GameObjectPose(id=7, position=(-2.0, 0.0, 0.0)))         # the car drives to the left
    out = render_blocks(mixer, 30)[10 * BLOCK:]
    assert rms(out[:, 1]) < 1e-6 and rms(out[:, 0]) == pytest.approx(unit / 2 * math.sqrt(2), rel=1e-4)
    mixer.apply(m.SetParameter(name="rpm", value=0.0, object=7))         # the engine idles: -12 dB
    mixer.apply(m.Stop(id=2))
    out = render_blocks(mixer, 30)[10 * BLOCK:]
    assert 20 * math.log10(rms(out[:, 0]) / (unit / 2)) == pytest.approx(-12.0, abs=0.01)


def test_removing_an_object_stops_what_plays_on_it(scene_dir):
    mixer = car(scene_dir)
    mixer.apply(m.GameObjectPose(id=7, position=(0.0, 0.0, -2.0)))
    mixer.apply(m.Play(sound="engine", id=1, object=7))
    mixer.apply(m.Play(sound="radio", id=2))                               # not on the object
    render_blocks(mixer, 5)
    mixer.apply(m.GameObjectPose(id=7, remove=True, fade=0.01))
    render_blocks(mixer, 10)
    assert 1 not in mixer.instances and 2 in mixer.instances and 7 not in mixer.objects.objects
    assert mixer.objects.of == {}


def test_object_refusals_name_the_problem(scene_dir):
    mixer = car(scene_dir)
    for msg, code in ((m.Play(sound="engine", object=9), "unknown_object"),
                      (m.SetParameter(name="rpm", value=0.5, object=9), "unknown_object"),
                      (m.GameObjectPose(id=9, remove=True), "unknown_object"),
                      (m.SetParameter(name="rpm", value=0.5, id=1, object=9), "bad_value")):
        with pytest.raises(CommandError) as info:
            mixer.apply(msg)
        assert info.value.code == code
    assert mixer.instances.groups == {} and mixer.objects.objects == {}


def test_the_table_of_objects_is_bounded(scene_dir, monkeypatch):
    from gamemix.control import objects
    monkeypatch.setattr(objects, "MAX_OBJECTS", 3)
    mixer = car(scene_dir)
    for k in range(3):
        mixer.apply(m.GameObjectPose(id=k, position=(0.0, 0.0, -1.0)))
    with pytest.raises(CommandError) as info:
        mixer.apply(m.GameObjectPose(id=3, position=(0.0, 0.0, -1.0)))
    assert info.value.code == "object_limit" and len(mixer.objects.objects) == 3
    mixer.apply(m.GameObjectPose(id=0, remove=True))
    mixer.apply(m.GameObjectPose(id=3, position=(0.0, 0.0, -1.0)))          # room again
