"""Fixtures for the Kubernetes Lease backend tests: an API emulator per test
and helpers to start elector daemons against it."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "conformance"))

from k8s_emulator import K8sEmulator  # noqa: E402


@pytest.fixture
def emu(tmp_path):
    e = K8sEmulator(workdir=str(tmp_path / "emu"), bookmark_interval=1.0)
    e.start()
    yield e
    e.stop()
