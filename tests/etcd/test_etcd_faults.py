"""Faults while leading, on a real 3-member etcd cluster, each watched by
SplitBrainChecker (never two leaders, terms only grow):

- the member every daemon talks to first is SIGKILLed and restarted;
- etcd's own leader is moved twice (etcdctl move-leader);
- one member is frozen (SIGSTOP) past the lease;
- a majority of members is killed: the leader steps down by its renew
  deadline and nobody leads until the majority is back;
- a compaction while a follower's watch must resume from a compacted
  revision;
- garbage and an oversized value in the key: CORRUPT, never overwritten.

The long trials run on the plain build only (the ASan/UBSan build runs the
shorter cases here and the same code paths elsewhere), to keep make test
near 20 minutes.
"""
import json
import signal
import time

from elector_harness import SplitBrainChecker, http_get, wait_until
from etcd_cluster import key_of
from etcd_e2e import (LEASE, RENEW, RETRY, SLACK, elector_get,
                      new_leader_after, one_leader, leaders, start_daemons,
                      store_errors, wait_leader)


def _hold(ds, seconds, sb):
    """Sample for seconds; return the set of leader names seen."""
    seen = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen.update(d.name for d in leaders(ds))
        time.sleep(0.05)
    return seen


def test_member_killed_and_restarted(build, healthy, procs):
    c = healthy
    ds = start_daemons(procs, build, c, election="mkill")
    leader = wait_leader(ds)
    sb = SplitBrainChecker(ds)
    try:
        first = c.members[0]  # first in --etcd-endpoints: everyone's member
        first.kill()
        _hold(ds, LEASE + 1.0, sb)
        # The cluster kept its quorum: one leader all along or again.
        assert wait_leader(ds, LEASE + SLACK)
        first.start()
        c.wait_healthy(60)
        _hold(ds, 2.0, sb)
        now = wait_leader(ds, LEASE + SLACK)
        # and a handover still goes through the watch
        t0 = time.monotonic()
        now.signal(signal.SIGTERM)
        dt, _ = new_leader_after(ds, now, t0, 5.0)
        assert dt < 1.5, "handover after a member restart took %.3fs" % dt
    finally:
        v = sb.stop()
    assert v == [], v
    assert leader.name in sb.holder.values() or sb.terms()


def test_etcd_leader_moved(build, healthy, procs):
    c = healthy
    ds = start_daemons(procs, build, c, election="move")
    wait_leader(ds)
    sb = SplitBrainChecker(ds)
    try:
        for _ in range(2):
            cur = c.leader()
            assert cur is not None
            to = [m for m in c.members if m is not cur][0]
            c.move_leader(to)
            wait_until(lambda: c.leader() is to, 20, interval=0.2,
                       what="etcd leader moved")
            _hold(ds, 1.5, sb)
            assert wait_leader(ds, LEASE + SLACK)
    finally:
        v = sb.stop()
    assert v == [], v


def test_member_frozen_past_the_lease(build, healthy, procs):
    c = healthy
    ds = start_daemons(procs, build, c, election="freeze")
    wait_leader(ds)
    sb = SplitBrainChecker(ds)
    frozen = c.members[0]
    try:
        frozen.freeze()
        _hold(ds, LEASE + 2.0, sb)
        # Two members keep a quorum: a leader, whoever it is.
        leader = wait_leader(ds, LEASE + SLACK)
        # A follower whose stream was on the frozen member still sees a
        # release promptly (it moved to another member).
        t0 = time.monotonic()
        leader.signal(signal.SIGTERM)
        dt, _ = new_leader_after(ds, leader, t0, LEASE + SLACK)
        assert dt < LEASE + SLACK
    finally:
        frozen.thaw()
        v = sb.stop()
    assert v == [], v


def test_majority_down_steps_down_and_nobody_leads(build, healthy,
                                                   procs):
    c = healthy
    ds = start_daemons(procs, build, c, election="majority")
    leader = wait_leader(ds)
    term = leader.status()["term"]
    sb = SplitBrainChecker(ds)
    try:
        down = c.members[1:]
        t0 = time.monotonic()
        for m in down:
            m.kill()
        wait_until(lambda: http_get(leader.port, "/leader", 0.5)[0] == 503,
                   RENEW + SLACK, interval=0.02, what="leader steps down")
        assert time.monotonic() - t0 <= RENEW + SLACK
        # Nobody leads while the majority is gone (well past the lease).
        seen = _hold(ds, LEASE + 1.5, sb)
        assert seen == set(), seen
        assert any(store_errors(d) for d in ds)
        for m in down:
            m.start()
        c.wait_healthy(60)
        new = wait_leader(ds, LEASE + RETRY + SLACK + 5)
        assert new.status()["term"] > term
    finally:
        v = sb.stop()
    assert v == [], v
    assert sb.terms() == sorted(set(sb.terms()))


def test_compaction_during_a_watch(anybuild, healthy, procs):
    """A follower's stream breaks while it is paused and the history it
    would resume from is compacted: it re-reads, watches again, and still
    sees a release at once."""
    c = healthy
    ds = start_daemons(procs, anybuild, c, election="compact",
                       extra=["-v", "1"])
    leader = wait_leader(ds)
    f = [d for d in ds if d is not leader][0]
    sb = SplitBrainChecker(ds)
    try:
        f.signal(signal.SIGSTOP)
        c.members[0].kill()  # every stream starts on member 0
        time.sleep(4 * RETRY)  # renewals the paused follower misses
        c.compact()
        f.signal(signal.SIGCONT)
        wait_until(lambda: "compacted" in f.log(), 10, interval=0.1,
                   what="the follower notices the compaction")
        c.members[0].start()
        c.wait_healthy(60)
        time.sleep(1.0)
        leader = wait_leader(ds, LEASE + SLACK)
        t0 = time.monotonic()
        leader.signal(signal.SIGTERM)
        dt, _ = new_leader_after(ds, leader, t0, 5.0)
        assert dt < 1.5, "handover after the compaction took %.3fs" % dt
    finally:
        f.signal(signal.SIGCONT)
        v = sb.stop()
    assert v == [], v


