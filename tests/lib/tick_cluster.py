"""Replicas of `elector run -- ticker` on one store, judged by the tick
oracle (tick_oracle.py): every replica's command appends its ticks to one
file while it runs, so two replicas acting at once show up whatever the
daemons' own status says.

Every process a cluster starts is stopped by close(), by pid: daemons by
SIGTERM (SIGKILL after a bound), leftover tickers by the pids they wrote.
"""
import os
import signal
import subprocess
import time

import tick_oracle
from elector_harness import Daemon, free_port, wait_until


class TickCluster:
    def __init__(self, build, store_args, ticks, timings, names=("n1", "n2", "n3"),
                 election="ticks", http=True, env=None):
        self.build = build
        self.store_args = list(store_args)
        self.ticks = str(ticks)
        self.timings = list(timings)
        self.election = election
        self.names = list(names)
        self.http = http
        self.env = env
        self.daemons = {}
        self.old = []
        for n in self.names:
            self.start(n)

    def args(self, name):
        return (["run", "--election", self.election, "--id", name]
                + self.store_args + self.timings + ["--"]
                + tick_oracle.ticker_cmd(self.ticks, name))

    def start(self, name):
        args = self.args(name)
        port = None
        if self.http:  # before the "--": after it, it would be the command's
            port = free_port()
            at = args.index("--")
            args[at:at] = ["--http", "127.0.0.1:%d" % port]
        d = Daemon(self.build, args, name=name, http=False, env=self.env)
        d.port = port
        self.daemons[name] = d
        return d

    def ticking(self, within=0.3):
        """The id whose command ticked within the last `within` s."""
        t = tick_oracle.read_ticks(self.ticks)
        if not t:
            return None
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        return t[-1][1] if now - t[-1][0] < within * 1e9 else None

    def wait_ticking(self, timeout=20):
        return wait_until(self.ticking, timeout, interval=0.02,
                          what="a command ticking")

    def check(self):
        return tick_oracle.check(self.ticks)

    def logs(self, tail=3000):
        return "\n".join("== %s\n%s" % (d.name, d.log()[-tail:])
                         for d in list(self.daemons.values()) + self.old)

    def close(self):
        """Stop everything. Returns the pids of tickers that outlived
        every elector (killed here)."""
        for d in self.daemons.values():
            if d.alive():
                d.proc.send_signal(signal.SIGCONT)
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
            try:
                os.unlink(d.log_path)
            except OSError:
                pass
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)
        return leaked


def forget_trials(cl, forget, n, rng, settle=(0.3, 1.0), budget_s=240):
    """n times (within budget_s): wait until a command ticks, wait a
    random part of a renew cycle, call forget() (the store loses the
    record), let it settle. Returns how many trials ran."""
    t_end = time.monotonic() + budget_s
    done = 0
    while done < n and time.monotonic() < t_end:
        cl.wait_ticking()
        time.sleep(rng.uniform(0.0, 0.6))
        forget()
        done += 1
        time.sleep(rng.uniform(*settle))
    return done


def leadership_changes(cl):
    """(id, term) holders in the tick file, in order."""
    return tick_oracle.holders(cl.ticks)
