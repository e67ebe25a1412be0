"""Helpers shared by the gist tests (imported by name: a plain
`from conftest import` would pick whichever conftest.py pytest loaded
first)."""
import threading
import time


def timing_args(lease, renew, retry):
    return ["--lease-duration", lease, "--renew-deadline", renew,
            "--retry-period", retry]


# Short timings for tests (GitHub's budget needs allow-fast-renew=true).
FAST = timing_args("4s", "3s", "1s")


class LeaderChecker:
    """Polls the daemons' status API in a thread and records who leads;
    flags any sweep in which two daemons say they lead, and any term that
    goes down."""

    def __init__(self, daemons, interval=0.05):
        self.daemons = daemons
        self.interval = interval
        self.violations = []
        self.samples = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        last_term = {}
        end = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < end:
            leaders = []
            for d in list(self.daemons):
                if not d.alive():
                    continue
                s = d.status()
                if s and s.get("is_leader"):
                    leaders.append((d.name, s.get("term")))
                    t = s.get("term")
                    if t is not None and t < last_term.get(d.name, -1):
                        self.violations.append("term of %s went down: %r" % (d.name, s))
                    if t is not None:
                        last_term[d.name] = t
            self.samples.append((time.monotonic(), leaders))
            if len(leaders) > 1:
                self.violations.append("two leaders at once: %r" % leaders)
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join(5)
        return self.violations
