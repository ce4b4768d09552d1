"""HOT PATH.  The buses' processing chain: stages in a fixed order behind one interface.

Every bus runs the same chain once per block, in this order (the numbers are
each stage's `order`; a new stage picks a number between two of them):

    MIC 5           the microphone's block into the mic bus (AR)     (dsp/mic.py)
    REVERB 10       an effect return's reverb replaces its input     (dsp/reverb.py)
    FILTERS 20      low-pass then high-pass                           (dsp/filters.py)
    UNMASK 30       cut where the bus masks a priority bus            (dsp/unmasking.py)
    SIDECHAIN 40    duck by other buses' signals                      (dsp/sidechain.py)
    COMPRESSOR 50   compressor                                        (dsp/compressor.py)
    LOUDNESS 60     meter, then the loudness-management gain          (dsp/leveler.py)
    ADAPTIVE 65     ambient boost and speech duck (AR)                (dsp/adaptive.py)
    FADER 70        the bus fader, ramped                             (dsp/mixing.py)
    PROTECT 75      intelligibility targets: measure, cut the others  (dsp/intelligibility.py)
    LIMITER 80      true-peak limiter                                 (dsp/limiter.py)
    LEVELS 90       peak and energy of the block                      (dsp/mixing.py)
    METER 100       BS.1770 meter                                     (dsp/bs1770.py)
    ANALYSIS 110    band analysis of an unmasking target              (dsp/unmasking.py)
    SENDS 120       post-fader sends into other buses                 (dsp/mixing.py)

A stage is a NamedTuple of arrays (its parameters and state, allocated once
when a scene loads) whose class is registered here with its block kernel:

    class CompressorStage(NamedTuple):
        slot: np.ndarray        # slot[b] >= 0: bus b has a compressor
        params: np.ndarray

    @njit(cache=True, nogil=True)
    def compressor_stage(st, b, bus_buf, n, channels, ramp, sample_rate): ...

    chain.register(CompressorStage, compressor_stage, chain.COMPRESSOR)

Every state's first field is `slot`: slot[b] >= 0 when bus b has the stage
(which of the stage's slots it is, where that matters), so a stage is not
even called for a bus without it.  Every kernel takes (its state, bus index
b, bus_buf (buses, channels, frames), frames n, channels, ramp (i / n),
sample rate) and works on bus b in place.  The engine gets the chain as one
tuple of stage states in order (`build`), and `mix_buses` walks it for each
bus with code written out for the tuple's types (`walk`, an overload: one
`if stage_i.slot[b] >= 0: kernel_i(stage_i, b, ...)` per stage, each
kernel resolved at compile time from the state's class), so there is no
dispatch at run time and a new stage needs no edit here or in the engine.
The walk takes each stage's state out of the tuple once a block (Numba
increfs every array of a state each time it is taken out), calls a stage
only for the buses that have it, and is inlined (Numba IR) with `mix_buses`
into the block: every function the chain's
tuple (122 arrays on the showcase) is passed to copies it into its frame,
~1.3 us a call, and `literal_unroll`'s loop, which the walk used to be, did
that per bus: ~20 us a block on a nine-bus scene with no stage running;
written out, ~1.5 us.

A stage that only reads its buses, at a place in the chain after which
nothing changes a bus any more (the meter: only the analysis and the sends,
which read, come after it), may instead do its work once per block after
every bus's chain, for all its buses together (`after`: the meter runs eight
buses in the lanes of a vector, core/lanes.py); its kernel is then None:

    chain.register(MeterStage, None, chain.METER, after=meter_all)

    @njit(cache=True, nogil=True)
    def meter_all(st, bus_buf, n, channels, sample_rate): ...   # every bus with st.slot[b] >= 0
"""

from __future__ import annotations

from typing import Callable

from numba import njit
from numba.extending import overload

MIC, REVERB, FILTERS, UNMASK, SIDECHAIN, COMPRESSOR, LOUDNESS, ADAPTIVE = 5, 10, 20, 30, 40, 50, 60, 65
FADER, PROTECT, LIMITER, LEVELS, METER, ANALYSIS, SENDS = 70, 75, 80, 90, 100, 110, 120

_KERNELS: dict[type, Callable | None] = {}
_AFTER: dict[type, Callable | None] = {}
_ORDER: dict[type, int] = {}


def register(state_class: type, kernel: Callable | None, order: int, after: Callable | None = None) -> None:
    """Declare a stage: its state's class, its block kernel (per bus; None for none), its place in
    the chain and `after`, its kernel for all its buses once every chain of the block is done."""
    if any(o == order and c is not state_class for c, o in _ORDER.items()):
        raise ValueError(f"chain order {order} is taken")
    _KERNELS[state_class] = kernel
    _AFTER[state_class] = after
    _ORDER[state_class] = order


