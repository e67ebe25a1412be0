"""The store forgets (imported by scripts/bench.py).

- leaderless time after the store forgets while the leader lives: three
  daemons (2s/1.5s/300ms); the record is deleted (file) or redis-server is
  killed and started again empty; every daemon's /leader is sampled every
  ~2 ms for 3 s after, and the longest stretch with no daemon answering 200
  is the leaderless time (target 0: the leader writes its record back
  within its renew deadline);
- cold start: three daemons started on an empty store, time until one
  leads (the rule waits one lease of absence), beside the same start on a
  store holding a released record.
"""
import os
import shutil
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "redis"))

from elector_harness import Build, Daemon  # noqa: E402
from benchlib import code, pct, wait  # noqa: E402

TIMINGS = ["--lease-duration", "2s", "--renew-deadline", "1500ms",
           "--retry-period", "300ms"]
TRIALS = 10
WATCH_S = 3.0


def start(build, args, names):
    ds = [Daemon(build, ["--election", "forget", "--id", n] + args + TIMINGS,
                 name=n) for n in names]
    for d in ds:
        wait(lambda d=d: code(d.port, "/")[0] == 200, 15)
    return ds


def stop(ds):
    for d in ds:
        if d.alive():
            d.stop()
        try:
            os.unlink(d.log_path)
        except OSError:
            pass


def leaders(ds):
    return [d for d in ds if code(d.port, timeout=0.2)[0] == 200]


def longest_gap(ds, seconds):
    """Longest stretch (ms) within `seconds` with no daemon leading, and
    whether two ever answered 200 in one sweep."""
    t_end = time.monotonic() + seconds
    gap_start, worst, two = None, 0.0, False
    while time.monotonic() < t_end:
        t = time.monotonic()
        n = len(leaders(ds))
        two = two or n > 1
        if n == 0 and gap_start is None:
            gap_start = t
        elif n > 0 and gap_start is not None:
            worst = max(worst, t - gap_start)
            gap_start = None
        time.sleep(0.002)
    if gap_start is not None:
        worst = max(worst, time.monotonic() - gap_start)
    return worst * 1000, two


def forget_trials(ds, forget):
    gaps, twos = [], 0
    for _ in range(TRIALS):
        wait(lambda: len(leaders(ds)) == 1, 20)
        forget()
        g, two = longest_gap(ds, WATCH_S)
        gaps.append(g)
        twos += two
    return gaps, twos


def cold_start(build, args_fn):
    """ms to the first leader from an empty store, and from a released
    record (the same daemons started again after a graceful stop)."""
    args = args_fn()
    t0 = time.monotonic()
    ds = start(build, args, ["c1", "c2", "c3"])
    wait(lambda: len(leaders(ds)) == 1, 30)
    empty = (time.monotonic() - t0) * 1000
    stop(ds)
    t0 = time.monotonic()
    ds = start(build, args, ["c4", "c5", "c6"])
    wait(lambda: len(leaders(ds)) == 1, 30)
    released = (time.monotonic() - t0) * 1000
    stop(ds)
    return empty, released


def fmt(gaps, twos):
    return "max %.0f ms, p50 %.0f ms over %d (two leaders: %d)" % (
        max(gaps), pct(gaps, 50), len(gaps), twos)


def run(build_dir):
    build = Build(build_dir)
    rows = []
    tmp = tempfile.mkdtemp(prefix="elector-bench-forget-")
    try:
        path = os.path.join(tmp, "forget.json")
        ds = start(build, ["--file-path", path], ["a", "b", "c"])
        try:
            gaps, twos = forget_trials(ds, lambda: os.unlink(path))
        finally:
            stop(ds)
        rows.append(("file deleted under a live leader: leaderless time",
                     "0 ms", fmt(gaps, twos)))
        n = [0]

        def fresh_path():
            n[0] += 1
            return ["--file-path", os.path.join(tmp, "cold%d.json" % n[0])]
        empty, released = cold_start(build, fresh_path)
        rows.append(("cold start (file): first leader, empty store",
                     "lease (2000 ms) + poll",
                     "%.0f ms (released record: %.0f ms)" % (empty, released)))
        if shutil.which("redis-server"):
            from redis_servers import USER, RedisServer
            r = RedisServer().start()
            try:
                args = ["--backend", "redis", "--redis-url", r.url,
                        "--backend-opt", "username=%s" % USER,
                        "--backend-opt", "password-file=%s" % r.pw_file]
                ds = start(build, args, ["a", "b", "c"])

                def restart():
                    r.kill()
                    time.sleep(0.2)
                    r.start()
                try:
                    gaps, twos = forget_trials(ds, restart)
                finally:
                    stop(ds)
                rows.append(("redis restarted empty (0.2 s down): "
                             "leaderless time", "0 ms", fmt(gaps, twos)))
            finally:
                r.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else
                   os.path.join(TOP, "build")):
        print(" | ".join(row))
