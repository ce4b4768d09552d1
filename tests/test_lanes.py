"""core/lanes.py: eight float64 lanes give, lane by lane, the bits the scalar code gives."""

import numpy as np
from numba import njit

from gamemix.core.lanes import WIDTH, gather, lane, load, splat, store


def bits(x):
    return np.asarray(x, dtype=np.float64).view(np.int64)


@njit
def in_lanes(a, b, c, out):
    """out = (a * b + c) - 0.75 * a + 2 (a recursive-filter-like mix of every operator form)."""
    for i in range(0, a.shape[0], WIDTH):
        x, y, z = load(a, i), load(b, i), load(c, i)
        store(out, i, (x * y + z) - 0.75 * x + 2)


@njit
def in_scalars(a, b, c, out):
    for i in range(a.shape[0]):
        out[i] = (a[i] * b[i] + c[i]) - 0.75 * a[i] + 2


def test_arithmetic_is_the_scalar_arithmetic_bit_for_bit():
    rng = np.random.default_rng(1)
    n = 8 * 4096
    a, b, c = (rng.standard_normal(n) * 10.0 ** rng.uniform(-310, 300, n) for _ in range(3))
    a[:64] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 5e-324, -5e-324, 1e308] * 8      # specials in every lane
    lanes, scalars = np.zeros(n), np.zeros(n)
    in_lanes(a, b, c, lanes)
    in_scalars(a, b, c, scalars)
    assert np.array_equal(bits(lanes), bits(scalars))


@njit
def moved(x, start, stride):
    out = np.zeros(2 * WIDTH)
    store(out, 0, gather(x, start, stride))
    v = splat(3) * load(x, 0)
    for j in range(WIDTH):
        out[WIDTH + j] = lane(v, j)
    return out


def test_gather_splat_lane():
    x = np.arange(100.0)
    out = moved(x, 5, 11)
    assert np.array_equal(out[:WIDTH], x[5:5 + 11 * WIDTH:11])
    assert np.array_equal(out[WIDTH:], 3.0 * x[:WIDTH])
