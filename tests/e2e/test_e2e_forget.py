"""The store forgets: the file store's record is deleted while a leader
holds it (the recovery step users reach for), again and again.

Judged by the tick oracle, independent of elector's status: three
`elector run` replicas (2 s / 1.5 s / 300 ms, kill-grace 200 ms) whose
commands tick into one file must never overlap and never share a term.

The long trials run on the plain build only (the ASan/UBSan build runs the
shorter cases here and the same code paths elsewhere), to keep make test
near 20 minutes.
"""
import os
import random
import shutil
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


def test_file_deleted_20_times(build, tmp_path):
    store = str(tmp_path / "forget.json")
    cl = TickCluster(build, ["--file-path", store], tmp_path / "ticks",
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
    """The store is unusable for longer than the lease (its directory
    replaced by a plain file: nothing can be read or written, nothing can
    be re-created), then comes back empty: the leader stepped down at its
    deadline, and exactly one leader follows, on a newer term."""
    d = tmp_path / "store"
    d.mkdir()
    store = str(d / "gone.json")
    cl = TickCluster(anybuild, ["--file-path", store], tmp_path / "ticks",
                     TIMINGS, election="gone")
    try:
        cl.wait_ticking()
        shutil.rmtree(str(d))
        with open(str(d), "w") as f:   # the path is now a file
            f.write("not a directory\n")
        time.sleep(3.5)
        assert cl.ticking(0.5) is None, "a command ran with the store " \
            "gone past the lease\n" + cl.logs()
        os.unlink(str(d))              # back, empty
        cl.wait_ticking(20)
        time.sleep(2.0)
        v = cl.check()
        assert not v, "%s\n%s" % (v, cl.logs())
        holders = leadership_changes(cl)
        assert len(holders) >= 2 and holders[-1][1] > holders[0][1], holders
    finally:
        cl.close()


def test_store_directory_removed(anybuild, tmp_path):
    """The store's directory (and with it PATH.lock) is removed while a
    leader holds the record — a tmp cleaner, a logout that clears
    XDG_RUNTIME_DIR: the directories and the lock file come back and the
    election goes on, one leader at a time, with one lock inode for all."""
    d = tmp_path / "store" / "sub"
    store = str(d / "dir.json")
    cl = TickCluster(anybuild, ["--file-path", store], tmp_path / "ticks",
                     TIMINGS, election="dir")
    rng = random.Random(11)
    try:
        n = forget_trials(cl, lambda: shutil.rmtree(str(tmp_path / "store"),
                                                    ignore_errors=True),
                          5, rng, settle=(0.5, 1.5))
        cl.wait_ticking(20)
        time.sleep(1.0)
        v = cl.check()
        assert n == 5
        assert not v, "%s\n%s" % (v, cl.logs())
        assert cl.ticking(), "no leader after the directory came back\n" + \
            cl.logs()
        assert os.path.exists(store) and os.path.exists(store + ".lock")
    finally:
        cl.close()

