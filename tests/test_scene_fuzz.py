"""Whatever `gamemix validate` accepts cannot crash or stall the mixer: generated scenes, random commands.

Hypothesis writes scenes within the schema (a bus tree with random processors, sounds 2D and 3D,
snapshots, parameters and mappings, events with delays), keeps those that validate, and drives
random protocol messages through them between blocks.  Nothing may raise but a CommandError (a
refusal, which names its problem), and the output stays finite and under the ceiling.
"""


import numpy as np
import pytest
import soundfile
import yaml
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from gamemix.control.mixer import Mixer
from gamemix.errors import CommandError, LocatedError
from gamemix.protocol import messages as m
from gamemix.scene.load import load_scene

DB = st.floats(-40, 12)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    t = np.arange(9600) / 48000
    soundfile.write(root / "mono.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    soundfile.write(root / "stereo.wav", np.stack([np.sin(t * 3000), np.cos(t * 2000)], 1).astype(np.float32) * 0.4,
                    44100)
    return root


@st.composite
def scenes(draw):
    n = draw(st.integers(1, 6))
    names = [f"b{i}" for i in range(n)]
    buses = {"master": {"volume_db": draw(DB)}}
    if draw(st.booleans()):
        buses["master"]["limiter"] = {"ceiling_dbtp": draw(st.floats(-6, 0))}
    if draw(st.booleans()):
        buses["master"]["loudness"] = {"target_lufs": draw(st.floats(-40, -10)),
                                       "measure": draw(st.sampled_from(["short_term", "momentary"]))}
    for i, name in enumerate(names):
        bus = {"parent": draw(st.sampled_from(["master"] + names[:i])), "volume_db": draw(DB),
               "lowpass_hz": draw(st.floats(100, 24000)), "highpass_hz": draw(st.floats(10, 2000)),
               "pitch_semitones": draw(st.floats(-12, 12)), "mute": draw(st.booleans())}
        later = names[i + 1:]
        if later and draw(st.booleans()):
            bus["sidechain"] = [{"key": draw(st.sampled_from(later)), "depth_db": draw(st.floats(-30, 0))}]
        if later and draw(st.booleans()):
            bus["unmask"] = {"target": draw(st.sampled_from(later))}
        if draw(st.booleans()):
            bus["compressor"] = {"threshold_db": draw(st.floats(-50, 0)), "ratio": draw(st.floats(1, 20))}
        if draw(st.booleans()):
            bus["reverb"] = {"decay_s": draw(st.floats(0.1, 5))}
        if draw(st.booleans()):
            bus["intelligibility"] = {"margin_lu": draw(st.floats(0, 40)), "max_cut_db": draw(st.floats(0, 60)),
                                      "weighting": draw(st.sampled_from(["both", "loudness", "speech_band"]))}
        buses[name] = bus
    returns = [b for b in names if "reverb" in buses[b]]
    for name in names:
        if returns and draw(st.booleans()):
            buses[name]["sends"] = {draw(st.sampled_from(returns)): draw(st.floats(-40, 0))}
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        buses[name]["auxiliary"] = True
    aux = [b for b in names if buses[b].get("auxiliary")]
    zones = {}
    for k in range(draw(st.integers(0, 2))):
        zone = {"shape": draw(st.sampled_from(["box", "sphere"])), "center": list(draw(VEC)),
                "size": [draw(st.floats(0.5, 30)) for _ in range(3)], "radius": draw(st.floats(0.5, 30)),
                "fade": draw(st.floats(0, 10)), "applies_to": draw(st.sampled_from(["emitter", "listener"])),
                "occlusion": draw(st.floats(0, 1))}
        if aux:
            zone["sends"] = {draw(st.sampled_from(aux)): draw(st.floats(-40, 6))}
        zones[f"z{k}"] = zone
    all_buses = ["master"] + names
    sounds = {}
    for k in range(draw(st.integers(1, 4))):
        spatial = draw(st.booleans())
        sound = {"files": [draw(st.sampled_from(["mono.wav", "stereo.wav"]))], "loop": draw(st.booleans()),
                 "bus": draw(st.sampled_from(all_buses)), "volume_db": draw(DB), "pan": draw(st.floats(-1, 1)),
                 "pitch_semitones": draw(st.floats(-24, 24)), "priority": draw(st.integers(0, 255))}
        if spatial:
            sound["spatial"] = {"rolloff": draw(st.sampled_from(["inverse", "linear", "exponential", "none"])),
                                "min_distance": 1.0, "max_distance": draw(st.floats(2, 500)),
                                "spread": draw(st.floats(0, 1)), "air_absorption": draw(st.floats(0, 10))}
            if draw(st.booleans()):
                inner = draw(st.floats(0, 360))
                sound["spatial"]["cone"] = {"inner_angle": inner, "outer_angle": draw(st.floats(inner, 360)),
                                            "outer_volume_db": draw(st.floats(-60, 0)),
                                            "outer_lowpass_hz": draw(st.floats(100, 24000))}
        else:
            sound["centre"] = draw(st.floats(0, 1))
        if draw(st.booleans()):
            sound["lfe_db"] = draw(st.floats(-40, 6))
        if draw(st.booleans()):
            sound["max_instances"] = draw(st.integers(1, 4))
            sound["steal"] = draw(st.sampled_from(["oldest", "quietest", "lowest_priority", "furthest", "refuse"]))
        sounds[f"s{k}"] = sound
    snapshots = {}
    for k in range(draw(st.integers(0, 2))):
        bus = draw(st.sampled_from(all_buses))
        override = {"volume_db": draw(st.floats(-60, 12)), "lowpass_hz": draw(st.floats(200, 20000))}
        if "compressor" in buses[bus]:
            override["compressor_threshold_db"] = draw(st.floats(-60, 0))
        snapshots[f"snap{k}"] = {"mode": draw(st.sampled_from(["override", "blend"])),
                                 "fade_in": draw(st.floats(0, 1)), "buses": {bus: override}}
    mappings = [{"parameter": "p", "bus": draw(st.sampled_from(all_buses)),
                 "property": draw(st.sampled_from(["volume_db", "lowpass_hz", "highpass_hz", "pitch_semitones"])),
                 "points": [[0, 0], [1, 0]]}]
    prop = mappings[0]["property"]
    lo, hi = {"volume_db": (-144, 24), "lowpass_hz": (10, 96000), "highpass_hz": (10, 96000),
              "pitch_semitones": (-24, 24)}[prop]
    mappings[0]["points"] = [[0, draw(st.floats(lo, hi))], [1, draw(st.floats(lo, hi))]]
    events = {"e": [{"action": "play", "sound": draw(st.sampled_from(list(sounds)))},
                    {"action": "play", "sound": draw(st.sampled_from(list(sounds))), "delay": draw(st.floats(0, 0.2))}]}
    return {"output": {"block_size": draw(st.sampled_from([64, 128, 256])), "max_voices": draw(st.integers(1, 8)),
                       "channels": draw(st.sampled_from(["stereo", "quad", "5.1", "7.1", "7.1.4", "binaural",
                                                         "ambix1", "ambix3"])),
                       "hrtf_voices": draw(st.integers(0, 3)),
                       "max_instances": draw(st.integers(1, 12)),
                       "steal": draw(st.sampled_from(["oldest", "lowest_priority", "refuse"])),
                       "ceiling_dbfs": draw(st.floats(-12, 0))},
            "buses": buses, "sounds": sounds, "snapshots": snapshots, "zones": zones,
            "parameters": {"p": {"min": 0, "max": 1}}, "mappings": mappings, "events": events}


