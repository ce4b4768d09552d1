"""The hot path allocates nothing per block: Numba's NRT statistics prove it.

Calling a jitted function from Python makes Numba wrap each array argument in a
small NRT record (one allocation per array, before the GIL is released); that
cost is per call and does not depend on what the kernel does.  So the test
drives the engine's block kernel from a jitted loop that also moves the
emitters between blocks, as the control side would, and checks that 3,000
blocks allocate exactly as much as one: nothing per block.
"""

import os
import subprocess
import sys
import textwrap

import pytest

MEASURE = textwrap.dedent("""
    # `drive(blocks, *args)` renders blocks from a jitted loop; one block, then 3,000, are counted
    drive(1, *args)
    counts = []
    for blocks in (1, 3000):
        before = rtsys.get_allocation_stats()
        drive(blocks, *args)
        after = rtsys.get_allocation_stats()
        counts.append(after.alloc - before.alloc)
    def count(a):
        return sum(count(x) for x in a) if isinstance(a, tuple) else 1
    arrays = count(args)             # the call boundary: one record per array argument
    peaks = (float(np.abs(out).max()), float(np.abs(watched).max()))   # `watched`: the bus to prove live
    print(counts[1] - counts[0], counts[0], arrays, *peaks)
""")

PROGRAM = textwrap.dedent("""
    import sys
    import numpy as np, soundfile, yaml, pathlib
    from numba.core.runtime import rtsys
    from gamemix.scene.load import load_scene
    from gamemix.control.mixer import Mixer
    root = pathlib.Path(sys.argv[1])
    t = np.arange(48000) / 48000
    soundfile.write(root / "mono.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 44100)
    soundfile.write(root / "st.wav", np.stack([np.sin(t * 900), np.cos(t * 700)], 1).astype(np.float32) * 0.2, 48000)
    (root / "scene.yaml").write_text(yaml.safe_dump({
        "output": {"max_voices": 64, "channels": sys.argv[2], "hrtf_voices": 8},
        "buses": {"master": {"limiter": {}, "loudness": {"target_lufs": -24}},
                  "a": {"sends": {"room": -6}, "compressor": {"threshold_db": -30}},
                  "b": {"parent": "a", "sidechain": [{"key": "dlg", "key_band_hz": [300, 4000]}],
                        "unmask": {"target": "dlg"}},
                  "dlg": {"loudness": {"target_lufs": -20, "measure": "short_term"},
                          "intelligibility": {"margin_lu": 10}},
                  "room": {"reverb": {"decay_s": 2.0}, "auxiliary": True}},
        "zones": {"cave": {"center": [0, 0, -3], "size": [12, 4, 4], "fade": 3, "sends": {"room": -3},
                           "occlusion": 0.5}},
        "sounds": {"m3d": {"files": ["mono.wav"], "loop": True, "bus": "b", "pitch_semitones": 0.3,
                           "spatial": {"rolloff": "linear", "max_distance": 40, "air_absorption": 1,
                                       "cone": {"inner_angle": 90, "outer_angle": 200, "outer_volume_db": -9,
                                                "outer_lowpass_hz": 2000}}},
                   "wide": {"files": ["mono.wav"], "loop": True, "bus": "a", "lfe_db": -6,
                            "spatial": {"spread": 0.5}},
                   "shot": {"files": ["mono.wav"], "bus": "a", "pitch_semitones": 7},
                   "st": {"files": ["st.wav"], "loop": True, "pan": 0.3, "bus": "dlg"}}}))
    mixer = Mixer(load_scene(root / "scene.yaml"))
    out = np.zeros((256, mixer.channels), np.float32)
    from gamemix.protocol import messages as protocol
    for i in range(40):
        mixer.play("m3d", i, position=(i - 20.0, 0.0, -3.0), velocity=(1.0, 0, 0), direction=(1.0, 0.0, 0.0))
        mixer.apply(protocol.Occlusion(id=i, occlusion=0.3, obstruction=0.6))
        mixer.apply(protocol.AuxSends(id=i, sends={"room": -10.0}))
    mixer.play("wide", 102, position=(2.0, 1.0, 1.0))
    mixer.play("st", 100)
    mixer.play("shot", 101)
    mixer.stop(3, fade=0.5)
    mixer.set_bus_volume("a", -10, fade=1.0)
    from numba import njit
    from gamemix.core.engine import render_state

    @njit
    def drive(blocks, state, out):
        vf = state.vf
        for b in range(blocks):
            for v in range(vf.shape[0]):
                vf[v, 0] = np.sin(b * 0.01 + v) * 10.0
            render_state(state, out)           # the engine's block: its arrays in one EngineState

    mixer.render(out)  # one control tick: the plays become real
    args = (mixer.engine.state, out)
    watched = mixer.arrays.bus_buf
""") + MEASURE


