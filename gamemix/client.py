"""The client games use: `from gamemix.client import Client`.

The public import path of the live client (implemented in live/client.py,
beside the server it talks to).
"""

from gamemix.live.client import Client, CommandFailed, spawn
from gamemix.live.managed import ServerFailed

__all__ = ["Client", "CommandFailed", "ServerFailed", "spawn"]
