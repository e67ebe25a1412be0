"""Command line, environment, compatibility aliases, `elector get`, JSON logs
and refusal of bad input (exit 2 with a message that says what to fix)."""
import json
import re
import signal
import socket

import pytest

from elector_harness import free_port, run
from e2e_util import FAST, start, timing_args, wait_one_leader


def path_args(tmp_path):
    return ["--file-path", str(tmp_path / "lock.json")]


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "unknown option '--bogus'"),
    (["--lease-duration", "15"], "missing unit"),
    (["--lease-duration", "fast"], "--lease-duration"),
    (["--lease-duration", "1.5.5s"], "malformed number"),
    (["--lease-duration", "2s", "--renew-deadline", "3s"], "renew deadline"),
    (["--retry-period", "9s"], "invalid timings"),
    (["--backend", "nope"], "nope"),
    (["--backend-opt", "nope=1"], "unknown option 'nope'"),
    (["--backend-opt", "novalue"], "KEY=VALUE"),
    (["--plugin-dir", "/nonexistent/elector-plugins"], "/nonexistent/elector-plugins"),
    (["-lock-type", "configmaps"], "configmaps"),
    (["--log-format", "xml"], "text or json"),
    (["--http", "nowhere"], "ADDR:PORT"),
    (["--id", ""], "--id"),
    (["--id", "a\nb"], "--id must not contain control characters"),
    (["--id", "a\tb"], "--id must not contain control characters"),
    (["--lease-duration", "500ms", "--renew-deadline", "300ms",
      "--retry-period", "100ms"], "below 1s"),
    (["-ttl", "900ms"], "below 1s"),
    (["--election", "Bad_Name"], "invalid"),
    (["--namespace"], "needs a value"),
])
def test_bad_input_exit_2(build, tmp_path, args, needle):
    full = ["--election", "bad"] + path_args(tmp_path) + args
    r = run(build, full, timeout=20)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert needle in r.stderr, r.stderr


def test_verbosity_message_names_the_option(build, tmp_path):
    r = run(build, ["--election", "bad", "-v", "abc"] + path_args(tmp_path))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "-v: 'abc' is not a log level" in r.stderr, r.stderr
    assert "--v" not in r.stderr, r.stderr


