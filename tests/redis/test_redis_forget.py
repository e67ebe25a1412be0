"""The store forgets: a real redis-server without persistence is killed
(-9) and started again empty while a leader holds the lock — a routine
event for a cache-configured Redis — and the keys are DELeted.

Judged by the tick oracle: three `elector run` replicas (2 s / 1.5 s /
300 ms, kill-grace 200 ms) whose commands tick into one file must never
overlap and never share a term.

The long trials run on the plain build only (the ASan/UBSan build runs the
shorter cases here and the same code paths elsewhere), to keep make test
near 20 minutes.
"""
import random
import time

from redis_servers import USER, keys_of
from tick_cluster import TickCluster, forget_trials, leadership_changes

TIMINGS = ["--lease-duration", "2s", "--renew-deadline", "1500ms",
           "--retry-period", "300ms", "--kill-grace", "200ms"]


def _store_args(redis):
    return ["--backend", "redis", "--redis-url", redis.url,
            "--backend-opt", "username=%s" % USER,
            "--backend-opt", "password-file=%s" % redis.pw_file]


def _restart_empty(redis, gap=0.2):
    redis.kill()
    time.sleep(gap)
    redis.start()


def test_redis_restarted_empty_20_times(build, redis, tmp_path):
    cl = TickCluster(build, _store_args(redis), tmp_path / "ticks",
                     TIMINGS, election="forget")
    rng = random.Random(3)
    try:
        n = forget_trials(cl, lambda: _restart_empty(redis), 20, rng)
        cl.wait_ticking()
        time.sleep(1.0)
        v = cl.check()
        assert n == 20, "only %d restarts within the time budget" % n
        assert not v, "%s\nholders %s\n%s" % (v, leadership_changes(cl),
                                              cl.logs())
    finally:
        leaked = cl.close()
    assert not leaked, "tickers outlived their electors: %s" % leaked


def test_redis_keys_deleted(anybuild, redis, tmp_path):
    cl = TickCluster(anybuild, _store_args(redis), tmp_path / "ticks",
                     TIMINGS, election="forget")
    rng = random.Random(4)
    try:
        n = forget_trials(cl, lambda: redis.cmd("DEL", *keys_of("forget")[:2]),
                          10, rng)
        cl.wait_ticking()
        time.sleep(1.0)
        v = cl.check()
        assert n == 10
        assert not v, "%s\n%s" % (v, cl.logs())
        # The leader wrote its record back each time, under its own term.
        holders = leadership_changes(cl)
        assert len({t for _, t in holders}) == len(holders), holders
    finally:
        cl.close()


def test_redis_gone_longer_than_lease(anybuild, redis, tmp_path):
    """Down for longer than the lease and back empty: the leader stepped
    down at its deadline, and exactly one leader follows, on a newer term."""
    cl = TickCluster(anybuild, _store_args(redis), tmp_path / "ticks",
                     TIMINGS, election="forget")
    try:
        cl.wait_ticking()
        redis.kill()
        time.sleep(3.5)
        assert cl.ticking(0.5) is None, "a command ran with the store gone " \
            "past the lease\n" + cl.logs()
        redis.start()
        cl.wait_ticking(20)
        time.sleep(2.0)
        v = cl.check()
        assert not v, "%s\n%s" % (v, cl.logs())
        holders = leadership_changes(cl)
        assert len(holders) >= 2 and holders[-1][1] > holders[0][1], holders
    finally:
        cl.close()
