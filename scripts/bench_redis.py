"""DESIGN §9 figures for the redis backend (imported by scripts/bench.py).

Against a real redis-server on 127.0.0.1 (requirepass + ACL user):
- graceful handover: SIGTERM to the leader -> the new leader's acquisition
  is PUBLISHed on the election's channel (a subscriber timestamps it);
  50 handovers among 3 daemons, p50/p99; also from the daemons' own logs;
- crash failover: kill -9 of the leader right after one of its renewals
  is published -> new holder published (lease 2s, renew 1.5s, retry
  500ms): the worst case, the whole lease still to run;
- renew round trip: the leader's elector_backend_request_duration_seconds
  histogram (op="update"), bucket upper bounds, and the mean;
- commands sent by an idle follower: INFO commandstats deltas of top-level
  commands while one leader and two followers run, minus the leader's own
  renewals (the delta of the election's INCR version counter);
- 100 followers: handover p50/p99 over 20 SIGTERM handovers.
"""
import json
import os
import signal
import statistics
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "redis"))

from elector_harness import Build, Daemon  # noqa: E402
from benchlib import code, log_time, pct, wait  # noqa: E402
from redis_servers import RedisServer, daemon_args, keys_of  # noqa: E402

LEASE_S, RETRY_S = 2.0, 0.5
TIMING = dict(lease="2s", renew="1500ms", retry="500ms")
HANDOVERS = 50
CRASHES = 5
IDLE_WINDOW_S = 20.0
MANY = 100
MANY_HANDOVERS = 20
# Top-level commands a client may send (script-internal calls such as GET,
# SET, INCR, PUBLISH are counted by Redis too, but only inside EVAL*).
TOP_LEVEL = ("evalsha", "eval", "subscribe", "unsubscribe", "ping", "auth",
             "select", "role", "hello", "client")


class Cluster:
    def __init__(self, build, redis, names, election="bench", **timing):
        self.build, self.redis, self.election = build, redis, election
        self.timing = timing or TIMING
        self.ds = {}
        for n in names:
            self.ds[n] = self.spawn(n, wait_up=False)
        for d in self.ds.values():
            wait(lambda: code(d.port, "/")[0] == 200, 60, 0.02)
        _, _, self.channel = keys_of(election)

    def spawn(self, name, wait_up=True):
        d = Daemon(self.build, daemon_args(self.redis.url, self.redis.pw_file,
                                           election=self.election, ident=name,
                                           **self.timing), name=name)
        if wait_up:
            wait(lambda: code(d.port, "/")[0] == 200, 15, 0.01)
        return d

    def holder(self):
        raw = self.redis.cmd("GET", keys_of(self.election)[0])
        return json.loads(raw)["holderIdentity"] if raw else ""

    def leader(self):
        h = self.holder()
        d = self.ds.get(h)
        if d is not None and d.alive() and code(d.port)[0] == 200:
            return d
        return None

    def agreed(self, sample=None):
        ds = list(self.ds.values())
        if sample:
            ds = ds[:sample]
        seen = set()
        for d in ds:
            _, body = code(d.port, "/", 2.0)
            try:
                seen.add(json.loads(body)["leader"])
            except ValueError:
                return False
        return len(seen) == 1 and "" not in seen

    def switch(self, sig, timeout, after_renew=False):
        """Send sig to the leader; seconds until another holder is
        published, the old and the new daemon. after_renew: send it right
        after a renewal is published and count from that renewal (the
        worst case for a crash: the lease was just extended)."""
        lead = wait(self.leader, 15)
        sub = self.redis.client(timeout=timeout + 1)
        sub.call("SUBSCRIBE", self.channel)
        if after_renew:
            while sub.read()[0] != b"message":
                pass
        t0 = time.monotonic()
        lead.signal(sig)
        try:
            while time.monotonic() - t0 < timeout:
                msg = sub.read()
                if msg[0] != b"message":
                    continue
                h = json.loads(msg[2].split(b"\n", 1)[1])["holderIdentity"]
                if h and h != lead.name:
                    return time.monotonic() - t0, lead, self.ds[h]
        finally:
            sub.close()
        raise RuntimeError("no new holder within %.1fs" % timeout)

    def replace(self, old, sample=None):
        try:
            old.proc.wait(10)
        except Exception:
            old.kill()
        try:
            os.unlink(old.log_path)
        except OSError:
            pass
        self.ds[old.name] = self.spawn(old.name)
        wait(lambda: self.agreed(sample), 20, 0.02)
        time.sleep(0.05)

    def close(self):
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


def handovers(cl, n, sample=None):
    times, inner = [], []
    for _ in range(n):
        took, old, new = cl.switch(signal.SIGTERM, 10)
        times.append(took * 1000)
        old.proc.wait(10)
        a = log_time(old.log(), "received SIGTERM")
        b = log_time(new.log(), "successfully acquired lease", last=True)
        if a is not None and b is not None and b >= a:
            inner.append((b - a) * 1000)
        cl.replace(old, sample)
    return times, inner


