"""DESIGN §9 figures for the etcd backend (imported by scripts/bench.py).

Against a real 3-member etcd cluster on loopback (Debian etcd-server 3.4,
tests/etcd/etcd_cluster.py):
- graceful handover: SIGTERM to the leader -> the new holder's write is
  seen by an observer's own /v3/watch stream on the key (timestamped as it
  arrives); 30 handovers among 3 daemons, p50/p99; also from the daemons'
  own logs;
- crash failover: kill -9 of the leader right after the observer saw one
  of its renewals (lease 2s, renew 1.5s, retry 500ms): the worst case, the
  whole lease still to run;
- renew round trip: the leader's elector_backend_request_duration_seconds
  histogram (op="update"), bucket upper bounds, and the mean;
- requests from an idle follower: the followers' get/create/update counts
  over a window (the watch stream is not a request), and the leader's
  writes per retry_period counted from the observer's events;
- handover while one of the three members (the first endpoint, where every
  daemon starts) is down;
- the handover again with the members' data on tmpfs (/dev/shm): what is
  left without the disk's fsync latency (every etcd commit fsyncs its WAL
  on a majority of members; a handover is two commits).
"""
import base64
import http.client
import json
import os
import queue
import signal
import statistics
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "etcd"))

from elector_harness import Build, Daemon  # noqa: E402
from benchlib import code, log_time, pct, wait  # noqa: E402
from etcd_cluster import EtcdCluster, daemon_args, key_of  # noqa: E402

LEASE_S, RETRY_S = 2.0, 0.5
TIMING = dict(lease="2s", renew="1500ms", retry="500ms")
HANDOVERS = 30
DOWN_HANDOVERS = 15
CRASHES = 4
IDLE_WINDOW_S = 20.0


class Observer:
    """A /v3/watch stream on the key: (monotonic time, holder, revision)
    of every write, in a queue."""

    def __init__(self, member, key):
        self.q = queue.Queue()
        self.conn = http.client.HTTPConnection("127.0.0.1",
                                               member.client_port, timeout=60)
        k = base64.b64encode(key.encode()).decode()
        self.conn.request("POST", "/v3/watch", body=json.dumps(
            {"create_request": {"key": k}}),
            headers={"Content-Type": "application/json"})
        self.resp = self.conn.getresponse()
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                now = time.monotonic()
                res = json.loads(line).get("result", {})
                for ev in res.get("events") or []:
                    kv = ev.get("kv", {})
                    holder = ""
                    if kv.get("value"):
                        holder = json.loads(base64.b64decode(
                            kv["value"]))["holderIdentity"]
                    self.q.put((now, holder, int(kv.get("mod_revision", 0))))
        except (OSError, ValueError, AttributeError,
                http.client.HTTPException):
            return  # closed by close()

    def drain(self):
        n = 0
        while True:
            try:
                self.q.get_nowait()
                n += 1
            except queue.Empty:
                return n

    def next(self, timeout):
        return self.q.get(timeout=timeout)

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except (OSError, AttributeError):
            pass
        self.conn.close()