@pytest.mark.parametrize("layout", ["stereo", "7.1.4", "ambix3", "binaural"])
def test_render_block_allocates_nothing(tmp_path, layout):
    """Every panner class (a layout of each kind), with every propagation feature in use."""
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    result = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path), layout], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    per_blocks, per_call, arrays, peak, _ = result.stdout.split()
    assert int(per_blocks) == 0          # 3,000 blocks allocate no more than one
    assert int(per_call) <= int(arrays)  # the call boundary: one record per array argument
    assert float(peak) > 0.01   # it really rendered sound


AR_PROGRAM = textwrap.dedent("""
    import sys
    import numpy as np, soundfile, yaml, pathlib
    from numba.core.runtime import rtsys
    from gamemix.scene.load import load_scene
    from gamemix.control.mixer import Mixer
    from gamemix.core.dsp.mic import MicStage
    from gamemix.core.dsp.adaptive import AdaptiveStage, IN_AMBIENT, IN_SPEECH
    root = pathlib.Path(sys.argv[1])
    t = np.arange(48000) / 48000
    soundfile.write(root / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    (root / "scene.yaml").write_text(yaml.safe_dump({
        "buses": {"master": {"limiter": {}}, "mic": {"highpass_hz": 120}, "music": {},
                  "dialogue": {"loudness": {"target_lufs": -23}}},
        "sounds": {"m": {"files": ["tone.wav"], "loop": True, "bus": "music"},
                   "d": {"files": ["tone.wav"], "loop": True, "bus": "dialogue"}},
        "microphone": {"bus": "mic", "channels": 2, "hear_through_db": -6, "hear_through_align": True,
                       "follow": {"dialogue": {}}, "duck": {"music": {"hold_ms": 20}}}}))
    mixer = Mixer(load_scene(root / "scene.yaml"))
    mixer.microphone.align(0.05)
    out = np.zeros((256, 2), np.float32)
    mixer.play("m", 1)
    mixer.play("d", 2)
    mixer.render(out)
    from numba import njit
    from gamemix.core.engine import render_state
    stages = mixer.engine.args[13]
    mic = [s for s in stages if isinstance(s, MicStage)][0]
    ad = [s for s in stages if isinstance(s, AdaptiveStage)][0]

    @njit
    def drive(blocks, state, out, mic_block, inputs):
        for b in range(blocks):
            for c in range(mic_block.shape[0]):          # what the control side copies in: a new capture
                for i in range(mic_block.shape[1]):
                    mic_block[c, i] = np.sin(0.01 * (b * 256 + i) + c) * 0.1
            inputs[IN_AMBIENT] = -40.0 + (b % 200) * 0.1   # the ambience moves, speech comes and goes
            inputs[IN_SPEECH] = 1.0 if (b // 50) % 2 == 0 else 0.0
            render_state(state, out)

    args = (mixer.engine.state, out, mic.block, ad.inputs)
    watched = mixer.arrays.bus_buf[1]                    # the mic bus
""") + MEASURE


def test_the_mic_and_adaptive_stages_allocate_nothing_per_block(tmp_path):
    """AR mode's stages (core/dsp/mic.py, core/dsp/adaptive.py) in the engine's block, with a new capture
    in the mic stage, a moving ambience and speech toggling every 50 blocks: 3,000 blocks allocate exactly
    what one does."""
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    result = subprocess.run([sys.executable, "-c", AR_PROGRAM, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    per_blocks, per_call, arrays, peak, mic_peak = result.stdout.split()
    assert int(per_blocks) == 0
    assert int(per_call) <= int(arrays)
    assert float(peak) > 0.01 and float(mic_peak) > 0.01     # it really rendered, the mic included
