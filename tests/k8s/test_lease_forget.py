"""The store forgets: the Lease is deleted through the API (as `kubectl
delete lease` would) while a leader holds it, ten times.

Judged by the tick oracle: three `elector run` replicas on the API
emulator (2 s / 1.5 s / 300 ms, kill-grace 200 ms) whose commands tick
into one file must never overlap and never share a term; the leader writes
its Lease back under its own term.

The long trials run on the plain build only (the ASan/UBSan build runs the
shorter cases here and the same code paths elsewhere), to keep make test
near 20 minutes.
"""
import random
import ssl
import time
import urllib.error
import urllib.request

from tick_cluster import TickCluster, forget_trials, leadership_changes

TIMINGS = ["--lease-duration", "2s", "--renew-deadline", "1500ms",
           "--retry-period", "300ms", "--kill-grace", "200ms"]
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases/"


def delete_lease(emu, name):
    ctx = ssl.create_default_context(cafile=emu.pki.ca_crt)
    req = urllib.request.Request(emu.url + LEASES + name, method="DELETE")
    req.add_header("Authorization", "Bearer " + emu.admin_token)
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_lease_deleted_while_held(build, emu, tmp_path):
    kc = emu.kubeconfig(str(tmp_path / "kubeconfig"))
    cl = TickCluster(build, ["--backend", "lease", "--kubeconfig", kc],
                     tmp_path / "ticks", TIMINGS, election="forget")
    rng = random.Random(5)
    codes = []
    try:
        n = forget_trials(cl, lambda: codes.append(delete_lease(emu, "forget")),
                          10, rng)
        cl.wait_ticking()
        time.sleep(1.0)
        v = cl.check()
        assert n == 10
        assert codes.count(200) >= 8, "DELETE answers: %s" % codes
        assert not v, "%s\nholders %s\n%s" % (v, leadership_changes(cl),
                                              cl.logs())
        holders = leadership_changes(cl)
        assert len({t for _, t in holders}) == len(holders), holders
    finally:
        leaked = cl.close()
    assert not leaked, "tickers outlived their electors: %s" % leaked
