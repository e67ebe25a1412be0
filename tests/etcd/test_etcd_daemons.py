"""Three elector daemons on a real 3-member etcd cluster: one leader, the
record under PREFIX/NAMESPACE/ELECTION readable with etcdctl and `elector
get`, SIGTERM handover through the watch, kill -9 failover after the lease,
idle followers silent."""
import json
import signal
import time

from elector_harness import SplitBrainChecker, http_get
from etcd_cluster import key_of
from etcd_e2e import (LEASE, RETRY, SLACK, elector_get, new_leader_after,
                      one_leader, leaders, start_daemons, wait_leader)


def test_three_daemons_elect_one_leader(anybuild, healthy, procs):
    c = healthy
    ds = start_daemons(procs, anybuild, c, election="one")
    leader = wait_leader(ds)
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        assert [d.name for d in leaders(ds)] == [leader.name]
        time.sleep(0.1)
    raw, rev = c.get_json(key_of("one"))
    stored = json.loads(raw)
    assert stored["holderIdentity"] == leader.name
    assert stored["leaderTransitions"] >= 1
    g = elector_get(anybuild, c, election="one")
    assert g.returncode == 0, g.stderr
    doc = json.loads(g.stdout)
    assert doc["record"]["holderIdentity"] == leader.name
    # The version is the key's mod_revision (renewals move it on).
    assert int(doc["version"]) >= rev


def test_sigterm_handover_is_prompt(anybuild, healthy, procs):
    ds = start_daemons(procs, anybuild, healthy, election="term")
    leader = wait_leader(ds)
    sb = SplitBrainChecker(ds)
    try:
        term = leader.status()["term"]
        t0 = time.monotonic()
        leader.signal(signal.SIGTERM)
        dt, new = new_leader_after(ds, leader, t0, 5.0)
        assert leader.proc.wait(10) == 0
        # Released and seen through the watch: far below the lease.
        assert dt < 1.5, "handover took %.3fs" % dt
        assert new.status()["term"] > term
    finally:
        assert sb.stop() == []


def test_kill9_failover_waits_for_lease(anybuild, healthy, procs):
    ds = start_daemons(procs, anybuild, healthy, election="kill")
    leader = wait_leader(ds)
    sb = SplitBrainChecker(ds)
    try:
        term = leader.status()["term"]
        t0 = time.monotonic()
        leader.kill()
        dt, new = new_leader_after(ds, leader, t0, LEASE + RETRY + SLACK + 3)
        assert dt >= LEASE - RETRY - 0.3, "took over after only %.3fs" % dt
        assert dt <= LEASE + RETRY + SLACK, "failover took %.3fs" % dt
        assert new.status()["term"] > term
    finally:
        assert sb.stop() == []


def _requests(d):
    """Store requests (get/create/update) counted by the daemon's
    metrics; the watch stream is not one."""
    code, body = http_get(d.port, "/metrics", 2.0)
    assert code == 200
    n = 0.0
    for line in body.decode().splitlines():
        if line.startswith("elector_backend_request_duration_seconds_count{"):
            n += float(line.rsplit(" ", 1)[1])
    return n


def test_idle_followers_send_nothing_leader_one_write_per_period(
        anybuild, healthy, procs):
    ds = start_daemons(procs, anybuild, healthy, election="idle")
    leader = wait_leader(ds)
    time.sleep(1.0)
    followers = [d for d in ds if d is not leader]
    before = {d.name: _requests(d) for d in ds}
    time.sleep(5.0)
    for f in followers:
        assert _requests(f) == before[f.name], "%s polled" % f.name
    writes = _requests(leader) - before[leader.name]
    assert 5.0 / RETRY - 3 <= writes <= 5.0 / RETRY + 3, writes
    assert one_leader(ds) is leader
