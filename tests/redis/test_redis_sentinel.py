"""redis-sentinel: one master, one replica, three sentinels, three daemons.

The master is killed; the sentinels promote the replica; the daemons must
follow the new master, and at no sampled instant may two daemons lead, and
the leader's term may never go down.
"""
import json
import shutil
import socket
import threading
import time

import pytest

from elector_harness import http_get, run, wait_until
from redis_servers import (RedisServer, Resp, Sentinel, daemon_args, keys_of)

MASTER = "mymaster"


def _info(srv, section):
    text = srv.cmd("INFO", section).decode()
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


@pytest.fixture
def sentinel_set():
    for tool in ("redis-server", "redis-sentinel", "redis-cli"):
        if not shutil.which(tool):
            pytest.skip("%s not installed (Debian redis-server, "
                        "redis-sentinel, redis-tools)" % tool)
    objs = []
    try:
        master = RedisServer(name="master")
        objs.append(master)
        master.start()
        replica = RedisServer(replicaof=master.port, name="replica")
        objs.append(replica)
        replica.start()
        wait_until(lambda: _info(replica, "replication").get(
            "master_link_status") == "up", 15, interval=0.05,
            what="replica in sync")
        sentinels = []
        for _ in range(3):
            s = Sentinel(master.port, MASTER)
            objs.append(s)
            s.start()
            sentinels.append(s)

        def discovered():
            for s in sentinels:
                c = Resp(s.port, password=None)
                try:
                    reps = c.call("SENTINEL", "replicas", MASTER)
                    peers = c.call("SENTINEL", "sentinels", MASTER)
                finally:
                    c.close()
                if len(reps) != 1 or len(peers) != 2:
                    return False
            return True
        wait_until(discovered, 30, interval=0.2,
                   what="sentinels know the replica and each other")
        yield master, replica, sentinels
    finally:
        for o in reversed(objs):
            o.close()


def sentinel_url(sentinels):
    return "redis-sentinel://%s/%s" % (
        ",".join("127.0.0.1:%d" % s.port for s in sentinels), MASTER)


class Sampler(threading.Thread):
    """GET / of every daemon every ~20 ms; keeps (t, [(name, leader, term)])."""

    def __init__(self, ds):
        super().__init__(daemon=True)
        self.ds = ds
        self.rounds = []
        self.stop_ev = threading.Event()

    def run(self):
        deadline = time.monotonic() + 120
        while not self.stop_ev.is_set() and time.monotonic() < deadline:
            t = time.monotonic()
            row = []
            for d in self.ds:
                code, body = http_get(d.port, "/", 0.5)
                if code == 200:
                    st = json.loads(body)
                    row.append((d.name, st["is_leader"], st["term"]))
            self.rounds.append((t, row))
            time.sleep(0.02)

    def stop(self):
        self.stop_ev.set()
        self.join(10)


def one_leader(ds):
    st = [d.status() for d in ds]
    if any(s is None for s in st):
        return None
    ls = [d for d, s in zip(ds, st) if s["is_leader"]]
    if len(ls) != 1 or not all(s["leader"] == ls[0].name for s in st):
        return None
    return ls[0]


def test_sentinel_failover_never_two_leaders(anybuild, sentinel_set, procs):
    master, replica, sentinels = sentinel_set
    url = sentinel_url(sentinels)
    ds = []
    for i in range(3):
        name = "s%d" % i
        ds.append(procs.start(anybuild, daemon_args(
            url, master.pw_file, election="sent", ident=name), name=name))
    for d in ds:
        d.wait_http(15)
    old = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                     what="one leader")
    old_term = old.status()["term"]
    sampler = Sampler(ds)
    sampler.start()
    try:
        time.sleep(0.5)
        t_kill = time.monotonic()
        master.kill()
        wait_until(lambda: sentinels[0].master_addr(MASTER) ==
                   ("127.0.0.1", replica.port), 30, interval=0.1,
                   what="sentinels promote the replica")
        wait_until(lambda: _info(replica, "replication").get("role") ==
                   "master", 10, what="replica is master")
        new = wait_until(lambda: one_leader(ds), 30, interval=0.05,
                         what="a leader on the new master")
        t_new = time.monotonic() - t_kill
        time.sleep(1.0)
    finally:
        sampler.stop()
    # The leader writes to the promoted replica now.
    rec_key, _, _ = keys_of("sent")
    rec = json.loads(replica.cmd("GET", rec_key))
    assert rec["holderIdentity"] == new.name
    assert new.status()["term"] > old_term or new is old
    # Never two leaders in one sampling round; leader terms never go down.
    assert len(sampler.rounds) > 100
    last = -1
    for t, row in sampler.rounds:
        leading = [(n, term) for n, lead, term in row if lead]
        assert len(leading) <= 1, "two leaders at t=%.3f: %r" % (t, row)
        if leading:
            assert leading[0][1] >= last, "term went down at %.3f: %r" % (t, row)
            last = leading[0][1]
    # The daemons followed via Sentinel, not by luck: they logged the new
    # master address.
    assert any("is at 127.0.0.1:%d" % replica.port in d.log() or
               "to 127.0.0.1:%d" % replica.port in d.log() for d in ds)
    # Watching followers heard of it from a sentinel's +switch-master.
    assert any("+switch-master %s" % MASTER in d.log() for d in ds)
    print("new leader %.3fs after the kill; %d rounds" % (t_new, len(sampler.rounds)))
    assert t_new < 30