def crashes(cl):
    times = []
    for _ in range(CRASHES):
        wait(cl.leader, 10)
        time.sleep(0.3)
        took, old, _ = cl.switch(signal.SIGKILL, 15, after_renew=True)
        times.append(took * 1000)
        cl.replace(old)
    return times


def metrics(port):
    _, body = code(port, "/metrics", timeout=2)
    return body.decode(errors="replace").splitlines()


def update_histogram(port):
    """(buckets [(le, cumulative)], sum, count) of op="update", all
    results."""
    b, s, c = {}, 0.0, 0.0
    for ln in metrics(port):
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


def idle(cl):
    lead = wait(cl.leader, 10)
    time.sleep(1.5)
    followers = [d for d in cl.ds.values() if d is not lead]
    ver_key = keys_of(cl.election)[1]
    # The version counter counts the leader's writes exactly; read it right
    # after the command stats so no renewal slips in between.
    # One admin connection for both snapshots: its INFO and GET are not
    # counted as top-level client commands below.
    admin = cl.redis.client()
    s0, v0, t0 = cl.redis.commandstats(admin), int(admin.call("GET", ver_key)), \
        time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    s1, v1, t1 = cl.redis.commandstats(admin), int(admin.call("GET", ver_key)), \
        time.monotonic()
    admin.close()
    buckets, hsum, c1 = update_histogram(lead.port)
    window = t1 - t0
    top = sum(s1.get(k, 0) - s0.get(k, 0) for k in TOP_LEVEL)
    leader_cmds = v1 - v0
    per_follower = max(0.0, top - leader_cmds) / len(followers)
    return {
        "window": window,
        "follower_per_min": per_follower * 60.0 / window,
        "leader_per_min": leader_cmds * 60.0 / window,
        "leader_per_retry": leader_cmds / (window / RETRY_S),
        "rtt_p50": hist_pct(buckets, c1, 50),
        "rtt_p99": hist_pct(buckets, c1, 99),
        "rtt_mean_ms": 1000.0 * hsum / c1 if c1 else float("nan"),
        "rtt_n": c1,
    }


def run(build_dir):
    build = Build(build_dir)
    build.require()
    rows = []
    redis = RedisServer(name="bench")
    try:
        redis.start()
        cl = Cluster(build, redis, ["b1", "b2", "b3"])
        try:
            wait(cl.agreed, 20, 0.05)
            ho, inner = handovers(cl, HANDOVERS)
            rows.append(("graceful handover, redis (%d runs, channel "
                         "subscriber)" % len(ho), "p99 < 10 ms",
                         "p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                         % (pct(ho, 50), pct(ho, 99), max(ho))))
            if inner:
                rows.append(("  same, daemon logs: SIGTERM -> acquired (%d)"
                             % len(inner), "p99 < 10 ms",
                             "p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                             % (pct(inner, 50), pct(inner, 99), max(inner))))
            cr = crashes(cl)
            rows.append(("crash failover, redis, lease 2s (%d runs, kill "
                         "right after a renew)" % len(cr),
                         "<= %d ms" % (LEASE_S * 1000 + 100),
                         "mean %.0f ms, max %.0f ms"
                         % (statistics.mean(cr), max(cr))))
            st = idle(cl)
            rows.append(("redis renew round trip (leader histogram, %d)"
                         % st["rtt_n"], "-",
                         "p50 <= %s, p99 <= %s (bucket bounds), mean %.2f ms"
                         % (fmt_le(st["rtt_p50"]), fmt_le(st["rtt_p99"]),
                            st["rtt_mean_ms"])))
            rows.append(("redis commands/min, idle follower (%.0fs, "
                         "INFO commandstats)" % st["window"],
                         "0 (one SUBSCRIBE)",
                         "%.1f per follower (leader: %.0f/min = %.2f per "
                         "retry_period)" % (st["follower_per_min"],
                                            st["leader_per_min"],
                                            st["leader_per_retry"])))
        finally:
            cl.close()
        many = Cluster(build, redis, ["m%03d" % i for i in range(MANY)],
                       election="bench-many", lease="6s", renew="4s",
                       retry="1s")
        try:
            wait(lambda: many.agreed(), 60, 0.2)
            ho, _ = handovers(many, MANY_HANDOVERS, sample=10)
            rows.append(("handover, %d followers, redis (%d runs)"
                         % (MANY - 1, len(ho)), "p99 < 100 ms",
                         "p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                         % (pct(ho, 50), pct(ho, 99), max(ho))))
        finally:
            many.close()
    finally:
        redis.close()
    return rows


if __name__ == "__main__":
    for r in run(sys.argv[1] if len(sys.argv) > 1 else
                 os.path.join(TOP, "build")):
        print(" | ".join(r))
