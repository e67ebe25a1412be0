"""API server faults never produce two leaders, and the leader steps down
on time: 500s, 429s with Retry-After, dropped connections, dropped watches,
410 Gone, latency above renew_deadline."""
import time

from elector_harness import wait_until

import k8s_util as U


def _daemons(procs, build, emu, tmp_path, n=3):
    kc = emu.kubeconfig(str(tmp_path / "kc"))
    return [U.start(procs, build, kc, "f%d" % i) for i in range(n)]


def test_faults_never_two_leaders(anybuild, emu, procs, tmp_path):
    ds = _daemons(procs, anybuild, emu, tmp_path)
    phases = [
        ("500s", dict(error_code=500, error_rate=0.3)),
        ("429s", dict(error_code=429, error_rate=0.3, retry_after=1)),
        ("503s", dict(error_code=503, error_rate=0.5, retry_after=1)),
        ("dropped connections", dict(drop_rate=0.25)),
        ("latency", dict(latency_ms=300)),
    ]
    with U.LeaderSampler(ds) as smp:
        U.wait_one_leader(ds)
        for name, f in phases:
            emu.set_faults(**f)
            t_end = time.monotonic() + 2.0
            while time.monotonic() < t_end:
                emu.drop_watches()
                time.sleep(0.5)
        emu.clear_faults()
        U.wait_one_leader(ds, timeout=15)
        time.sleep(1.0)
    assert smp.double_leaders() == [], smp.double_leaders()[:3]
    assert all(d.alive() for d in ds)
    st = emu.stats()["admin"]
    assert st.get("watch", 0) >= 5, st      # watches were re-established


def test_leader_steps_down_on_time(anybuild, emu, procs, tmp_path):
    """With every request slower than renew_deadline, the leader steps down
    at most renew_deadline after its last successful renewal (plus slack),
    and nobody else takes over while the API server is that slow."""
    ds = _daemons(procs, anybuild, emu, tmp_path)
    with U.LeaderSampler(ds) as smp:
        leader = U.wait_one_leader(ds)
        time.sleep(1.0)
        t0 = time.monotonic()          # the last renewal succeeded before t0
        emu.set_faults(latency_ms=2500)
        down = wait_until(lambda: not U.is_leader(leader) and time.monotonic(),
                          10, interval=0.01, what="step down")
        took = down - t0
        assert took <= U.RENEW_S + 0.8, "stepped down %.2fs after the fault" % took
        time.sleep(2.0)
        assert U.leaders(ds) == []
        emu.clear_faults()
        U.wait_one_leader(ds, timeout=15)
    assert smp.double_leaders() == [], smp.double_leaders()[:3]
    assert "stopped leading" in leader.log() or "stepped down" in leader.log()


def test_watch_410_reread(anybuild, emu, procs, tmp_path):
    """Followers whose resume point fell out of the watch history get 410
    (as an ERROR event, then as an HTTP 410), GET the Lease again (no list
    permission needed), watch again from "most recent" -- no 410 loop, no
    polling -- and a graceful handover is still immediate."""
    ds = _daemons(procs, anybuild, emu, tmp_path)
    leader = U.wait_one_leader(ds)
    followers = [d for d in ds if d is not leader]
    time.sleep(1.0)
    for as_http in (False, True):
        emu.gone_as_http = as_http
        gets = emu.count(verb="get")
        watches = emu.count(verb="watch")
        emu.drop_watches()
        with emu.store.lock:   # history moves past the followers' resume point
            emu.store.compacted = emu.store.rv + 1000
            emu.store.rv += 1000
        wait_until(lambda: emu.count(verb="get") >= gets + len(followers), 10,
                   what="re-reads after 410")
        time.sleep(1.5)
        # one 410'd resume and one fresh watch per follower, then quiet
        assert emu.count(verb="watch") - watches <= 3 * len(followers), emu.stats()
        t0 = time.monotonic()
        time.sleep(1.5)
        assert emu.count(verb="get", since=t0) == 0, emu.stats()
        assert emu.count(verb="list") == 0
    t0 = time.monotonic()
    assert leader.stop() == 0
    U.wait_one_leader(followers, timeout=10)
    assert time.monotonic() - t0 < 1.5


def test_oversized_and_garbage_answers(anybuild, emu, procs, tmp_path):
    """A 4 MiB answer is cut at the 1 MiB cap (CORRUPT, no crash); garbage
    lines in a watch stream make followers re-read and re-watch, and the
    election still works."""
    kc = emu.kubeconfig(str(tmp_path / "kc"))
    from elector_harness import run
    emu.set_faults(huge_body=True)
    r = run(anybuild, ["get", "--election", "demo", "--backend", "lease",
                       "--kubeconfig", kc], timeout=30)
    assert r.returncode != 0 and "exceeds" in r.stderr, r.stderr
    emu.clear_faults()
    ds = _daemons(procs, anybuild, emu, tmp_path)
    with U.LeaderSampler(ds) as smp:
        leader = U.wait_one_leader(ds)
        emu.set_faults(garbage_watch="{not json")
        time.sleep(2.0)
        gets = emu.count(verb="get")
        time.sleep(1.0)
        assert emu.count(verb="get") > gets      # re-reads, not a crash
        emu.clear_faults()
        time.sleep(1.0)
        assert leader.stop() == 0
        U.wait_one_leader([d for d in ds if d is not leader], timeout=10)
    assert smp.double_leaders() == []
    assert all(d.alive() for d in ds if d is not leader)
