"""Supervision: no input ends a thread of the live server, and a stalled thread is reported.

Every stage of the server's threads runs under a guard: applying one
command, a block's control work, the kernel, the telemetry, one turn of the
network loop, a scene reload.  An exception there is caught and recorded in
`Faults`; what failed is answered (a command gets `internal_error`), skipped
(a block whose control work failed still renders, with the targets written
before; a failed kernel writes silence) or retried on the next turn, and the
thread goes on.  A thread that only repeats one piece of work (the stream
feeder, the microphone's analysis) is a `Worker`, which holds that guard.

`Faults.record` may be called on the audio thread, so it only counts and
keeps a bounded list (no logging, no I/O there).  The `Watchdog` thread logs
what was recorded, and checks each thread's heartbeat: a thread that has not
come round for longer than its limit is reported as stalled (once per stall,
in the log, in a published `fault` frame and in the counts).

Edge.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback

from gamemix.io.base import raise_priority

log = logging.getLogger(__name__)

KEEP = 32                       # recent faults kept with their traceback
LOG_EVERY_S = 5.0               # the same stage's faults are logged at most this often
FAULT_PAUSE_S = 0.05            # a Worker's pause after a fault, before its next turn


class Faults:
    """Faults caught on the server's threads: counted per stage, the last KEEP kept."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.recent: collections.deque = collections.deque(maxlen=KEEP)
        self._unlogged: collections.deque = collections.deque(maxlen=256)

    def record(self, stage: str, exc: BaseException | None = None, message: str | None = None) -> None:
        """Count a fault of `stage` (an exception caught there, or a message such as a stall)."""
        self.counts[stage] = self.counts.get(stage, 0) + 1
        text = message if exc is None else f"{type(exc).__name__}: {exc}"
        where = "" if exc is None else "".join(traceback.format_exception(exc)[-3:])
        entry = {"t": round(time.time(), 3), "stage": stage, "message": text[:500], "where": where[:2000]}
        self.recent.append(entry)
        self._unlogged.append(entry)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> dict:
        """For telemetry and `query`: the total, the count per stage, the last fault's message."""
        last = self.recent[-1] if self.recent else None
        return {"total": self.total, "by_stage": dict(self.counts),
                "last": None if last is None else f"{last['stage']}: {last['message']}"}

    def take_unlogged(self) -> list[dict]:
        """The faults recorded since the last call (for the watchdog to log)."""
        out = []
        while self._unlogged:
            out.append(self._unlogged.popleft())
        return out


class Heartbeat:
    """When a thread last came round its loop (monotonic seconds), and how long it may take."""

    def __init__(self, name: str, limit_s: float):
        self.name, self.limit_s = name, limit_s
        self.beat = time.monotonic()
        self.stalled = False

    def __call__(self) -> None:
        self.beat = time.monotonic()


class ServerThread:
    """A daemon thread of the server running `self._run` until `stop()`: start, stop (waits up to
    2 s for it, if it was started) and alive."""

    def __init__(self, name: str):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:          # started
            self._thread.join(timeout=2.0)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        raise NotImplementedError


class Worker(ServerThread):
    """A guarded daemon thread (the stream feeder, the microphone's analysis): it calls `turn()`,
    which returns whether it found work, until stopped, beating `heartbeat` each time round; a fault
    is recorded under `stage` and the thread goes on after FAULT_PAUSE_S; with nothing to do it
    waits `idle_s`.  With `realtime` it asks for nice -10 (never SCHED_FIFO) where the OS allows:
    it takes the interpreter lock the real-time render thread waits for (io/base.py)."""

    def __init__(self, name: str, stage: str, turn, faults: Faults, heartbeat: Heartbeat, idle_s: float,
                 realtime: bool = False):
        self.stage, self.turn, self.faults, self.heartbeat = stage, turn, faults, heartbeat
        self.idle_s, self.realtime = idle_s, realtime
        super().__init__(name)

    def _run(self) -> None:
        raise_priority(self.realtime, fifo=False)
        while not self._stop.is_set():
            self.heartbeat()
            try:
                busy = self.turn()
            except Exception as exc:          # no input ends this thread
                self.faults.record(self.stage, exc)
                time.sleep(FAULT_PAUSE_S)
                continue
            if not busy:
                self._stop.wait(self.idle_s)


class Watchdog(ServerThread):
    """A thread that logs recorded faults and reports stalled threads; see the module docstring."""

    def __init__(self, faults: Faults, heartbeats: list[Heartbeat], publish, period_s: float = 0.1):
        self.faults, self.heartbeats, self.publish, self.period_s = faults, heartbeats, publish, period_s
        super().__init__("gamemix-watchdog")
        self._logged_at: dict[str, float] = {}
        self.stalls = 0

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.check()
            except Exception as exc:        # the watchdog must outlive anything it watches
                log.error("watchdog: %s: %s", type(exc).__name__, exc)

    def check(self) -> None:
        """One round: log new faults (each stage at most every LOG_EVERY_S), report stalls."""
        now = time.monotonic()
        for entry in self.faults.take_unlogged():
            stage = entry["stage"]
            if now - self._logged_at.get(stage, -LOG_EVERY_S) >= LOG_EVERY_S:
                self._logged_at[stage] = now
                log.error("fault in %s (%d so far): %s\n%s", stage, self.faults.counts.get(stage, 0),
                          entry["message"], entry["where"].rstrip())
        for hb in self.heartbeats:
            late = now - hb.beat
            if late > hb.limit_s and not hb.stalled:
                hb.stalled = True
                self.stalls += 1
                message = f"the {hb.name} thread has not come round for {late * 1e3:.0f} ms"
                self.faults.record(f"{hb.name} stall", message=message)
                self.publish({"type": "fault", "stage": f"{hb.name} stall", "message": message})
            elif late <= hb.limit_s and hb.stalled:
                hb.stalled = False
                log.warning("the %s thread is going again", hb.name)
