"""The backend conformance suite against the Kubernetes API emulator."""
import json

from conformance_driver import run_conformance

from k8s_util import ctl_cmd

ELECTION = "conf-lease"


def _lease(spec):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": ELECTION, "namespace": "default"}, "spec": spec}


def test_lease_conformance(anybuild, emu, tmp_path):
    """All cases but roundtrip (see below): CRUD, conflict, release,
    watch/wake, 4 contenders, garbage, API server down and slow."""
    kc = emu.kubeconfig(str(tmp_path / "kubeconfig"))
    garbage = ctl_cmd(emu, "raw", {"ns": "default", "name": ELECTION, "object": _lease(
        {"holderIdentity": "x", "leaseDurationSeconds": "fifteen"})})
    fixed = ctl_cmd(emu, "raw", {"ns": "default", "name": ELECTION, "object": _lease(
        {"holderIdentity": "fixed", "leaseDurationSeconds": 15,
         "renewTime": "2026-11-21T10:00:00.000000Z", "leaseTransitions": 2})})
    res = run_conformance(
        anybuild, "lease", opts=["kubeconfig=" + kc], election=ELECTION,
        cases=["empty", "exists", "conflict", "release", "watch", "wake",
               "contenders", "garbage", "down", "slow"],
        rounds=10, contenders=4, request_timeout=1000, slack=1500,
        corrupt_cmd=garbage, fix_cmd=fixed,
        down_cmd=ctl_cmd(emu, "faults", {"drop_rate": 1.0}),
        up_cmd=ctl_cmd(emu, "faults", {}),
        slow_cmd=ctl_cmd(emu, "faults", {"latency_ms": 2500}),
        unslow_cmd=ctl_cmd(emu, "faults", {}))
    assert res.skips == [], res.output()
    assert res.comment("watch latency:") is not None, res.output()
    # the contenders really went through the API server
    assert emu.count(verb="update") >= 10 * 4, emu.stats()


def test_lease_roundtrip_int32_limit(build, emu, tmp_path):
    """roundtrip with its 'limits' record capped at 2^31-1 transitions:
    Lease.spec.leaseTransitions is an int32 in the Kubernetes API."""
    kc = emu.kubeconfig(str(tmp_path / "kubeconfig"))
    res = run_conformance(build, "lease", opts=["kubeconfig=" + kc],
                          cases=["roundtrip"], max_transitions=2147483647)
    assert len(res.results) >= 10


def test_lease_refuses_transitions_beyond_int32(build, emu, tmp_path):
    """Without the cap the backend refuses 2^53+1 as INVALID (nothing sent)."""
    kc = emu.kubeconfig(str(tmp_path / "kubeconfig"))
    res = run_conformance(build, "lease", opts=["kubeconfig=" + kc],
                          cases=["roundtrip"], expect_ok=False)
    assert len(res.failures) == 1, res.output()
    f = res.failures[0]
    assert "limits: update OK" in f and "INVALID" in f and "int32" in f, f
