"""`elector run -- CMD`: the command runs only on the leader, sees its term,
is stopped within --kill-grace on handover, and its exit ends elector."""
import json
import os
import signal
import time

from elector_harness import run, wait_until
from e2e_util import (FAST, pid_alive, poll_new_leader, start, start_cluster,
                      wait_one_leader)

# Appends "pid term id leader" to $OUT, then runs until SIGTERM.
CHILD = ('echo "$$ $ELECTOR_TERM $ELECTOR_ID $ELECTOR_LEADER $ELECTOR_ELECTION" >> "$OUT"; '
         'trap "exit 0" TERM; while :; do sleep 0.02; done')
# Same, but ignores SIGTERM: only SIGKILL after --kill-grace stops it.
STUBBORN = ('echo "$$ $ELECTOR_TERM $ELECTOR_ID" >> "$OUT"; trap "" TERM; '
            'while :; do sleep 0.02; done')


def lines(path):
    try:
        with open(path) as f:
            return [ln.split() for ln in f.read().splitlines() if ln.strip()]
    except FileNotFoundError:
        return []


def test_run_only_on_leader_and_handover(anybuild, procs, tmp_path):
    out = tmp_path / "started"
    ds = start_cluster(procs, anybuild, tmp_path / "lock.json", ["r1", "r2", "r3"],
                       sub=["run"], extra=["--kill-grace", "200ms", "--", "sh", "-c", CHILD],
                       env={"OUT": str(out)})
    leader = wait_one_leader(ds)
    wait_until(lambda: len(lines(out)) >= 1, 10, what="command started")
    time.sleep(1.0)  # a second start anywhere would show up by now
    started = lines(out)
    assert len(started) == 1, started
    pid, term, ident, flag, election = started[0]
    assert ident == leader.name and flag == "true" and election == "e2e"
    assert int(term) == leader.status()["term"]
    pid = int(pid)
    assert pid_alive(pid)

    leader.signal(signal.SIGTERM)
    t0 = time.monotonic()
    took, new = poll_new_leader(ds, leader, timeout=10)
    # the old command was dead before the lease was released
    assert not pid_alive(pid)
    assert leader.proc.wait(10) == 0
    wait_until(lambda: len(lines(out)) >= 2, 10, what="command restarted on new leader")
    assert time.monotonic() - t0 < 5
    second = lines(out)[1]
    assert second[2] == new.name and int(second[1]) > int(term)
    assert "stopping command" in leader.log()


def test_kill_grace_sigkill(anybuild, procs, tmp_path):
    out = tmp_path / "started"
    d = start(procs, anybuild, ["run", "--election", "grace", "--id", "g1",
                               "--file-path", str(tmp_path / "lock.json")] + FAST +
                    ["--kill-grace", "300ms", "--", "sh", "-c", STUBBORN],
                    "g1", env={"OUT": str(out)})
    wait_until(lambda: len(lines(out)) >= 1, 15, what="command started")
    pid = int(lines(out)[0][0])
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    took = time.monotonic() - t0
    assert not pid_alive(pid)
    assert took >= 0.25, "SIGKILL came before the grace (%.3fs)" % took
    assert "SIGKILL" in d.log()


def test_command_exit_status_and_release(anybuild, procs, tmp_path):
    lock = tmp_path / "lock.json"
    d = start(procs, anybuild, ["run", "--election", "once", "--id", "x1",
                               "--file-path", str(lock)] + FAST +
                    ["--", "sh", "-c", "sleep 0.2; exit 7"], "x1")
    assert d.proc.wait(20) == 7
    r = run(anybuild, ["get", "--election", "once", "--file-path", str(lock)])
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)["record"]
    assert rec["holderIdentity"] == "", rec  # released
    assert rec["leaderTransitions"] >= 1

    d2 = start(procs, anybuild, ["run", "--election", "once", "--id", "x2",
                                "--file-path", str(lock)] + FAST +
                     ["--", "sh", "-c", "kill -KILL $$"], "x2", http=False)
    assert d2.proc.wait(20) == 128 + signal.SIGKILL


