"""Authentication and TLS of the Lease backend against the API emulator:
token file rotation with the old token revoked, client certificates (files
and embedded data), exec credential plugins (v1, v1beta1), RBAC denial
messages, TLS verification, tls-server-name, insecure-skip-tls-verify."""
import json
import os
import stat
import time

from elector_harness import run, wait_until

import k8s_util as U


def _get(build, kc, election="demo"):
    return run(build, ["get", "--election", election, "--backend", "lease",
                       "--kubeconfig", kc], timeout=30)


def test_token_file_rotation_and_revocation(anybuild, emu, procs, tmp_path):
    """The token file is rewritten and the old token revoked mid-run: the
    leader keeps leading (a 401 makes it re-read the file at once) and the
    follower can still take over."""
    tok = tmp_path / "token"
    tok.write_text("old-token\n")
    emu.add_token("old-token", "rot-old")
    kc = emu.kubeconfig(str(tmp_path / "kc"), user="rot",
                        token_file=str(tok))
    ds = [U.start(procs, anybuild, kc, n) for n in ("a", "b")]
    with U.LeaderSampler(ds) as smp:
        leader = U.wait_one_leader(ds)
        term = leader.status()["term"]
        tmp = tmp_path / "token.new"
        tmp.write_text("new-token\n")
        os.rename(str(tmp), str(tok))
        emu.add_token("new-token", "rot-new")
        emu.revoke_token("old-token")
        t0 = time.monotonic()
        time.sleep(3 * U.RETRY_S + 1.0)
        # still the same term: no renewal failed for good
        assert U.is_leader(leader) and leader.status()["term"] == term
        assert emu.count(user="rot-new", verb="update", since=t0) >= 2, emu.stats()
        t1 = time.monotonic()
        assert leader.stop() == 0
        other = [d for d in ds if d is not leader]
        U.wait_one_leader(other, timeout=10)
        assert time.monotonic() - t1 < U.LEASE_S
    assert smp.double_leaders() == []
    for d in ds:
        assert "new-token" not in d.log() and "old-token" not in d.log()


def test_client_certificates(anybuild, emu, procs, tmp_path):
    """Client-certificate auth from files and from embedded -data; the
    emulator sees the certificates' common names as the users."""
    alice = emu.pki.client_cert("alice", ["system:authenticated"])
    carol = emu.pki.client_cert("carol")
    kc_a = emu.kubeconfig(str(tmp_path / "kc-a"), user="alice", cert=alice)
    kc_c = emu.kubeconfig(str(tmp_path / "kc-c"), user="carol", cert=carol,
                          ca="data")
    ds = [U.start(procs, anybuild, kc_a, "alice"),
          U.start(procs, anybuild, kc_c, "carol")]
    leader = U.wait_one_leader(ds)
    st = emu.stats()
    assert st.get(leader.ident, {}).get("update", 0) + \
        st.get(leader.ident, {}).get("create", 0) >= 1, st
    other = [d for d in ds if d is not leader][0]
    assert st.get(other.ident, {}).get("get", 0) >= 1, st
    assert leader.stop() == 0
    U.wait_one_leader([other], timeout=10)


def _exec_plugin(tmp_path, name, token, api, expiry_s):
    script = tmp_path / ("cred-" + name)
    count = tmp_path / ("count-" + name)
    exp = ""
    if expiry_s is not None:
        exp = ',"expirationTimestamp":"%s"' % time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expiry_s))
    script.write_text(
        "#!/bin/sh\n"
        "echo x >> %s\n"
        "case \"$KUBERNETES_EXEC_INFO\" in *'\"%s\"'*) ;; *) exit 3;; esac\n"
        "[ \"$EXTRA\" = yes ] || exit 4\n"
        "printf '%%s' '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
        "\"status\":{\"token\":\"%s\"%s}}'\n" % (count, api, api, token, exp))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"apiVersion": api, "command": str(script), "args": [],
            "env": [{"name": "EXTRA", "value": "yes"}]}, count


def test_exec_credential_plugins(anybuild, emu, procs, tmp_path):
    """client.authentication.k8s.io/v1 and v1beta1 plugins: the token they
    print is used, cached until its expiry (v1: 1 h, one run), re-run when
    it is about to expire (v1beta1: 11 s, within the 10 s margin)."""
    ex1, c1 = _exec_plugin(tmp_path, "v1", "exec-v1", "client.authentication.k8s.io/v1", 3600)
    ex2, c2 = _exec_plugin(tmp_path, "v1b", "exec-v1b",
                           "client.authentication.k8s.io/v1beta1", 11)
    emu.add_token("exec-v1", "exec1")
    emu.add_token("exec-v1b", "exec2")
    kc1 = emu.kubeconfig(str(tmp_path / "kc1"), user="exec1", exec_=ex1)
    kc2 = emu.kubeconfig(str(tmp_path / "kc2"), user="exec2", exec_=ex2)
    d1 = U.start(procs, anybuild, kc1, "exec1", election="e1")
    d2 = U.start(procs, anybuild, kc2, "exec2", election="e2")
    wait_until(lambda: U.is_leader(d1) and U.is_leader(d2), 20, what="both lead")
    time.sleep(2.5)
    assert U.is_leader(d1) and U.is_leader(d2)
    st = emu.stats()
    assert st["exec1"]["update"] >= 3 and st["exec2"]["update"] >= 3, st
    assert len(c1.read_text().split()) == 1          # cached for its hour
    assert len(c2.read_text().split()) >= 3          # re-run near expiry


