"""Several elector daemons on the file store: one leader, HTTP API,
graceful handover, crash failover, metrics."""
import json
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from elector_harness import http_get
from e2e_util import (FAST, poll_new_leader, start_cluster, timing_args,
                      wait_one_leader)

# retry_period 2s: a handover well under it shows followers act on the
# release at once (watch), not on their next poll.
SLOW_RETRY = timing_args("6s", "4s", "2s")


def request(port, path, method):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_one_leader_http_api_and_handover(anybuild, procs, tmp_path):
    path = tmp_path / "lock.json"
    ds = start_cluster(procs, anybuild, path, ["napoleon", "stalin", "cleopatra"],
                       timings=SLOW_RETRY)
    leader = wait_one_leader(ds)
    others = [d for d in ds if d is not leader]

    st = leader.status()
    for key in ("is_leader", "leader", "node", "timestamp", "election", "term",
                "backend", "lease_duration_seconds", "observed_age_ms"):
        assert key in st, st
    assert st["node"] == leader.name and st["election"] == "e2e"
    assert st["backend"] == "file" and st["lease_duration_seconds"] == 6
    assert st["timestamp"].endswith("Z")
    term = st["term"]
    assert term >= 1
    for d in others:
        s = d.status()
        assert s["is_leader"] is False and s["leader"] == leader.name
        assert s["node"] == d.name

    # /leader: 200 on the leader only (load-balancer check)
    assert http_get(leader.port, "/leader")[0] == 200
    for d in others:
        code, body = http_get(d.port, "/leader")
        assert code == 503 and json.loads(body)["is_leader"] is False
    # /healthz everywhere
    for d in ds:
        assert http_get(d.port, "/healthz") == (200, b"ok\n")
    # 404, 405 with Allow, HEAD without a body
    assert http_get(leader.port, "/nope")[0] == 404
    code, headers, _ = request(leader.port, "/", "POST")
    assert code == 405 and headers.get("Allow") == "GET, HEAD"
    code, headers, body = request(leader.port, "/", "HEAD")
    assert code == 200 and body == b""
    assert headers.get("Content-Type") == "application/json"
    code, _, body = request(others[0].port, "/leader", "HEAD")
    assert code == 503 and body == b""

    # graceful handover: SIGTERM the leader, another leads at once
    leader.signal(signal.SIGTERM)
    took, new = poll_new_leader(ds, leader, timeout=10)
    assert leader.proc.wait(10) == 0
    assert took < 1.5, "handover took %.3fs (retry_period 2s)" % took
    st2 = new.status()
    assert st2["term"] > term, (term, st2)
    rest = [d for d in ds if d is not leader]
    assert wait_one_leader(rest) is new
    assert "stopped leading" in leader.log()
    assert "successfully acquired lease default/e2e" in new.log()
    assert "new leader elected: %s" % new.name in [d for d in rest if d is not new][0].log()


def test_crash_failover(anybuild, procs, tmp_path):
    path = tmp_path / "lock.json"
    ds = start_cluster(procs, anybuild, path, ["a", "b", "c"], timings=FAST)
    leader = wait_one_leader(ds)
    term = leader.status()["term"]
    t0 = time.monotonic()
    leader.kill()
    took, new = poll_new_leader(ds, leader, timeout=15)
    took = time.monotonic() - t0
    # lease_duration 2s + retry_period 0.5s, plus slack for a loaded machine
    assert took < 2.0 + 0.5 + 2.5, "failover took %.2fs" % took
    assert new.status()["term"] > term
    rest = [d for d in ds if d is not leader]
    assert wait_one_leader(rest) is new


def test_metrics_promtool(anybuild, procs, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    ds = start_cluster(procs, anybuild, tmp_path / "lock.json", ["m1", "m2"])
    leader = wait_one_leader(ds)
    code, headers, body = request(leader.port, "/metrics", "GET")
    assert code == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert 'leader_election_master_status{name="e2e"} 1' in text, text
    assert 'elector_is_leader{election="e2e"} 1' in text, text
    assert 'elector_leader_present{election="e2e"} 1' in text, text
    assert re.search(r'^elector_build_info\{version="[^"]+"\} 1$', text,
                     re.M), text
    r = subprocess.run([promtool, "check", "metrics"], input=body,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout + r.stderr).decode() + text
    follower = [d for d in ds if d is not leader][0]
    _, _, fbody = request(follower.port, "/metrics", "GET")
    assert 'elector_is_leader{election="e2e"} 0' in fbody.decode()
    # the follower sees a live leader, too
    assert 'elector_leader_present{election="e2e"} 1' in fbody.decode()