def test_command_not_found(anybuild, procs, tmp_path):
    """Checked at start, on every replica, before taking part: exit 2."""
    d = start(procs, anybuild, ["run", "--election", "nf", "--id", "n1",
                               "--file-path", str(tmp_path / "l.json")] + FAST +
                    ["--", "/nonexistent/cmd"], "n1", http=False)
    assert d.proc.wait(20) == 2
    assert "command '/nonexistent/cmd' not found" in d.log()
    assert "acquire" not in d.log()
    assert not (tmp_path / "l.json").exists()


def test_sigterm_while_following_exits_zero(anybuild, procs, tmp_path):
    out = tmp_path / "started"
    ds = start_cluster(procs, anybuild, tmp_path / "lock.json", ["f1", "f2"],
                       sub=["run"], extra=["--", "sh", "-c", CHILD],
                       env={"OUT": str(out)})
    leader = wait_one_leader(ds)
    follower = [d for d in ds if d is not leader][0]
    # the keeper starts the command a few ms after the leader reports
    wait_until(lambda: len(lines(out)) >= 1, 10, what="command started")
    assert follower.stop() == 0
    assert leader.alive() and len(lines(out)) == 1
    assert os.path.exists(out)


def test_command_stopped_when_leadership_expires_in_a_hung_store(anybuild, procs, tmp_path):
    """The store hangs (we hold the file backend's lock, so every renew
    blocks for its request timeout): the command must be dead before the
    lease could expire for anyone else (lease_duration after our locking)."""
    import fcntl
    out = tmp_path / "started"
    lock = tmp_path / "lock.json"
    d = start(procs, anybuild, ["run", "--election", "hang", "--id", "h1",
                                "--file-path", str(lock)] + FAST +
              ["--kill-grace", "100ms", "--", "sh", "-c", CHILD],
              "h1", env={"OUT": str(out)})
    wait_until(lambda: len(lines(out)) >= 1, 15, what="command started")
    pid = int(lines(out)[0][0])
    with open(str(lock) + ".lock", "r+") as lf:
        fcntl.lockf(lf, fcntl.LOCK_EX)
        t0 = time.monotonic()
        try:
            wait_until(lambda: not pid_alive(pid), 5, interval=0.005,
                       what="command stopped while the store hangs")
            took = time.monotonic() - t0
        finally:
            fcntl.lockf(lf, fcntl.LOCK_UN)
    # renew_deadline is 1.5s; nobody else may take over before 2s
    assert took < 2.0, "command still ran %.3fs into a hung store" % took
    assert d.alive()


def test_command_restarted_when_leadership_regained(anybuild, procs, tmp_path):
    import fcntl
    out = tmp_path / "started"
    lock = tmp_path / "lock.json"
    d = start(procs, anybuild, ["run", "--election", "again", "--id", "a1",
                                "--file-path", str(lock)] + FAST +
              ["--kill-grace", "100ms", "--", "sh", "-c", CHILD],
              "a1", env={"OUT": str(out)})
    wait_until(lambda: len(lines(out)) >= 1, 15, what="command started")
    pid1, term1 = int(lines(out)[0][0]), int(lines(out)[0][1])
    with open(str(lock) + ".lock", "r+") as lf:
        fcntl.lockf(lf, fcntl.LOCK_EX)
        try:
            wait_until(lambda: not pid_alive(pid1), 5, interval=0.01,
                       what="command stopped after the leadership lapsed")
        finally:
            fcntl.lockf(lf, fcntl.LOCK_UN)
    wait_until(lambda: len(lines(out)) >= 2, 15, what="command started again")
    pid2, term2 = int(lines(out)[1][0]), int(lines(out)[1][1])
    assert pid2 != pid1 and term2 > term1
    assert pid_alive(pid2)
    assert d.stop() == 0
    assert not pid_alive(pid2)