def test_sentinel_graceful_failover_followed(build, sentinel_set, procs):
    """SENTINEL FAILOVER: the old master stays up as a replica. The leader's
    writes hit READONLY there and must move to the new master (re-resolve),
    with never two leaders."""
    master, replica, sentinels = sentinel_set
    url = sentinel_url(sentinels)
    ds = []
    for i in range(3):
        name = "g%d" % i
        ds.append(procs.start(build, daemon_args(
            url, master.pw_file, election="graceful", ident=name), name=name))
    for d in ds:
        d.wait_http(15)
    wait_until(lambda: one_leader(ds), 15, interval=0.05, what="one leader")
    sampler = Sampler(ds)
    sampler.start()
    rec_key, _, _ = keys_of("graceful")
    try:
        time.sleep(0.3)
        c = Resp(sentinels[0].port, password=None)
        try:
            assert c.call("SENTINEL", "FAILOVER", MASTER) == "OK"
        finally:
            c.close()
        wait_until(lambda: sentinels[0].master_addr(MASTER) ==
                   ("127.0.0.1", replica.port), 30, interval=0.1,
                   what="sentinels switch to the replica")
        wait_until(lambda: _info(master, "replication").get("role") ==
                   "slave", 20, what="old master demoted")

        def renewing_on_new_master():
            raw = replica.cmd("GET", rec_key)
            if not raw:
                return None
            rec = json.loads(raw)
            time.sleep(1.0)
            again = json.loads(replica.cmd("GET", rec_key))
            return again["renewTime"] != rec["renewTime"] and \
                again["holderIdentity"] != "" and again
        rec = wait_until(renewing_on_new_master, 20, interval=0.1,
                         what="a leader renewing on the new master")
        leader = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                            what="one agreed leader")
        assert leader.name == rec["holderIdentity"]
        time.sleep(0.5)
    finally:
        sampler.stop()
    assert len(sampler.rounds) > 50
    last = -1
    for t, row in sampler.rounds:
        leading = [(n, term) for n, lead, term in row if lead]
        assert len(leading) <= 1, "two leaders at t=%.3f: %r" % (t, row)
        if leading:
            assert leading[0][1] >= last, "term went down: %r" % (row,)
            last = leading[0][1]


class FakeSentinel(threading.Thread):
    """Answers SENTINEL get-master-addr-by-name with a fixed address."""

    def __init__(self, port_to_report):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.report = port_to_report
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.settimeout(2)
                try:
                    c.recv(4096)
                    p = str(self.report).encode()
                    c.sendall(b"*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%s\r\n"
                              % (len(p), p))
                    c.recv(4096)
                except OSError:
                    pass

    def close(self):
        self.stop_ev.set()
        self.join(5)
        self.sock.close()


def test_sentinel_pointing_at_a_replica_is_refused(anybuild, redis):
    replica = RedisServer(replicaof=redis.port, name="replica")
    fake = FakeSentinel(replica.port)
    try:
        replica.start()
        fake.start()
        url = "redis-sentinel://127.0.0.1:%d/%s" % (fake.port, MASTER)
        g = run(anybuild, ["get"] + daemon_args(url, redis.pw_file,
                                                election="refuse"))
        assert g.returncode != 0
        assert "not a master" in g.stderr, g.stderr
        assert "127.0.0.1:%d" % replica.port in g.stderr
    finally:
        fake.close()
        replica.close()
