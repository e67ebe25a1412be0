"""The backend conformance suite ($(BUILD)/tests/conformance) on a real
3-member etcd cluster: CRUD, conflicts, release, watch/wake, 8 contenders x
1000 rounds, garbage written by etcdctl, the cluster down (every member
SIGKILLed, then restarted from its data dir) and slow (every member
SIGSTOPped, then SIGCONT)."""
import os
import shlex

from conformance_driver import run_conformance
from etcd_cluster import key_of


def pids(c):
    """Shell words that name the members' current pids: the up command
    restarts them with new pids, which the later cases must hit."""
    for m in c.members:
        with open(m.data + ".pid", "w") as f:
            f.write("%d\n" % m.proc.pid)
    return "$(cat %s)" % " ".join(shlex.quote(m.data + ".pid")
                                  for m in c.members)


def test_conformance(anybuild, etcd):
    prog = anybuild.test_prog("conformance")
    assert os.path.exists(prog), "%s missing: make tests" % prog
    c = etcd
    election = "conf-%d-%s" % (os.getpid(), os.path.basename(anybuild.path))
    key = key_of(election)
    # The down/up commands stop and restart the members by pid; the test
    # process restarts them (it owns the Popen objects) after the suite.
    restart = os.path.join(c.dir, "restart.sh")
    with open(restart, "w") as f:
        for m in c.members:
            f.write("%s >>%s 2>&1 &\necho $! > %s.pid\n"
                    % (" ".join(shlex.quote(a) for a in m.args()),
                       shlex.quote(m.logfile), shlex.quote(m.data)))
        f.write("for i in $(seq 200); do %s >/dev/null 2>&1 && exit 0; "
                "sleep 0.1; done; exit 1\n"
                % c.ctl_shell(["endpoint", "health"]))
    members = pids(c)
    down = "kill -9 %s" % members
    up = "sh %s" % shlex.quote(restart)
    try:
        res = run_conformance(
            anybuild, "etcd", opts=["endpoints=%s" % c.endpoints],
            election=election, request_timeout=1500,
            corrupt_cmd=c.ctl_shell(["put", "--", key, "not json at all"]),
            fix_cmd=c.ctl_shell(["del", key]),
            down_cmd=down, up_cmd=up,
            slow_cmd="kill -STOP %s" % members,
            unslow_cmd="kill -CONT %s" % members,
            timeout=600)
    finally:
        _adopt_restarted(c)
    print("\n".join(res.comments))
    # every member was really stopped: the slow case saw no answer
    assert "store slow: get OK" not in res.stdout, res.stdout
    assert "# SKIP" not in res.stdout, res.stdout
    assert any("contenders x 1000 rounds" in r for r in res.results), \
        res.stdout


def _adopt_restarted(c):
    """Stop the members the up command started (by the pid they wrote) and
    start them again under the test's control."""
    import signal
    import time
    for m in c.members:
        pidf = m.data + ".pid"
        if os.path.exists(pidf):
            with open(pidf) as f:
                pid = int(f.read().strip() or 0)
            os.unlink(pidf)
            if pid == m.proc.pid:
                pid = 0  # still ours: thawed below
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pid = 0
                for _ in range(100):
                    if pid <= 0:
                        break
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.1)
                else:
                    os.kill(pid, signal.SIGKILL)
        if m.proc is not None:
            m.proc.poll()
        if not m.alive():
            m.start()
        else:
            m.thaw()
    c.wait_healthy(60)
