"""Helpers shared by the gist tests (imported by name: a plain
`from conftest import` would pick whichever conftest.py pytest loaded
first)."""
import os

from elector_harness import run


def timing_args(lease, renew, retry):
    return ["--lease-duration", lease, "--renew-deadline", renew,
            "--retry-period", retry]


# Short timings for tests (GitHub's budget needs allow-fast-renew=true).
FAST = timing_args("4s", "3s", "1s")


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
