"""--label-pod: the leader's pod carries elector.io/role=leader, the others
follower, and the labels follow a handover (against the Kubernetes API
emulator of tests/k8s; the election itself runs on the file store)."""
import os
import signal
import sys

import pytest

from elector_harness import wait_until
from e2e_util import FAST, poll_new_leader, start, wait_one_leader

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "k8s"))
from k8s_emulator import K8sEmulator  # noqa: E402

KEY = "elector.io/role"


@pytest.fixture
def emu(tmp_path):
    e = K8sEmulator(workdir=str(tmp_path / "emu"))
    e.start()
    yield e
    e.stop()


def sa_dir(tmp_path, emu):
    d = tmp_path / "sa"
    d.mkdir()
    (d / "token").write_text(emu.admin_token + "\n")
    (d / "namespace").write_text("default\n")
    with open(emu.pki.ca_crt, "rb") as src:
        (d / "ca.crt").write_bytes(src.read())
    return str(d)


def test_label_pod_follows_leadership(anybuild, procs, tmp_path, emu):
    sa = sa_dir(tmp_path, emu)
    ds = []
    for pod in ("web-1", "web-2"):
        emu.add_pod("default", pod, {"app": "web"})
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(emu.port),
               "POD_NAME": pod, "ELECTOR_SERVICEACCOUNT_DIR": sa}
        ds.append(start(procs, anybuild, ["--election", "lbl", "--id", pod,
                                          "--backend", "file", "--label-pod",
                                          "--file-path", str(tmp_path / "l.json")] + FAST,
                        pod, env=env))
    for d in ds:
        d.wait_http(15)
    leader = wait_one_leader(ds)
    other = [d for d in ds if d is not leader][0]

    def roles():
        return (emu.pod_labels("default", leader.name).get(KEY),
                emu.pod_labels("default", other.name).get(KEY))
    wait_until(lambda: roles() == ("leader", "follower"), 15, what="pod labels")
    assert emu.pod_labels("default", leader.name)["app"] == "web"  # merge patch

    leader.signal(signal.SIGTERM)
    poll_new_leader(ds, leader, 10)
    assert leader.proc.wait(15) == 0
    wait_until(lambda: roles() == ("follower", "leader"), 15,
               what="pod labels after handover")


def test_label_pod_failure_is_not_fatal(anybuild, procs, tmp_path):
    # no API server reachable: a warning, and the election goes on
    d = start(procs, anybuild, ["--election", "nolbl", "--id", "p1", "--backend", "file",
                                "--label-pod", "--file-path", str(tmp_path / "l.json")]
              + FAST, "p1", env={"POD_NAME": "p1"})
    wait_one_leader([d])
    wait_until(lambda: "--label-pod:" in d.log(), 10, what="label warning")
    assert d.log().count("--label-pod:") == 1
    assert d.stop() == 0