VEC = st.tuples(*[st.floats(-50, 50)] * 3)


def commands(sounds, buses, snapshots, zones):
    ids = st.integers(0, 20)
    factor = st.one_of(st.none(), st.floats(0, 1))
    return st.lists(st.one_of(
        st.builds(m.Emitter, id=ids, position=VEC, direction=st.one_of(VEC, st.just((0.0, 0.0, 0.0)))),
        st.builds(m.Occlusion, id=ids, occlusion=factor, obstruction=factor),
        st.builds(m.Occlusion, zone=st.sampled_from(zones + ["nope"]), occlusion=st.floats(0, 1)),
        st.builds(m.AuxSends, id=ids, sends=st.dictionaries(st.sampled_from(buses), st.floats(-60, 24), max_size=3)),
        st.builds(m.Play, sound=st.sampled_from(sounds), id=st.one_of(st.none(), ids), position=VEC,
                  volume_db=st.floats(-144, 24), pitch_semitones=st.floats(-48, 48), fade_in=st.floats(0, 1)),
        st.builds(m.Stop, id=ids, fade=st.floats(0, 0.5)),
        st.builds(m.Emitter, id=ids, position=VEC, velocity=VEC),
        st.builds(m.Emitters, ids=st.lists(ids, min_size=2, max_size=2), positions=st.lists(VEC, min_size=2, max_size=2)),
        st.builds(m.Listener, position=VEC, forward=st.sampled_from([(0, 0, -1), (1, 0, 0), (0, 0, 0)])),
        st.builds(m.BusVolume, bus=st.sampled_from(buses), volume_db=st.floats(-144, 24), fade=st.floats(0, 1)),
        st.builds(m.BusMute, bus=st.sampled_from(buses), mute=st.booleans()),
        st.builds(m.SetParameter, name=st.sampled_from(["p", "nope"]), value=st.floats(-1, 2)),
        st.builds(m.SnapshotStart, name=st.sampled_from(snapshots + ["nope"]), intensity=st.floats(0, 100)),
        st.builds(m.SnapshotStop, name=st.sampled_from(snapshots + ["nope"])),
        st.builds(m.Event, name=st.sampled_from(["e", "nope"]), id=st.one_of(st.none(), ids)),
        st.builds(m.ResetMeters, bus=st.one_of(st.none(), st.sampled_from(buses))),
        st.just("block")), min_size=5, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(doc=scenes(), data=st.data())
def test_a_scene_that_validates_never_crashes_or_goes_non_finite(folder, doc, data):
    path = folder / "scene.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        scene = load_scene(path)
    except LocatedError:
        assume(False)                      # a generated reference the checks refuse: not a valid scene
    mixer = Mixer(scene)
    ceiling = 10 ** (scene.output.ceiling_dbfs / 20)
    msgs = data.draw(commands(list(scene.sounds), list(scene.buses), list(scene.snapshots) or ["nope"],
                              list(scene.zones)))
    out = np.zeros((mixer.block_size, mixer.channels), np.float32)
    for msg in msgs + ["block"] * 8:
        if msg == "block":
            mixer.render(out)
            assert np.isfinite(out).all() and np.abs(out).max() <= ceiling + 1e-6
            continue
        try:
            mixer.apply(msg)
        except CommandError as exc:
            assert exc.code and exc.message            # a refusal names what was wrong
    assert len(mixer.instances) <= scene.output.max_instances + scene.output.max_voices
