"""Sessions: which client owns which instance, so its notifications go back to it.

A client that says `hello` is granted a range of instance ids of its own,
[k * 2^40, (k + 1) * 2^40) for its session number k >= 1: it names its plays
itself and sends them without waiting for a reply (the id is known at once),
on either socket.  An instance is owned by the session whose range holds its
id, or, for an id the game chose below 2^40, by the session client that
played it on the command socket.  What happens to an owned instance
(control/instances.py: started, virtual, real, stolen, paused, resumed,
refused, ended) is sent to its owner on the command socket as a `notify`
frame, in the order it happened; an instance's notifications end with
`ended`.  Clients without a session get none (nothing is kept for them).

At most MAX_SESSIONS sessions are kept: a new one past that replaces the
oldest (which then gets no more notifications).  The owner table holds only
instances that are alive.

Edge: runs on the render thread, between blocks.
"""

from __future__ import annotations

import collections

NAMESPACE_BITS = 40
MAX_SESSIONS = 4096


class Sessions:
    """Session ranges, instance owners, and the routing of notices; see the module docstring."""

    def __init__(self):
        self.by_identity: dict[bytes, int] = {}
        self.identity_of: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self.owner: dict[int, bytes] = {}
        self._next = 1

    def hello(self, identity: bytes) -> int:
        """The session of a client (a new one the first time); returns its number."""
        k = self.by_identity.get(identity)
        if k is not None:
            return k
        if len(self.identity_of) >= MAX_SESSIONS:
            _, gone = self.identity_of.popitem(last=False)
            del self.by_identity[gone]
        k = self._next
        self._next = self._next + 1 if self._next + 1 < (1 << (62 - NAMESPACE_BITS)) else 1
        self.by_identity[identity] = k
        self.identity_of[k] = identity
        return k

    @staticmethod
    def ids(k: int) -> tuple[int, int]:
        """The range of instance ids of session k: [first, end)."""
        return k << NAMESPACE_BITS, (k + 1) << NAMESPACE_BITS

    def claim(self, instance: int, identity: bytes | None) -> bytes | None:
        """The owner of a new instance (from its id's range, else the session client that played it,
        over the command socket), remembered; None if nobody owns it."""
        owner = self.identity_of.get(instance >> NAMESPACE_BITS) if instance >> NAMESPACE_BITS else None
        if owner is None and identity is not None and identity in self.by_identity:
            owner = identity
        if owner is not None:
            self.owner[instance] = owner
        return owner

    def route(self, notices) -> list[tuple[bytes, dict]]:
        """(owner, notice) for each notice of an owned instance; an `ended` one is the last."""
        out = []
        while notices:
            notice = notices.popleft()
            owner = self.owner.get(notice["id"])
            if owner is None:
                continue
            if notice["event"] == "ended":
                del self.owner[notice["id"]]
            if owner in self.by_identity:
                out.append((owner, notice))
        return out
