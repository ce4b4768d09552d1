"""Where the live server may listen: loopback by default, CURVE (encryption and client keys) beyond.

Edge.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import zmq


def is_loopback(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// endpoints on a loopback address."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False       # '*', an interface name or a hostname: not loopback


def check_endpoints(endpoints, secret: Path | None, clients: Path | None) -> None:
    """ValueError if an endpoint is beyond loopback without CURVE keys."""
    if not all(is_loopback(e) for e in endpoints) and (secret is None or clients is None):
        raise ValueError("binding beyond loopback needs CURVE keys: give --curve-secret and --curve-clients "
                         "(make them with `gamemix keys DIR`)")


def enable_curve(ctx: zmq.Context, sockets, secret: Path, clients: Path):
    """Make `sockets` CURVE servers with the key in `secret`, accepting the client keys in the folder
    `clients` (a ZAP authenticator thread checks them); returns the authenticator (stop it last)."""
    import zmq.auth
    from zmq.auth.thread import ThreadAuthenticator
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(clients))
    public, secret_key = zmq.auth.load_certificate(str(secret))
    for sock in sockets:
        sock.curve_secretkey = secret_key
        sock.curve_publickey = public
        sock.curve_server = True
    return auth


def make_keys(folder: Path) -> list[tuple[str, str, str]]:
    """A server and a client key pair in `folder`: (name, public file, secret file) each."""
    import zmq.auth
    folder.mkdir(parents=True, exist_ok=True)
    return [(name, *zmq.auth.create_certificates(str(folder), name)) for name in ("server", "client")]
