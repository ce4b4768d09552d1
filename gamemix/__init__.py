"""gamemix: open game-audio mixing middleware.

Data flows one way: game message -> protocol (decode, validate) -> control state
(mixer, voices, buses) -> parameter arrays (params) -> Numba kernels (engine, dsp/)
-> device or file.  See docs/architecture.md.
"""

__version__ = "0.1.0"
