"""Helpers shared by the etcd end-to-end tests (daemons on a real cluster).

Timings: lease 3s, renew-deadline 2s, retry-period 500ms (request timeout
500ms). Bounds carry generous slack for a busy 2-core machine and ASan.
"""
import time

from elector_harness import http_get, run, wait_until
from etcd_cluster import daemon_args

LEASE, RENEW, RETRY = 3.0, 2.0, 0.5
SLACK = 2.5


def start_daemons(procs, build, cluster, n=3, election="demo", **kw):
    ds = []
    for i in range(n):
        name = "n%d" % i
        ds.append(procs.start(build, daemon_args(cluster, election=election,
                                                 ident=name, **kw),
                              name=name))
    for d in ds:
        d.wait_http(15)
    return ds


def one_leader(ds):
    """The leader when exactly one live daemon leads and all agree."""
    live = [d for d in ds if d.alive()]
    st = [d.status() for d in live]
    if any(s is None for s in st):
        return None
    ls = [d for d, s in zip(live, st) if s["is_leader"]]
    if len(ls) != 1 or not all(s["leader"] == ls[0].name for s in st):
        return None
    return ls[0]


def leaders(ds):
    return [d for d in ds
            if d.alive() and http_get(d.port, "/leader", 1.0)[0] == 200]


def new_leader_after(ds, old, t0, timeout):
    """(seconds since t0, daemon) of the first other daemon leading."""
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        for d in ds:
            if d is not old and d.alive() and \
                    http_get(d.port, "/leader", 0.5)[0] == 200:
                return time.monotonic() - t0, d
        time.sleep(0.005)
    raise AssertionError("no new leader within %.1fs" % timeout)


def wait_leader(ds, timeout=20):
    return wait_until(lambda: one_leader(ds), timeout, interval=0.05,
                      what="one agreed leader")


def elector_get(build, cluster, election="demo", extra=()):
    return run(build, ["get"] + daemon_args(cluster, election=election,
                                             extra=extra))


def store_errors(d):
    return [l for l in d.log().splitlines()
            if "lock store" in l and "failed" in l]
