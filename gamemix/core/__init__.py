"""HOT PATH only: the engine's arrays and the Numba kernels that render a block.

arrays.py (the layout both sides share), engine.py (one call per block),
voice_loop.py, chain.py (the buses' stages), panning/ (one panner per
layout), dsp/ (the kernels).  Nothing here knows scenes, names or messages:
it sees integers and floats in arrays (import rules in pyproject.toml).
"""

from gamemix.core import kernel_cache

kernel_cache.configure()      # compiled kernels cached per version of their sources (kernel_cache.py)
