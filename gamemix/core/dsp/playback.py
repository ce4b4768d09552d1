"""HOT PATH.  Reading a clip at a fractional position (the resampler).

Positions are fixed point (32.32 in an int64), so a voice's phase never drifts
and replays bit-identically.  Steps are quantised to 1/65536 of a sample (a
pitch resolution of 0.026 cent), so inside a run the phase is an unsigned
16.16 number: unsigned 32-bit arithmetic lets LLVM drop Numba's negative-index
checks and keeps the loop free of int64-to-float conversions.  A block is read
in runs that end at the clip's end: inside a run the loop has no branch and no
modulo; between runs a looping voice wraps and a one-shot stops.  Each lane is
followed by guard samples (see assets.GUARD), so `idx + 1` never leaves it.

A run is read eight samples at a time by intrinsics that do the phase, index
and interpolation arithmetic in 8-lane vectors.  LLVM's loop vectorizer will
not vectorize the scalar loop on AMD Zen (its cost model prices the loads as
a gather, which is slower there than scalar loads).  Up to pitch 2 the eight
outputs read within 17 consecutive samples, so with AVX2 `_lerp8_window`
loads them as four contiguous vectors and permutes the lanes into place;
above, or without AVX2, `_lerp8` does the 16 loads one by one (an emulated
gather).  Measured on the resampler alone at pitch 1.01: scalar loop 1.13,
emulated gather 0.67, window 0.47 ns per sample.  The arithmetic is the
scalar loop's, operation for operation (no fused multiply-add), so every path
gives the same bits.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from gamemix.core.arrays import FRAC_BITS, FRAC_ONE

_FRAC_MASK = FRAC_ONE - 1
_RUN_BITS = 16                      # fraction bits of the in-run phase
_RUN_SHIFT = FRAC_BITS - _RUN_BITS
_INV_RUN = np.float32(1.0 / (1 << _RUN_BITS))
_MAX_RUN = 2048                     # samples per run: at pitch 16 the uint32 phase stays < 2^31


@njit(cache=True, nogil=True)
def pitch_to_step(ratio):
    """Fixed-point position increment per output sample, quantised to 1/65536."""
    return np.int64(ratio * (1 << _RUN_BITS) + 0.5) << _RUN_SHIFT


_LANES = 8
WINDOW = 2 * _LANES + 1             # samples a window chunk reads from its first index on
_WINDOW_MAX_INC = 2 << _RUN_BITS    # up to pitch 2, eight outputs lie within WINDOW samples


def _has_avx2(context) -> bool:
    """Whether the code being compiled may use AVX2 (Numba's target features, not the host's,
    so a cache built for another CPU never carries it)."""
    features = getattr(context.codegen(), "_tm_features", "") or ""
    return "+avx2" in features.split(",")


def _lerp8_ir(context, builder, signature, args, window):
    """IR for eight interpolated samples (see _lerp8 and _lerp8_window)."""
    pool_arr = context.make_array(signature.args[0])(context, builder, args[0])
    out_arr = context.make_array(signature.args[4])(context, builder, args[4])
    base, phase, inc, at = args[1], args[2], args[3], args[5]
    i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
    vi32, vf32 = ir.VectorType(i32, _LANES), ir.VectorType(f32, _LANES)

    def splat(value, vtype):
        undef = ir.Constant(vtype, ir.Undefined)
        one = builder.insert_element(undef, value, ir.Constant(i32, 0))
        return builder.shuffle_vector(one, undef, ir.Constant(vi32, [0] * _LANES))

    # phases relative to the chunk's first whole sample: first + (p >> 16) is the scalar loop's index
    first = builder.add(base, builder.zext(builder.lshr(phase, ir.Constant(i32, _RUN_BITS)), i64))
    lanes = ir.Constant(vi32, list(range(_LANES)))
    p = builder.add(splat(builder.and_(phase, ir.Constant(i32, 0xFFFF)), vi32),
                    builder.mul(lanes, splat(inc, vi32)))
    rel = builder.lshr(p, splat(ir.Constant(i32, _RUN_BITS), vi32))
    frac = builder.fmul(builder.uitofp(builder.and_(p, splat(ir.Constant(i32, 0xFFFF), vi32)), vf32),
                        splat(ir.Constant(f32, float(_INV_RUN)), vf32))
    data = pool_arr.data
    if window and _has_avx2(context):
        # four contiguous loads and two permutes per operand instead of sixteen loads
        permps = builder.module.globals.get("llvm.x86.avx2.permps") or ir.Function(
            builder.module, ir.FunctionType(vf32, [vf32, vi32]), "llvm.x86.avx2.permps")
        upper = builder.icmp_unsigned(">=", rel, splat(ir.Constant(i32, _LANES), vi32))

        def load8(offset):
            ptr = builder.gep(data, [builder.add(first, ir.Constant(i64, offset))], inbounds=True)
            return builder.load(builder.bitcast(ptr, vf32.as_pointer()), align=4)

        def pick(offset):   # pool[first + offset + rel[k]] for each lane k (rel < 16: permps uses rel % 8)
            low, high = load8(offset), load8(offset + _LANES)
            return builder.select(upper, builder.call(permps, [high, rel]), builder.call(permps, [low, rel]))
        a, b = pick(0), pick(1)
    else:
        # an emulated gather: the index arithmetic in vectors, the loads one by one
        a = b = ir.Constant(vf32, ir.Undefined)
        for k in range(_LANES):
            lane = ir.Constant(i32, k)
            idx = builder.add(first, builder.zext(builder.extract_element(rel, lane), i64))
            nxt = builder.add(idx, ir.Constant(i64, 1))
            a = builder.insert_element(a, builder.load(builder.gep(data, [idx], inbounds=True), align=4), lane)
            b = builder.insert_element(b, builder.load(builder.gep(data, [nxt], inbounds=True), align=4), lane)
    result = builder.fadd(a, builder.fmul(builder.fsub(b, a), frac))
    dst = builder.gep(out_arr.data, [at], inbounds=True)
    builder.store(result, builder.bitcast(dst, vf32.as_pointer()), align=4)
    return context.get_dummy_value()


@intrinsic
def _lerp8(typingctx, pool, base, phase, inc, out, at):
    """out[at:at+8] = pool linearly interpolated at the 16.16 phases phase + k*inc from `base`.

    Arguments: pool and out float32 arrays, base and at uint64, phase and inc
    uint32 (phase < 2^31).  Equal, sample for sample, to the scalar loop in
    interpolate_run.  Any pitch.
    """
    return types.void(pool, base, phase, inc, out, at), lambda c, b, s, a: _lerp8_ir(c, b, s, a, False)


@intrinsic
def _lerp8_window(typingctx, pool, base, phase, inc, out, at):
    """_lerp8 for inc <= _WINDOW_MAX_INC (pitch <= 2): the eight outputs then read within
    WINDOW samples of the first, so with AVX2 they come from four contiguous loads and
    permutes.  Reads up to WINDOW samples from the first index (see assets.TAIL)."""
    return types.void(pool, base, phase, inc, out, at), lambda c, b, s, a: _lerp8_ir(c, b, s, a, True)


@njit(cache=True, nogil=True)
def interpolate_run(pool, off, pos, step, out, start, count):
    """Linear interpolation of `count` samples from `pos`, written at out[start:]."""
    base = np.uint64(off + (pos >> FRAC_BITS))
    phase = np.uint32((pos & _FRAC_MASK) >> _RUN_SHIFT)
    inc = np.uint32(step >> _RUN_SHIFT)
    first = np.uint64(start)
    whole = count - count % _LANES
    inc8 = np.uint32(inc * np.uint32(_LANES))
    p8 = phase
    if inc <= _WINDOW_MAX_INC:
        for i in range(0, whole, _LANES):
            _lerp8_window(pool, base, p8, inc, out, first + np.uint64(i))
            p8 = np.uint32(p8 + inc8)
    else:
        for i in range(0, whole, _LANES):
            _lerp8(pool, base, p8, inc, out, first + np.uint64(i))
            p8 = np.uint32(p8 + inc8)
    for i in range(whole, count):
        p = np.uint32(phase + np.uint32(i) * inc)
        idx = base + np.uint64(p >> np.uint32(_RUN_BITS))
        frac = np.float32(p & np.uint32(0xFFFF)) * _INV_RUN
        a = pool[idx]
        out[first + np.uint64(i)] = a + (pool[idx + np.uint64(1)] - a) * frac


@njit(cache=True, nogil=True)
def read_lane(pool, off, length, loop, pos, step, out, n):
    """Fill out[:n] from a lane starting at fixed-point `pos`, advancing by `step`.

    Returns (new position, ended).  `ended` is True once a one-shot has played
    its last sample; the rest of `out` is then silence.
    """
    end = np.int64(length) << FRAC_BITS
    j = 0
    while j < n:
        if pos >= end:
            if loop == 0:
                for i in range(j, n):
                    out[i] = 0.0
                return pos, True
            pos = pos % end
        count = min(n - j, _MAX_RUN)
        if pos + count * step > end:  # the run reaches the clip's end: stop just past it
            count = (end - pos + step - 1) // step
        interpolate_run(pool, off, pos, step, out, j, count)
        pos += count * step
        j += count
    return pos, (loop == 0 and pos >= end)


@njit(cache=True, nogil=True)
def advance(length, loop, pos, step, n):
    """Move a position by n samples without reading (virtual voices). Returns (pos, ended)."""
    end = np.int64(length) << FRAC_BITS
    pos += n * step
    if pos >= end:
        if loop == 0:
            return pos, True
        pos = pos % end
    return pos, False


@njit(cache=True, nogil=True)
def wraps(length, pos, step, n):
    """How many times a looping read from fixed-point `pos` passes the clip's end in n samples."""
    return (pos + n * step) // (np.int64(length) << FRAC_BITS)


