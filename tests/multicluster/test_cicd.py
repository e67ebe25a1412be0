"""cicd.sh without a Docker engine: help, missing-tool detection with PATH
stripped, and its logic against fake kind/vcluster/docker/helm/kubectl that
log their argv (check-leader table from the status API, failover, deploy
keeping the GitHub token out of every command line)."""
import os
import shutil
import subprocess

from elector_harness import TOP

CICD = os.path.join(TOP, "cicd.sh")
BASIC = ("bash", "env", "dirname", "basename", "sed", "grep", "awk", "cat", "rm",
         "mktemp", "head", "tr", "od", "seq", "sleep", "date", "cp", "base64", "id",
         "wc", "mkdir", "chmod", "ls")
TOOLS = ("kind", "vcluster", "docker", "helm", "kubectl")

# One fake for all five tools; it logs "tool argv..." to $FAKE_LOG and keeps
# the clusters' state (which cluster leads, which are scaled down) in $FAKE_DIR.
FAKE = r'''#!/bin/bash
set -eu
tool=${0##*/}
printf '%s %s\n' "$tool" "$*" >>"$FAKE_LOG"
status() { # cluster -> status JSON
	local c=$1 leader; leader=$(cat "$FAKE_DIR/leader")
	local is=false; [ "$leader" = "$c" ] && is=true
	printf '{"is_leader":%s,"leader":"%s/elector-%s-0","node":"%s/elector-%s-0","timestamp":"x","term":%s,"backend":"gist"}' \
		"$is" "$leader" "$leader" "$c" "$c" "$(cat "$FAKE_DIR/term")"
}
case $tool in
vcluster)
	[ "$1" = connect ] || exit 0
	name=$2; shift 2
	while [ "$1" != -- ]; do shift; done; shift
	FAKE_CLUSTER=$name exec "$@" ;;
docker|kind|helm) exit 0 ;;
kubectl)
	args=" $* "
	case $args in
	*" create secret "*)
		for a in "$@"; do case $a in --from-file=*) f=${a#*=}; f=${f#*=}; cp "$f" "$FAKE_DIR/secret-${FAKE_CLUSTER:-host}-${f##*/}";; esac; done
		echo "kind: Secret" ;;
	*" apply -f - "*) cat >/dev/null ;;
	*" create namespace "*) echo "kind: Namespace" ;;
	*" get pods "*)
		[ -e "$FAKE_DIR/scaled-$FAKE_CLUSTER" ] || echo "elector-$FAKE_CLUSTER-0" ;;
	*" get --raw "*) status "$FAKE_CLUSTER" ;;
	*" scale "*)
		: >"$FAKE_DIR/scaled-$FAKE_CLUSTER"
		for c in napoleon stalin cleopatra; do
			if [ ! -e "$FAKE_DIR/scaled-$c" ]; then echo "$c" >"$FAKE_DIR/leader"; break; fi
		done
		echo $(( $(cat "$FAKE_DIR/term") + 1 )) >"$FAKE_DIR/term" ;;
	*) exit 0 ;;
	esac ;;
esac
'''


