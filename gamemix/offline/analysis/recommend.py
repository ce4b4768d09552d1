"""`gamemix recommend`: the static bus gains and duck depths that best meet the scene's targets,
as a YAML patch a designer reads and applies (the "recommendation" level of automatic mixing).

Targets (what the scene declares, or given by the caller):
  * a bus's `loudness: {target_lufs}`: its integrated loudness (BS.1770) there;
    on master, the loudness of what the master receives (the sum of its
    children, times its fader), so the master's own loudness stage has
    nothing left to correct;
  * a bus's `intelligibility: {margin_lu, against}`: its energy-mean margin over
    the sum of the `against` buses while it speaks (balance.py) at least margin_lu;
  * optionally (`max_masked_percent`), no mix bus masked by the rest of the mix
    for more than that share of its active time (masking.py).

Model.  The scene is rendered once with its automatic target stages off
(`loudness` and `intelligibility` removed: the recommendation is the static
mix that meets the targets on its own, the stages then have nothing to do),
and every bus's 100 ms K-weighted energies and ERB band powers are read from
its stem.  Stems are post-fader, so a fader change of g dB scales a stem's
energy by 10^(g/10) exactly, and a mix bus's gain scales every bus inside it.
A fixed duck depth acts in dB, through one-pole ramps that are linear in it,
so a change of the depth by d scales a ducked bus's energy in step t by
10^(a(t) d / 10), a(t) the fraction of the depth applied then; a(t) is read
from one more render with that depth moved by PROBE_DB (the energy ratio of
each step).  Buses add as uncorrelated signals (energies add).  The
recommendation is then re-rendered and measured (`verified`), so what the
model predicted and what the mixer does stand side by side.

Solver.  Smooth targets (loudness, margins: hinge residuals in LU, and a small
Tikhonov term REGULARISATION per dB of change so an under-determined problem
moves as little as it can) by bounded least squares (scipy's trust-region
reflective `least_squares`).  The masking limit counts steps and is not
smooth: with it, scipy's `differential_evolution`, as Jillings & Stables
(2017), "Automatic masking reduction in balance mixes using evolutionary
computing", AES 143rd Convention, started from the least-squares answer,
minimises the same cost plus the masking excess, over the same variables plus
per-octave cuts on the maskers.  The scene format has no static bus EQ, so
those cuts are proposed in the patch, not applied.  Particle swarm was not
added: differential evolution already reaches the optimum the tests pose.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gamemix.offline.analysis import balance, buses, frames, layout, loudness_timeline, masking
from gamemix.offline.analysis.frames import rounded
from gamemix.scene.load import load_scene
from gamemix.scene.located_yaml import parse_dotted
from gamemix.scene.model import Scene

PROBE_DB = -6.0             # how far the probe render moves a duck depth
REGULARISATION = 0.05       # weight of each dB of change against each LU of target missed
GAIN_BOUND_DB = 18.0        # a fader moves at most this far
EQ_BOUND_DB = -12.0         # deepest proposed cut
MAX_EQ_VARIABLES = 8
MASKING_WEIGHT = 0.5        # each % over the masking limit costs as much as 10 dB of change
ABS_GATE, REL_GATE = -70.0, -10.0


@dataclass
class Targets:
    """What the mix should meet."""

    lufs: dict[str, float] = field(default_factory=dict)                           # bus -> integrated LUFS
    margins: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict)  # bus -> (LU, against)
    max_masked_percent: float | None = None
    masked_buses: tuple[str, ...] = ()            # the buses the masking limit protects (default: see below)

    def describe(self) -> list[str]:
        out = [f"{b} at {v:g} LUFS integrated" for b, v in self.lufs.items()]
        out += [f"{b} at least {m:g} LU above {' + '.join(a)}" for b, (m, a) in self.margins.items()]
        if self.max_masked_percent is not None:
            out.append(f"{', '.join(self.masked_buses) or 'every mix bus'} masked by the rest at most "
                       f"{self.max_masked_percent:g} % of its time")
        return out


def masked_buses_of(scene: Scene) -> tuple[str, ...]:
    """Whom a masking limit protects: the protected buses (buses.py), else every mix bus but the reverb
    returns (a return sits under its sources by design, and so does a bed one wants under the rest)."""
    tree = buses.from_scene(scene)
    mix = tree.mix_buses
    protected = tuple(b for b in tree.protected if b in mix)
    return protected or tuple(b for b in mix if b not in tree.returns)


def targets_from_scene(scene: Scene, max_masked_percent: float | None = None) -> Targets:
    tree = buses.from_scene(scene)
    t = Targets(max_masked_percent=max_masked_percent,
                masked_buses=masked_buses_of(scene) if max_masked_percent is not None else ())
    for name, bus in scene.buses.items():
        if bus.loudness is not None:
            t.lufs[name] = bus.loudness.target_lufs
        if bus.intelligibility is not None:
            t.margins[name] = (bus.intelligibility.margin_lu, tree.protected[name])
    return t


# ------------------------------------------------------------------ scene edits
def get_path(scene: Scene, path: str):
    obj = scene
    for part in parse_dotted(path):
        obj = obj[part] if isinstance(obj, (dict, list)) else getattr(obj, part)
    return obj


def set_path(scene: Scene, path: str, value) -> None:
    *head, last = parse_dotted(path)
    obj = scene
    for part in head:
        obj = obj[part] if isinstance(obj, (dict, list)) else getattr(obj, part)
    if isinstance(obj, (dict, list)):
        obj[last] = value
    else:
        setattr(obj, last, value)


def static_variant(scene: Scene) -> Scene:
    """The scene without its automatic target stages (loudness, intelligibility)."""
    s = scene.model_copy(deep=True)
    for bus in s.buses.values():
        bus.loudness = None
        bus.intelligibility = None
    return s


def variables(scene: Scene) -> list[str]:
    """Every static setting recommend may move: mix-bus and master faders, fixed duck depths."""
    tree = buses.from_scene(scene)
    out = [f"buses.{b}.volume_db" for b in ["master"] + tree.mix_buses]
    for name, bus in scene.buses.items():
        out += [f"buses.{name}.sidechain[{i}].depth_db" for i, k in enumerate(bus.sidechain or [])
                if k.depth_db is not None]
    out += [f"ducking[{i}].depth_db" for i in range(len(scene.ducking or []))]
    return out


def normalise_vary(scene: Scene, vary: list[str] | None) -> list[str]:
    """`--vary` entries as paths: a bare bus name means its fader."""
    if not vary:
        return variables(scene)
    allowed = set(variables(scene))
    out = []
    for v in vary:
        path = f"buses.{v}.volume_db" if v in scene.buses else v
        if path not in allowed:
            raise ValueError(f"cannot vary {v!r}: recommend moves {', '.join(sorted(allowed))}")
        out.append(path)
    return out


# ------------------------------------------------------------------ the model
@dataclass
class Measured:
    """Per-bus 100 ms K-weighted energies and ERB band powers of one render."""

    energy: dict[str, np.ndarray]
    power: dict[str, np.ndarray]
    centres: np.ndarray


def measure_folder(folder: layout.RenderFolder, with_powers: bool) -> Measured:
    sr = folder.sample_rate
    centres, edges = frames.erb_bands(sr)
    energy, power = {}, {}
    for bus in folder.stems:
        stem = folder.stem(bus)
        energy[bus] = loudness_timeline.measure(stem, sr)["energy"]
        if with_powers:
            power[bus] = frames.band_powers(stem, sr, edges)
    n = min(len(e) for e in energy.values())
    return Measured({b: e[:n] for b, e in energy.items()}, {b: p[:, :n] for b, p in power.items()}, centres)


def integrated(energy: np.ndarray) -> float:
    """BS.1770 integrated loudness of 100 ms step energies: 400 ms blocks (75 % overlap), both gates."""
    if len(energy) < 4:
        return -np.inf
    blocks = np.convolve(energy, np.ones(4) / 4, "valid")
    lufs = balance.loudness(blocks)
    gated = blocks[lufs > ABS_GATE]
    if not len(gated):
        return -np.inf
    rel = balance.loudness(gated.mean()) + REL_GATE
    return float(balance.loudness(gated[balance.loudness(gated) > rel].mean()))


class Model:
    """Energies of every bus as functions of the variables (dB), from one base render and the probes."""

    def __init__(self, scene: Scene, base: Measured, duck_fraction: dict[str, dict[str, np.ndarray]],
                 names: list[str], start: dict[str, float]):
        self.tree = buses.from_scene(scene)
        self.base, self.names, self.start = base, names, start
        self.duck_fraction = duck_fraction          # variable -> bus -> a(t)
        self.gain_of = {n: n.split(".")[1] for n in names if n.endswith(".volume_db")}
        self.master_db = scene.buses["master"].volume_db      # the sum's fader (not in the children's stems)
        self.spread = masking.spreading_matrix(len(base.centres))
        self.excitation = {b: masking.excitation(p, self.spread) for b, p in base.power.items()}

    def factors(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Energy factor per bus and step for the changes x (dB, one per variable)."""
        n = len(next(iter(self.base.energy.values())))
        out = {b: np.zeros(n) for b in self.base.energy}           # dB
        for value, name in zip(x, self.names):
            g = self.gain_of.get(name)
            if g == "master":
                continue                                            # on the sum: master_in
            if g is not None:
                for b in out:
                    if g in self.tree.path(b):                      # the bus and every bus inside it
                        out[b] += value
            else:
                for b, a in self.duck_fraction.get(name, {}).items():
                    out[b] += a * value
        return {b: 10.0 ** (v / 10.0) for b, v in out.items()}

    def energies(self, x) -> dict[str, np.ndarray]:
        f = self.factors(np.asarray(x, float))
        return {b: e * f[b] for b, e in self.base.energy.items()}

    def master_in(self, e: dict[str, np.ndarray], x) -> np.ndarray:
        """What the master receives, times its fader: the sum of its children."""
        total = np.sum([e[b] for b in self.tree.mix_buses], axis=0)
        g = self.master_db + dict(zip(self.names, x)).get("buses.master.volume_db", 0.0)
        return total * 10.0 ** (g / 10.0)


