"""Helpers for the Lease backend tests: daemons on the emulator, a checker
that no two daemons lead at once, emulator control commands for the C
conformance program."""
import json
import shlex
import threading
import time

from elector_harness import http_get, wait_until

# Fast but safe timings for tests (lease > deadline > 1.2 x retry).
LEASE = "3s"
RENEW = "2s"
RETRY = "500ms"
LEASE_S, RENEW_S, RETRY_S = 3.0, 2.0, 0.5


def daemon_args(kubeconfig, ident, election="demo", extra=()):
    return ["--election", election, "--backend", "lease",
            "--kubeconfig", kubeconfig, "--id", ident,
            "--lease-duration", LEASE, "--renew-deadline", RENEW,
            "--retry-period", RETRY, "-v", "1"] + list(extra)


def start(procs, build, kubeconfig, ident, election="demo", extra=(), env=None):
    d = procs.start(build, daemon_args(kubeconfig, ident, election, extra),
                    name=ident, env=env)
    d.ident = ident
    return d


def is_leader(d):
    code, _ = http_get(d.port, "/leader", timeout=1.0)
    return code == 200


def leaders(daemons):
    return [d for d in daemons if d.alive() and is_leader(d)]


def wait_one_leader(daemons, timeout=20):
    try:
        return wait_until(lambda: (lambda l: l[0] if len(l) == 1 else None)(
            leaders(daemons)), timeout, interval=0.02, what="exactly one leader")
    except AssertionError as e:
        info = []
        for d in daemons:
            code, body = http_get(d.port, "/", timeout=1.0) if d.alive() else (None, b"")
            info.append("%s alive=%s status=%s %s\n%s" % (
                getattr(d, "ident", d.name), d.alive(), code, body[:400],
                d.log()[-3000:]))
        raise AssertionError("%s; leaders now: %s\n%s" % (
            e, [getattr(d, "ident", d.name) for d in leaders(daemons)],
            "\n".join(info)))


def ctl_cmd(emu, what, arg=None):
    """A shell command that POSTs to the emulator's control endpoint."""
    return "curl -sfk -X POST -d %s https://127.0.0.1:%d/_emulator/%s >/dev/null" % (
        shlex.quote(json.dumps(arg or {})), emu.port, what)


class LeaderSampler:
    """Samples /leader of every daemon every ~20 ms in a thread.

    A sweep asks the daemons one after the other, so a clean handover can
    show the old and the new leader in one sweep; two leaders in two
    consecutive sweeps (a double leadership lasting longer than a sweep) is
    a violation, and so is a leader term that goes down."""

    def __init__(self, daemons, period=0.02):
        self.daemons = list(daemons)
        self.period = period
        self.sweeps = []   # (monotonic, [idents leading])
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_ev.is_set():
            t = time.monotonic()
            lead = []
            for d in self.daemons:
                if d.alive():
                    code, _ = http_get(d.port, "/leader", timeout=0.5)
                    if code == 200:
                        lead.append(d.ident)
            self.sweeps.append((t, lead))
            time.sleep(self.period)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop_ev.set()
        self.thread.join(5)

    def double_leaders(self):
        bad = []
        for (t0, a), (t1, b) in zip(self.sweeps, self.sweeps[1:]):
            if len(a) > 1 and len(b) > 1 and set(a) & set(b) and \
                    len(set(a) & set(b)) > 1:
                bad.append((t0, a, b))
        return bad

    def leader_at(self, t):
        """Leaders of the first sweep at or after t."""
        for ts, lead in self.sweeps:
            if ts >= t:
                return lead
        return None
