"""Fixtures for the gist backend tests: the GitHub emulator (REST in this
process, git through real git-http-backend behind lighttpd)."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from github_emulator import GitHubEmulator, GIT_HTTP_BACKEND  # noqa: E402
from gist_support import GistSetup  # noqa: E402


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
