"""gamemix: open game-audio mixing middleware.

Data flows one way: game message -> protocol/ (decode, validate) -> control/
(instances, voices, buses, snapshots, rules) -> the engine's arrays
(core/arrays.py) -> core/ (Numba kernels: voice loop, panners, bus chains)
-> io/ (device or file).  live/ serves it over ZeroMQ, offline/ renders
scripts; scene/ is the designer's YAML, processors/ the registry of bus
processors.  See docs/architecture.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gamemix")      # the one home of the version: pyproject.toml
except PackageNotFoundError:              # a source tree that was never installed
    __version__ = "0+unknown"
