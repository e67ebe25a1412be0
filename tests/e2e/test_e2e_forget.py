"""The store forgets: the file store's record is deleted while a leader
holds it (the recovery step users reach for), again and again.

Judged by the tick oracle, independent of elector's status: three
`elector run` replicas (2 s / 1.5 s / 300 ms, kill-grace 200 ms) whose
commands tick into one file must never overlap and never share a term.
"""
import os
import random
import time

import tick_oracle
from e2e_util import timing_args
from tick_cluster import TickCluster, forget_trials, leadership_changes

TIMINGS = timing_args("2s", "1500ms", "300ms") + ["--kill-grace", "200ms"]


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def test_file_deleted_20_times(anybuild, tmp_path):
    store = str(tmp_path / "forget.json")
    cl = TickCluster(anybuild, ["--file-path", store], tmp_path / "ticks",
                     TIMINGS, election="forget")
    rng = random.Random(9)
    try:
        n = forget_trials(cl, lambda: _unlink(store), 20, rng)
        cl.wait_ticking()
        time.sleep(1.0)
        v = cl.check()
        holders = leadership_changes(cl)
        assert n == 20, "only %d deletions within the time budget" % n
        assert not v, "%s\nholders %s\n%s" % (v, holders, cl.logs())
        assert os.path.exists(store), "the leader did not write the record again"
    finally:
        leaked = cl.close()
    assert not leaked, "tickers outlived their electors: %s" % leaked


def test_cold_start_waits_one_lease(anybuild, tmp_path):
    """A process that never saw a record creates one only after a lease
    of absence (docs/design-notes.md): the first command ticks no earlier
    than the lease duration after the electors started."""
    store = str(tmp_path / "cold.json")
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    cl = TickCluster(anybuild, ["--file-path", store], tmp_path / "ticks",
                     TIMINGS, election="cold")
    try:
        cl.wait_ticking()
        first = min(t for t, _, _, _ in tick_oracle.read_ticks(cl.ticks))
        assert (first - t0) / 1e6 >= 2000, \
            "a command ticked %.0f ms after start, before a lease of " \
            "absence\n%s" % ((first - t0) / 1e6, cl.logs())
        assert not cl.check()
    finally:
        cl.close()


def test_file_gone_longer_than_lease(anybuild, tmp_path):
    """The file and its directory vanish for longer than the lease (the
    leader cannot write it again): exactly one leader once it is back."""
    d = tmp_path / "store"
    d.mkdir()
    store = str(d / "gone.json")
    cl = TickCluster(anybuild, ["--file-path", store], tmp_path / "ticks",
                     TIMINGS, election="gone")
    try:
        cl.wait_ticking()
        hidden = str(tmp_path / "hidden")
        os.rename(str(d), hidden)   # the whole store is unreachable
        time.sleep(3.5)
        for f in os.listdir(hidden):
            if f.endswith(".json"):
                os.unlink(os.path.join(hidden, f))
        os.rename(hidden, str(d))   # back, without the record
        cl.wait_ticking(20)
        time.sleep(2.0)
        v = cl.check()
        assert not v, "%s\n%s" % (v, cl.logs())
        assert cl.ticking(), "no leader once the store is back\n" + cl.logs()
    finally:
        cl.close()