@njit(cache=True, nogil=True)
def one_pole_lowpass(buf, n, a0, a1, y):
    """y[i] = y[i-1] + a (x[i] - y[i-1]) in place over buf[:n], the coefficient a ramped linearly from
    a0 to a1 across the block (no zipper steps); returns the last y (the state).  With
    a = 1 - exp(-2 pi fc / fs) this is the impulse-invariant one-pole low-pass, |H| = a / |1 - (1 - a)
    e^(-jw)| (J. O. Smith, Introduction to Digital Filters, "One-pole")."""
    step = (a1 - a0) / n
    a = a0
    for i in range(n):
        a += step
        y += a * (buf[i] - y)
        buf[i] = y
    return y


def lowpass_coefficient(fc: float, sample_rate: float) -> float:
    """The one-pole coefficient for cutoff fc (1 = open, at or above the Nyquist frequency)."""
    import math
    if fc >= 0.5 * sample_rate:
        return 1.0
    return 1.0 - math.exp(-2.0 * math.pi * max(fc, 1.0) / sample_rate)


@njit(cache=True, nogil=True)
def delay_start(out, d, n):
    """Move out[:n - d] to out[d:n] and make out[:d] silence (a start d samples into the block)."""
    for i in range(n - 1, d - 1, -1):
        out[i] = out[i - d]
    for i in range(d):
        out[i] = 0.0
