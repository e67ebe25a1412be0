"""elector daemons on the Lease backend against the API emulator: one
leader, kubectl sees it, SIGTERM handover via watch, kill -9 failover,
idle followers send no requests, a client-go holder is respected."""
import json
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.request

from elector_harness import TOP, wait_until

import k8s_util as U

KUBECTL = os.path.join(TOP, ".tools", "bin", "kubectl")
MICRO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


def _api(emu, method, path, obj=None, ua="test"):
    ctx = ssl.create_default_context(cafile=emu.pki.ca_crt)
    data = json.dumps(obj).encode() if obj is not None else None
    req = urllib.request.Request(emu.url + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + emu.admin_token)
    req.add_header("User-Agent", ua)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _kubeconfigs(emu, tmp_path, names):
    """One token (one API user) per daemon, so requests can be counted."""
    out = {}
    for n in names:
        emu.add_token("tok-" + n, n)
        out[n] = emu.kubeconfig(str(tmp_path / ("kc-" + n)), user=n,
                                token="tok-" + n)
    return out


def _kubectl_holder(kc, name="demo"):
    if not os.access(KUBECTL, os.X_OK):
        raise AssertionError("%s missing: run scripts/install-helm.sh" % KUBECTL)
    p = subprocess.run([KUBECTL, "--kubeconfig", kc, "get", "lease", name,
                        "-o", "jsonpath={.spec.holderIdentity}"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_three_daemons_handover_failover(anybuild, emu, procs, tmp_path):
    names = ["n0", "n1", "n2"]
    kcs = _kubeconfigs(emu, tmp_path, names)
    ds = [U.start(procs, anybuild, kcs[n], n) for n in names]
    with U.LeaderSampler(ds) as smp:
        leader = U.wait_one_leader(ds, timeout=20)
        # kubectl reads the Lease from the emulator and names the leader
        assert _kubectl_holder(kcs["n0"]) == leader.ident
        # idle followers: no request at all while their watch is open;
        # the leader: one PUT per retry period
        time.sleep(1.0)
        t0 = time.monotonic()
        time.sleep(3.0)
        for d in ds:
            n = emu.count(user=d.ident, since=t0)
            if d is leader:
                puts = emu.count(user=d.ident, verb="update", since=t0)
                assert 3 <= puts <= 9 and n == puts, emu.stats()
            else:
                assert n == 0, (d.ident, emu.stats())
        # graceful handover: SIGTERM releases, a follower's watch sees it
        t1 = time.monotonic()
        assert leader.stop() == 0
        rest = [d for d in ds if d is not leader]
        second = U.wait_one_leader(rest, timeout=10)
        handover = time.monotonic() - t1
        assert handover < U.LEASE_S, "handover took %.3fs (no watch?)" % handover
        spec = _api(emu, "GET", LEASES + "/demo")[1]["spec"]
        assert spec["holderIdentity"] == second.ident
        # crash failover: kill -9; nobody leads before the lease expired as
        # observed by the followers, someone does soon after
        time.sleep(1.0)
        t2 = time.monotonic()
        second.kill()
        third = U.wait_one_leader([d for d in rest if d is not second], timeout=15)
        failover = time.monotonic() - t2
        assert U.LEASE_S - U.RETRY_S - 0.3 <= failover <= U.LEASE_S + 3.0, failover
    assert smp.double_leaders() == [], smp.double_leaders()[:3]
    assert _kubectl_holder(kcs["n0"]) == third.ident
    print("handover %.3fs failover %.3fs" % (handover, failover))


def _clientgo_lease(holder, duration, transitions=0):
    """A Lease exactly as client-go's LeaseLock writes it (reference 20)."""
    now = "2026-11-21T11:06:42.455270Z"
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "demo", "namespace": "default"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "acquireTime": now, "renewTime": now,
                     "leaseTransitions": transitions}}


def test_clientgo_holder_is_respected(anybuild, emu, procs, tmp_path):
    """A Lease held by a client-go elector ('x', 4 s, timestamps from the
    past) is respected while x renews and until leaseDurationSeconds after
    the last change elector observed; then elector takes it over exactly as
    client-go would (transitions + 1), and releases it like client-go."""
    code, obj = _api(emu, "POST", LEASES, _clientgo_lease("x", 4),
                     ua="leader-election-example/v0.0.0")
    assert code == 201, obj
    kc = emu.kubeconfig(str(tmp_path / "kc"))
    d = U.start(procs, anybuild, kc, "e0")
    d.wait_http()
    stop = threading.Event()
    last = [time.monotonic()]

    def renew():
        cur = obj
        while not stop.wait(1.0):
            cur["spec"]["renewTime"] = time.strftime(
                "%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
            c, new = _api(emu, "PUT", LEASES + "/demo", cur,
                          ua="leader-election-example/v0.0.0")
            assert c == 200, new
            cur = new
            last[0] = time.monotonic()

    th = threading.Thread(target=renew, daemon=True)
    th.start()
    t_end = time.monotonic() + 6.0
    while time.monotonic() < t_end:       # x renews for longer than 4 s
        assert not U.is_leader(d), "took a lease that x kept renewing"
        time.sleep(0.05)
    stop.set()
    th.join(5)
    t_last = last[0]
    wait_until(lambda: U.is_leader(d), 10, interval=0.02, what="e0 leads")
    took = time.monotonic() - t_last
    assert took >= 4.0 - 0.15, "took over %.2fs after x's last renew" % took
    assert took <= 4.0 + 3.0, took
    cur = _api(emu, "GET", LEASES + "/demo")[1]
    spec = cur["spec"]
    assert spec["holderIdentity"] == "e0"
    assert spec["leaseTransitions"] == 1
    assert spec["leaseDurationSeconds"] == 3
    assert MICRO.match(spec["acquireTime"]) and MICRO.match(spec["renewTime"]), spec
    assert list(spec) == ["holderIdentity", "leaseDurationSeconds", "acquireTime",
                          "renewTime", "leaseTransitions"], spec
    assert cur["metadata"]["managedFields"][0]["manager"] == "elector"
    # renewals move renewTime and the resourceVersion, as client-go's do
    rv = cur["metadata"]["resourceVersion"]
    wait_until(lambda: _api(emu, "GET", LEASES + "/demo")[1]["metadata"]
               ["resourceVersion"] != rv, 5, what="a renewal")
    assert d.stop() == 0
    rel = _api(emu, "GET", LEASES + "/demo")[1]["spec"]
    # client-go's ReleaseOnCancel record (reference 21)
    assert rel["holderIdentity"] == "" and rel["leaseDurationSeconds"] == 1, rel
    assert rel["leaseTransitions"] == 1, rel
    assert MICRO.match(rel["renewTime"]), rel
