"""--label-pod against the emulator's pod endpoint: elector_podlabel_set()
through its C driver, then daemons running "in cluster" (service-account
directory, KUBERNETES_SERVICE_HOST/PORT) whose pod labels follow the
leadership."""
import shutil
import subprocess
import time

from elector_harness import wait_until

import k8s_util as U

KEY = "elector.io/role"


def _sa_dir(emu, tmp_path, token, name="sa"):
    d = tmp_path / name
    d.mkdir()
    (d / "token").write_text(token + "\n")
    (d / "namespace").write_text("default\n")
    shutil.copy(emu.pki.ca_crt, str(d / "ca.crt"))
    return str(d)


def _env(emu, sa, pod):
    return {"KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(emu.port),
            "ELECTOR_SERVICEACCOUNT_DIR": sa, "POD_NAME": pod,
            "POD_NAMESPACE": "default"}


def _driver(build, env, role):
    p = subprocess.run([build.test_prog("podlabel_test"), role], env=build.env(env),
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def test_podlabel_set(anybuild, emu, tmp_path):
    emu.add_token("sa-tok", "system:serviceaccount:default:elector")
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    emu.add_pod("default", "p0", {"app": "demo"})
    rc, out = _driver(anybuild, _env(emu, sa, "p0"), "leader")
    assert rc == 0, out
    assert emu.pod_labels("default", "p0") == {"app": "demo", KEY: "leader"}
    rc, out = _driver(anybuild, _env(emu, sa, "p0"), "follower")
    assert rc == 0 and emu.pod_labels("default", "p0")[KEY] == "follower", out
    # a missing pod, a denied patch, a bad role: errors with context
    rc, out = _driver(anybuild, _env(emu, sa, "nope"), "leader")
    assert rc == 1 and "rc=1 " in out and "nope" in out, out
    emu.deny("system:serviceaccount:default:elector", ["patch"])
    rc, out = _driver(anybuild, _env(emu, sa, "p0"), "leader")
    assert rc == 1 and "rc=8 " in out and "grant patch on pods in namespace default" in out
    assert "sa-tok" not in out
    rc, out = _driver(anybuild, _env(emu, sa, "p0"), "boss")
    assert rc == 1 and "rc=6 " in out, out


def test_daemon_labels_follow_leadership(anybuild, emu, procs, tmp_path):
    """Three in-cluster daemons with --label-pod: the leader's pod is
    labelled leader, the others follower, also after a handover."""
    emu.add_token("sa-tok", "system:serviceaccount:default:elector")
    sa = _sa_dir(emu, tmp_path, "sa-tok")
    pods = ["pod-a", "pod-b", "pod-c"]
    ds = []
    for p in pods:
        emu.add_pod("default", p)
        args = ["--election", "labelled", "--backend", "lease", "--id", p,
                "--lease-duration", U.LEASE, "--renew-deadline", U.RENEW,
                "--retry-period", U.RETRY, "--label-pod"]
        d = procs.start(anybuild, args, name=p, env=_env(emu, sa, p))
        d.ident = p
        ds.append(d)

    def labels_match():
        lead = U.leaders(ds)
        if len(lead) != 1:
            return False
        want = {d.ident: ("leader" if d is lead[0] else "follower")
                for d in ds if d.alive()}
        got = {p: (emu.pod_labels("default", p) or {}).get(KEY) for p in want}
        return lead[0] if got == want else False

    leader = wait_until(labels_match, 20, interval=0.05, what="labels follow")
    # the lease backend ran in-cluster too: the lease is in POD_NAMESPACE
    st = emu.stats()["system:serviceaccount:default:elector"]
    assert st.get("create", 0) + st.get("update", 0) >= 1, st
    assert leader.stop() == 0
    assert emu.pod_labels("default", leader.ident)[KEY] == "follower"
    new = wait_until(labels_match, 20, interval=0.05, what="labels after handover")
    assert new is not leader
    time.sleep(0.2)
