"""The offline multi-cluster demo (scripts/multicluster-demo.sh): three
"clusters" in their own network namespaces share a Redis in a hub namespace.
A sampler thread enters each namespace (setns) and asks every daemon's status
API every ~50 ms, so the assertions see the same instant in all clusters:

- exactly one leader across the namespaces;
- a partitioned leader stops reporting leader within renew_deadline + slack;
- another cluster's daemon leads after lease_duration (+ slack);
- never two leaders in one sampling round; terms only grow.
"""
import ctypes
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from elector_harness import SANITIZER_MARKERS, TOP

SCRIPT = os.path.join(TOP, "scripts", "multicluster-demo.sh")
CLUSTERS = ("napoleon", "stalin", "cleopatra")
LEASE, RENEW, RETRY = 3.0, 2.0, 0.5
SLACK = 2.5            # noisy shared 2-core machine
HTTP_PORT = 8080
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _netns_usable():
    if os.geteuid() != 0:
        return "needs root: the demo creates network namespaces (ip netns)"
    probe = "elt-probe-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        return "ip netns add fails here: %s" % r.stderr.strip()
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True, timeout=30)
    return None


NETNS_SKIP = _netns_usable()
needs_netns = pytest.mark.skipif(NETNS_SKIP is not None, reason=str(NETNS_SKIP))


