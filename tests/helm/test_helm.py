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
# elector publishes no image: the chart refuses to render without one.
IMAGE = ["--set", "image.repository=registry.example/elector"]

# Every flag the chart may pass (DESIGN section 6); a typo fails here.
KNOWN_FLAGS = {"--election", "--namespace", "--id", "--backend", "--backend-opt",
               "--kubeconfig", "--redis-url", "--gist-id", "--gist-token-file",
               "--file-path", "--lease-duration", "--renew-deadline",
               "--retry-period", "--http", "--log-format", "-v", "--label-pod",
               "--kill-grace", "--k8s-events"}


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
    out = helm("template", "rel", CHART, "--namespace", "apps", *IMAGE, *args).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    return out, docs


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    found = by_kind(docs, kind)
    assert len(found) == 1, "expected one %s, got %d" % (kind, len(found))
    return found[0]


def elector_container(dep):
    """elector's container: a plain container, or a native sidecar (an init
    container with restartPolicy Always)."""
    pod = dep["spec"]["template"]["spec"]
    cs = [c for c in pod["containers"] + pod.get("initContainers", [])
          if c["name"] == "elector"]
    assert len(cs) == 1
    return cs[0]


def render_fails(*args, image=True):
    """helm template with bad values: must fail; returns stderr."""
    r = helm("template", "rel", CHART, *(IMAGE if image else []), *args, check=False)
    assert r.returncode != 0, "accepted bad values %s:\n%s" % (args, r.stdout[:2000])
    return r.stderr


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
    assert {"lease", "lease-hub", "redis", "gist", "etcd", "file", "sidecar"} <= set(VALUE_IDS)


@pytest.mark.parametrize("values", [None] + VALUES, ids=["default"] + VALUE_IDS)
def test_lint_strict(values):
    args = ["lint", "--strict", CHART] + IMAGE
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
              if re.match(r"(password|ca|cert|key)-file=", o)]
    for p in paths:
        assert p.startswith(SECRET_DIR + "/"), p
        m = mounts[os.path.dirname(p)]
        assert m.get("readOnly") is True
        sec = vols[m["name"]]["secret"]
        assert sec["secretName"]
        assert os.path.basename(p) in [i["path"] for i in sec["items"]]
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
    if b == "etcd":
        e = values["etcd"]
        expect += [x["name"] for x in (e.get("passwordSecret", {}),
                                        e.get("tls", {}).get("caSecret", {}),
                                        e.get("tls", {}).get("clientSecret", {}))
                   if x.get("name")]
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
    if values.get("labelPod") or values.get("leaderService", {}).get("enabled"):
        expect["rel-elector-pods"] = [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}]
    if values.get("k8sEvents", {}).get("enabled"):
        expect["rel-elector-events"] = [
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]
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
    # every healthy replica is Ready: --wait, rollouts and drains finish
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    svc = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "rel-elector"][0]
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
    for svc in by_kind(docs, "Service"):
        assert svc["spec"]["selector"]["app.kubernetes.io/instance"] == "rel"
        assert sel.items() <= svc["spec"]["selector"].items()
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
    assert ("--label-pod" in args) is bool(
        values.get("labelPod") or values.get("leaderService", {}).get("enabled"))
    assert ("--k8s-events" in args) is bool(values.get("k8sEvents", {}).get("enabled"))
    if values.get("run", {}).get("command"):
        assert args[0] == "run"
        assert args[args.index("--") + 1:] == values["run"]["command"]
    if values.get("mode") == "sidecar":
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        names = [x["name"] for x in pod["containers"] + pod.get("initContainers", [])]
        assert sorted(names) == sorted([values["app"]["container"]["name"], "elector"])


