"""Run mode cannot outlive its lease (DESIGN §6, "The keeper").

Real processes, nothing mocked. The judge is the tick oracle
(tests/lib/tick_oracle.py), independent of elector's own status: every
replica's command appends "<CLOCK_MONOTONIC ns> <id> <ELECTOR_TERM> <pid>"
to one shared file every 5 ms while it lives; two ids with overlapping
tick intervals are a split brain, and terms must grow from holder to
holder.

Randomised trials inject faults into the file and redis stores: elector
SIGKILL, elector SIGSTOP for 0.5-2x lease then SIGCONT, keeper SIGKILL,
keeper SIGSTOP for 0.5-2x lease then SIGCONT,
SIGHUP/SIGQUIT/SIGUSR1 to elector, a child that ignores SIGTERM, a child
that double-forks a ticking grandchild, and a container freeze (elector,
keeper and command stopped together and resumed). Bounds are on safety,
never on speed: the tests stay green with a CPU hog beside them.
"""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from elector_harness import Daemon, run, wait_until
from e2e_util import pid_alive, timing_args
import tick_oracle

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "redis"))

# lease - renew - grace = 400 ms of margin for a loaded machine.
LEASE_S = 1.2
TIMINGS = timing_args("1200ms", "600ms", "150ms") + ["--kill-grace", "200ms"]
# Per-replica command variants: plain, deaf to SIGTERM, double-forking.
VARIANTS = {"r1": {}, "r2": {"ignore_term": True}, "r3": {"grandchild": True}}
RESTART = {"r1": ["--restart", "always", "--restart-backoff", "50ms:400ms"]}

FAULTS = ("kill9", "stop", "keeper9", "keeperstop", "hup", "quit", "usr1")


# ---- helpers -----------------------------------------------------------


def children(pid):
    """Direct children of pid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(st[1]) == pid:
            out.append(int(d))
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def keeper_of(daemon):
    """The pid of daemon's keeper, or None."""
    for c in children(daemon.proc.pid):
        try:
            with open("/proc/%d/cmdline" % c, "rb") as f:
                if b"__keeper" in f.read():
                    return c
        except OSError:
            pass
    return None


def signal_pids(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass


class Cluster:
    """Replicas of `elector run -- ticker` on one store, restartable by
    name. Every process it starts is stopped by close()."""

    def __init__(self, build, store_args, ticks, tmp, names=("r1", "r2", "r3"),
                 election="keeper"):
        self.build = build
        self.store_args = store_args
        self.ticks = str(ticks)
        self.tmp = tmp
        self.election = election
        self.names = list(names)
        self.daemons = {}
        self.old = []
        for n in self.names:
            self.start(n)

    def args(self, name):
        cmd = tick_oracle.ticker_cmd(self.ticks, name, **VARIANTS.get(name, {}))
        return (["run", "--election", self.election, "--id", name]
                + self.store_args + TIMINGS + RESTART.get(name, [])
                + ["--"] + cmd)

    def start(self, name):
        d = Daemon(self.build, self.args(name), name=name, http=False)
        self.daemons[name] = d
        return d

    def revive(self):
        """Start again every replica that exited; returns their names."""
        out = []
        for n, d in self.daemons.items():
            if not d.alive():
                d.proc.wait()
                self.old.append(d)
                self.start(n)
                out.append(n)
        return out

    def holder(self):
        """The replica whose command ticked last (None if none yet)."""
        t = tick_oracle.read_ticks(self.ticks)
        return t[-1][1] if t else None

    def ticking(self, within=0.2):
        t = tick_oracle.read_ticks(self.ticks)
        if not t:
            return None
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        return t[-1][1] if now - t[-1][0] < within * 1e9 else None

    def wait_ticking(self, timeout=15):
        return wait_until(self.ticking, timeout, interval=0.02,
                          what="a command ticking")

    def close(self):
        """SIGCONT and stop everything; kill leftover tickers. Returns
        the pids of tickers that outlived every elector."""
        for d in self.daemons.values():
            signal_pids([d.proc.pid] + descendants(d.proc.pid), signal.SIGCONT)
        for d in self.daemons.values():
            if d.alive():
                d.signal(signal.SIGTERM)
        for d in self.daemons.values():
            try:
                d.proc.wait(15)
            except subprocess.TimeoutExpired:
                d.proc.kill()
                d.proc.wait()
        leaked = []
        try:
            wait_until(lambda: not tick_oracle.live_tickers(self.ticks), 5,
                       what="tickers gone")
        except AssertionError:
            leaked = tick_oracle.kill_tickers(self.ticks)
        reports = []
        for d in list(self.daemons.values()) + self.old:
            r = d.sanitizer_report()
            if r:
                reports.append("%s:\n%s" % (d.name, r[-4000:]))
        for d in list(self.daemons.values()) + self.old:
            try:
                os.unlink(d.log_path)
            except OSError:
                pass
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)
        return leaked

    def logs(self):
        return "\n".join("== %s\n%s" % (d.name, d.log()[-3000:])
                         for d in list(self.daemons.values()) + self.old)


