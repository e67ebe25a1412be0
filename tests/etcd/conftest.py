"""Fixtures for the etcd backend tests: a real 3-member etcd cluster on
loopback, started once per module and stopped by pid at teardown."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "conformance"))

from etcd_cluster import EtcdCluster, have_etcd  # noqa: E402


def _require():
    if not have_etcd():
        pytest.skip("etcd/etcdctl not installed (Debian etcd-server, "
                    "etcd-client; make deps)")


@pytest.fixture(scope="module")
def etcd():
    """A started, healthy 3-member cluster (plain http, no auth)."""
    _require()
    c = EtcdCluster()
    try:
        c.start()
        yield c
    finally:
        c.close()


@pytest.fixture
def healthy(etcd):
    """The module's cluster with every member running and healthy (a test
    that stopped members restarts them on the way out)."""
    yield etcd
    for m in etcd.members:
        if not m.alive():
            m.start()
        else:
            m.thaw()
    etcd.wait_healthy(60)
