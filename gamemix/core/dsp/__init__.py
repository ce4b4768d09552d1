"""HOT PATH.  Numba kernels run once per audio block.

Nothing in this package allocates, locks, logs or touches a Python object
while a block renders.  Every function is `@njit(cache=True, nogil=True)` and
takes only arrays and scalars; state lives in arrays owned by params.Params.
"""