def _bad_value(anybuild, c, procs, election, value, want):
    ds = start_daemons(procs, anybuild, c, election=election)
    wait_leader(ds)
    key = key_of(election)
    c.put_raw(key, value)
    t0 = time.monotonic()
    wait_until(lambda: leaders(ds) == [], RENEW + RETRY + SLACK,
               interval=0.02, what="no leader")
    end = t0 + LEASE + 2 * RETRY + 1.0
    while time.monotonic() < end:
        assert leaders(ds) == []
        time.sleep(0.1)
    # Never overwritten.
    assert c.get_raw(key) == value
    g = elector_get(anybuild, c, election=election)
    assert g.returncode != 0
    assert want in g.stderr and key in g.stderr, g.stderr
    c.ctl(["del", key])
    wait_until(lambda: one_leader(ds), LEASE + RETRY + SLACK + 3,
               interval=0.05, what="a leader after the fix")


def test_garbage_value_is_corrupt_and_kept(anybuild, healthy, procs):
    _bad_value(anybuild, healthy, procs, "garbage", "this is not json",
               "is not an election record")


def test_oversized_value_is_corrupt_and_kept(anybuild, healthy, procs):
    _bad_value(anybuild, healthy, procs, "huge", "x" * 20000, "exceeds")


def test_value_above_the_body_cap_is_corrupt(anybuild, healthy):
    """1 MiB (1.4 MB of base64 in the answer): refused by the HTTP body
    cap, reported as CORRUPT, the key left alone."""
    c = healthy
    key = key_of("megabyte")
    big = "y" * (1 << 20)
    c.put_stdin(key, big)
    try:
        g = elector_get(anybuild, c, election="megabyte")
        assert g.returncode != 0
        assert "exceeds" in g.stderr and key in g.stderr, g.stderr
        assert len(c.get_raw(key)) == len(big)
    finally:
        c.ctl(["del", key])


def test_elector_get_and_bad_options(anybuild, healthy, tmp_path):
    c = healthy
    g = elector_get(anybuild, c, election="nothing-here")
    assert g.returncode != 0 and "no record" in g.stderr, g.stderr
    cases = [
        (["--backend-opt", "nope=1"], "unknown option"),
        (["--etcd-endpoints", "127.0.0.1:2379"], "http://"),
        (["--etcd-endpoints", "http://h:99999"], "bad host or port"),
        (["--backend-opt", "request-timeout=5s"], "below renew_deadline"),
        (["--backend-opt", "user=x"], "go together"),
        (["--backend-opt", "cert-file=/etc/hostname"], "go together"),
        (["--backend-opt", "user=x", "--backend-opt",
          "password-file=%s" % (tmp_path / "none")], "password-file"),
    ]
    for extra, want in cases:
        g = elector_get(anybuild, c, extra=extra)
        assert g.returncode == 2, (extra, g.returncode, g.stderr)
        assert want in g.stderr, (extra, g.stderr)
    # the known keys are listed on an unknown one
    g = elector_get(anybuild, c, extra=["--backend-opt", "nope=1"])
    for k in ("endpoints", "prefix", "ca-file", "cert-file", "key-file",
              "user", "password-file", "request-timeout"):
        assert k in g.stderr
    json.dumps(g.stderr)


def test_etcd_leader_killed_in_turn(build, healthy, procs):
    """The worst moment for a write: etcd's raft leader dies with proposals
    in flight (answers lost, writes maybe applied), six times in a row,
    while the daemons keep renewing and handing over."""
    import random
    c = healthy
    rnd = random.Random(12)
    ds = start_daemons(procs, build, c, election="turns")
    wait_leader(ds)
    sb = SplitBrainChecker(ds)
    try:
        for i in range(6):
            victim = c.leader() or c.members[i % 3]
            victim.kill()
            time.sleep(rnd.uniform(0.1, 1.0))
            if i % 2 == 1:
                lead = [d for d in ds if d.alive() and
                        http_get(d.port, "/leader", 0.5)[0] == 200]
                for d in lead:  # a handover in the middle of it
                    d.signal(signal.SIGTERM)
                    assert d.proc.wait(15) == 0
                    # d.args ends with the --http option the harness added
                    ds[ds.index(d)] = procs.start(build, d.args[:-2],
                                                  name=d.name)
            victim.start()
            c.wait_healthy(60)
        for d in ds:
            d.wait_http(15)
        assert wait_leader(ds, LEASE + RETRY + SLACK + 5)
    finally:
        v = sb.stop()
    assert v == [], v


def test_endpoints_from_the_environment(anybuild, healthy):
    """ELECTOR_BACKEND_OPT is split on commas by the daemon: ';' separates
    endpoints there; ELECTOR_ETCD_ENDPOINTS takes the comma list."""
    from elector_harness import run
    c = healthy
    dead = "http://127.0.0.1:1"
    for env in ({"ELECTOR_BACKEND_OPT": "endpoints=%s;%s" % (
                    dead, c.endpoints.replace(",", ";"))},
                {"ELECTOR_ETCD_ENDPOINTS": "%s,%s" % (dead, c.endpoints)}):
        g = run(anybuild, ["get", "--election", "nothing-here",
                           "--backend", "etcd"], env=env)
        assert g.returncode == 1 and "no record" in g.stderr, (env, g.stderr)
