"""The seams of the tree: the processor registry, the bus graph, the panner and io interfaces, packaging."""

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from gamemix import processors
from gamemix.core import chain, panning
from gamemix.errors import LocatedError, Problem
from gamemix.live.telemetry import BusLevel
from gamemix.scene.graph import BusGraph
from gamemix.scene.model import MAPPING_PROPERTIES, Bus, BusOverride

ROOT = Path(__file__).resolve().parent.parent


class Doc:
    """Stands in for a located YAML document: problems carry their path only."""

    def problem(self, path, message, key=False):
        return Problem("<test>", 0, 0, ".".join(str(p) for p in path), message)


def test_every_processor_entry_reaches_the_scene_snapshots_mappings_telemetry_and_the_chain():
    from gamemix.scene.model import Scene
    for p in processors.REGISTRY:
        # a field on Bus, or (field None) a top-level section of the scene that names its buses
        assert p.key in Bus.model_fields if p.field is not None else p.key in Scene.model_fields, p
        for m in p.movables:
            assert m.field in BusOverride.model_fields and m.name in MAPPING_PROPERTIES, m
        for r in p.readings:
            assert r.name in BusLevel.model_fields, r
    stages = [type(st) for m in processors.REGISTRY for st in m(*_tiny_scene_args()).stages]
    assert stages and all(s in chain._ORDER for s in stages)
    orders = [chain._ORDER[s] for s in stages]
    assert len(set(orders)) == len(orders)          # one place in the chain each


def _tiny_scene_args():
    from gamemix.scene.model import Scene
    scene = Scene.model_validate({"buses": {"master": {}}})
    return scene, {"master": 0}, 2, 48000.0


def test_the_chain_is_every_stage_in_order_and_refuses_a_missing_one():
    from gamemix.core.dsp import compressor, filters
    states = [filters.allocate(1, 2), compressor.allocate(1)]
    with pytest.raises(ValueError, match="missing"):
        chain.build(states)


def test_bus_order_puts_children_keys_and_senders_first_deepest_then_file_order():
    buses = {"master": {}, "music": {"sidechain": [{"key": "dialogue"}]}, "dialogue": {},
             "sfx": {"sends": {"room": -6}}, "guns": {"parent": "sfx"}, "room": {"reverb": {}}}
    order, cycle = BusGraph(buses, processors.REGISTRY).order()
    assert cycle == []
    assert order[-1] == "master" and order[0] == "guns"                 # deepest first
    assert order.index("dialogue") < order.index("music")               # a key before what it drives
    assert order.index("sfx") < order.index("room")                     # a sender before its return
    assert order.index("guns") < order.index("sfx")                     # children before parents


