"""Helpers shared by the gist tests (imported by name: a plain
`from conftest import` would pick whichever conftest.py pytest loaded
first)."""
import os
import threading
import time

from elector_harness import run


def timing_args(lease, renew, retry):
    return ["--lease-duration", lease, "--renew-deadline", renew,
            "--retry-period", retry]


# Short timings for tests (GitHub's budget needs allow-fast-renew=true).
FAST = timing_args("4s", "3s", "1s")


class LeaderChecker:
    """Polls the daemons' status API in a thread and records who leads;
    flags any sweep in which two daemons say they lead, and any term that
    goes down."""

    def __init__(self, daemons, interval=0.05):
        self.daemons = daemons
        self.interval = interval
        self.violations = []
        self.samples = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        last_term = {}
        end = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < end:
            leaders = []
            for d in list(self.daemons):
                if not d.alive():
                    continue
                s = d.status()
                if s and s.get("is_leader"):
                    leaders.append((d.name, s.get("term")))
                    t = s.get("term")
                    if t is not None and t < last_term.get(d.name, -1):
                        self.violations.append("term of %s went down: %r" % (d.name, s))
                    if t is not None:
                        last_term[d.name] = t
            self.samples.append((time.monotonic(), leaders))
            if len(leaders) > 1:
                self.violations.append("two leaders at once: %r" % leaders)
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join(5)
        return self.violations


class GistSetup:
    """One emulator plus a gist, a token file and helpers to build the
    daemon's arguments."""

    def __init__(self, emu, tmp):
        self.emu = emu
        self.tmp = str(tmp)
        self.token_file = self.write_token(emu.token, "token")
        self.gid = emu.create_gist({"README.md": "elector lock gist\n"},
                                   description="elector test")
        self.state_dir = os.path.join(self.tmp, "state")

    def write_token(self, token, name):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(token + "\n")
        os.chmod(path, 0o600)
        return path

    def file_name(self, election="demo", namespace="default"):
        return "elector-%s-%s.json" % (namespace, election)

    def opts(self, gid=None, token_file=None, fast=True, extra=()):
        gid = gid or self.gid
        a = ["--backend", "gist", "--gist-id", gid,
             "--gist-token-file", token_file or self.token_file,
             "--backend-opt", "api-url=" + self.emu.api_url,
             "--backend-opt", "git-url=" + self.emu.git_url(gid),
             "--backend-opt", "state-dir=" + self.state_dir]
        if fast:
            a += ["--backend-opt", "allow-fast-renew=true"]
        for kv in extra:
            a += ["--backend-opt", kv]
        return a

    def args(self, name, election="demo", timings=FAST, **kw):
        return ["--election", election, "--id", name] + list(timings) + self.opts(**kw)

    def get(self, build, election="demo", **kw):
        return run(build, ["get", "--election", election] + list(FAST) + self.opts(**kw))