class Group:
    def __init__(self, build, etcd, names, election="bench"):
        self.build, self.etcd, self.election = build, etcd, election
        self.ds = {}
        for n in names:
            self.ds[n] = self.spawn(n, wait_up=False)
        for d in self.ds.values():
            wait(lambda: code(d.port, "/")[0] == 200, 60, 0.02)
        self.obs = None

    def observe(self, member):
        if self.obs:
            self.obs.close()
        self.obs = Observer(member, key_of(self.election))

    def spawn(self, name, wait_up=True):
        d = Daemon(self.build, daemon_args(self.etcd, election=self.election,
                                           ident=name, **TIMING), name=name)
        if wait_up:
            wait(lambda: code(d.port, "/")[0] == 200, 15, 0.01)
        return d

    def leader(self):
        for d in self.ds.values():
            if d.alive() and code(d.port)[0] == 200:
                return d
        return None

    def agreed(self):
        seen = set()
        for d in self.ds.values():
            _, body = code(d.port, "/", 2.0)
            try:
                seen.add(json.loads(body)["leader"])
            except ValueError:
                return False
        return len(seen) == 1 and "" not in seen

    def switch(self, sig, timeout, after_renew=False):
        lead = wait(self.leader, 15)
        self.obs.drain()
        if after_renew:
            while self.obs.next(5)[1] != lead.name:
                pass
        t0 = time.monotonic()
        lead.signal(sig)
        while time.monotonic() - t0 < timeout:
            try:
                t, h, _ = self.obs.next(timeout)
            except queue.Empty:
                break
            if h and h != lead.name:
                return t - t0, lead, self.ds[h]
        raise RuntimeError("no new holder within %.1fs" % timeout)

    def replace(self, old):
        try:
            old.proc.wait(10)
        except Exception:
            old.kill()
        try:
            os.unlink(old.log_path)
        except OSError:
            pass
        self.ds[old.name] = self.spawn(old.name)
        wait(self.agreed, 20, 0.02)
        time.sleep(0.05)

    def close(self):
        if self.obs:
            self.obs.close()
        for d in self.ds.values():
            if d.alive():
                d.signal(signal.SIGTERM)
        for d in self.ds.values():
            try:
                d.proc.wait(15)
            except Exception:
                d.kill()
            try:
                os.unlink(d.log_path)
            except OSError:
                pass


def handovers(g, n):
    times, inner = [], []
    for _ in range(n):
        took, old, new = g.switch(signal.SIGTERM, 10)
        times.append(took * 1000)
        old.proc.wait(10)
        a = log_time(old.log(), "received SIGTERM")
        b = log_time(new.log(), "successfully acquired lease", last=True)
        if a is not None and b is not None and b >= a:
            inner.append((b - a) * 1000)
        g.replace(old)
    return times, inner


def crashes(g):
    times = []
    for _ in range(CRASHES):
        wait(g.leader, 10)
        time.sleep(0.3)
        took, old, _ = g.switch(signal.SIGKILL, 15, after_renew=True)
        times.append(took * 1000)
        g.replace(old)
    return times


def metric_lines(port):
    _, body = code(port, "/metrics", timeout=2)
    return body.decode(errors="replace").splitlines()


def requests(port):
    n = 0.0
    for ln in metric_lines(port):
        if ln.startswith("elector_backend_request_duration_seconds_count{"):
            n += float(ln.rsplit(" ", 1)[1])
    return n


def update_histogram(port):
    b, s, c = {}, 0.0, 0.0
    for ln in metric_lines(port):
        if not ln.startswith("elector_backend_request_duration_seconds") or \
                'op="update"' not in ln:
            continue
        val = float(ln.rsplit(" ", 1)[1])
        if "_bucket" in ln:
            le = ln.split('le="', 1)[1].split('"', 1)[0]
            le = float("inf") if le == "+Inf" else float(le)
            b[le] = b.get(le, 0.0) + val
        elif "_sum" in ln:
            s += val
        elif "_count" in ln:
            c += val
    return sorted(b.items()), s, c


def hist_pct(buckets, count, p):
    for le, cum in buckets:
        if cum >= p / 100.0 * count:
            return le
    return float("inf")


def fmt_le(le):
    return "+Inf" if le == float("inf") else "%.1f ms" % (le * 1000)


def idle(g):
    lead = wait(g.leader, 10)
    time.sleep(1.5)
    followers = [d for d in g.ds.values() if d is not lead]
    r0 = {d.name: requests(d.port) for d in followers}
    g.obs.drain()
    t0 = time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    writes = g.obs.drain()
    window = time.monotonic() - t0
    r1 = {d.name: requests(d.port) for d in followers}
    per_follower = sum(r1[k] - r0[k] for k in r0) / len(followers)
    buckets, hsum, c1 = update_histogram(lead.port)
    return {
        "window": window,
        "follower_per_min": per_follower * 60.0 / window,
        "leader_per_min": writes * 60.0 / window,
        "leader_per_retry": writes / (window / RETRY_S),
        "rtt_p50": hist_pct(buckets, c1, 50),
        "rtt_p99": hist_pct(buckets, c1, 99),
        "rtt_mean_ms": 1000.0 * hsum / c1 if c1 else float("nan"),
        "rtt_n": c1,
    }