def build(states) -> tuple:
    """The chain the engine runs: one state per registered stage, sorted by order."""
    by_class = {type(s): s for s in states}
    missing = [c.__name__ for c in _ORDER if c not in by_class]
    unknown = [c.__name__ for c in by_class if c not in _ORDER]
    if missing or unknown:
        raise ValueError(f"chain needs every registered stage once (missing {missing}, unregistered {unknown})")
    return tuple(by_class[c] for c in sorted(_ORDER, key=_ORDER.get))


def run_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    """Run stage `st` on bus b (resolved at compile time from the state's class)."""


@overload(run_stage)
def _run_stage(st, b, bus_buf, n, channels, ramp, sample_rate):
    kernel = _KERNELS[st.instance_class]
    if kernel is None:
        return lambda st, b, bus_buf, n, channels, ramp, sample_rate: None

    def impl(st, b, bus_buf, n, channels, ramp, sample_rate):
        kernel(st, b, bus_buf, n, channels, ramp, sample_rate)
    return impl


def run_after(st, bus_buf, n, channels, sample_rate):
    """Run stage `st`'s `after` kernel, if it has one (resolved at compile time)."""


@overload(run_after)
def _run_after(st, bus_buf, n, channels, sample_rate):
    after = _AFTER[st.instance_class]
    if after is None:
        return lambda st, bus_buf, n, channels, sample_rate: None

    def impl(st, bus_buf, n, channels, sample_rate):
        after(st, bus_buf, n, channels, sample_rate)
    return impl


@njit(cache=True, nogil=True, inline="always")
def mix_buses(bus_order, bus_parent, chain, bus_buf, ramp, n, channels, sample_rate):
    """For each bus in order (children, keys and senders first): its chain, in place, then the bus
    added into its parent (dst[i] += src[i], as dsp/mixing.py's add_into); then the stages that work
    on all their buses at once.  (The walk once went 64 buses at a time through a function of its own:
    literal_unroll's loop took ~3 KB of stack more at every bus, and 4,096 buses overflowed 8 MB.
    The written-out walk takes none per bus; tests/test_reliability.py renders 4,096 buses.)"""
    walk(chain, bus_order, bus_parent, bus_buf, ramp, n, channels, sample_rate)
    run_afters(chain, bus_buf, n, channels, sample_rate)


def walk(chain, bus_order, bus_parent, bus_buf, ramp, n, channels, sample_rate):
    """mix_buses's walk over the buses in bus_order (written out per chain type by the overload)."""


def run_afters(chain, bus_buf, n, channels, sample_rate):
    """Every stage's `after` kernel, in chain order (written out per chain type by the overload)."""


def _written_out(name: str, params: str, body: list[str], names: dict) -> Callable:
    """Compile-time code generation for an overload: `def name(params): body`, with `names` in
    scope.  The lines come from the registry (stage positions), never from data."""
    scope = dict(names)
    exec("\n".join([f"def {name}({params}):", *body]), scope)
    return scope[name]


@overload(walk, inline="always")
def _walk(chain, bus_order, bus_parent, bus_buf, ramp, n, channels, sample_rate):
    staged = [i for i, t in enumerate(chain.types) if _KERNELS[t.instance_class] is not None]
    body = [f"    stage{i} = chain[{i}]" for i in staged]      # taken out of the tuple once a block
    body += ["    for k in range(bus_order.shape[0]):",
             "        b = bus_order[k]"]
    for i in staged:
        body += [f"        if stage{i}.slot[b] >= 0:",
                 f"            run_stage(stage{i}, b, bus_buf, n, channels, ramp, sample_rate)"]
    body += ["        parent = bus_parent[b]",
             "        if parent >= 0:",
             "            for c in range(channels):",
             "                for i in range(n):",
             "                    bus_buf[parent, c, i] += bus_buf[b, c, i]"]
    return _written_out("walk_impl", "chain, bus_order, bus_parent, bus_buf, ramp, n, channels, sample_rate", body,
                        {"run_stage": run_stage})


@overload(run_afters, inline="always")
def _run_afters(chain, bus_buf, n, channels, sample_rate):
    body = [f"    run_after(chain[{i}], bus_buf, n, channels, sample_rate)"
            for i, t in enumerate(chain.types) if _AFTER[t.instance_class] is not None]
    return _written_out("afters_impl", "chain, bus_buf, n, channels, sample_rate", body + ["    return"],
                        {"run_after": run_after})
