"""The elector daemon on the file backend: watch-driven handover, crash
failover, and `elector get` on a damaged file."""
import json
import os
import signal
import time

from elector_harness import run, wait_until

TIMING = ["--lease-duration", "3s", "--renew-deadline", "2s",
          "--retry-period", "500ms"]


def _start(procs, build, path, ident):
    return procs.start(build, ["--election", "demo", "--id", ident,
                               "--file-path", path] + TIMING, name=ident)


def _leaders(ds):
    out = []
    for d in ds:
        st = d.status() if d.alive() else None
        if st and st.get("is_leader"):
            out.append(d)
    return out


def _one_leader(ds):
    ls = _leaders(ds)
    assert len(ls) <= 1, "two leaders at once: %s" % [d.name for d in ls]
    return ls[0] if ls else None


def test_file_handover_and_failover(anybuild, procs, tmp_path):
    path = str(tmp_path / "demo.json")
    ds = [_start(procs, anybuild, path, "n%d" % i) for i in range(3)]
    for d in ds:
        d.wait_http()
    leader = wait_until(lambda: _one_leader(ds), 10, what="a leader")
    st = leader.status()
    assert st["store"] == "file:" + path, st
    term = st["term"]

    # Graceful: SIGTERM releases; a follower's watch sees it at once, far
    # sooner than the 3 s lease would expire.
    t0 = time.monotonic()
    leader.signal(signal.SIGTERM)
    assert leader.proc.wait(15) == 0
    rest = [d for d in ds if d is not leader]
    nxt = wait_until(lambda: _one_leader(rest), 2.5, interval=0.005,
                     what="graceful handover")
    took = time.monotonic() - t0
    print("graceful handover (SIGTERM -> new leader on HTTP): %.1f ms"
          % (took * 1000))
    st = nxt.status()
    assert st["term"] > term, st
    term = st["term"]

    # Crash: the others wait out the lease (3 s) from their last observation.
    t0 = time.monotonic()
    nxt.kill()
    last = [d for d in rest if d is not nxt]
    time.sleep(1.0)
    assert _one_leader(last) is None, "took over before the lease expired"
    final = wait_until(lambda: _one_leader(last), 15, what="crash failover")
    took = time.monotonic() - t0
    print("crash failover (kill -9 -> new leader): %.2f s" % took)
    assert took >= 2.5, took
    assert final.status()["term"] > term

    with open(path) as f:
        doc = json.load(f)
    assert doc["record"]["holderIdentity"] == final.name, doc


def test_elector_get_on_garbage(build, tmp_path):
    path = str(tmp_path / "g.json")
    with open(path, "w") as f:
        f.write('{"version":2,"record":{"holderIdentity":"x",'
                '"leaseDurationSeconds":"15"}}')
    r = run(build, ["get", "--election", "demo", "--file-path", path])
    assert r.returncode != 0, r.stdout
    assert "leaseDurationSeconds" in r.stderr, r.stderr
    assert '"holderIdentity"' not in r.stdout, r.stdout
    os.unlink(path)
    with open(path, "w") as f:
        f.write('{"version":2,"record":{"holderIdentity":"x",'
                '"leaseDurationSeconds":15}}')
    r = run(build, ["get", "--election", "demo", "--file-path", path])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["record"]["holderIdentity"] == "x" and out["version"] == "2", out