def test_forbidden_names_the_rbac_rule(anybuild, emu, procs, tmp_path):
    """A user without update rights never leads, and the log names the
    verbs, resource and namespace needed."""
    emu.add_token("tok-ro", "readonly")
    emu.deny("readonly", ["update", "create"])
    kc = emu.kubeconfig(str(tmp_path / "kc"), user="readonly", token="tok-ro")
    d = U.start(procs, anybuild, kc, "ro")
    wait_until(lambda: "get, create, update" in d.log(), 15, what="RBAC message")
    assert "leases.coordination.k8s.io in namespace default" in d.log()
    assert not U.is_leader(d)
    assert "tok-ro" not in d.log()


def test_tls_verification(anybuild, emu, tmp_path):
    """The server certificate is verified against the kubeconfig's CA;
    tls-server-name is the name verified; insecure-skip-tls-verify works and
    warns."""
    ok = _get(anybuild, emu.kubeconfig(str(tmp_path / "ok")))
    assert "no record stored" in ok.stderr, ok.stderr
    alt = _get(anybuild, emu.kubeconfig(str(tmp_path / "alt"),
                                        tls_server_name="kubernetes.default.svc"))
    assert "no record stored" in alt.stderr, alt.stderr
    bad = _get(anybuild, emu.kubeconfig(str(tmp_path / "bad"),
                                        tls_server_name="wrong.example"))
    assert "wrong.example" in bad.stderr and bad.returncode != 0, bad.stderr
    # a CA that did not sign the server certificate
    other_ca = emu.pki.client_cert("not-a-ca")[0]
    kc = json.loads(open(emu.kubeconfig(str(tmp_path / "wrongca"))).read())
    kc["clusters"][0]["cluster"]["certificate-authority"] = other_ca
    (tmp_path / "wrongca").write_text(json.dumps(kc))
    wrong = _get(anybuild, str(tmp_path / "wrongca"))
    assert wrong.returncode != 0 and "no record stored" not in wrong.stderr
    ins = _get(anybuild, emu.kubeconfig(str(tmp_path / "ins"), insecure=True))
    assert "no record stored" in ins.stderr, ins.stderr
    assert "insecure-skip-tls-verify" in ins.stderr and "NOT verified" in ins.stderr


def test_kubeconfig_lists_contexts_relative_paths(anybuild, emu, tmp_path):
    """$KUBECONFIG lists (missing entries skipped, first definition wins),
    current-context vs the context option, and relative file paths."""
    import shutil
    d = tmp_path / "cfg"
    d.mkdir()
    shutil.copy(emu.pki.ca_crt, str(d / "ca.crt"))
    first = {"apiVersion": "v1", "kind": "Config", "current-context": "dead",
             "clusters": [{"name": "dead", "cluster": {
                 "server": "https://127.0.0.1:1", "certificate-authority": "ca.crt"}}],
             "users": [], "contexts": [{"name": "dead", "context": {
                 "cluster": "dead", "user": "u"}}]}
    (d / "first.yaml").write_text(json.dumps(first))
    # the second file in real YAML syntax, as kubectl writes it
    (d / "second.yaml").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: emu\nclusters:\n"
        "- name: emu\n  cluster:\n    server: %s\n    certificate-authority: ca.crt\n"
        "users:\n- name: u\n  user:\n    token: %s\ncontexts:\n"
        "- name: emu\n  context:\n    cluster: emu\n    user: u\n    namespace: team\n"
        % (emu.url, emu.admin_token))
    lst = "%s:%s:%s" % (d / "missing.yaml", d / "first.yaml", d / "second.yaml")
    base = ["get", "--election", "demo", "--backend", "lease"]
    r = run(anybuild, base, env={"KUBECONFIG": lst}, timeout=30)
    assert "127.0.0.1:1" in r.stderr, r.stderr       # first file's context wins
    r = run(anybuild, base + ["--backend-opt", "context=emu"],
            env={"KUBECONFIG": lst}, timeout=30)
    assert "no record stored" in r.stderr, r.stderr
    r = run(anybuild, base + ["--backend-opt", "context=nope"],
            env={"KUBECONFIG": lst}, timeout=30)
    assert r.returncode == 2 and "context 'nope' not found" in r.stderr, r.stderr
    r = run(anybuild, base + ["--backend-opt", "colour=blue"],
            env={"KUBECONFIG": lst}, timeout=30)
    assert r.returncode == 2 and "kubeconfig" in r.stderr and "context" in r.stderr
