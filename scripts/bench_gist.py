"""DESIGN §9 figures for the gist backend (imported by scripts/bench.py).

Against the GitHub emulator (tests/gist/github_emulator.py: REST in this
process, git through real git-http-backend behind lighttpd), at the
shortest timings the backend accepts without allow-fast-renew:
lease 15s, renew deadline 10s, retry period 8s (a leader pushing every 8 s
makes 450 commits per hour, under GitHub's ~500 content-creating requests
per hour).

- graceful handover: SIGTERM to the leader -> another daemon answers 200 on
  /leader (followers poll every retry period, so up to ~9.6 s);
- crash failover: kill -9 of the leader -> new leader (lease + poll);
- request budget: one leader and two followers for a window; REST requests
  per hour of the leader and of one follower (and how many were free 304s),
  git pushes per hour of the leader, against GitHub's documented limits
  (5000 REST requests/hour per token, ~500 content-creating/hour).

GIST_BENCH_WINDOW (seconds, default 64) sets the steady-state window.
"""
import http.client
import os
import signal
import statistics
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "gist"))

from elector_harness import Build, Daemon  # noqa: E402
from github_emulator import GitHubEmulator  # noqa: E402

TIMINGS = ["--lease-duration", "15s", "--renew-deadline", "10s",
           "--retry-period", "8s"]
HANDOVERS = 3
CRASHES = 2


def leader_code(d):
    try:
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=0.5)
        c.request("GET", "/leader")
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except OSError:
        return None


def wait_leader(ds, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in ds:
            if d.alive() and leader_code(d) == 200:
                return d
        time.sleep(0.02)
    raise RuntimeError("no leader within %.0fs" % timeout)


def fmt(xs):
    if not xs:
        return "-"
    return "p50 %.2f s, max %.2f s (n=%d)" % (statistics.median(xs), max(xs), len(xs))


def run(build_dir):
    build = Build(build_dir)
    build.require()
    tmp = tempfile.mkdtemp(prefix="bench-gist-")
    emu = GitHubEmulator(os.path.join(tmp, "emu")).start()
    ds = []
    names = iter("n%d" % i for i in range(100))
    try:
        gid = emu.create_gist({"README.md": "bench\n"})
        tok = os.path.join(tmp, "token")
        with open(tok, "w") as f:
            f.write(emu.token + "\n")
        os.chmod(tok, 0o600)
        opts = ["--backend", "gist", "--gist-id", gid, "--gist-token-file", tok,
                "--backend-opt", "api-url=" + emu.api_url,
                "--backend-opt", "git-url=" + emu.git_url(gid),
                "--backend-opt", "state-dir=" + os.path.join(tmp, "state")]

        def start():
            n = next(names)
            d = Daemon(build, ["--election", "bench", "--id", n] + TIMINGS + opts, name=n)
            ds.append(d)
            return d

        live = [start() for _ in range(3)]
        leader = wait_leader(live, 60)

        handovers = []
        for _ in range(HANDOVERS):
            time.sleep(2)
            t0 = time.monotonic()
            leader.signal(signal.SIGTERM)
            others = [d for d in live if d is not leader]
            new = wait_leader(others, 60)
            handovers.append(time.monotonic() - t0)
            leader.proc.wait(15)
            live = others + [start()]
            leader = new

        failovers = []
        for _ in range(CRASHES):
            time.sleep(2)
            t0 = time.monotonic()
            leader.kill()
            others = [d for d in live if d is not leader]
            new = wait_leader(others, 90)
            failovers.append(time.monotonic() - t0)
            live = others + [start()]
            leader = new

        # steady state: one leader, two followers
        window = float(os.environ.get("GIST_BENCH_WINDOW", "64"))
        time.sleep(10)  # the new follower's first full read is done
        follower = [d for d in live if d is not leader][0]
        pushes0 = emu.commits_by_author(gid).get(leader.name, 0)
        t0 = time.monotonic()
        time.sleep(window)
        t1 = time.monotonic()
        pushes = emu.commits_by_author(gid).get(leader.name, 0) - pushes0
        per_h = 3600.0 / (t1 - t0)

        def rest(d):
            rs = [r for r in emu.requests if t0 <= r[0] <= t1 and r[4].endswith("(%s)" % d.name)]
            return len(rs), sum(1 for r in rs if r[3] == 304)

        lr, l304 = rest(leader)
        fr, f304 = rest(follower)
        rows = [
            ("gist graceful handover (15s/10s/8s, poll)", "< retry_period x 1.2 = 9.6 s",
             fmt(handovers)),
            ("gist crash failover (kill -9)", "<= lease 15 s + poll 9.6 s", fmt(failovers)),
            ("gist leader git pushes per hour", "<= ~500/h (GitHub content-creating)",
             "%.0f/h (%d in %.0f s)" % (pushes * per_h, pushes, t1 - t0)),
            ("gist leader REST requests per hour", "5000/h per token (304s free)",
             "%.0f/h, %.0f/h of them free 304s" % (lr * per_h, l304 * per_h)),
            ("gist follower REST requests per hour", "5000/h per token (304s free)",
             "%.0f/h, %.0f/h of them free 304s -> %.0f/h counted"
             % (fr * per_h, f304 * per_h, (fr - f304) * per_h)),
        ]
        return rows
    finally:
        for d in ds:
            if d.alive():
                d.proc.kill()
                d.proc.wait(10)
            try:
                os.unlink(d.log_path)
            except OSError:
                pass
        emu.stop()


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build")):
        print(" | ".join(row))