def inject(cl, fault, rng):
    """Inject one fault into the current holder (a random replica when
    nobody ticks). Returns a short description."""
    name = cl.holder() or rng.choice(cl.names)
    d = cl.daemons[name]
    if not d.alive():
        return None
    pid = d.proc.pid
    if fault == "kill9":
        signal_pids([pid], signal.SIGKILL)
    elif fault == "stop":
        dur = rng.uniform(0.5, 2.0) * LEASE_S
        signal_pids([pid], signal.SIGSTOP)
        time.sleep(dur)
        signal_pids([pid], signal.SIGCONT)
        return "%s %s %.2fs" % (fault, name, dur)
    elif fault == "keeper9":
        k = keeper_of(d)
        if k is None:
            signal_pids([pid], signal.SIGKILL)
            return "kill9 %s (no keeper)" % name
        signal_pids([k], signal.SIGKILL)
    elif fault == "keeperstop":
        k = keeper_of(d)
        if k is None:
            return None
        dur = rng.uniform(0.5, 2.0) * LEASE_S
        signal_pids([k], signal.SIGSTOP)
        time.sleep(dur)
        signal_pids([k], signal.SIGCONT)
        return "%s %s %.2fs" % (fault, name, dur)
    elif fault == "hup":
        signal_pids([pid], signal.SIGHUP)
    elif fault == "quit":
        signal_pids([pid], signal.SIGQUIT)
    elif fault == "usr1":
        signal_pids([pid], signal.SIGUSR1)
    return "%s %s" % (fault, name)


def freeze(cl, rng):
    """A container freeze of the holder: elector, keeper and command
    stopped together, resumed together (in the worst order: the command
    first)."""
    name = cl.holder() or rng.choice(cl.names)
    d = cl.daemons[name]
    if not d.alive():
        return None
    pids = [d.proc.pid] + descendants(d.proc.pid)
    dur = rng.uniform(0.5, 2.0) * LEASE_S
    signal_pids(pids, signal.SIGSTOP)
    time.sleep(dur)
    pids = [d.proc.pid] + descendants(d.proc.pid)
    signal_pids(list(reversed(pids)), signal.SIGCONT)
    return "freeze %s %.2fs" % (name, dur)


def chaos(cl, n_faults, budget_s, rng, faults=FAULTS, injector=None):
    """Inject up to n_faults faults within budget_s; returns the list of
    faults injected."""
    done = []
    t_end = time.monotonic() + budget_s
    cl.wait_ticking()
    while len(done) < n_faults and time.monotonic() < t_end:
        what = (injector(cl, rng) if injector
                else inject(cl, rng.choice(faults), rng))
        if what:
            done.append(what)
        time.sleep(rng.uniform(0.0, 0.3))
        cl.revive()
        # Every few faults, let a leader settle so faults do not all
        # land in an empty room.
        if len(done) % 3 == 0:
            try:
                cl.wait_ticking(10)
            except AssertionError:
                pass
    return done


def redis_server():
    if not (subprocess.run(["sh", "-c", "command -v redis-server"],
                           capture_output=True).returncode == 0):
        pytest.skip("redis-server not installed (make deps)")
    from redis_servers import RedisServer
    return RedisServer().start()


