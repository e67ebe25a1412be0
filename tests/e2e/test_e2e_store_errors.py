"""A damaged lock store: no leadership is claimed, the error is logged
clearly (once, not once per retry), and the daemon recovers once fixed."""
import json
import os
import time

from elector_harness import run
from e2e_util import FAST, start, wait_one_leader


def replace(path, text):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, str(path))


def assert_no_leader_for(d, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        st = d.status()
        assert st is not None and st["is_leader"] is False and st["leader"] == "", st
        time.sleep(0.1)


def test_corrupt_record_then_recovery(anybuild, procs, tmp_path):
    lock = tmp_path / "lock.json"
    lock.write_text("garbage{")
    d = start(procs, anybuild, ["--election", "bad", "--id", "c1",
                                "--file-path", str(lock)] + FAST, "c1")
    d.wait_http(15)
    assert_no_leader_for(d, 3.0)  # longer than lease_duration (2s)
    log = d.log()
    assert "not JSON" in log, log
    # logged once per change of state, not once per retry
    assert log.count("not JSON") <= 2, log
    r = run(anybuild, ["get", "--election", "bad", "--file-path", str(lock)])
    assert r.returncode == 1 and "not JSON" in r.stderr, r.stderr

    replace(lock, json.dumps({"version": 7, "record": {
        "holderIdentity": "", "leaseDurationSeconds": 1, "leaderTransitions": 4}}))
    leader = wait_one_leader([d], timeout=15)
    assert leader.status()["term"] == 5


def test_oversized_record_file(anybuild, procs, tmp_path):
    lock = tmp_path / "lock.json"
    lock.write_text(" " * 200000 + "{}")
    r = run(anybuild, ["get", "--election", "big", "--file-path", str(lock)])
    assert r.returncode == 1 and "larger than" in r.stderr, r.stderr
    d = start(procs, anybuild, ["--election", "big", "--id", "o1",
                                "--file-path", str(lock)] + FAST, "o1")
    d.wait_http(15)
    assert_no_leader_for(d, 2.5)
    assert "larger than" in d.log()
    assert d.stop() == 0
