"""Shared pytest fixtures for elector's tests.

Build trees: ELECTOR_VARIANTS lists the build directories to test (the first
is the plain build, e.g. "build build-asan"). A test that takes the fixture
`anybuild` runs once per variant (so it also runs under ASan/UBSan); a test
that takes `build` runs against the plain build only.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))

from elector_harness import Build, TOP  # noqa: E402


def _variants():
    v = os.environ.get("ELECTOR_VARIANTS", "build").split()
    return [d if os.path.isabs(d) else os.path.join(TOP, d) for d in v]


def pytest_generate_tests(metafunc):
    if "anybuild" in metafunc.fixturenames:
        vs = _variants()
        metafunc.parametrize("anybuild", vs, ids=[os.path.basename(v) for v in vs],
                             indirect=True)


@pytest.fixture
def anybuild(request):
    b = Build(request.param)
    b.require()
    return b


@pytest.fixture
def build():
    b = Build(_variants()[0])
    b.require()
    return b


@pytest.fixture
def procs():
    """A ProcessGroup whose daemons are all stopped (and checked for
    sanitizer reports) when the test ends."""
    from elector_harness import ProcessGroup
    g = ProcessGroup()
    yield g
    g.close()