def redis_args(s):
    from redis_servers import USER
    return ["--backend", "redis", "--redis-url", s.url,
            "--backend-opt", "username=%s" % USER,
            "--backend-opt", "password-file=%s" % s.pw_file]


def judge(cl, faults, fenced=False):
    leaked = cl.close()
    v = tick_oracle.check(cl.ticks, fenced=fenced)
    holders = tick_oracle.holders(cl.ticks)
    msg = "faults: %s\nholders: %s\nviolations: %s\n%s" % (
        faults, holders, v, cl.logs() if v or leaked else "")
    assert not leaked, "tickers outlived every elector: %s\n%s" % (leaked, msg)
    assert v == [], msg
    return holders


# ---- randomised trials ------------------------------------------------------

# 80 + 80 + 25 + 25 = 210 faults over both stores.
N_CHAOS = int(os.environ.get("ELECTOR_KEEPER_FAULTS", "80"))
N_FREEZE = int(os.environ.get("ELECTOR_KEEPER_FREEZES", "25"))


@pytest.mark.parametrize("store", ["file", "redis"])
def test_chaos_no_overlap(build, tmp_path, store):
    rng = random.Random(os.environ.get("ELECTOR_SEED", str(time.time_ns())))
    srv = redis_server() if store == "redis" else None
    try:
        sargs = (redis_args(srv) if srv else
                 ["--file-path", str(tmp_path / "lock.json")])
        cl = Cluster(build, sargs, tmp_path / "ticks", tmp_path)
        try:
            faults = chaos(cl, N_CHAOS, 150, rng)
        finally:
            holders = judge(cl, faults)
        kinds = {f.split()[0] for f in faults}
        assert len(faults) >= min(N_CHAOS, 40), faults
        assert len(holders) >= len(faults) // 4, (holders, faults)
        print("%s: %d faults (%s), %d holders, no overlap"
              % (store, len(faults), sorted(kinds), len(holders)))
    finally:
        if srv:
            srv.close()


@pytest.mark.parametrize("store", ["file", "redis"])
def test_container_freeze(build, tmp_path, store):
    """elector, keeper and command frozen together past the lease, thawed
    together with the command scheduled first. A frozen keeper cannot kill
    anything, so on thaw the old command may run a few instructions before
    the keeper (which checks its deadline first) kills it: a tick or two of
    the old term may land after the new leader's. A store that fences with
    ELECTOR_TERM rejects exactly those, so the judge applies the fence; the
    number of fenced ticks is printed (documented in docs/design-notes.md).
    """
    rng = random.Random(os.environ.get("ELECTOR_SEED", str(time.time_ns())))
    srv = redis_server() if store == "redis" else None
    try:
        sargs = (redis_args(srv) if srv else
                 ["--file-path", str(tmp_path / "lock.json")])
        cl = Cluster(build, sargs, tmp_path / "ticks", tmp_path,
                     election="freeze")
        try:
            faults = chaos(cl, N_FREEZE, 90, rng, injector=freeze)
        finally:
            judge(cl, faults, fenced=True)
        rej = tick_oracle.fence(tick_oracle.read_ticks(cl.ticks))[1]
        print("%s: %d freezes, %d stale ticks fenced" % (store, len(faults),
                                                        len(rej)))
        assert len(faults) >= min(N_FREEZE, 10)
    finally:
        if srv:
            srv.close()


# ---- one fault at a time -----------------------------------------------------


def one(procs, build, tmp_path, extra=(), ticker=None, name="k1",
        election="one"):
    ticks = str(tmp_path / "ticks")
    cmd = ticker or tick_oracle.ticker_cmd(ticks, name)
    args = (["run", "--election", election, "--id", name, "--file-path",
             str(tmp_path / "lock.json")] + TIMINGS + list(extra) + ["--"]
            + cmd)
    d = procs.start(build, args, name=name, http=False)
    return d, ticks


def first_ticker(ticks, timeout=15):
    return wait_until(lambda: tick_oracle.live_tickers(ticks), timeout,
                      what="the command ticking")


