"""/healthz reports a wedged engine: a store call stuck far beyond the
request timeout (the test plugin tests/abi hang.so sleeps 8 s in get).
/follower answers 200 only on a healthy follower that sees a live leader."""
import json
import os
import time

from elector_harness import http_get, wait_until
from e2e_util import start_cluster, wait_one_leader


def test_healthz_503_when_engine_wedged(anybuild, procs):
    abi = os.path.join(anybuild.tests, "abi")
    d = procs.start(anybuild, ["--election", "wedge", "--id", "w",
                               "--plugin-dir", abi, "--backend", "hang",
                               "--lease-duration", "2s", "--renew-deadline", "1500ms",
                               "--retry-period", "500ms"], name="wedged")
    # Up and healthy at first; the engine is inside get() from the start.
    wait_until(lambda: http_get(d.port, "/healthz")[0] == 200, 5,
               what="HTTP up")
    # no live leader known: not a follower, and no leader present
    assert http_get(d.port, "/follower")[0] == 503
    assert (b'elector_leader_present{election="wedge"} 0'
            in http_get(d.port, "/metrics")[1])
    t0 = time.monotonic()
    # request timeout 500 ms + grace max(2 x retry, 5 s): 503 after ~5.5 s
    wait_until(lambda: http_get(d.port, "/healthz")[0] == 503, 7.5,
               what="/healthz 503 while the store call hangs")
    assert time.monotonic() - t0 >= 3.0
    assert http_get(d.port, "/leader")[0] == 503
    assert http_get(d.port, "/follower")[0] == 503
    # When the call returns (8 s), the engine is back and healthy again.
    wait_until(lambda: http_get(d.port, "/healthz")[0] == 200, 6,
               what="/healthz 200 once the call returned")


def test_follower_200_on_followers_only(anybuild, procs, tmp_path):
    ds = start_cluster(procs, anybuild, tmp_path / "lock.json", ["f1", "f2"])
    leader = wait_one_leader(ds)
    follower = [d for d in ds if d is not leader][0]
    code, body = http_get(leader.port, "/follower")
    assert code == 503
    assert json.loads(body)["is_leader"] is True
    code, body = http_get(follower.port, "/follower")
    assert code == 200, body
    st = json.loads(body)
    assert st["is_leader"] is False and st["leader"] == leader.name
    assert set(st) == set(json.loads(http_get(follower.port, "/leader")[1]))