def figures(model: Model, x, targets: Targets) -> dict:
    """Each target's figure under the changes x: LUFS per loudness target, LU per margin."""
    e = model.energies(x)
    out = {}
    for bus in targets.lufs:
        out[f"lufs:{bus}"] = integrated(model.master_in(e, x) if bus == "master" else e[bus])
    for bus, (_, against) in targets.margins.items():
        speaking = balance.loudness(model.base.energy[bus]) >= balance.SPEAKING_LUFS
        rest = np.sum([e[a] for a in against], axis=0)
        own = e[bus]
        out[f"margin:{bus}"] = (float(10 * np.log10(own[speaking].mean() / rest[speaking].mean()))
                                if speaking.any() and rest[speaking].mean() > 0 else np.inf)
    return out


def residuals(model: Model, x, targets: Targets) -> np.ndarray:
    f = figures(model, x, targets)
    r = [f[f"lufs:{b}"] - v for b, v in targets.lufs.items()]
    r += [max(0.0, m - f[f"margin:{b}"]) for b, (m, _) in targets.margins.items()]
    r = [v if np.isfinite(v) else 60.0 for v in r]
    return np.concatenate([r, REGULARISATION * np.asarray(x, float)])


# ------------------------------------------------------------------ masking (not smooth)
def masked_percents(model: Model, x, eq: dict[tuple[str, int], float], targets_buses) -> dict[str, float]:
    """Masked share of each target bus by the rest of the mix (masking.py), with gains and cuts.  The
    spreading is linear, so a bus's excitation under per-step gains is its base excitation times them;
    only a bus with a cut is spread again."""
    f = model.factors(np.asarray(x, float))
    octave = frames.octave_of(model.base.centres)
    mix = [b for b in model.tree.mix_buses if b in model.base.power]
    powers, exc = {}, {}
    for b in mix:
        cuts = np.zeros(len(octave))
        for (bus, o), cut in eq.items():
            if bus == b:
                cuts += np.where(octave == o, cut, 0.0)
        step = f[b][None, :, None]
        powers[b] = model.base.power[b] * step * 10.0 ** (cuts / 10.0)[None, None, :]
        exc[b] = (masking.excitation(powers[b], model.spread) if cuts.any() else model.excitation[b] * step)
    out = {}
    for t in targets_buses:
        rest = np.sum([exc[b] for b in mix if b != t], axis=0)
        r = masking.pair(powers[t], exc[t], rest, octave, len(frames.OCTAVE_EDGES) - 1)
        active = masking.active_steps(model.base.power[t])
        out[t] = float(100.0 * ((r["share"] >= masking.MASKED_SHARE) & active).sum() / max(1, active.sum()))
    return out