class NetnsStatus:
    """GET / of the daemon in each cluster namespace, from this thread's
    setns()-switched network namespace (sockets keep the namespace they were
    created in)."""

    def __init__(self, prefix):
        self.own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self.fds = {c: os.open("/run/netns/%s%s" % (prefix, c), os.O_RDONLY)
                    for c in CLUSTERS}

    def close(self):
        for fd in list(self.fds.values()) + [self.own]:
            os.close(fd)

    def _socket_in(self, cluster):
        if _libc.setns(self.fds[cluster], CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into %s" % cluster)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            if _libc.setns(self.own, CLONE_NEWNET) != 0:
                os._exit(70)  # this thread would keep running in the wrong netns

    def get(self, cluster):
        """The status object, or None when the daemon does not answer."""
        s = self._socket_in(cluster)
        try:
            s.settimeout(0.5)
            s.connect(("127.0.0.1", HTTP_PORT))
            s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            return None
        finally:
            s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.") or head.split()[1] != b"200":
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None


class Sampler(threading.Thread):
    """Samples all clusters in rounds until stopped; rounds are
    [(t_start, t_end, {cluster: status or None})]."""

    def __init__(self, prefix):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.rounds = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.error = None

    def run(self):
        try:
            st = NetnsStatus(self.prefix)
            try:
                while not self.halt.is_set():
                    t0 = time.monotonic()
                    r = {c: st.get(c) for c in CLUSTERS}
                    with self.lock:
                        self.rounds.append((t0, time.monotonic(), r))
                    self.halt.wait(0.05)
            finally:
                st.close()
        except Exception as e:  # reported by the test thread
            self.error = e

    def last(self):
        with self.lock:
            return self.rounds[-1] if self.rounds else None

    def wait(self, pred, timeout, what):
        """First round (after now) for which pred(round_dict) holds; its
        start time. Fails after timeout seconds."""
        start = time.monotonic()
        seen = None
        while time.monotonic() - start < timeout:
            assert self.error is None, "sampler failed: %r" % self.error
            last = self.last()
            if last and last[0] >= start and last is not seen:
                seen = last
                if pred(last[2]):
                    return last[0]
            time.sleep(0.01)
        raise AssertionError("timed out after %.1fs waiting for %s; last round: %r"
                             % (timeout, what, self.last()))


def leaders(r):
    return [c for c, s in r.items() if s and s.get("is_leader") is True]


def script(args, env, timeout=60):
    r = subprocess.run([SCRIPT] + args, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, "%s failed (%d):\n%s%s" % (args, r.returncode, r.stdout, r.stderr)
    return r.stdout


def demo_env(build, prefix, state):
    return build.env({"MC_BUILD": build.path, "MC_PREFIX": prefix, "MC_STATE": str(state),
                      "MC_KEEP_LOGS": "1", "MC_LEASE": "3s", "MC_RENEW": "2s",
                      "MC_RETRY": "500ms"})


def namespaces_with(prefix):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


def sanitizer_reports(state):
    reports = []
    for c in CLUSTERS:
        path = os.path.join(str(state), c + ".log")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                text = f.read()
            if any(m in text for m in SANITIZER_MARKERS):
                reports.append("%s:\n%s" % (c, text[-6000:]))
    return reports


def require_redis_plugin(build):
    so = os.path.join(build.plugin_dir, "redis.so")
    assert os.path.exists(so), "%s missing: the demo needs the redis backend" % so


@needs_netns
def test_partitioned_leader_steps_down_and_other_cluster_leads(anybuild, tmp_path):
    require_redis_plugin(anybuild)
    prefix = "elt%d-" % (os.getpid() % 100000)
    state = tmp_path / "state"
    env = demo_env(anybuild, prefix, state)
    sampler = Sampler(prefix)
    try:
        script(["up"], env)
        sampler.start()
        # 1. One leader across the namespaces, and every cluster agrees.
        sampler.wait(lambda r: len(leaders(r)) == 1 and all(
            s and s.get("leader") == r[leaders(r)[0]]["node"] for s in r.values()),
            20, "one leader that every cluster sees")
        old = leaders(sampler.last()[2])[0]
        old_term = sampler.last()[2][old]["term"]
        # 2. Cut the leader's cluster off the hub.
        t_cut = time.monotonic()
        script(["cut", old], env)
        t_down = sampler.wait(lambda r: r[old] is not None and r[old].get("is_leader") is False,
                              RENEW + SLACK + 5, "%s to step down" % old)
        assert t_down - t_cut <= RENEW + SLACK, \
            "partitioned leader %s stepped down %.2fs after the cut (renew_deadline %.1fs)" \
            % (old, t_down - t_cut, RENEW)
        # 3. Another cluster leads after lease_duration.
        t_new = sampler.wait(lambda r: any(c != old for c in leaders(r)),
                             LEASE + SLACK + 10, "another cluster to lead")
        new = leaders(sampler.last()[2])[0]
        assert t_new - t_cut <= LEASE + RETRY + SLACK, \
            "%s took over %.2fs after the cut (lease_duration %.1fs)" % (new, t_new - t_cut, LEASE)
        assert t_new > t_down
        print("partition: %s stepped down after %.2fs, %s leads after %.2fs"
              % (old, t_down - t_cut, new, t_new - t_cut))
        new_term = sampler.last()[2][new]["term"]
        assert new_term > old_term, "term did not grow: %s -> %s" % (old_term, new_term)
        # 4. Heal: the old leader follows the new one.
        script(["heal", old], env)
        sampler.wait(lambda r: r[old] is not None and r[old].get("is_leader") is False
                     and r[old].get("leader") == r[new]["node"] and leaders(r) == [new],
                     10, "%s to follow %s after the heal" % (old, new))
    finally:
        sampler.halt.set()
        if sampler.is_alive():
            sampler.join(5)
        subprocess.run([SCRIPT, "down"], env=env, capture_output=True, timeout=120)
    assert sampler.error is None, "sampler failed: %r" % sampler.error
    assert not namespaces_with(prefix), "namespaces left behind"
    # Never two leaders at the same instant; samples really every ~50 ms.
    rounds = sampler.rounds
    assert len(rounds) >= 50, "only %d sampling rounds" % len(rounds)
    two = [(t0, leaders(r)) for t0, t1, r in rounds if len(leaders(r)) > 1]
    assert not two, "two leaders at once: %r" % two[:5]
    gaps = sorted(b[0] - a[0] for a, b in zip(rounds, rounds[1:]))
    assert gaps[len(gaps) // 2] < 0.25, "median sampling gap %.3fs" % gaps[len(gaps) // 2]
    # Terms of leaders only grow.
    terms = [r[c]["term"] for _, _, r in rounds for c in leaders(r)]
    assert terms == sorted(terms), terms
    reports = sanitizer_reports(state)
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@needs_netns
def test_whole_demo_runs_and_cleans_up(build, tmp_path):
    """The default `run` story, as a user would start it."""
    require_redis_plugin(build)
    prefix = "elr%d-" % (os.getpid() % 100000)
    env = demo_env(build, prefix, tmp_path / "state")
    env.pop("MC_KEEP_LOGS")
    try:
        r = subprocess.run([SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run([SCRIPT, "down"], env=env, capture_output=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "stepped down locally after" in out and "leads after" in out, out
    assert "CLUSTER    IS_LEADER" in out
    assert not namespaces_with(prefix), "namespaces left behind"
    assert not os.path.exists(str(tmp_path / "state")), "state dir left behind"


def test_refuses_without_root(tmp_path):
    """As an unprivileged user the script says it needs root (and touches nothing)."""
    if os.geteuid() != 0:
        r = subprocess.run([SCRIPT, "up"], capture_output=True, text=True, timeout=30)
    else:
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            SCRIPT, "up"], capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                "MC_STATE": str(tmp_path / "s")})
    assert r.returncode != 0
    assert "needs root" in r.stderr, r.stderr
    assert not os.path.exists(str(tmp_path / "s"))