def test_elector_sigkill_kills_command_and_grandchild(anybuild, procs, tmp_path):
    ticks = str(tmp_path / "ticks")
    d, _ = one(procs, anybuild, tmp_path,
               ticker=tick_oracle.ticker_cmd(ticks, "k1", grandchild=True))
    wait_until(lambda: len(tick_oracle.live_tickers(ticks)) >= 2, 15,
               what="command and grandchild ticking")
    try:
        d.kill()
        wait_until(lambda: not tick_oracle.live_tickers(ticks), 5,
                   interval=0.002, what="command and grandchild dead")
    finally:
        tick_oracle.kill_tickers(ticks)


def test_keeper_sigkill(anybuild, procs, tmp_path):
    """Keeper SIGKILL: the command dies with it (PDEATHSIG), the
    double-forked grandchild (re-parented to elector, a subreaper) is
    killed by elector; --restart always starts a new keeper; never ends
    elector with 128+9 after releasing."""
    ticks = str(tmp_path / "ticks")
    try:
        d, _ = one(procs, anybuild, tmp_path,
                   ticker=tick_oracle.ticker_cmd(ticks, "k1", grandchild=True),
                   extra=["--restart", "always", "--restart-backoff", "50ms"])
        wait_until(lambda: len(tick_oracle.live_tickers(ticks)) >= 2, 15,
                   what="command and grandchild ticking")
        first = set(tick_oracle.live_tickers(ticks))
        os.kill(keeper_of(d), signal.SIGKILL)
        wait_until(lambda: not first & set(tick_oracle.live_tickers(ticks)),
                   5, interval=0.005, what="old command and grandchild dead")
        wait_until(lambda: len(tick_oracle.live_tickers(ticks)) >= 2, 15,
                   what="command started again")
        assert d.alive()
        assert "the keeper (pid" in d.log()
        d.stop()
        assert not tick_oracle.live_tickers(ticks)

        d2, _ = one(procs, anybuild, tmp_path, name="k2", election="two")
        first_ticker(ticks)
        os.kill(keeper_of(d2), signal.SIGKILL)
        assert d2.proc.wait(15) == 128 + signal.SIGKILL
        r = run(anybuild, ["get", "--election", "two", "--file-path",
                           str(tmp_path / "lock.json")])
        assert '"holderIdentity": ""' in r.stdout or \
            '"holderIdentity":""' in r.stdout, r.stdout
    finally:
        tick_oracle.kill_tickers(ticks)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT, signal.SIGINT])
def test_stop_signals_release(anybuild, procs, tmp_path, sig):
    d, ticks = one(procs, anybuild, tmp_path)
    try:
        first_ticker(ticks)
        d.signal(sig)
        assert d.proc.wait(15) == 0
        assert not tick_oracle.live_tickers(ticks)
        r = run(anybuild, ["get", "--election", "one", "--file-path",
                           str(tmp_path / "lock.json")])
        assert '"holderIdentity": ""' in r.stdout or \
            '"holderIdentity":""' in r.stdout, r.stdout
        assert "received SIG%s, stopping" % sig.name[3:] in d.log()
    finally:
        tick_oracle.kill_tickers(ticks)


def test_other_signals_ignored(anybuild, procs, tmp_path):
    d, ticks = one(procs, anybuild, tmp_path)
    try:
        first_ticker(ticks)
        pids = tick_oracle.live_tickers(ticks)
        for sig in (signal.SIGUSR2, signal.SIGALRM, signal.SIGPWR,
                    signal.SIGVTALRM, signal.SIGRTMIN + 3):
            d.signal(sig)
        time.sleep(0.5)
        assert d.alive()
        assert tick_oracle.live_tickers(ticks) == pids
        assert "ignoring SIGUSR2" in d.log()
        assert d.stop() == 0
    finally:
        tick_oracle.kill_tickers(ticks)


