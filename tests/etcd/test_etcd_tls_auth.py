"""TLS with client certificates (generated here with openssl) and etcd's
user/password auth, with a user whose role may only touch the /elector/
prefix. Tokens live 3 s (--auth-token-ttl), so followers must fetch a new
one when etcd says theirs expired."""
import os
import signal
import time

import pytest

from elector_harness import run, wait_until
from etcd_cluster import ROOT_PW, USER, USER_PW, EtcdCluster, have_etcd
from etcd_e2e import elector_get, new_leader_after, start_daemons, wait_leader


@pytest.fixture(scope="module")
def secure():
    if not have_etcd():
        pytest.skip("etcd/etcdctl not installed (make deps)")
    c = EtcdCluster(tls=True, name="etcd-tls",
                    extra_args=["--auth-token-ttl", "3"])
    try:
        c.start()
        c.enable_auth("/elector/")
        yield c
    finally:
        c.close()


def _no_secrets(text):
    for s in (USER_PW, ROOT_PW):
        assert s not in text


def test_tls_and_auth_elect_and_hand_over(anybuild, secure, procs):
    c = secure
    ds = start_daemons(procs, anybuild, c, election="secure",
                       extra=["-v", "1"])
    leader = wait_leader(ds)
    g = elector_get(anybuild, c, election="secure")
    assert g.returncode == 0, g.stderr
    assert leader.name in g.stdout
    # The followers' tokens expire while they idle on their watch.
    time.sleep(4.5)
    t0 = time.monotonic()
    leader.signal(signal.SIGTERM)
    dt, new = new_leader_after(ds, leader, t0, 5.0)
    assert dt < 2.0, "handover took %.3fs" % dt
    assert any("token refused" in d.log() for d in ds), \
        "no follower had to authenticate again"
    for d in ds:
        _no_secrets(d.log())
    _no_secrets(g.stdout + g.stderr)


def test_wrong_password_is_denied_clearly(anybuild, secure, procs, tmp_path):
    c = secure
    bad = tmp_path / "bad.pw"
    bad.write_text("not-the-password\n")
    os.chmod(str(bad), 0o600)
    extra = ["--backend-opt", "password-file=%s" % bad]
    args = [a for a in elector_args(c) if "password-file" not in a]
    g = run(anybuild, ["get"] + args + extra)
    assert g.returncode != 0
    assert "authentication as user '%s' failed" % USER in g.stderr, g.stderr
    assert "password-file" in g.stderr
    assert "not-the-password" not in g.stdout + g.stderr
    d = procs.start(anybuild, args + extra + ["--id", "w"], name="w")
    d.wait_http(15)
    wait_until(lambda: "authentication as user" in d.log(), 10,
               interval=0.1, what="the auth error in the log")
    assert "not-the-password" not in d.log()


def elector_args(c, election="demo"):
    from etcd_cluster import daemon_args
    args = daemon_args(c, election=election)
    out, skip = [], False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a == "--backend-opt" and args[i + 1].startswith("password-file="):
            skip = True
            continue
        out.append(a)
    return out


def test_user_may_only_touch_its_prefix(anybuild, secure):
    g = elector_get(anybuild, secure,
                    extra=["--backend-opt", "prefix=/not-elector"])
    assert g.returncode != 0
    assert "permission denied" in g.stderr, g.stderr
    assert "readwrite" in g.stderr


def test_tls_needs_the_client_cert_and_the_ca(anybuild, secure):
    c = secure
    base = ["get", "--election", "demo", "--backend", "etcd",
            "--etcd-endpoints", c.endpoints,
            "--backend-opt", "user=%s" % USER,
            "--backend-opt", "password-file=%s" % c.pw_file]
    g = run(anybuild, base + ["--backend-opt",
                              "ca-file=%s" % c.cert("ca.pem")])
    assert g.returncode != 0
    assert "127.0.0.1" in g.stderr, g.stderr
    g = run(anybuild, base + [
        "--backend-opt", "ca-file=%s" % c.cert("client.pem"),
        "--backend-opt", "cert-file=%s" % c.cert("client.pem"),
        "--backend-opt", "key-file=%s" % c.cert("client.key")])
    assert g.returncode != 0
    assert "certificate" in g.stderr.lower() or "SSL" in g.stderr, g.stderr
