"""The Helm chart, checked with the real helm binary (helm lint --strict,
helm template) and assertions on the rendered objects: no secret value in any
manifest, least-privilege RBAC, probes, securityContext, selectors/labels,
schema rejections."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

from elector_harness import TOP

CHART = os.path.join(TOP, "helm", "elector")
HERE = os.path.dirname(os.path.abspath(__file__))
VALUES = sorted(glob.glob(os.path.join(HERE, "values-*.yaml")))
VALUE_IDS = [os.path.basename(v)[len("values-"):-len(".yaml")] for v in VALUES]
SECRET_DIR = "/var/run/secrets/elector"

# Every flag the chart may pass (DESIGN section 6); a typo fails here.
KNOWN_FLAGS = {"--election", "--namespace", "--id", "--backend", "--backend-opt",
               "--kubeconfig", "--redis-url", "--gist-id", "--gist-token-file",
               "--file-path", "--lease-duration", "--renew-deadline",
               "--retry-period", "--http", "--log-format", "-v", "--label-pod",
               "--kill-grace"}


def helm_bin():
    for cand in (os.path.join(TOP, ".tools", "bin", "helm"), shutil.which("helm")):
        if cand and os.access(cand, os.X_OK):
            return cand
    pytest.fail("helm not found: run scripts/install-helm.sh (puts it in .tools/bin)")


def helm(*args, check=True):
    env = dict(os.environ, HELM_CACHE_HOME=tempfile.gettempdir() + "/elector-helm-cache",
               KUBECONFIG="/nonexistent")
    r = subprocess.run([helm_bin()] + list(args), capture_output=True, text=True,
                       timeout=60, env=env)
    if check:
        assert r.returncode == 0, "helm %s failed:\n%s%s" % (args, r.stdout, r.stderr)
    return r


def render(*args):
    out = helm("template", "rel", CHART, "--namespace", "apps", *args).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    return out, docs


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    found = by_kind(docs, kind)
    assert len(found) == 1, "expected one %s, got %d" % (kind, len(found))
    return found[0]


def elector_container(dep):
    cs = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "elector"]
    assert len(cs) == 1
    return cs[0]


def args_of(c):
    return [str(a) for a in c["args"]]


def opt_values(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


@pytest.fixture(scope="module", params=VALUES, ids=VALUE_IDS)
def rendered(request):
    out, docs = render("-f", request.param)
    with open(request.param) as f:
        values = yaml.safe_load(f)
    return values, out, docs


def test_values_files_present():
    assert {"lease", "lease-hub", "redis", "gist", "file", "sidecar"} <= set(VALUE_IDS)


@pytest.mark.parametrize("values", [None] + VALUES, ids=["default"] + VALUE_IDS)
def test_lint_strict(values):
    args = ["lint", "--strict", CHART]
    if values:
        args += ["-f", values]
    r = helm(*args)
    assert "0 chart(s) failed" in r.stdout


def test_no_secret_material(rendered):
    values, out, docs = rendered
    # No Secret objects and no inline data: secrets are EXISTING Secrets.
    assert not by_kind(docs, "Secret")
    assert not re.search(r"(?m)^\s*(stringData|data):", out)
    for ref in ("tokenSecret", "passwordSecret", "kubeconfigSecret"):
        assert ref not in out  # no value names leak through unrendered
    dep = one(docs, "Deployment")
    c = elector_container(dep)
    args = args_of(c)
    for a in args:
        # neither KEY=secret nor a flag taking a secret value (only *-file)
        assert not re.match(r"(?i)^-*[a-z-]*(token|passw(or)?d|secret)=", a), a
        assert not re.match(r"(?i)^--?[a-z-]*(token|passw(or)?d|secret)$", a), a
        assert "@" not in a or not re.search(r"://[^/@]*:[^/@]*@", a), a
    for e in c.get("env", []):
        if re.search(r"(?i)(token|passw|secret)", e["name"]):
            assert "value" not in e, e
    # Every secret-file flag points into a read-only mount of a Secret volume.
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    paths = opt_values(args, "--gist-token-file") + opt_values(args, "--kubeconfig")
    paths += [o.split("=", 1)[1] for o in opt_values(args, "--backend-opt")
              if o.startswith("password-file=")]
    for p in paths:
        assert p.startswith(SECRET_DIR + "/"), p
        m = mounts[os.path.dirname(p)]
        assert m.get("readOnly") is True
        sec = vols[m["name"]]["secret"]
        assert sec["secretName"]
        assert [i["path"] for i in sec["items"]] == [os.path.basename(p)]
        assert sec["defaultMode"] & 0o007 == 0  # not world-readable


def test_secret_references(rendered):
    values, out, docs = rendered
    dep = one(docs, "Deployment")
    vols = dep["spec"]["template"]["spec"]["volumes"]
    secrets = sorted(v["secret"]["secretName"] for v in vols if "secret" in v)
    expect = []
    b = values.get("backend", "lease")
    if b == "gist":
        expect.append(values["gist"]["tokenSecret"]["name"])
    if b == "redis" and values.get("redis", {}).get("passwordSecret", {}).get("name"):
        expect.append(values["redis"]["passwordSecret"]["name"])
    if b == "lease" and values.get("lease", {}).get("kubeconfigSecret", {}).get("name"):
        expect.append(values["lease"]["kubeconfigSecret"]["name"])
    assert secrets == sorted(expect)


def test_rbac_least_privilege(rendered):
    values, out, docs = rendered
    election = values.get("election")
    roles = {r["metadata"]["name"]: r for r in by_kind(docs, "Role")}
    bindings = by_kind(docs, "RoleBinding")
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")
    in_cluster_lease = (values.get("backend", "lease") == "lease"
                        and not values.get("lease", {}).get("kubeconfigSecret", {}).get("name"))
    expect = {}
    if in_cluster_lease:
        expect["rel-elector-lease"] = [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "resourceNames": [election], "verbs": ["get", "update", "watch"]}]
    if values.get("labelPod"):
        expect["rel-elector-pods"] = [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}]
    assert {n: r["rules"] for n, r in roles.items()} == expect
    sa = one(docs, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    assert len(bindings) == len(roles)
    for b in bindings:
        assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                "name": b["metadata"]["name"]}
        assert b["metadata"]["namespace"] == roles[b["metadata"]["name"]]["metadata"]["namespace"]
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                  "namespace": "apps"}]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    # The API token is mounted only when the pod talks to this cluster's API.
    assert pod["automountServiceAccountToken"] is bool(expect)
    if in_cluster_lease:
        ns = values.get("electionNamespace", "apps")
        assert roles["rel-elector-lease"]["metadata"]["namespace"] == ns


def test_probes_and_ports(rendered):
    values, out, docs = rendered
    c = elector_container(one(docs, "Deployment"))
    assert [p["name"] for p in c["ports"]] == ["http"]
    port = c["ports"][0]["containerPort"]
    assert "0.0.0.0:%d" % port in opt_values(args_of(c), "--http")
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    ready = "/leader" if values.get("readiness") == "leader" else "/healthz"
    assert c["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}
    svc = one(docs, "Service")
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


def test_security_context(rendered):
    values, out, docs = rendered
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    c = elector_container(one(docs, "Deployment"))
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    # A read-only root needs writable scratch space where elector writes.
    mounts = [m["mountPath"] for m in c["volumeMounts"]]
    assert "/tmp" in mounts and "/var/lib/elector" in mounts


def test_selectors_match_labels(rendered):
    values, out, docs = rendered
    dep = one(docs, "Deployment")
    sel = dep["spec"]["selector"]["matchLabels"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert sel and sel.items() <= labels.items()
    assert one(docs, "Service")["spec"]["selector"].items() <= labels.items()
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    if values.get("podDisruptionBudget", {}).get("enabled"):
        assert by_kind(docs, "PodDisruptionBudget")


def test_args_and_identity(rendered):
    values, out, docs = rendered
    c = elector_container(one(docs, "Deployment"))
    args = args_of(c)
    flags = [a for a in args[:args.index("--")] if a.startswith("-")] \
        if "--" in args else [a for a in args if a.startswith("-")]
    assert set(flags) <= KNOWN_FLAGS, set(flags) - KNOWN_FLAGS
    assert opt_values(args, "--backend") == [values.get("backend", "lease")]
    if values.get("election"):
        assert opt_values(args, "--election") == [values["election"]]
    if values.get("clusterName"):
        assert opt_values(args, "--id") == [values["clusterName"] + "/$(POD_NAME)"]
    else:
        assert "--id" not in args
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    t = values.get("timing", {})
    assert opt_values(args, "--lease-duration") == [t.get("leaseDuration") or "15s"]
    assert ("--label-pod" in args) is bool(values.get("labelPod"))
    if values.get("run", {}).get("command"):
        assert args[0] == "run"
        assert args[args.index("--") + 1:] == values["run"]["command"]
    if values.get("mode") == "sidecar":
        names = [x["name"] for x in one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]]
        assert names == [values["app"]["container"]["name"], "elector"]


@pytest.mark.parametrize("bad,why", [
    (["--set", "backend=etcd"], "backend must be one of"),
    (["--set", "timing.leaseDuration=15"], "leaseDuration"),
    (["--set", "timing.renewDeadline=ten"], "renewDeadline"),
    (["--set", "mode=daemonset"], "mode"),
    (["--set", "readiness=always"], "readiness"),
    (["--set", "gist.token=ghp_SENTINEL"], "Additional property token"),
    (["--set", "redis.password=SENTINEL"], "Additional property password"),
    (["--set", "backend=redis", "--set", "redis.url=redis://u:SENTINEL@h:6379/0"], "redis.url"),
    (["--set", "backendOptions.token=SENTINEL"], "backendOptions"),
    (["--set", "extraArgs[0]=--gist-token=SENTINEL"], "extraArgs"),
    (["--set", "extraEnv[0].name=GITHUB_TOKEN", "--set", "extraEnv[0].value=SENTINEL"], "extraEnv"),
    (["--set", "backend=gist", "--set", "gist.id=abc123"], "tokenSecret"),
    (["--set", "securityContext.runAsNonRoot=false"], "runAsNonRoot"),
])
def test_schema_rejects(bad, why):
    r = helm("template", "rel", CHART, *bad, check=False)
    assert r.returncode != 0, "accepted bad values %s:\n%s" % (bad, r.stdout[:2000])
    assert why in r.stderr, r.stderr
    assert "SENTINEL" not in r.stdout


def test_template_failures_explain():
    r = helm("template", "rel", CHART, "--set", "backend=redis", check=False)
    assert r.returncode != 0 and "redis.url" in r.stderr
    r = helm("template", "rel", CHART, "--set", "backend=file", "--set", "replicaCount=3",
             check=False)
    assert r.returncode != 0 and "persistentVolumeClaim" in r.stderr


def test_notes_tell_how_to_see_the_leader(tmp_path):
    # helm template does not render NOTES.txt; render it through tpl in a copy.
    chart = tmp_path / "elector"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
    (chart / "templates" / "notes-cm.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n'
        '  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n')
    for values, expect in (("values-lease.yaml", "get lease global-leader"),
                            ("values-lease-hub.yaml", "--kubeconfig HUB-KUBECONFIG"),
                            ("values-redis.yaml", "curl -s http://127.0.0.1:8080/")):
        out = helm("template", "rel", str(chart), "-f", os.path.join(HERE, values),
                   "--show-only", "templates/notes-cm.yaml").stdout
        notes = yaml.safe_load(out)["data"]["notes"]
        assert expect in notes, notes
        assert "port-forward" in notes and "/proxy/" in notes


BACKEND_FLAGS = {"--backend", "--kubeconfig", "--redis-url", "--gist-id", "--gist-token-file",
                 "--file-path", "--backend-opt"}


def test_rendered_args_accepted_by_daemon(build, rendered, tmp_path):
    """The real daemon takes the chart's arguments (flags, timings, identity
    expansion, run mode), with the store swapped for a local file."""
    import json
    import signal
    from elector_harness import free_port, http_get, wait_until
    values, out, docs = rendered
    args = args_of(elector_container(one(docs, "Deployment")))
    port = free_port()
    tail = []
    if "--" in args:
        tail = args[args.index("--"):]
        args = args[:args.index("--")]
    kept, i = [], 0
    while i < len(args):
        a = args[i]
        if a in BACKEND_FLAGS:
            i += 2
            continue
        if a == "--http":
            kept += [a, "127.0.0.1:%d" % port]
            i += 2
            continue
        kept.append(a.replace("$(POD_NAME)", "pod-0"))
        i += 1
    kept += ["--backend", "file", "--file-path", str(tmp_path / "election.json")] + tail
    p = subprocess.Popen([build.bin] + kept, env=build.env(), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        st = wait_until(lambda: http_get(port, "/")[0] == 200 or p.poll() is not None,
                        10, what="daemon status API")
        assert p.poll() is None, "daemon refused the chart's args %s:\n%s" % (kept, p.stdout.read())
        assert st
        status = json.loads(http_get(port, "/")[1])
        assert status["election"] == values.get("election", "rel-elector")
        if values.get("clusterName"):
            assert status["node"] == values["clusterName"] + "/pod-0"
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise
    assert rc == 0, p.stdout.read()


@pytest.mark.parametrize("backend,extra,retry", [
    ("lease", [], "2s"),
    ("gist", ["--set", "gist.id=abc", "--set", "gist.tokenSecret.name=tok"], "8s"),
])
def test_timing_defaults_per_backend(backend, extra, retry):
    """Unset timings take the backend's default: gist renews every 8 s so a
    leader stays within GitHub's ~500 writes per hour (the plugin refuses
    faster renewals)."""
    _, docs = render("--set", "backend=" + backend, *extra)
    args = args_of(elector_container(one(docs, "Deployment")))
    assert opt_values(args, "--lease-duration") == ["15s"]
    assert opt_values(args, "--renew-deadline") == ["10s"]
    assert opt_values(args, "--retry-period") == [retry]