def eq_candidates(model: Model, targets_buses: list[str]) -> list[tuple[str, int]]:
    """(masker bus, octave) pairs worth a cut: octaves where a target and another bus both hold a real
    share (1 %) of their energy, the other bus strongest against the target first."""
    octave = frames.octave_of(model.base.centres)
    spectra = {b: model.base.power[b].sum(axis=(0, 1)) for b in model.tree.mix_buses if b in model.base.power}
    share = {b: np.array([s[octave == o].sum() for o in range(len(frames.OCTAVE_EDGES) - 1)]) / max(s.sum(), 1e-30)
             for b, s in spectra.items()}
    scores = {}
    for t in targets_buses:
        for b in spectra:
            for o in np.flatnonzero((share[t] >= 0.01) & (share[b] >= 0.01)):
                if b != t:
                    key = (b, int(o))
                    scores[key] = max(scores.get(key, 0.0), float(share[b][o] / share[t][o]))
    return sorted(scores, key=lambda k: -scores[k])[:MAX_EQ_VARIABLES]


def prune(cost, z: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Put each variable back to where the search started (the least-squares answer; no cut), smallest
    move first, wherever that costs nothing: differential evolution leaves the variables the cost
    does not feel wherever they landed."""
    z = z.copy()
    best = cost(z)
    for i in sorted(range(len(z)), key=lambda i: abs(z[i] - start[i])):
        trial = z.copy()
        trial[i] = start[i]
        c = cost(trial)
        if c <= best + 1e-9:
            z, best = trial, c
    return z


# ------------------------------------------------------------------ solving
@dataclass
class Recommendation:
    scene_path: str | None
    targets: Targets
    changes: list[dict]                   # {path, from, to, change}
    eq_proposals: list[dict]              # {bus, band, cut_db}
    predicted: dict[str, float]
    before: dict[str, float]
    verified: dict[str, float] | None
    masked_before: dict[str, float] | None = None
    masked_after: dict[str, float] | None = None
    method: str = "least squares"
    notes: list[str] = field(default_factory=list)


def build_model(scene: Scene, script, work: Path, vary: list[str], with_powers: bool) -> Model:
    static = static_variant(scene)
    base_folder = layout.render_folder(static, script, work / "base")
    base = measure_folder(base_folder, with_powers)
    start = {n: float(get_path(scene, n)) for n in vary}
    fractions = {}
    for name in vary:
        if name.endswith(".volume_db"):
            continue
        probe = static.model_copy(deep=True)
        set_path(probe, name, max(-144.0, start[name] + PROBE_DB))
        delta = get_path(probe, name) - start[name]
        probed = measure_folder(layout.render_folder(probe, script, work / "probe"), False)
        fractions[name] = {}
        for b, e in base.energy.items():
            ratio = np.divide(probed.energy[b], e, out=np.ones_like(e), where=e > 0)
            a = 10.0 * np.log10(np.maximum(ratio, 1e-12)) / delta
            if np.abs(a).max() > 0.01:
                fractions[name][b] = np.clip(a, 0.0, 1.5)
    return Model(scene, base, fractions, vary, start)


def bounds_of(model: Model) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = [], []
    for n in model.names:
        if n.endswith(".volume_db"):
            lo.append(max(-GAIN_BOUND_DB, -144.0 - model.start[n]))
            hi.append(min(GAIN_BOUND_DB, 24.0 - model.start[n]))
        else:
            lo.append(-144.0 - model.start[n] if model.start[n] > -144 else 0.0)
            hi.append(-model.start[n])
    return np.array(lo), np.array(hi)


def solve(model: Model, targets: Targets) -> tuple[np.ndarray, dict, str]:
    """Least squares; then differential evolution with EQ cuts if a masking limit is set and missed."""
    from scipy.optimize import differential_evolution, least_squares
    lo, hi = bounds_of(model)
    x0 = np.clip(np.zeros(len(model.names)), lo, hi)
    fit = least_squares(lambda x: residuals(model, x, targets), x0, bounds=(lo, hi), method="trf",
                        diff_step=1e-3, xtol=1e-6, ftol=1e-8)
    x, eq, method = fit.x, {}, "least squares (trust-region reflective)"
    if targets.max_masked_percent is None:
        return x, eq, method
    tb = [b for b in (targets.masked_buses or model.tree.mix_buses) if b in model.base.power]
    limit = targets.max_masked_percent
    if max(masked_percents(model, x, {}, tb).values()) <= limit:
        return x, eq, method
    cands = eq_candidates(model, tb)

    def cost(z):
        xs, cuts = z[:len(x)], dict(zip(cands, z[len(x):]))
        r = residuals(model, xs, targets)
        over = sum(max(0.0, v - limit) for v in masked_percents(model, xs, cuts, tb).values())
        return float(np.sum(r ** 2) + (MASKING_WEIGHT * over) ** 2 + REGULARISATION ** 2 * np.sum(z[len(x):] ** 2))
    b = list(zip(lo, hi)) + [(EQ_BOUND_DB, 0.0)] * len(cands)
    z0 = np.concatenate([x, np.zeros(len(cands))])
    de = differential_evolution(cost, b, x0=z0, seed=0, popsize=8, maxiter=40, tol=1e-6, polish=False)
    if de.fun < cost(z0):
        z = prune(cost, de.x, z0)
        x, eq = z[:len(x)], {k: float(v) for k, v in zip(cands, z[len(x):]) if v < -0.25}
    return x, eq, method + " then differential evolution"


def recommend(scene_path: str | Path, script: str | Path, targets: Targets | None = None,
              vary: list[str] | None = None, work: str | Path | None = None, verify: bool = True,
              max_masked_percent: float | None = None) -> Recommendation:
    """Solve for the changes to the scene at scene_path that best meet `targets` (default: the scene's)."""
    scene = load_scene(scene_path)
    targets = targets or targets_from_scene(scene, max_masked_percent)
    if not targets.lufs and not targets.margins and targets.max_masked_percent is None:
        raise ValueError(f"{scene_path}: no targets (declare `loudness` or `intelligibility` on a bus, "
                         f"or give --max-masked-percent)")
    names = normalise_vary(scene, vary)
    with tempfile.TemporaryDirectory(prefix="gamemix-recommend-") as tmp:
        work = Path(work) if work else Path(tmp)
        model = build_model(scene, script, work, names, targets.max_masked_percent is not None)
        zero = np.zeros(len(names))
        before = figures(model, zero, targets)
        x, eq, method = solve(model, targets)
        changes = [{"path": n, "from": round(model.start[n], 2), "to": round(model.start[n] + float(v), 2),
                    "change": round(float(v), 2)} for n, v in zip(names, x) if abs(v) >= 0.05]
        cuts = [{"bus": b, "band": frames.octave_label(o), "cut_db": round(c, 1)} for (b, o), c in eq.items()]
        rec = Recommendation(str(scene_path), targets, changes, cuts, _rounded(figures(model, x, targets)),
                             _rounded(before), None, method=method)
        if targets.max_masked_percent is not None:
            tb = [b for b in (targets.masked_buses or model.tree.mix_buses) if b in model.base.power]
            rec.masked_before = _rounded(masked_percents(model, zero, {}, tb))
            rec.masked_after = _rounded(masked_percents(model, x, eq, tb))
        if verify:
            rec.verified = _verify(scene, script, work, changes, targets)
    return rec


def _rounded(d: dict) -> dict:
    return {k: rounded(v) for k, v in d.items()}


def _verify(scene: Scene, script, work: Path, changes: list[dict], targets: Targets) -> dict:
    """Re-render the static scene with the changes and measure the targets' figures."""
    s = static_variant(scene)
    for c in changes:
        set_path(s, c["path"], c["to"])
    m = measure_folder(layout.render_folder(s, script, work / "verify"), False)
    model = Model(s, m, {}, [], {})
    return _rounded(figures(model, np.zeros(0), targets))


# ------------------------------------------------------------------ the patch
def patch_text(rec: Recommendation) -> str:
    """The recommendation as YAML: comments for people, `changes` for `--apply`."""
    lines = [f"# gamemix recommend: {rec.scene_path}",
             f"# targets: {'; '.join(rec.targets.describe())}",
             f"# solved by {rec.method},",
             "# on a model from the stems of the scene with its loudness and intelligibility stages off",
             "# (docs/analysis.md); 'verified': that scene re-rendered with the changes and measured"]
    for key, before in rec.before.items():
        after = rec.predicted.get(key)
        v = rec.verified.get(key) if rec.verified else None
        lines.append(f"#   {key}: {before} -> {after} predicted" + (f", {v} verified" if v is not None else ""))
    if rec.masked_before is not None:
        for b, p in rec.masked_before.items():
            lines.append(f"#   masked:{b}: {p} % -> {rec.masked_after[b]} % predicted")
    lines.append(f"scene: {json.dumps(rec.scene_path)}")
    if rec.changes:
        lines.append("changes:")
        for c in rec.changes:
            lines.append(f"  - {{path: {c['path']}, from: {c['from']}, to: {c['to']}}}   # {c['change']:+.2f} dB")
    else:
        lines.append("changes: []   # the scene already meets its targets as well as these settings can")
    if rec.eq_proposals:
        lines.append("# the scene format has no static bus EQ: these cuts are proposals, not applied")
        lines.append("eq_proposals:")
        for p in rec.eq_proposals:
            lines.append(f"  - {{bus: {p['bus']}, band: \"{p['band']}\", cut_db: {p['cut_db']}}}")
    return "\n".join(lines) + "\n"


def read_patch(text: str) -> list[dict]:
    import yaml
    doc = yaml.safe_load(text) or {}
    return list(doc.get("changes") or [])


def apply_patch(scene_path: str | Path, changes: list[dict]) -> None:
    """Write the changes into the scene file, keeping its comments and layout (ruamel.yaml round trip),
    then check that the scene still loads."""
    from ruamel.yaml import YAML
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    path = Path(scene_path)
    original = path.read_text()
    doc = yaml.load(original)
    for c in changes:
        *head, last = parse_dotted(c["path"])
        node = doc
        for part in head:
            node = node[part]
        node[last] = c["to"]
    buf = io.StringIO()
    yaml.dump(doc, buf)
    path.write_text(buf.getvalue())
    try:
        load_scene(path)
    except Exception:
        path.write_text(original)
        raise