def dist(xs):
    return "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (pct(xs, 50),
                                                      pct(xs, 99), max(xs))


def run_tmpfs(build):
    if not os.path.isdir("/dev/shm"):
        return []
    etcd = EtcdCluster(name="bench-shm", base_dir="/dev/shm")
    try:
        etcd.start()
        g = Group(build, etcd, ["s1", "s2", "s3"], election="bench-shm")
        try:
            g.observe(etcd.members[2])
            wait(g.agreed, 20, 0.05)
            ho, _ = handovers(g, HANDOVERS)
            st = idle_rtt(g)
        finally:
            g.close()
    finally:
        etcd.close()
    return [("graceful handover, etcd data on tmpfs (%d runs)" % len(ho),
             "p99 < 10 ms", dist(ho)),
            ("  renew round trip, data on tmpfs (%d)" % st[2], "-",
             "p50 <= %s, p99 <= %s (bucket bounds), mean %.2f ms"
             % (fmt_le(st[0]), fmt_le(st[1]), st[3]))]


def idle_rtt(g):
    lead = wait(g.leader, 10)
    time.sleep(3.0)
    buckets, hsum, c1 = update_histogram(lead.port)
    return (hist_pct(buckets, c1, 50), hist_pct(buckets, c1, 99), c1,
            1000.0 * hsum / c1 if c1 else float("nan"))


def run(build_dir):
    build = Build(build_dir)
    build.require()
    rows = run_disk(build)
    rows += run_tmpfs(build)
    return rows


def run_disk(build):
    rows = []
    etcd = EtcdCluster(name="bench")
    try:
        etcd.start()
        g = Group(build, etcd, ["b1", "b2", "b3"])
        try:
            g.observe(etcd.members[2])
            wait(g.agreed, 20, 0.05)
            ho, inner = handovers(g, HANDOVERS)
            rows.append(("graceful handover, etcd 3 members (%d runs, "
                         "observer watch)" % len(ho), "p99 < 10 ms",
                         dist(ho)))
            if inner:
                rows.append(("  same, daemon logs: SIGTERM -> acquired (%d)"
                             % len(inner), "p99 < 10 ms", dist(inner)))
            cr = crashes(g)
            rows.append(("crash failover, etcd, lease 2s (%d runs, kill "
                         "right after a renew)" % len(cr),
                         "<= %d ms" % (LEASE_S * 1000 + 100),
                         "mean %.0f ms, max %.0f ms"
                         % (statistics.mean(cr), max(cr))))
            st = idle(g)
            rows.append(("etcd renew round trip (leader histogram, %d)"
                         % st["rtt_n"], "-",
                         "p50 <= %s, p99 <= %s (bucket bounds), mean %.2f ms"
                         % (fmt_le(st["rtt_p50"]), fmt_le(st["rtt_p99"]),
                            st["rtt_mean_ms"])))
            rows.append(("etcd requests/min, idle follower (%.0fs)"
                         % st["window"], "0 (one watch stream)",
                         "%.1f per follower" % st["follower_per_min"]))
            rows.append(("etcd leader writes per retry_period (%.0fs, "
                         "observer)" % st["window"], "1",
                         "%.2f (%.0f/min)" % (st["leader_per_retry"],
                                              st["leader_per_min"])))
            etcd.members[0].kill()
            wait(g.agreed, 20, 0.05)
            time.sleep(1.0)
            ho, _ = handovers(g, DOWN_HANDOVERS)
            rows.append(("graceful handover, etcd, 1 of 3 members down "
                         "(%d runs)" % len(ho), "p99 < 10 ms", dist(ho)))
        finally:
            g.close()
    finally:
        etcd.close()
    return rows


if __name__ == "__main__":
    for r in run(sys.argv[1] if len(sys.argv) > 1 else
                 os.path.join(TOP, "build")):
        print(" | ".join(r))
