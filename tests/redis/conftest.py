"""Fixtures for the redis backend tests: real redis-server processes."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from redis_servers import RedisServer  # noqa: E402


def _require(tool):
    if not shutil.which(tool):
        pytest.skip("%s not installed (Debian package redis-server / "
                    "redis-sentinel / redis-tools; make deps)" % tool)


@pytest.fixture
def redis():
    """A started redis-server with requirepass and the elector ACL user."""
    _require("redis-server")
    _require("redis-cli")
    s = RedisServer()
    try:
        s.start()
        yield s
    finally:
        s.close()