def test_usr1_hands_over(anybuild, procs, tmp_path):
    ticks = str(tmp_path / "ticks")
    lock = str(tmp_path / "lock.json")
    ds = {}
    try:
        for n in ("h1", "h2"):
            ds[n] = procs.start(anybuild, [
                "run", "--election", "ho", "--id", n, "--file-path", lock]
                + TIMINGS + ["--"] + tick_oracle.ticker_cmd(ticks, n),
                name=n, http=False)
        first = wait_until(lambda: tick_oracle.holders(ticks), 15,
                           what="a holder")[0][0]
        other = "h2" if first == "h1" else "h1"
        ds[first].signal(signal.SIGUSR1)
        wait_until(lambda: any(h[0] == other
                               for h in tick_oracle.holders(ticks)), 10,
                   what="the other replica leading")
        time.sleep(0.5)
        assert ds[first].alive(), "handover must not end elector"
        assert "handing over" in ds[first].log()
        for d in ds.values():
            assert d.stop() == 0
        assert tick_oracle.check(ticks) == []
    finally:
        tick_oracle.kill_tickers(ticks)


def test_elector_sigstop_command_dies_at_deadline(anybuild, procs, tmp_path):
    """elector stopped: the keeper alone kills the command at the deadline
    (+ grace); elector resumes as a follower, leads again, restarts it."""
    d, ticks = one(procs, anybuild, tmp_path,
                   ticker=None)
    try:
        pids = first_ticker(ticks)
        d.signal(signal.SIGSTOP)
        t0 = time.monotonic()
        wait_until(lambda: not tick_oracle.live_tickers(ticks), 10,
                   interval=0.005, what="command dead while elector stopped")
        took = time.monotonic() - t0
        d.signal(signal.SIGCONT)
        # renew-deadline 600 ms + grace 200 ms; loose bound for a busy box
        assert took < 5 * LEASE_S, took
        wait_until(lambda: set(tick_oracle.live_tickers(ticks)) - set(pids),
                   15, what="command started again after SIGCONT")
        assert d.stop() == 0
    finally:
        d.signal(signal.SIGCONT)
        tick_oracle.kill_tickers(ticks)


def test_restart_policies(anybuild, procs, tmp_path):
    out = tmp_path / "starts"
    env = {"OUT": str(out)}

    def starts():
        try:
            return len(out.read_text().split())
        except FileNotFoundError:
            return 0

    base = ["run", "--file-path", str(tmp_path / "lock.json")] + TIMINGS
    # always: exit 0 is started again, with backoff, while leading
    d = procs.start(anybuild, base + [
        "--election", "always", "--id", "a", "--restart", "always",
        "--restart-backoff", "50ms:200ms", "--", "sh", "-c",
        'echo $$ >> "$OUT"; exit 0'], name="a", http=False, env=env)
    wait_until(lambda: starts() >= 4, 15, what="restarts")
    assert d.alive()
    assert d.stop() == 0
    # on-failure: exit 3 is restarted, exit 0 ends elector with 0
    out.unlink()
    d = procs.start(anybuild, base + [
        "--election", "onf", "--id", "o", "--restart", "on-failure",
        "--restart-backoff", "50ms", "--", "sh", "-c",
        'echo $$ >> "$OUT"; n=$(wc -l < "$OUT"); [ "$n" -ge 3 ] && exit 0; '
        'exit 3'], name="o", http=False, env=env)
    assert d.proc.wait(20) == 0
    assert starts() == 3
    # never (default): the command's status is elector's
    d = procs.start(anybuild, base + [
        "--election", "nev", "--id", "n", "--", "sh", "-c", "exit 5"],
        name="n", http=False)
    assert d.proc.wait(20) == 5