def basic_bin(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    for t in BASIC:
        src = shutil.which(t)
        assert src, "basic tool %s missing" % t
        os.symlink(src, d / t)
    return d


def copy_tree(tmp_path):
    """cicd.sh and the chart in a tree without .tools/bin (so PATH decides)."""
    top = tmp_path / "tree"
    top.mkdir()
    shutil.copy(CICD, top / "cicd.sh")
    shutil.copytree(os.path.join(TOP, "helm"), top / "helm")
    return top


def run(top, args, env, timeout=60):
    return subprocess.run([str(top / "cicd.sh")] + args, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_help():
    r = subprocess.run([CICD, "help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for cmd in ("provision", "deploy", "check-leader", "failover", "destroy", "help"):
        assert "\n  %s " % cmd in r.stdout
    r = subprocess.run([CICD, "bogus"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and 'unknown command "bogus"' in r.stderr


def test_missing_tools_named_with_hints(tmp_path):
    top = copy_tree(tmp_path)
    env = {"PATH": str(basic_bin(tmp_path)), "HOME": str(tmp_path)}
    for cmd, expect in (("provision", ("kind", "vcluster", "kubectl", "docker")),
                        ("deploy", TOOLS), ("check-leader", ("vcluster", "kubectl")),
                        ("failover", ("vcluster", "kubectl")), ("destroy", ("kind", "vcluster"))):
        r = run(top, [cmd], env)
        assert r.returncode == 1, (cmd, r.stdout, r.stderr)
        for t in expect:
            assert 'missing tool "%s"; install: ' % t in r.stderr, (cmd, r.stderr)
        assert "multicluster-demo.sh" in r.stderr


def test_docker_engine_down_is_explained(tmp_path):
    top = copy_tree(tmp_path)
    b = basic_bin(tmp_path)
    for t in ("kind", "vcluster", "kubectl", "helm"):
        os.symlink("/bin/true", b / t)
    (b / "docker").write_text("#!/bin/bash\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    (b / "docker").chmod(0o755)
    r = run(top, ["provision"], {"PATH": str(b), "HOME": str(tmp_path)})
    assert r.returncode == 1
    assert "engine does not answer" in r.stderr


def fake_env(tmp_path, leader="napoleon"):
    b = basic_bin(tmp_path)
    fake = tmp_path / "fake-tool"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    for t in TOOLS:
        os.symlink(fake, b / t)
    state = tmp_path / "state"
    state.mkdir()
    (state / "leader").write_text(leader + "\n")
    (state / "term").write_text("7\n")
    log = tmp_path / "argv.log"
    log.write_text("")
    return {"PATH": str(b), "HOME": str(tmp_path), "FAKE_DIR": str(state),
            "FAKE_LOG": str(log), "TMPDIR": str(tmp_path)}, state, log


def rows(out):
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert lines[0] == ["CLUSTER", "POD", "IS_LEADER", "LEADER", "TERM"], out
    return lines[1:]


def test_check_leader_reads_each_pods_status_api(tmp_path):
    top = copy_tree(tmp_path)
    env, state, log = fake_env(tmp_path, leader="stalin")
    r = run(top, ["check-leader"], env)
    assert r.returncode == 0, r.stderr
    assert rows(r.stdout) == [
        ["napoleon", "elector-napoleon-0", "false", "stalin/elector-stalin-0", "7"],
        ["stalin", "elector-stalin-0", "true", "stalin/elector-stalin-0", "7"],
        ["cleopatra", "elector-cleopatra-0", "false", "stalin/elector-stalin-0", "7"]]
    calls = log.read_text()
    assert "/api/v1/namespaces/elector/pods/elector-stalin-0:8080/proxy/" in calls
    assert "logs" not in calls  # the status API, not grepped logs


def test_failover_scales_leader_cluster_and_shows_new_leader(tmp_path):
    top = copy_tree(tmp_path)
    env, state, log = fake_env(tmp_path, leader="napoleon")
    r = run(top, ["failover"], env)
    assert r.returncode == 0, r.stderr
    scales = [line for line in log.read_text().splitlines() if " scale " in line]
    assert scales == ["vcluster connect napoleon --namespace vcluster-napoleon --context "
                      "kind-elector -- kubectl -n elector scale deployment/elector --replicas=0",
                      "kubectl -n elector scale deployment/elector --replicas=0"]
    final = rows("CLUSTER" + r.stdout.split("CLUSTER")[-1])  # the last table
    assert ["stalin", "elector-stalin-0", "true", "stalin/elector-stalin-0", "8"] in final
    assert final[0][1] == "(no" and final[0][0] == "napoleon"
    assert "new leader stalin/elector-stalin-0" in r.stderr


def test_deploy_keeps_token_out_of_argv(tmp_path):
    top = copy_tree(tmp_path)
    env, state, log = fake_env(tmp_path)
    token = "ghp_SENTINELtoken0123456789abcdef"
    env.update({"STORE": "gist", "GIST_ID": "49602e14c52b53a41862a174b629c7b2",
                "GITHUB_TOKEN": token})
    r = run(top, ["deploy"], env)
    assert r.returncode == 0, r.stderr
    calls = log.read_text()
    assert token not in calls and token not in r.stdout + r.stderr
    helm = [line for line in calls.splitlines() if line.startswith("helm ")]
    assert len(helm) == 3
    for c, line in zip(("napoleon", "stalin", "cleopatra"), helm):
        assert line.startswith("helm upgrade --install elector %s/helm/elector" % top)
        assert "--set-string clusterName=%s " % c in line
        assert "--set gist.tokenSecret.name=elector-github-token" in line
        assert "--set backend=gist" in line
    for c in ("napoleon", "stalin", "cleopatra"):
        # The Secret was created from a file holding exactly the token.
        assert (state / ("secret-%s-token" % c)).read_text() == token
    assert "kind load docker-image elector:dev --name elector" in calls
    # The temporary secret files are gone.
    assert not [p for p in os.listdir(tmp_path) if p.startswith("elector-cicd.")]


def test_deploy_gist_without_token_says_what_to_set(tmp_path):
    top = copy_tree(tmp_path)
    env, state, log = fake_env(tmp_path)
    env.update({"STORE": "gist", "GIST_ID": "abc123"})
    r = run(top, ["deploy"], env)
    assert r.returncode == 1 and "GITHUB_TOKEN" in r.stderr
    env.update({"STORE": "redis", "REDIS_URL": "redis://u:pw@h:6379/0"})
    r = run(top, ["deploy"], env)
    assert r.returncode == 1 and "must not contain a password" in r.stderr
