"""HOT PATH.  Eight float64 lanes in one LLVM vector: one arithmetic on eight independent signals.

A recursive filter runs sample after sample, each step waiting for the
last, so one filter keeps most of the CPU idle; eight filters of the same
form (the bands of a filter bank, the channels of several buses) can run in
the lanes of one vector instead, for about the time of one.  In jitted
code:

    from gamemix.core.lanes import load, store

    a = load(coef, 0)            # coef[0:8] (a C-contiguous float64 array) into eight lanes
    s = load(state, 0)
    for i in range(n):
        s = a * s + x[i]         # Lanes op Lanes, or a number on either side: lane by lane
    store(state, 0, s)           # state[0:8] = the lanes

`Lanes` values live only inside jitted functions (in registers): `load`,
`store`, `gather` (eight elements a stride apart), `splat` (a number in every
lane), `lane` (one lane out) and +, -, * between them.  Each lane's result is the IEEE operation on that lane's
operands, exactly what the scalar code computes: LLVM gets plain vector
fadd/fsub/fmul, never fused into a multiply-add or reordered (Numba compiles
without fast-math), so a filter run in a lane gives the bits it gives
alone.  With AVX-512 the eight lanes are one instruction, with AVX2 two;
LLVM splits them further on anything else.  `load` and `store` do not check
bounds: the caller keeps i + 8 within the array.
"""

from __future__ import annotations

import operator

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, overload, register_model

WIDTH = 8
_VECTOR = ir.VectorType(ir.DoubleType(), WIDTH)
_NUMBER = (types.Float, types.Integer)


class LanesType(types.Type):
    """Numba's type of eight float64 lanes (an LLVM <8 x double>)."""

    def __init__(self):
        super().__init__(name="Lanes")


Lanes = LanesType()


@register_model(LanesType)
class _LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


def _is_vector(arr) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.float64 and arr.ndim == 1 and arr.layout == "C"


def _address(context, builder, arrtype, arr, index, indextype):
    """Pointer to arr[index], as a pointer to eight doubles."""
    data = context.make_array(arrtype)(context, builder, arr).data
    at = context.cast(builder, index, indextype, types.intp)
    return builder.bitcast(builder.gep(data, [at], inbounds=True), _VECTOR.as_pointer())


@intrinsic
def load(typingctx, arr, i):
    """arr[i:i + 8] in eight lanes (arr: a C-contiguous float64 vector)."""
    if not (_is_vector(arr) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return builder.load(_address(context, builder, signature.args[0], args[0], args[1], signature.args[1]),
                            align=8)
    return Lanes(arr, i), codegen


@intrinsic
def store(typingctx, arr, i, value):
    """arr[i:i + 8] = the eight lanes of value."""
    if not (_is_vector(arr) and isinstance(i, types.Integer) and value is Lanes):
        return None

    def codegen(context, builder, signature, args):
        builder.store(args[2], _address(context, builder, signature.args[0], args[0], args[1], signature.args[1]),
                      align=8)
        return context.get_dummy_value()
    return types.void(arr, i, value), codegen


@intrinsic
def gather(typingctx, arr, start, stride):
    """Lane j = arr[start + j * stride] (arr: a C-contiguous float64 vector): eight loads, the
    addresses computed in a vector."""
    if not (_is_vector(arr) and isinstance(start, types.Integer) and isinstance(stride, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        first = context.cast(builder, args[1], signature.args[1], types.intp)
        step = context.cast(builder, args[2], signature.args[2], types.intp)
        value = ir.Constant(_VECTOR, ir.Undefined)
        for j in range(WIDTH):
            at = builder.add(first, builder.mul(step, ir.Constant(step.type, j)))
            element = builder.load(builder.gep(data, [at], inbounds=True), align=8)
            value = builder.insert_element(value, element, ir.Constant(ir.IntType(32), j))
        return value
    return Lanes(arr, start, stride), codegen


@intrinsic
def splat(typingctx, x):
    """The number x (as a float64) in every lane."""
    if not isinstance(x, _NUMBER):
        return None

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[0], signature.args[0], types.float64)
        undef = ir.Constant(_VECTOR, ir.Undefined)
        one = builder.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(ir.IntType(32), WIDTH), [0] * WIDTH))
    return Lanes(x), codegen


@intrinsic
def lane(typingctx, value, k):
    """Lane k of value, a float64."""
    if not (value is Lanes and isinstance(k, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return builder.extract_element(args[0], context.cast(builder, args[1], signature.args[1], types.int32))
    return types.float64(value, k), codegen


def _lanewise(instruction: str):
    """The intrinsic of one LLVM vector instruction on two Lanes."""
    @intrinsic
    def op(typingctx, a, b):
        if a is Lanes and b is Lanes:
            def codegen(context, builder, signature, args):
                return getattr(builder, instruction)(args[0], args[1])
            return Lanes(a, b), codegen
        return None
    return op


def _operator(python_op, vector_op) -> None:
    """Lanes op Lanes, Lanes op number and number op Lanes (the number in every lane)."""
    @overload(python_op)
    def impl(a, b):
        if a is Lanes and b is Lanes:
            return lambda a, b: vector_op(a, b)
        if a is Lanes and isinstance(b, _NUMBER):
            return lambda a, b: vector_op(a, splat(b))
        if isinstance(a, _NUMBER) and b is Lanes:
            return lambda a, b: vector_op(splat(a), b)
        return None


_operator(operator.add, _lanewise("fadd"))
_operator(operator.sub, _lanewise("fsub"))
_operator(operator.mul, _lanewise("fmul"))
