"""GET / carries the leadership deadline for sidecar apps: on the leader,
valid_until_ms (CLOCK_BOOTTIME, comparable from any process of
the machine, i.e. any container of the pod) and valid_ms_left; 0 on a
follower."""
import time

from e2e_util import start_cluster, timing_args, wait_one_leader


def test_deadline_in_status(anybuild, procs, tmp_path):
    ds = start_cluster(procs, anybuild, tmp_path / "lock.json", ["a", "b"],
                       timings=timing_args("6s", "4s", "1s"))
    leader = wait_one_leader(ds)
    st = leader.status()
    now = time.clock_gettime(time.CLOCK_BOOTTIME) * 1000
    assert st["is_leader"] is True
    # the deadline lies ahead, at most one lease duration from now
    assert 0 < st["valid_ms_left"] <= 6000, st
    assert now - 1000 < st["valid_until_ms"] <= now + 6000 + 1000, (st, now)
    for d in ds:
        if d is not leader:
            s = d.status()
            assert s["is_leader"] is False
            assert s["valid_until_ms"] == 0 and s["valid_ms_left"] == 0
