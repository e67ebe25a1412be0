"""DESIGN §9 figures for the file backend (imported by scripts/bench.py).

- graceful handover: SIGTERM to the leader -> a new leader answers 200 on
  /leader; 50 handovers among 3 daemons, p50/p99;
- crash failover: kill -9 of the leader -> new leader (2s/1.5s/0.5s);
- idle follower: RSS (VmRSS), CPU over ~10 s, store reads over the window;
- leader renew cost: writes per retry_period from the file's version counter.
"""
import json
import os
import signal
import statistics
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from elector_harness import Build, Daemon  # noqa: E402
from benchlib import code, log_time, pct, wait  # noqa: E402

LEASE_S, RETRY_S = 2.0, 0.5
TIMINGS = ["--lease-duration", "2s", "--renew-deadline", "1500ms",
           "--retry-period", "500ms"]
HANDOVERS = 50
CRASHES = 5
IDLE_WINDOW_S = 10.0


class Cluster:
    def __init__(self, build, path, names):
        self.build, self.path = build, path
        self.ds = {n: self.spawn(n) for n in names}

    def spawn(self, name):
        d = Daemon(self.build, ["--election", "bench", "--id", name,
                                "--file-path", self.path] + TIMINGS, name=name)
        wait(lambda: code(d.port, "/")[0] == 200, 15)
        return d

    def leader(self):
        for d in self.ds.values():
            if d.alive() and code(d.port)[0] == 200:
                return d
        return None

    def followers(self):
        lead = self.leader()
        return [d for d in self.ds.values() if d is not lead and d.alive()]

    def new_leader_after(self, old, timeout):
        """Seconds from now until a daemon other than old answers 200."""
        t0 = time.monotonic()
        others = [d for d in self.ds.values() if d is not old and d.alive()]
        while time.monotonic() - t0 < timeout:
            for d in others:
                if code(d.port, timeout=0.2)[0] == 200:
                    return time.monotonic() - t0, d
        raise RuntimeError("no new leader within %.1fs" % timeout)

    def replace(self, old):
        try:
            old.proc.wait(10)
        except Exception:
            old.kill()
        self.ds[old.name] = self.spawn(old.name)
        try:
            os.unlink(old.log_path)
        except OSError:
            pass
        # steady state before the next measurement: everyone knows the leader
        wait(self.agreed, 10)
        time.sleep(0.05)

    def agreed(self):
        seen = set()
        for d in self.ds.values():
            _, body = code(d.port, "/")
            try:
                seen.add(json.loads(body)["leader"])
            except ValueError:
                return False
        return len(seen) == 1 and "" not in seen

    def close(self):
        for d in self.ds.values():
            if d.alive():
                try:
                    d.stop(10)
                except AssertionError:
                    pass
            try:
                os.unlink(d.log_path)
            except OSError:
                pass


def handovers(cl):
    """(poller-measured ms, daemon-side ms from the leader's 'received
    SIGTERM' log line to the new leader's 'successfully acquired')."""
    times, inner = [], []
    for _ in range(HANDOVERS):
        lead = wait(cl.leader, 10)
        lead.signal(signal.SIGTERM)
        took, new = cl.new_leader_after(lead, 10)
        times.append(took * 1000)
        lead.proc.wait(10)
        a = log_time(lead.log(), "received SIGTERM")
        b = log_time(new.log(), "successfully acquired lease", last=True)
        if a is not None and b is not None and b >= a:
            inner.append((b - a) * 1000)
        cl.replace(lead)
    return times, inner


def crashes(cl):
    times = []
    for _ in range(CRASHES):
        lead = wait(cl.leader, 10)
        time.sleep(0.2)
        lead.signal(signal.SIGKILL)
        times.append(cl.new_leader_after(lead, 15)[0] * 1000)
        cl.replace(lead)
    return times


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def pss_kib(pid):
    """Proportional set size: shared pages divided among their users."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(field + ":"):
                return int(ln.split()[1])
    return -1


def metric_sum(port, prefix):
    _, body = code(port, "/metrics", timeout=2)
    total = 0.0
    for ln in body.decode(errors="replace").splitlines():
        if ln.startswith(prefix):
            total += float(ln.rsplit(" ", 1)[1])
    return total


def file_version(path):
    with open(path) as f:
        return json.load(f)["version"]


def idle(cl, path):
    lead = wait(cl.leader, 10)
    time.sleep(1.0)
    fol = cl.followers()[0]
    hz = os.sysconf("SC_CLK_TCK")
    gets = 'elector_backend_request_duration_seconds_count{op="get"'
    g0 = metric_sum(fol.port, gets)
    c0, lc0 = proc_cpu_ticks(fol.proc.pid), proc_cpu_ticks(lead.proc.pid)
    v0, t0 = file_version(path), time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    c1, lc1 = proc_cpu_ticks(fol.proc.pid), proc_cpu_ticks(lead.proc.pid)
    v1, t1 = file_version(path), time.monotonic()
    g1 = metric_sum(fol.port, gets)
    window = t1 - t0
    return {
        "rss": status_kib(fol.proc.pid, "VmRSS"),
        "anon": status_kib(fol.proc.pid, "RssAnon"),
        "pss": pss_kib(fol.proc.pid),
        "cpu": 100.0 * (c1 - c0) / hz / window,
        "lcpu": 100.0 * (lc1 - lc0) / hz / window,
        "gets": g1 - g0,
        "writes_per_retry": (v1 - v0) / (window / RETRY_S),
        "window": window,
    }


def run(build_dir):
    build = Build(build_dir)
    build.require()
    rows = []
    with tempfile.TemporaryDirectory(prefix="elector-bench-") as tmp:
        path = os.path.join(tmp, "bench.json")
        cl = Cluster(build, path, ["b1", "b2", "b3"])
        try:
            ho, inner = handovers(cl)
            rows.append(("graceful handover, file (%d runs, HTTP poller)" % len(ho),
                         "p99 < 10 ms", "p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                         % (pct(ho, 50), pct(ho, 99), max(ho))))
            if inner:
                rows.append(("  same, daemon logs: SIGTERM -> acquired (%d)" % len(inner),
                             "p99 < 10 ms", "p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                             % (pct(inner, 50), pct(inner, 99), max(inner))))
            cr = crashes(cl)
            rows.append(("crash failover, file, lease 2s (%d runs)" % len(cr),
                         "<= %d ms" % (LEASE_S * 1000 + 100),
                         "mean %.0f ms, max %.0f ms" % (statistics.mean(cr), max(cr))))
            st = idle(cl, path)
            rows.append(("store reads, idle follower (%.0fs)" % st["window"],
                         "0 polls (one watch)", "%d gets" % max(0, round(st["gets"]))))
            rows.append(("leader renew cost (retry 500ms)", "1 write per retry_period",
                         "%.2f writes per retry_period" % st["writes_per_retry"]))
            rows.append(("daemon RSS, idle follower", "< 4 MiB",
                         "%.2f MiB RSS, %.2f MiB PSS (private anon %.2f MiB; the "
                         "rest is shared library pages, 2.2 MiB of them gnutls "
                         "mapped by Debian's libmicrohttpd)"
                         % (st["rss"] / 1024.0, st["pss"] / 1024.0, st["anon"] / 1024.0)))
            rows.append(("idle CPU, follower (%.0fs)" % st["window"], "< 0.1 % of a core",
                         "%.3f %% (leader %.3f %%)" % (st["cpu"], st["lcpu"])))
        finally:
            cl.close()
    return rows