def test_env_value_overridden_by_flag_is_not_validated(build, tmp_path):
    env = {"ELECTOR_LEASE_DURATION": "bogus"}
    args = ["get", "--election", "ov"] + path_args(tmp_path)
    # the flag wins, so the bad environment value does not matter: get
    # reaches the (empty) store
    r = run(build, args + ["--lease-duration", "15s"], env=env)
    assert r.returncode == 1 and "no record" in r.stderr, (r.returncode, r.stderr)
    # without the flag the environment value is used, and refused
    r = run(build, args, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "ELECTOR_LEASE_DURATION" in r.stderr, r.stderr


def test_ignored_options_are_warned_about(build, procs, tmp_path):
    r = run(build, ["get", "--election", "ig", "--kill-grace", "1s",
                    "--http", "127.0.0.1:0"] + path_args(tmp_path))
    assert r.returncode == 1 and "no record" in r.stderr, r.stderr
    assert r.stderr.count("--kill-grace is ignored") == 1, r.stderr
    assert r.stderr.count("--http is ignored") == 1, r.stderr
    d = start(procs, build, ["--election", "ig", "--id", "ig1", "--kill-grace",
                             "200ms", "--restart", "always"]
              + path_args(tmp_path) + FAST, "ig1")
    wait_one_leader([d])
    assert d.stop() == 0
    assert d.log().count("--kill-grace is ignored") == 1, d.log()
    assert d.log().count("--restart and --restart-backoff are ignored") == 1
    assert "--http is ignored" not in d.log()


def test_missing_election_and_unknown_command(build):
    r = run(build, [])
    assert r.returncode == 2 and "--election" in r.stderr
    r = run(build, ["frobnicate"])
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = run(build, ["nosuchbackend-verb", "--election", "x"])
    assert r.returncode == 2 and "nosuchbackend" in r.stderr
    r = run(build, ["file-create", "--election", "x"])
    assert r.returncode == 2 and "backend file has no subcommands" in r.stderr, r.stderr


def test_backend_subcommand_dispatch(build):
    import os
    if not os.path.exists(os.path.join(build.plugin_dir, "gist.so")):
        pytest.skip("gist plugin not built in %s" % build.plugin_dir)
    r = run(build, ["gist-frobnicate", "--election", "x"])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "unknown gist command 'frobnicate'" in r.stderr, r.stderr


def test_http_port_in_use_exit_1(build, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = run(build, ["--election", "busy", "--http", "127.0.0.1:%d" % port]
                + path_args(tmp_path) + FAST, timeout=20)
    finally:
        s.close()
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "cannot listen" in r.stderr and str(port) in r.stderr, r.stderr


def test_sigint_stops_cleanly(build, procs, tmp_path):
    d = start(procs, build, ["--election", "int", "--id", "i1"] + path_args(tmp_path)
              + FAST, "i1")
    wait_one_leader([d])
    d.signal(signal.SIGINT)
    assert d.proc.wait(15) == 0
    assert "received SIGINT" in d.log() and "released lease" in d.log()


def test_kill_grace_must_fit(build, tmp_path):
    r = run(build, ["run", "--election", "kg"] + path_args(tmp_path) + FAST +
            ["--kill-grace", "500ms", "--", "true"])
    assert r.returncode == 2 and "--kill-grace" in r.stderr, r.stderr


def test_help_and_version(build):
    r = run(build, ["--help"])
    assert r.returncode == 0
    for opt in ("--election", "--namespace", "--id", "--backend", "--backend-opt",
                "--kubeconfig", "--redis-url", "--gist-id", "--gist-token-file",
                "--file-path", "--lease-duration", "--renew-deadline",
                "--retry-period", "--http", "--release-on-exit", "--log-format",
                "-v LEVEL", "--plugin-dir", "--kill-grace", "--label-pod",
                "ELECTOR_LEASE_DURATION", "ELECTOR_BACKEND_OPT"):
        assert opt in r.stdout, opt
    r = run(build, ["version"])
    assert r.returncode == 0 and r.stdout.startswith("elector ")


def test_get(build, procs, tmp_path):
    lock = str(tmp_path / "lock.json")
    r = run(build, ["get", "--election", "g", "--file-path", lock])
    assert r.returncode == 1 and "no record" in r.stderr, r.stderr
    d = start(procs, build, ["--election", "g", "--id", "getter", "--file-path", lock]
              + FAST, "getter")
    wait_one_leader([d])
    r = run(build, ["get", "--election", "g", "--file-path", lock])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rec = out["record"]
    assert rec["holderIdentity"] == "getter"
    assert rec["leaseDurationSeconds"] == 2
    assert rec["leaderTransitions"] == d.status()["term"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", rec["renewTime"])
    assert out["version"]


def test_env_and_command_line_precedence(build, procs, tmp_path):
    env = {"ELECTOR_ELECTION": "envel", "ELECTOR_ID": "envid",
           "ELECTOR_NAMESPACE": "envns",
           "ELECTOR_LEASE_DURATION": "3s", "ELECTOR_RENEW_DEADLINE": "2s",
           "ELECTOR_RETRY_PERIOD": "500ms",
           "ELECTOR_BACKEND_OPT": "path=%s" % (tmp_path / "env.json")}
    d = start(procs, build, ["--id", "cliid"], "env", env=env)
    d.wait_http(15)
    st = wait_one_leader([d]).status()
    assert st["node"] == "cliid"          # the command line wins
    assert st["election"] == "envel" and st["namespace"] == "envns"
    assert st["lease_duration_seconds"] == 3
    assert (tmp_path / "env.json").exists()


def test_default_identity_from_pod_name(build, procs, tmp_path):
    d = start(procs, build, ["--election", "pod"] + path_args(tmp_path) + FAST, "pod",
              env={"POD_NAME": "web-7f9c"})
    st = d.wait_http(15)
    assert re.match(r"^web-7f9c_[0-9a-f]{8}$", st["node"]), st
    d2 = start(procs, build, ["--election", "pod"] + path_args(tmp_path) + FAST, "host")
    st2 = d2.wait_http(15)
    assert re.match(r"^%s_[0-9a-f]{8}$" % re.escape(socket.gethostname()),
                    st2["node"]), st2


def test_k8s_elector_aliases(build, procs, tmp_path):
    port = free_port()
    # k8s-elector style: single dashes, bare :PORT, -ttl
    d = procs.start(build, ["-election", "alias", "-id", "al1", "-namespace", "ns1",
                            "-ttl", "3s", "-http", ":%d" % port] + path_args(tmp_path),
                    name="al1", http=False)
    d.port = port
    st = wait_one_leader([d]).status()
    assert (st["node"], st["election"], st["namespace"]) == ("al1", "alias", "ns1")
    assert st["lease_duration_seconds"] == 3


def test_client_go_demo_aliases(build, procs, tmp_path):
    d = start(procs, build, ["--leaselock.name=demo", "--leaselock.namespace=default",
                             "--node-id=pod-a"] + path_args(tmp_path) + FAST, "cg")
    st = wait_one_leader([d]).status()
    assert (st["node"], st["election"], st["namespace"]) == ("pod-a", "demo", "default")


def test_json_logs(build, procs, tmp_path):
    d = start(procs, build, ["--election", "js", "--id", "j1", "--log-format", "json",
                             "-v", "1"] + path_args(tmp_path) + FAST, "j1")
    wait_one_leader([d])
    assert d.stop() == 0
    text = d.log()
    objs = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    assert objs, "no log lines"
    msgs = [o.get("msg", "") for o in objs]
    assert any("successfully acquired lease default/js" in m for m in msgs), msgs
    assert any("stopped leading" in m for m in msgs), msgs
    assert all("level" in o and "ts" in o for o in objs)


def test_release_on_exit_false(build, procs, tmp_path):
    lock = str(tmp_path / "lock.json")
    d = start(procs, build, ["--election", "keep", "--id", "k1", "--file-path", lock,
                             "--no-release-on-exit"] + FAST, "k1")
    wait_one_leader([d])
    assert d.stop() == 0
    r = run(build, ["get", "--election", "keep", "--file-path", lock])
    assert json.loads(r.stdout)["record"]["holderIdentity"] == "k1"
    d2 = start(procs, build, ["--election", "keep", "--id", "k2", "--file-path", lock,
                              "--release-on-exit=true"] + timing_args("2s", "1500ms", "500ms"),
               "k2")
    wait_one_leader([d2], timeout=15)
    assert d2.stop() == 0
    r = run(build, ["get", "--election", "keep", "--file-path", lock])
    assert json.loads(r.stdout)["record"]["holderIdentity"] == ""


def test_default_backend_choice(build, tmp_path):
    # in a pod (KUBERNETES_SERVICE_HOST) or with --kubeconfig: the lease backend
    r = run(build, ["--election", "k"] + FAST,
            env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "1",
                 "ELECTOR_SERVICEACCOUNT_DIR": str(tmp_path)})
    assert "backend lease" in r.stderr and r.returncode == 2, r.stderr
    r = run(build, ["--election", "k", "--kubeconfig", str(tmp_path / "none")] + FAST)
    assert "backend lease" in r.stderr and r.returncode == 2, r.stderr
    # elsewhere the file backend (here refused for an unknown option, at once)
    r = run(build, ["--election", "k", "--backend-opt", "zzz=1"] + FAST)
    assert "backend file" in r.stderr and "unknown option 'zzz'" in r.stderr, r.stderr


def test_namespace_defaults_to_pod_namespace(build, tmp_path):
    """In a pod, --namespace defaults to $POD_NAMESPACE (downward API)."""
    from elector_harness import run
    path = str(tmp_path / "ns.json")
    r = run(build, ["get", "--election", "demo", "--file-path", path],
            env={"POD_NAMESPACE": "team-a"})
    # get on an empty store fails, and says which election it looked at
    assert "team-a/demo" in (r.stdout + r.stderr), r.stdout + r.stderr
