"""HOT PATH.  Numba kernels run once per audio block.

Nothing in this package allocates, locks, logs or touches a Python object
while a block renders.  Every function is `@njit(cache=True, nogil=True)` and
takes only arrays, scalars and NamedTuples of arrays (a stage's state, core/chain.py);
state lives in arrays owned by core/arrays.EngineArrays.
"""
