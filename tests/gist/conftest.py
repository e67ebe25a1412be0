"""Fixtures for the gist backend tests: the GitHub emulator (REST in this
process, git through real git-http-backend behind lighttpd)."""
import os
import shutil
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from github_emulator import GitHubEmulator, GIT_HTTP_BACKEND  # noqa: E402
from elector_harness import run  # noqa: E402
from gist_support import FAST, LeaderChecker, timing_args  # noqa: E402,F401


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


@pytest.fixture
def gist(tmp_path):
    for tool in ("lighttpd", "git"):
        if not shutil.which(tool):
            pytest.skip("%s not installed (Debian packages lighttpd, git; make deps)" % tool)
    if not os.path.exists(GIT_HTTP_BACKEND):
        pytest.skip("%s missing (Debian package git)" % GIT_HTTP_BACKEND)
    emu = GitHubEmulator(str(tmp_path / "emu"))
    emu.start()
    try:
        yield GistSetup(emu, tmp_path)
    finally:
        emu.stop()