def test_a_chain_of_a_thousand_nested_buses_validates_and_orders_without_recursion(scene_dir):
    buses = {"master": {}, **{f"b{i}": {"parent": f"b{i - 1}" if i else "master"} for i in range(1000)}}
    graph = BusGraph(buses, processors.REGISTRY)
    order, cycle = graph.order()
    assert cycle == [] and order[0] == "b999" and order[-2:] == ["b0", "master"]
    assert graph.sums_into("b999", "b0") and not graph.sums_into("b0", "b999")
    path = scene_dir.scene({}, buses=buses)
    result = subprocess.run([sys.executable, "-m", "gamemix", "validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "1001 buses" in result.stdout, result.stderr


def test_cycles_are_found_and_named_in_the_tree_and_in_the_processing_order():
    graph = BusGraph({"master": {}, "a": {"parent": "b"}, "b": {"parent": "a"}}, processors.REGISTRY)
    problems = [str(p) for p in graph.tree_problems(Doc())]
    assert any("a -> b -> a" in p for p in problems) and any("b -> a -> b" in p for p in problems)
    graph = BusGraph({"master": {}, "x": {"sends": {"y": -6}}, "y": {"sends": {"x": -6}}}, processors.REGISTRY)
    problems = [str(p) for p in graph.order_problems(Doc())]
    assert len(problems) == 1 and "form a circle: x -> y -> x" in problems[0]


def test_a_reference_to_an_ancestor_is_refused_with_its_location():
    graph = BusGraph({"master": {}, "music": {"sidechain": [{"key": "master"}]}, "fx": {"sends": {"master": -3}}},
                     processors.REGISTRY)
    problems = [str(p) for p in graph.reference_problems(Doc())]
    assert any(p.startswith("<test> buses.music.sidechain.0.key: 'master' contains 'music'") for p in problems)
    assert any(p.startswith("<test> buses.fx.sends.master: 'fx' already sums into 'master'") for p in problems)


def test_the_stereo_panner_follows_the_sine_cosine_law():
    from gamemix.core.panning.stereo import StereoPanner, balance_gains, direction_gains, pan_gains
    layout = panning.layout("stereo")
    context = panning.PannerContext(48000, 256, 16, 1, ())
    assert layout.channels == ("FL", "FR") and isinstance(layout.make_panner(context), StereoPanner)
    p = StereoPanner()
    for x in np.linspace(-1, 1, 9):
        gl, gr = direction_gains(p, x, 0.0, np.sqrt(1 - x * x), 0.0)
        theta = (x + 1) * np.pi / 4
        assert (gl, gr) == pytest.approx((np.cos(theta), np.sin(theta)))
        assert gl ** 2 + gr ** 2 == pytest.approx(1.0)
    assert pan_gains(p, 0.0, 0.0) == pytest.approx((10 ** (-3.0103 / 20),) * 2, abs=1e-5)
    (ll, lr), (rl, rr) = balance_gains(p, 0.0)
    assert (ll, lr, rl, rr) == pytest.approx((1.0, 0.0, 0.0, 1.0))
    with pytest.raises(KeyError, match="known: stereo"):
        panning.layout("9.1.6")


def test_a_wav_input_delivers_a_file_block_by_block_at_the_mixers_rate(tmp_path):
    from gamemix.io.wav import WavInput
    t = np.arange(44100) / 44100
    soundfile.write(tmp_path / "mic.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 44100)
    block = np.zeros((256, 2), np.float32)
    got, real = [], 0
    with WavInput(tmp_path / "mic.wav", 48000, 2, 256) as mic:
        for _ in range(200):
            real += mic.read(block)
            got.append(block.copy())
    x = np.concatenate(got)
    assert abs(real - 48000) <= 2                                  # 1 s at 48 kHz
    assert np.array_equal(x[:, 0], x[:, 1])                        # mono spread to both channels
    assert np.all(x[real + 1:] == 0.0)                             # silence after the end
    spectrum = np.abs(np.fft.rfft(x[4800:43200, 0]))
    peak_hz = np.argmax(spectrum) * 48000 / (43200 - 4800)
    assert peak_hz == pytest.approx(1000.0, abs=2.0)               # resampled, not replayed at the wrong rate
    assert np.sqrt(np.mean(x[4800:43200, 0] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version
    result = subprocess.run([sys.executable, "-m", "gamemix", "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"gamemix {version('gamemix')}"


def test_the_game_side_client_loads_neither_numpy_nor_numba():
    code = "import sys, gamemix.client; print(sorted(m for m in ('numpy', 'numba') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_demo_runs_from_an_installed_wheel(tmp_path):
    """The showcase travels as package data: `gamemix demo` from a wheel installed elsewhere renders it."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("gamemix-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "gamemix/showcase/scene.yaml" in names and "gamemix/py.typed" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                             "from gamemix.cli import main; raise SystemExit(main(['demo', '--out-dir', sys.argv[2]]))",
                             str(site), str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(out / "showcase.wav")
    assert rate == 48000 and len(data) > 30 * rate and np.abs(data).max() > 0.1


def test_compiled_kernels_are_cached_per_version_of_every_kernel_source(tmp_path, monkeypatch):
    """Numba checks only the file of the function it compiled; engine.render_block inlines a dozen
    others, so the cache folder is named after all of them: an edit anywhere in core/ (here, a
    kernel in dsp/) must give a new folder, an edit of the control side must not."""
    import shutil
    from numba.core import config
    from gamemix.core import kernel_cache
    assert config.CACHE_DIR == str(kernel_cache.cache_dir())
    copy = tmp_path / "gamemix"
    shutil.copytree(kernel_cache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(kernel_cache, "PACKAGE", copy)
    before = kernel_cache.sources_hash()
    (copy / "control" / "mixer.py").write_text((copy / "control" / "mixer.py").read_text() + "\n# edited\n")
    assert kernel_cache.sources_hash() == before
    playback = copy / "core" / "dsp" / "playback.py"
    playback.write_text(playback.read_text().replace("GUARD", "GUARD ", 1))
    assert kernel_cache.sources_hash() != before


def test_compile_progress_reports_each_gamemix_kernel_once():
    """A kernel of gamemix compiled inside CompileProgress is reported (name, count); one already
    compiled, or one outside gamemix, is not."""
    from numba import njit
    from gamemix.core.kernel_cache import CompileProgress

    def probe(x):
        return x + 1
    probe.__module__ = "gamemix.probe"

    def outsider(x):
        return x * 2
    seen = []
    with CompileProgress(lambda name, done, total, elapsed: seen.append((name, done, total >= done, elapsed >= 0))):
        jitted, other = njit(probe), njit(outsider)
        assert jitted(1) == 2 and other(2) == 4
        jitted(3)
    assert len(seen) == 1, seen
    name, done, total_ok, elapsed_ok = seen[0]
    assert name.startswith("gamemix.probe.") and name.endswith(".probe") and done == 1 and total_ok and elapsed_ok


def test_warmup_command_says_when_the_kernels_are_ready():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "gamemix", "warmup"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "kernels ready in" in done.stdout
