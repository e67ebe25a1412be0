"""--k8s-events against the emulator's core/v1 events endpoint: the module
through its C driver (format, rate limit, RBAC), then in-cluster daemons
whose leadership changes appear as Events on the Lease, and an election
that is not affected when events are forbidden."""
import shutil
import subprocess

from elector_harness import wait_until

import k8s_util as U

SA_USER = "system:serviceaccount:default:elector"


def _sa_dir(emu, tmp_path, token, name="sa"):
    d = tmp_path / name
    d.mkdir()
    (d / "token").write_text(token + "\n")
    (d / "namespace").write_text("default\n")
    shutil.copy(emu.pki.ca_crt, str(d / "ca.crt"))
    return str(d)


def _env(emu, sa, pod, uid="0b5e6a6e-6f9e-4c53-9a59-5d1c1c1d0001"):
    return {"KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(emu.port),
            "ELECTOR_SERVICEACCOUNT_DIR": sa, "POD_NAME": pod,
            "POD_NAMESPACE": "default", "POD_UID": uid}


def _driver(build, env, *args):
    p = subprocess.run([build.test_prog("k8sevents_test")] + list(args),
                       env=build.env(env), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def _messages(emu):
    return [e["message"] for e in emu.events_of("default")]


def test_event_format_on_pod(anybuild, emu, tmp_path):
    emu.add_token("sa-tok", SA_USER)
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    rc, out, err = _driver(anybuild, _env(emu, sa, "pod-a"), "pod", "2", "released")
    assert rc == 0, out + err
    evs = emu.events_of("default")
    assert [e["message"] for e in evs] == [
        "node-a became leader (term 1)", "node-a stopped leading (term 2)",
        "node-a released the lock (term 2)"]
    assert [e["type"] for e in evs] == ["Normal", "Warning", "Normal"]
    for e in evs:
        assert e["reason"] == "LeaderElection"  # client-go's reason
        assert e["involvedObject"] == {"apiVersion": "v1", "kind": "Pod", "name": "pod-a",
                                       "namespace": "default",
                                       "uid": "0b5e6a6e-6f9e-4c53-9a59-5d1c1c1d0001"}
        assert e["metadata"]["name"].startswith("pod-a.")
        assert e["source"] == {"component": "elector"}
        assert e["reportingComponent"] == "elector"
        assert e["reportingInstance"] == "node-a"
        assert e["count"] == 1 and e["firstTimestamp"].endswith("Z")
    assert "sa-tok" not in out + err


def test_event_on_lease_carries_its_uid(anybuild, emu, tmp_path):
    emu.add_token("sa-tok", SA_USER)
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    # before the Lease exists: the event still names it, without a uid
    rc, out, err = _driver(anybuild, _env(emu, sa, "pod-a"), "lease", "1")
    assert rc == 0, out + err
    (e,) = emu.events_of("default")
    assert e["involvedObject"] == {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "name": "evented", "namespace": "default"}


def test_rate_limit_and_coalescing(anybuild, emu, tmp_path):
    """30 transitions at once: at most the burst (10) go out, and at stop
    the backlog becomes one last event that says how many were not
    recorded; nothing is lost without being counted."""
    import re
    emu.add_token("sa-tok", SA_USER)
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    rc, out, err = _driver(anybuild, _env(emu, sa, "pod-a"), "pod", "30")
    assert rc == 0, out + err
    msgs = _messages(emu)
    # the burst (the stop still drains it, for up to 3 s) plus the
    # coalesced last one; a slow run may earn a refilled token or two
    assert 11 <= len(msgs) <= 13, msgs
    assert msgs[0] == "node-a became leader (term 1)"
    assert msgs[-1].startswith("node-a stopped leading (term 30; ")
    represented = 0
    for m in msgs:
        g = re.search(r"; (\d+) earlier leadership events not recorded: rate limit\)$", m)
        represented += 1 + (int(g.group(1)) if g else 0)
    assert represented == 30, msgs
    assert emu.count(SA_USER, "create") == len(msgs)


def test_rate_limit_holds_while_running(anybuild, emu, tmp_path):
    """With the driver still running (it records, then sleeps before the
    stop), no more than the burst reaches the API server."""
    emu.add_token("sa-tok", SA_USER)
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    rc, out, err = _driver(anybuild, dict(_env(emu, sa, "pod-a"),
                                          K8SEVENTS_TEST_LINGER_MS="1500"), "pod", "30")
    assert rc == 0, out + err
    msgs = _messages(emu)
    # burst (10) while running, maybe one refill, then the coalesced one
    assert 11 <= len(msgs) <= 13, msgs
    assert "earlier leadership events not recorded" in msgs[-1]


def test_forbidden_is_one_clear_line(anybuild, emu, tmp_path):
    emu.add_token("sa-tok", SA_USER)
    emu.deny(SA_USER, ["create"], resources=["events"])
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    rc, out, err = _driver(anybuild, _env(emu, sa, "pod-a"), "pod", "5")
    assert rc == 0, out + err
    assert not emu.events_of()
    lines = [ln for ln in err.splitlines() if ln.startswith("log: ")]
    assert len(lines) == 1, err
    assert "403" in lines[0] and "grant create on events in namespace default" in lines[0]
    assert "the election is not affected" in lines[0]
    assert "sa-tok" not in err


def test_not_in_cluster(anybuild, tmp_path):
    rc, out, err = _driver(anybuild, {"KUBERNETES_SERVICE_HOST": ""}, "pod", "1")
    assert rc == 1 and "KUBERNETES_SERVICE_HOST" in out, out + err


def _daemons(anybuild, emu, procs, sa, names, election="evented"):
    ds = []
    for p in names:
        emu.add_pod("default", p)
        args = ["--election", election, "--backend", "lease", "--id", p,
                "--lease-duration", U.LEASE, "--renew-deadline", U.RENEW,
                "--retry-period", U.RETRY, "--k8s-events"]
        d = procs.start(anybuild, args, name=p, env=_env(emu, sa, p))
        d.ident = p
        ds.append(d)
    return ds


def test_daemon_events_on_the_lease(anybuild, emu, procs, tmp_path):
    """Two in-cluster daemons: "became leader" on the Lease (with its uid,
    so kubectl describe lease lists it), "released the lock" when the
    leader stops, then the other one's "became leader"."""
    emu.add_token("sa-tok", SA_USER)
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    ds = _daemons(anybuild, emu, procs, sa, ["pod-a", "pod-b"])
    leader = U.wait_one_leader(ds)
    wait_until(lambda: any("became leader" in m for m in _messages(emu)), 20,
               what="the became-leader event")
    with emu.store.lock:
        uid = emu.store.leases[("default", "evented")]["metadata"]["uid"]
    first = emu.events_of("default")[0]
    assert first["message"].startswith(leader.ident + " became leader (term ")
    assert first["involvedObject"] == {"apiVersion": "coordination.k8s.io/v1",
                                       "kind": "Lease", "name": "evented",
                                       "namespace": "default", "uid": uid}
    assert leader.stop() == 0
    other = [d for d in ds if d is not leader][0]
    wait_until(lambda: any(m.startswith(other.ident + " became leader")
                           for m in _messages(emu)), 20, what="the new leader's event")
    msgs = _messages(emu)
    assert any(m.startswith(leader.ident + " released the lock") for m in msgs), msgs
    assert not any("stopped leading" in m for m in msgs), msgs
    assert "--k8s-events: recording leadership events on lease default/evented" in leader.log()


def test_daemon_election_unaffected_when_forbidden(anybuild, emu, procs, tmp_path):
    emu.add_token("sa-tok", SA_USER)
    emu.deny(SA_USER, ["create"], resources=["events"])
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    ds = _daemons(anybuild, emu, procs, sa, ["pod-a", "pod-b"], election="quiet")
    leader = U.wait_one_leader(ds)
    wait_until(lambda: "grant create on events" in leader.log(), 20,
               what="the RBAC log line")
    assert leader.log().count("grant create on events") == 1
    assert not emu.events_of()
    assert leader.stop() == 0
    other = [d for d in ds if d is not leader][0]
    assert U.wait_one_leader([other]) is other


def test_daemon_lost_leadership_is_a_warning(anybuild, emu, procs, tmp_path):
    """A leader that can no longer renew (its Role lost update on leases)
    steps down: a Warning "stopped leading" event, then the other pod's
    "became leader"."""
    ds = []
    for p in ("pod-a", "pod-b"):
        user = "system:serviceaccount:default:" + p
        emu.add_token("tok-" + p, user)
        sa = _sa_dir(emu, tmp_path, "tok-" + p, name="sa-" + p)
        ds += _daemons(anybuild, emu, procs, sa, [p], election="lossy")
    leader = U.wait_one_leader(ds)
    wait_until(lambda: any("became leader" in m for m in _messages(emu)), 20,
               what="the became-leader event")
    emu.deny("system:serviceaccount:default:" + leader.ident, ["update"],
             resources=["leases"])
    other = [d for d in ds if d is not leader][0]
    wait_until(lambda: any(m.startswith(other.ident + " became leader")
                           for m in _messages(emu)), 30, what="the takeover event")
    lost = [e for e in emu.events_of("default")
            if e["message"].startswith(leader.ident + " stopped leading")]
    assert len(lost) == 1 and lost[0]["type"] == "Warning", _messages(emu)