@pytest.mark.parametrize("bad,why", [
    (["--set", "backend=zookeeper"], "backend must be one of"),
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
    r = helm("template", "rel", CHART, *IMAGE, *bad, check=False)
    assert r.returncode != 0, "accepted bad values %s:\n%s" % (bad, r.stdout[:2000])
    assert why in r.stderr, r.stderr
    assert "SENTINEL" not in r.stdout


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
        out = helm("template", "rel", str(chart), "-f", os.path.join(HERE, values), *IMAGE,
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


# ---- the operator's view: readiness, leader Service, rollouts, drains ----

SIDECAR = os.path.join(HERE, "values-sidecar.yaml")


@pytest.mark.parametrize("bad,rule", [
    (["--set", "backend=redis"], "backend=redis needs redis.url"),
    (["--set", "backend=gist"], "backend=gist needs gist.id"),
    (["--set", "backend=gist", "--set", "gist.id=abc123"],
     "backend=gist needs gist.tokenSecret.name"),
    (["--set", "mode=sidecar"], "mode=sidecar needs app.container"),
    (["--set", "mode=sidecar", "--set", "app.container.name=app"],
     "mode=sidecar needs app.container"),
    (["--set", "backend=etcd"], "backend=etcd needs etcd.endpoints"),
    (["--set", "backend=etcd", "--set", "etcd.endpoints[0]=https://e:2379",
      "--set", "etcd.user=u"], "etcd.user needs etcd.passwordSecret.name"),
    (["--set", "backend=etcd", "--set", "etcd.endpoints[0]=http://e:2379",
      "--set", "etcd.tls.clientSecret.name=c"], "etcd.tls.clientSecret needs https://"),
    (["--set", "backend=file", "--set", "replicaCount=3"], "persistentVolumeClaim"),
    (["--set", "timing.leaseDuration=2s", "--set", "timing.renewDeadline=3s"],
     "lease duration (2000ms) must be greater than renew deadline (3000ms)"),
    (["--set", "timing.leaseDuration=1m30s", "--set", "timing.renewDeadline=1.5m"],
     "lease duration (90000ms) must be greater than renew deadline (90000ms)"),
    (["--set", "timing.retryPeriod=9s"],
     "renew deadline (10000ms) must be greater than 1.2 x retry period (9000ms)"),
    (["--set", "timing.leaseDuration=25h", "--set", "timing.renewDeadline=10s"],
     "lease duration must be at most 24h"),
    (["--set", "lease.requestTimeout=10s"],
     "request timeout (10000ms) must be below renew deadline (10000ms)"),
    (["--set", "backend=gist", "--set", "gist.id=abc", "--set", "gist.tokenSecret.name=t",
      "--set", "timing.retryPeriod=2s"], "gist: retry period 2000ms"),
    (["--set", "run.command[0]=/bin/true", "--set", "run.killGrace=20s"],
     "run.killGrace 20s must be below lease-duration - renew-deadline (15s - 10s)"),
    (["--set", "readiness=leader"], "readiness=leader is no longer supported"),
    (["--set", "podDisruptionBudget.minAvailable=2"],
     "podDisruptionBudget.minAvailable=2 with replicaCount=2 lets no pod be evicted"),
])
def test_template_failures_name_the_rule(bad, rule):
    """The commonest mistakes fail at `helm install` with the rule that was
    broken (the daemon's own wording for timings), never with the schema's
    `Must validate "then" as "if" was valid`."""
    err = render_fails(*bad)
    assert rule in err, err
    assert "Must validate" not in err


def test_timing_edge_cases_render():
    # fractions and compound durations are read like the daemon reads them
    _, docs = render("--set", "timing.leaseDuration=1500ms", "--set",
                     "timing.renewDeadline=1.4s", "--set", "timing.retryPeriod=1s")
    args = args_of(elector_container(one(docs, "Deployment")))
    assert opt_values(args, "--renew-deadline") == ["1.4s"]
    render("--set", "run.command[0]=/bin/true", "--set", "run.killGrace=4999ms")
    # the gist budget can be waived like the plugin's own option
    render("--set", "backend=gist", "--set", "gist.id=abc", "--set", "gist.tokenSecret.name=t",
           "--set", "timing.retryPeriod=2s", "--set", "backendOptions.allow-fast-renew=true")


def test_image_is_required():
    err = render_fails(image=False)
    assert "image.repository is required" in err and "make image" in err, err
    # helm lint reports a template `fail` as [INFO] and passes: still shown
    r = helm("lint", "--strict", CHART, check=False)
    assert "image.repository is required" in r.stdout + r.stderr
    _, docs = render("--set", "image.tag=1.2.3")
    assert elector_container(one(docs, "Deployment"))["image"] == \
        "registry.example/elector:1.2.3"


def test_readiness_is_healthz_everywhere():
    """Followers are Ready too: `helm install --wait` finishes, a rollout
    with maxUnavailable 0 proceeds, a drain is never blocked on a pod that
    will never become Ready."""
    for extra in ([], ["-f", SIDECAR], ["--set", "leaderService.enabled=true"]):
        _, docs = render(*extra)
        c = elector_container(one(docs, "Deployment"))
        assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_strategy_and_pdb_defaults():
    _, docs = render()
    dep = one(docs, "Deployment")
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    # one replica: the default PDB still lets a drain evict it
    _, docs = render("--set", "replicaCount=1")
    assert one(docs, "PodDisruptionBudget")["spec"] == pdb["spec"]
    # an explicit minAvailable below replicaCount wins over maxUnavailable
    _, docs = render("--set", "podDisruptionBudget.minAvailable=1")
    spec = one(docs, "PodDisruptionBudget")["spec"]
    assert spec["minAvailable"] == 1 and "maxUnavailable" not in spec
    _, docs = render("--set", "podDisruptionBudget.minAvailable=50%")
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    _, docs = render("--set", "podDisruptionBudget.enabled=false",
                     "--set", "strategy.type=Recreate")
    assert not by_kind(docs, "PodDisruptionBudget")
    assert one(docs, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def _services(docs):
    return {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}


def test_leader_service_selects_the_leader_label():
    _, docs = render()
    assert list(_services(docs)) == ["rel-elector"]
    _, docs = render("--set", "leaderService.enabled=true")
    svcs = _services(docs)
    dep = one(docs, "Deployment")
    lead = svcs["rel-elector-leader"]
    sel = dep["spec"]["selector"]["matchLabels"]
    assert lead["spec"]["selector"] == dict(sel, **{"elector.io/role": "leader"})
    # the label is set by elector itself, which needs --label-pod and RBAC
    assert "--label-pod" in args_of(elector_container(dep))
    assert "rel-elector-pods" in {r["metadata"]["name"] for r in by_kind(docs, "Role")}
    # standalone: elector's status port; the all-replicas Service unchanged
    assert lead["spec"]["ports"] == [{"name": "leader", "port": 80, "targetPort": "http",
                                      "protocol": "TCP"}]
    assert svcs["rel-elector"]["spec"]["selector"] == sel
    _, docs = render("--set", "leaderService.enabled=true", "--set",
                     "leaderService.targetPort=9443")
    assert _services(docs)["rel-elector-leader"]["spec"]["ports"][0]["targetPort"] == 9443


def test_sidecar_leader_service_targets_the_app():
    _, docs = render("-f", SIDECAR)
    lead = _services(docs)["rel-elector-leader"]
    assert lead["spec"]["ports"][0]["targetPort"] == "web"
    app = [c for c in one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
           if c["name"] == "app"][0]
    assert "web" in [p["name"] for p in app["ports"]]
    err = render_fails("-f", SIDECAR, "--set", "app.container.ports=null")
    assert "leaderService in mode=sidecar targets your app" in err


@pytest.mark.parametrize("kube,native", [("1.29.0", True), ("1.31.2", True),
                                         ("1.28.0", False), ("1.27.9", False)])
def test_native_sidecar_by_kube_version(kube, native):
    """Kubernetes >= 1.29: elector is an init container with restartPolicy
    Always, so it starts first and is stopped after the app; older API
    servers get a plain container whose preStop waits for the app."""
    _, docs = render("-f", SIDECAR, "--kube-version", kube)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    init = {c["name"]: c for c in pod.get("initContainers", [])}
    main = {c["name"]: c for c in pod["containers"]}
    assert "app" in main and "app" not in init
    if native:
        e = init["elector"]
        assert e["restartPolicy"] == "Always" and "elector" not in main
        assert e["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert "lifecycle" not in e
    else:
        e = main["elector"]
        assert "restartPolicy" not in e and not init
        cmd = e["lifecycle"]["preStop"]["exec"]["command"]
        assert cmd[:2] == ["/bin/bash", "-c"]
        assert "/dev/tcp/127.0.0.1/9000" in cmd[2] and "seq 25" in cmd[2]
    # forced either way
    _, docs = render("-f", SIDECAR, "--kube-version", kube, "--set", "sidecar.native=false")
    assert not one(docs, "Deployment")["spec"]["template"]["spec"].get("initContainers")


def test_legacy_sidecar_stop_wait_is_bounded():
    _, docs = render("-f", SIDECAR, "--kube-version", "1.28.0",
                     "--set", "terminationGracePeriodSeconds=60")
    cmd = elector_container(one(docs, "Deployment"))["lifecycle"]["preStop"]["exec"]["command"]
    assert "seq 55" in cmd[2]
    _, docs = render("-f", SIDECAR, "--kube-version", "1.28.0",
                     "--set", "sidecar.legacyStopWaitSeconds=7")
    cmd = elector_container(one(docs, "Deployment"))["lifecycle"]["preStop"]["exec"]["command"]
    assert "seq 7" in cmd[2]


def test_standalone_never_native():
    _, docs = render("--kube-version", "1.30.0")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert not pod.get("initContainers")
    assert "lifecycle" not in elector_container(one(docs, "Deployment"))


def test_etcd_args_and_mounts():
    _, docs = render("-f", os.path.join(HERE, "values-etcd.yaml"))
    dep = one(docs, "Deployment")
    args = args_of(elector_container(dep))
    opts = opt_values(args, "--backend-opt")
    assert "endpoints=https://etcd-0.etcd.hub.example:2379,https://etcd-1.etcd.hub.example:2379" \
        in opts
    assert "prefix=/elector/" in opts and "user=elector" in opts
    assert "password-file=%s/etcd/password" % SECRET_DIR in opts
    assert "ca-file=%s/etcd-ca/ca.crt" % SECRET_DIR in opts
    assert "cert-file=%s/etcd-client/tls.crt" % SECRET_DIR in opts
    assert "key-file=%s/etcd-client/tls.key" % SECRET_DIR in opts
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["etcd-client"]["secret"]["items"] == [{"key": "tls.crt", "path": "tls.crt"},
                                                      {"key": "tls.key", "path": "tls.key"}]
    # no Lease, so no lease Role and no API token
    assert not by_kind(docs, "Role")
    assert dep["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    # plain http without TLS is allowed (a trusted network), credentials are not in URLs
    render("--set", "backend=etcd", "--set", "etcd.endpoints[0]=http://etcd:2379")
    err = render_fails("--set", "backend=etcd", "--set",
                       "etcd.endpoints[0]=https://u:SENTINEL@etcd:2379")
    assert "endpoints" in err


def test_k8s_events_rbac_only_when_enabled():
    _, docs = render()
    assert "--k8s-events" not in args_of(elector_container(one(docs, "Deployment")))
    assert not [r for r in by_kind(docs, "Role") if "events" in str(r["rules"])]
    _, docs = render("--set", "k8sEvents.enabled=true", "--set", "electionNamespace=elect")
    c = elector_container(one(docs, "Deployment"))
    assert "--k8s-events" in args_of(c)
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_UID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.uid"
    role = [r for r in by_kind(docs, "Role") if r["metadata"]["name"] == "rel-elector-events"][0]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]
    # events about the Lease live in the Lease's namespace
    assert role["metadata"]["namespace"] == "elect"
    _, docs = render("--set", "k8sEvents.enabled=true", "--set", "backend=redis",
                     "--set", "redis.url=redis://r:6379/0")
    role = [r for r in by_kind(docs, "Role") if r["metadata"]["name"] == "rel-elector-events"][0]
    assert role["metadata"]["namespace"] == "apps"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True


def _notes(tmp_path, *args):
    chart = tmp_path / "elector"
    if not chart.exists():
        shutil.copytree(CHART, chart)
        shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
        (chart / "templates" / "notes-cm.yaml").write_text(
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n'
            '  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n')
    out = helm("template", "rel", str(chart), *IMAGE, *args,
               "--show-only", "templates/notes-cm.yaml").stdout
    return yaml.safe_load(out)["data"]["notes"]


def test_notes_explain_rollouts_sidecar_and_image(tmp_path):
    n = _notes(tmp_path)
    assert "RollingUpdate (maxSurge 1, maxUnavailable 0)" in n
    assert "maxUnavailable 1, so a node drain evicts\none replica at a time" in n
    assert "make image IMAGE=registry.example/elector:0.1.0" in n
    assert "-leader" not in n and "sidecar" not in n
    n = _notes(tmp_path, "--set", "strategy.type=Recreate", "--set",
               "podDisruptionBudget.enabled=false")
    assert "strategy Recreate stops every replica" in n
    assert "No PodDisruptionBudget" in n
    n = _notes(tmp_path, "-f", SIDECAR, "--kube-version", "1.30.0")
    assert "Service rel-elector-leader (port 80 ->\nweb)" in n
    assert "elector.io/role=leader" in n
    assert "native sidecar" in n and "/leader (200 on the leader" in n
    assert "fencing token" in n
    n = _notes(tmp_path, "-f", SIDECAR, "--kube-version", "1.28.0")
    assert "older than Kubernetes 1.29" in n and "port 9000" in n
    n = _notes(tmp_path, "--set", "k8sEvents.enabled=true")
    assert "describe lease rel-elector" in n


def test_legacy_prestop_waits_for_the_app(tmp_path):
    """The pre-1.29 preStop hook, run for real against a loopback listener:
    it holds while the "app" still accepts connections and returns soon
    after the app closed its port (and at once when nothing listens)."""
    import socket
    import time
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    p = None
    try:
        _, docs = render("-f", SIDECAR, "--kube-version", "1.28.0",
                         "--set", "sidecar.legacyStopWaitSeconds=30",
                         "--set", "app.container.ports[0].name=web",
                         "--set", "app.container.ports[0].containerPort=%d" % port)
        cmd = elector_container(one(docs, "Deployment"))["lifecycle"]["preStop"]["exec"]["command"]
        assert "/dev/tcp/127.0.0.1/%d" % port in cmd[2]
        p = subprocess.Popen(["bash", "-c", cmd[2]])
        try:
            time.sleep(1.5)
            assert p.poll() is None, "preStop returned while the app still listened"
        finally:
            srv.close()
        assert p.wait(timeout=15) == 0
    finally:
        srv.close()
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
    t0 = time.monotonic()
    assert subprocess.run(["bash", "-c", cmd[2]], timeout=15).returncode == 0
    assert time.monotonic() - t0 < 10