def test_bad_input_exit_2(build, tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    f = tmp_path / "noexec"
    f.write_text("#!/bin/sh\n")
    sb = tmp_path / "badshebang"
    sb.write_text("#!/bin/no-such-shell-xyz\necho hi\n")
    sb.chmod(0o755)
    base = ["run", "--election", "bad", "--file-path", str(tmp_path / "l.json")]
    cases = [
        (["--restart", "sometimes", "--", "true"], "use never, on-failure or always"),
        (["--restart-backoff", "fast", "--", "true"], "MIN or MIN:MAX"),
        (["--restart-backoff", "2s:1s", "--", "true"], "MIN <= MAX"),
        (["--restart-backoff", "0s", "--", "true"], "0 < MIN"),
        (["--lease-duration", "2s", "--renew-deadline", "1500ms",
          "--retry-period", "300ms", "--kill-grace", "500ms", "--", "true"],
         "lower --kill-grace"),
        (["--", str(d)], "is a directory"),
        (["--", str(f)], "chmod +x"),
        (["--", "no-such-command-xyz"], "not found in PATH"),
        (["--", str(sb)], "fix its #! line"),
    ]
    for args, want in cases:
        r = run(build, base + args)
        assert r.returncode == 2, (args, r.stderr)
        assert want in r.stderr, (args, r.stderr)
    assert not (tmp_path / "l.json").exists()


def test_status_carries_the_deadline(anybuild, procs, tmp_path):
    """GET / of the sidecar: valid_until_ms (CLOCK_BOOTTIME) and
    valid_ms_left while leading, 0 while following."""
    from e2e_util import start
    s = start(procs, anybuild, ["--election", "st", "--id", "s1",
                                "--file-path", str(tmp_path / "lock.json")]
              + TIMINGS[:6], "s1")
    st = wait_until(lambda: (s.status() or {}).get("is_leader") and
                    s.status(), 15, what="leading")
    assert 0 < st["valid_ms_left"] <= 600, st
    boot_ms = time.clock_gettime(time.CLOCK_BOOTTIME) * 1000
    assert abs(st["valid_until_ms"] - (boot_ms + st["valid_ms_left"])) < 1000
    f = start(procs, anybuild, ["--election", "st", "--id", "s2",
                                "--file-path", str(tmp_path / "lock.json")]
              + TIMINGS[:6], "s2")
    st = f.wait_http(15)
    assert st["is_leader"] is False
    assert st["valid_until_ms"] == 0 and st["valid_ms_left"] == 0


def test_keeper_fallback_without_elector_keeper(anybuild, procs, tmp_path):
    """A lone elector binary (no elector-keeper beside it) runs itself as
    the keeper (/proc/self/exe __keeper) with the same guarantees."""
    import shutil
    from elector_harness import Build
    root = tmp_path / "lone"
    (root / "bin").mkdir(parents=True)
    shutil.copy(anybuild.bin, str(root / "bin" / "elector"))
    os.symlink(os.path.join(anybuild.path, "lib"), str(root / "lib"))
    lone = Build(str(root))
    ticks = str(tmp_path / "ticks")
    d, _ = one(procs, lone, tmp_path,
               ticker=tick_oracle.ticker_cmd(ticks, "k1", grandchild=True))
    try:
        wait_until(lambda: len(tick_oracle.live_tickers(ticks)) >= 2, 15,
                   what="command and grandchild ticking")
        k = keeper_of(d)
        with open("/proc/%d/cmdline" % k, "rb") as f:
            argv = f.read().split(b"\0")
        assert argv[0] == b"elector" and argv[1] == b"__keeper", argv
        d.kill()
        wait_until(lambda: not tick_oracle.live_tickers(ticks), 5,
                   interval=0.002, what="command and grandchild dead")
    finally:
        tick_oracle.kill_tickers(ticks)


def test_stopped_keeper_is_killed_on_stop(anybuild, procs, tmp_path):
    """A SIGSTOPped keeper cannot answer a stop: elector SIGKILLs it after
    kill-grace + half the slack before a takeover, and the command (and
    its grandchild) die with it."""
    ticks = str(tmp_path / "ticks")
    d, _ = one(procs, anybuild, tmp_path,
               ticker=tick_oracle.ticker_cmd(ticks, "k1", grandchild=True))
    try:
        wait_until(lambda: len(tick_oracle.live_tickers(ticks)) >= 2, 15,
                   what="command and grandchild ticking")
        k = keeper_of(d)
        os.kill(k, signal.SIGSTOP)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.proc.wait(15) == 0
        assert not tick_oracle.live_tickers(ticks)
        assert "did not stop the command in time" in d.log()
        # grace 200 ms + slack (1200 - 600 - 200) / 2 = 200 ms; loose bound
        assert time.monotonic() - t0 < 5
    finally:
        tick_oracle.kill_tickers(ticks)
