"""DESIGN §9 figures for the Kubernetes Lease backend (imported by
scripts/bench.py), against the API emulator of tests/k8s (TLS, one token
per daemon so the emulator counts each daemon's requests):

- graceful handover via watch: SIGTERM to the leader -> a follower answers
  200 on /leader; 30 handovers among 3 daemons, p50/p99;
- crash failover: kill -9 of the leader -> new leader (lease 2 s);
- API requests per minute from an idle follower (target: 0 polls, one open
  watch) and from the leader (target: one PUT per retry_period);
- renew latency p50/p99 from the leader's
  elector_backend_request_duration_seconds{op="update"} histogram (bucket
  upper bounds) and its mean.
"""
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "k8s"))

from elector_harness import Build, Daemon  # noqa: E402
from benchlib import code, pct, wait  # noqa: E402

EMULATOR = os.path.join(TOP, "tests", "k8s", "k8s_emulator.py")

LEASE_S, RETRY_S = 2.0, 0.5
TIMINGS = ["--lease-duration", "2s", "--renew-deadline", "1500ms",
           "--retry-period", "500ms"]
HANDOVERS = 30
CRASHES = 5
IDLE_WINDOW_S = 10.0


class Cluster:
    def __init__(self, build, emu, tmp):
        self.build, self.emu, self.tmp = build, emu, tmp
        self.n = 0
        self.daemons = []

    def spawn(self):
        name = "b%d" % self.n
        self.n += 1
        self.emu.add_token("tok-" + name, name)
        kc = self.emu.kubeconfig(os.path.join(self.tmp, "kc-" + name),
                                 user=name, token="tok-" + name)
        d = Daemon(self.build, ["--election", "bench", "--backend", "lease",
                                "--kubeconfig", kc, "--id", name] + TIMINGS,
                   name=name)
        d.ident = name
        self.daemons.append(d)
        wait(lambda: code(d.port, "/")[0] == 200, 10, 0.01)
        return d

    def alive(self):
        return [d for d in self.daemons if d.alive()]

    def leader(self, timeout=10):
        def one():
            lead = [d for d in self.alive() if code(d.port)[0] == 200]
            return lead[0] if len(lead) == 1 else None
        return wait(one, timeout)

    def new_leader_after(self, old, timeout):
        others = [d for d in self.alive() if d is not old]
        return wait(lambda: next((d for d in others
                                  if code(d.port, timeout=0.2)[0] == 200), None),
                    timeout, 0.001)

    def close(self):
        for d in self.daemons:
            if d.alive():
                d.proc.kill()
                d.proc.wait()
            try:
                os.unlink(d.log_path)
            except OSError:
                pass


def handovers(cl):
    out = []
    for _ in range(HANDOVERS):
        old = cl.leader()
        time.sleep(0.3)        # followers' watches are open
        t0 = time.monotonic()
        old.proc.send_signal(signal.SIGTERM)
        cl.new_leader_after(old, 10)
        out.append((time.monotonic() - t0) * 1000.0)
        old.proc.wait(10)
        cl.spawn()
    return out


def crashes(cl):
    out = []
    for _ in range(CRASHES):
        old = cl.leader()
        time.sleep(1.0)
        t0 = time.monotonic()
        old.proc.kill()
        cl.new_leader_after(old, 15)
        out.append((time.monotonic() - t0) * 1000.0)
        old.proc.wait(10)
        cl.spawn()
    return out


def hist_quantiles(port, op="update"):
    """(p50 bucket, p99 bucket, mean) in ms of the OK requests of op."""
    _, body = code(port, "/metrics", timeout=2)
    buckets, total, s = [], 0, 0.0
    for line in body.decode(errors="replace").splitlines():
        tag = 'op="%s",result="ok"' % op
        if tag not in line:
            continue
        name, val = line.rsplit(" ", 1)
        if name.startswith("elector_backend_request_duration_seconds_bucket"):
            le = name.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), int(val)))
        elif name.startswith("elector_backend_request_duration_seconds_count"):
            total = int(val)
        elif name.startswith("elector_backend_request_duration_seconds_sum"):
            s = float(val)
    if total == 0:
        return None

    def q(p):
        for le, cum in buckets:
            if cum >= p * total:
                return le * 1000.0
        return float("inf")
    return q(0.5), q(0.99), s / total * 1000.0, total


class EmuProc:
    """The emulator in its own process (so this script's polling does not
    compete with it for the GIL), driven through its control endpoint."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "emu")
        self.proc = subprocess.Popen([sys.executable, EMULATOR, "--dir", self.dir],
                                     stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.port = info["port"]
        with open(info["kubeconfig"]) as f:
            self.admin = json.load(f)
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))

    def control(self, what, arg=None, method="POST"):
        data = json.dumps(arg or {}).encode() if method == "POST" else None
        req = urllib.request.Request("https://127.0.0.1:%d/_emulator/%s"
                                     % (self.port, what), data=data, method=method)
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
            return json.loads(r.read())

    def add_token(self, token, user):
        self.control("tokens", {"token": token, "user": user})

    def kubeconfig(self, path, user, token):
        doc = json.loads(json.dumps(self.admin))
        doc["users"] = [{"name": user, "user": {"token": token}}]
        doc["contexts"][0]["context"]["user"] = user
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def stats(self):
        return self.control("stats", method="GET")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def count(before, after, user, verb=None):
    def n(st):
        v = st.get(user, {})
        return v.get(verb, 0) if verb else sum(v.values())
    return n(after) - n(before)


def run(build_dir):
    build = Build(build_dir)
    tmp = tempfile.mkdtemp(prefix="bench-lease-")
    emu = EmuProc(tmp)
    cl = Cluster(build, emu, tmp)
    rows = []
    try:
        for _ in range(3):
            cl.spawn()
        leader = cl.leader()
        time.sleep(1.0)
        s0 = emu.stats()
        time.sleep(IDLE_WINDOW_S)
        s1 = emu.stats()
        per_min = 60.0 / IDLE_WINDOW_S
        foll = [d for d in cl.alive() if d is not leader]
        f_req = max(count(s0, s1, d.ident) for d in foll) * per_min
        l_put = count(s0, s1, leader.ident, "update") * per_min
        l_all = count(s0, s1, leader.ident) * per_min
        q = hist_quantiles(leader.port)
        h = handovers(cl)
        c = crashes(cl)
        rows.append(("graceful handover: lease (watch), %d runs" % len(h),
                     "p99 < 50 ms",
                     "p50 %.1f ms, p99 %.1f ms" % (pct(h, 50), pct(h, 99))))
        rows.append(("crash failover: lease (kill -9, lease 2 s), %d runs" % len(c),
                     "<= lease + 100 ms = 2100 ms",
                     "p50 %.0f ms, max %.0f ms" % (statistics.median(c), max(c))))
        rows.append(("API requests from one idle follower (lease)",
                     "0 polls (one watch)",
                     "%.1f requests/min (watches stay open)" % f_req))
        rows.append(("leader renew cost (lease, retry 500 ms)",
                     "1 PUT per retry_period = 120/min",
                     "%.0f PUT/min, %.0f requests/min in all" % (l_put, l_all)))
        if q:
            rows.append(("leader renew latency (lease PUT over TLS)", "-",
                         "p50 <= %.1f ms, p99 <= %.1f ms (buckets), mean %.2f ms, "
                         "%d renewals" % q))
    finally:
        cl.close()
        emu.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for r in run(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build")):
        print(" | ".join(r))
