"""End-to-end: elector daemons on a real redis-server (requirepass + ACL user).

Timings: lease 3s, renew-deadline 2s, retry-period 500ms. Bounds below add
generous slack for a noisy shared 2-core machine and ASan builds.
"""
import json
import os
import signal
import time

from elector_harness import http_get, run, wait_until
from redis_servers import USER_PW, ADMIN_PW, daemon_args, keys_of

LEASE, RENEW, RETRY = 3.0, 2.0, 0.5
SLACK = 2.0


def start_daemons(procs, build, redis, n=3, election="demo", **kw):
    ds = []
    for i in range(n):
        name = "n%d" % i
        ds.append(procs.start(build, daemon_args(redis.url, redis.pw_file,
                                                 election=election,
                                                 ident=name, **kw),
                              name=name))
    for d in ds:
        d.wait_http(15)
    return ds


def one_leader(ds):
    """The leader when exactly one live daemon leads and all agree."""
    live = [d for d in ds if d.alive()]
    st = [d.status() for d in live]
    if any(s is None for s in st):
        return None
    ls = [d for d, s in zip(live, st) if s["is_leader"]]
    if len(ls) != 1 or not all(s["leader"] == ls[0].name for s in st):
        return None
    return ls[0]


def leaders(ds):
    return [d for d in ds
            if d.alive() and http_get(d.port, "/leader", 1.0)[0] == 200]


def new_leader_after(ds, old, t0, timeout):
    """(seconds since t0, daemon) of the first other daemon leading."""
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        for d in ds:
            if d is not old and d.alive() and \
                    http_get(d.port, "/leader", 0.5)[0] == 200:
                return time.monotonic() - t0, d
        time.sleep(0.005)
    raise AssertionError("no new leader within %.1fs" % timeout)


def store_errors(d):
    return [l for l in d.log().splitlines()
            if "lock store" in l and "failed" in l]


def get_args(redis, election="demo"):
    return ["get"] + daemon_args(redis.url, redis.pw_file,
                                 election=election)


def test_three_daemons_elect_one_leader(anybuild, redis, procs):
    ds = start_daemons(procs, anybuild, redis)
    leader = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                        what="one agreed leader")
    # Stable: the same single leader for a few renewals.
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        assert [d.name for d in leaders(ds)] == [leader.name]
        time.sleep(0.1)
    # redis-cli reads the documented key; elector get shows the same.
    rec_key, ver_key, _ = keys_of("demo")
    out = redis.cli("GET", rec_key)
    assert out.returncode == 0, out.stderr
    stored = json.loads(out.stdout)
    assert stored["holderIdentity"] == leader.name
    assert stored["leaderTransitions"] >= 1
    g = run(anybuild, get_args(redis))
    assert g.returncode == 0, g.stderr
    doc = json.loads(g.stdout)
    assert doc["record"]["holderIdentity"] == leader.name
    counter = int(redis.cli("GET", ver_key).stdout)
    assert doc["version"].split(":")[0].isdigit()
    assert int(doc["version"].split(":")[0]) <= counter
    # Secrets never reach the logs.
    for d in ds:
        assert USER_PW not in d.log() and ADMIN_PW not in d.log()


def test_sigterm_handover_is_prompt(anybuild, redis, procs):
    ds = start_daemons(procs, anybuild, redis)
    leader = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                        what="one agreed leader")
    term = leader.status()["term"]
    t0 = time.monotonic()
    leader.signal(signal.SIGTERM)
    dt, new = new_leader_after(ds, leader, t0, 5.0)
    assert leader.proc.wait(10) == 0
    # Released, not expired: far below the lease duration.
    assert dt < 1.5, "handover took %.3fs" % dt
    st = new.status()
    assert st["is_leader"] and st["term"] > term
    rest = [d for d in ds if d is not leader]
    assert wait_until(lambda: one_leader(rest), 5, what="agreement") is new


def test_kill9_failover_waits_for_lease(anybuild, redis, procs):
    ds = start_daemons(procs, anybuild, redis)
    leader = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                        what="one agreed leader")
    term = leader.status()["term"]
    t0 = time.monotonic()
    leader.kill()
    dt, new = new_leader_after(ds, leader, t0, LEASE + RETRY + SLACK + 3)
    # Nobody may take over before the lease could have expired (the last
    # renew was observed at most one retry period before the kill) ...
    assert dt >= LEASE - RETRY - 0.3, "took over after only %.3fs" % dt
    # ... and the watch timer fires at expiry, without extra polling delay.
    assert dt <= LEASE + RETRY + SLACK, "failover took %.3fs" % dt
    assert new.status()["term"] > term


def test_redis_down_steps_down_once_logged_and_recovers(anybuild, redis,
                                                        procs):
    ds = start_daemons(procs, anybuild, redis)
    leader = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                        what="one agreed leader")
    before = {d.name: len(store_errors(d)) for d in ds}
    t0 = time.monotonic()
    redis.stop()
    # The leader steps down on its own within renew_deadline (+ slack).
    wait_until(lambda: http_get(leader.port, "/leader", 0.5)[0] == 503,
               RENEW + SLACK, interval=0.02, what="leader steps down")
    stepped = time.monotonic() - t0
    assert stepped <= RENEW + SLACK
    assert leaders(ds) == []
    # Stay down for many retry periods: errors are logged once per change
    # of state, not once per retry (8+ retries happen meanwhile).
    time.sleep(max(0.0, 4.5 - (time.monotonic() - t0)))
    assert leaders(ds) == []
    for d in ds:
        errs = store_errors(d)[before[d.name]:]
        assert 1 <= len(errs) <= 3, "%s logged:\n%s" % (d.name, "\n".join(errs))
        assert "127.0.0.1:%d" % redis.port in errs[0]
    # Restarted (empty, no persistence): a leader again within
    # lease_duration + retry_period (+ slack).
    redis.start()
    t1 = time.monotonic()
    wait_until(lambda: one_leader(ds), LEASE + RETRY + SLACK, interval=0.02,
               what="a leader after the restart")
    assert time.monotonic() - t1 <= LEASE + RETRY + SLACK
    assert any("answering again" in d.log() for d in ds)


def test_paused_redis_times_out_and_recovers(anybuild, redis, procs):
    """SIGSTOP: connects still succeed (kernel backlog) but no command is
    answered; command timeouts must turn that into errors."""
    ds = start_daemons(procs, anybuild, redis)
    leader = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                        what="one agreed leader")
    t0 = time.monotonic()
    redis.pause()
    try:
        wait_until(lambda: http_get(leader.port, "/leader", 0.5)[0] == 503,
                   RENEW + SLACK, interval=0.02, what="leader steps down")
        assert leaders(ds) == []
        time.sleep(max(0.0, LEASE + 0.5 - (time.monotonic() - t0)))
        assert leaders(ds) == []
        assert any("timed out" in l for l in store_errors(leader))
    finally:
        redis.resume()
    wait_until(lambda: one_leader(ds), LEASE + RETRY + SLACK, interval=0.02,
               what="a leader after SIGCONT")


def test_garbage_record_is_a_clear_error_and_recovers(anybuild, redis,
                                                      procs):
    ds = start_daemons(procs, anybuild, redis)
    leader = wait_until(lambda: one_leader(ds), 15, interval=0.05,
                        what="one agreed leader")
    rec_key, _, _ = keys_of("demo")
    out = redis.cli("SET", rec_key, "this is not json")
    assert out.returncode == 0 and "OK" in out.stdout
    t0 = time.monotonic()
    # The leader's next renew meets a changed record (CAS on counter and
    # content digest), reads garbage, and steps down by its deadline.
    wait_until(lambda: leaders(ds) == [], RENEW + RETRY + SLACK,
               interval=0.02, what="no leader")
    # Nobody claims leadership while the record is garbage.
    end = t0 + LEASE + 2 * RETRY + 1.0
    while time.monotonic() < end:
        assert leaders(ds) == []
        time.sleep(0.1)
    assert redis.cli("GET", rec_key).stdout.strip() == "this is not json"
    msgs = [l for d in ds for l in store_errors(d)
            if "does not hold a valid election record" in l]
    assert msgs, "no clear error in the logs"
    assert rec_key in msgs[0]
    g = run(anybuild, get_args(redis))
    assert g.returncode != 0
    assert "does not hold a valid election record" in g.stderr
    # Fixed by the operator: a leader again.
    assert redis.cli("DEL", rec_key).returncode == 0
    wait_until(lambda: one_leader(ds), LEASE + RETRY + SLACK + 2,
               interval=0.02, what="a leader after the fix")


def test_wrong_type_key_is_corrupt(anybuild, redis):
    rec_key, _, _ = keys_of("other")
    redis.cli("HSET", rec_key, "a", "b")
    g = run(anybuild, get_args(redis, election="other"))
    assert g.returncode != 0
    assert "holds a hash, not a string" in g.stderr, g.stderr


def test_wrong_password_is_a_clear_error(anybuild, redis, procs, tmp_path):
    bad = tmp_path / "wrong.pw"
    bad.write_text("not-the-password\n")
    os.chmod(str(bad), 0o644)
    args = daemon_args(redis.url, str(bad), ident="w")
    d = procs.start(anybuild, args, name="w")
    d.wait_http(15)
    wait_until(lambda: "WRONGPASS" in d.log(), 10, interval=0.05,
               what="an authentication error in the log")
    line = [l for l in d.log().splitlines() if "WRONGPASS" in l][0]
    assert "AUTH as user 'elector'" in line and "password-file" in line
    assert "not-the-password" not in d.log()
    assert "readable by every user" in d.log()
    assert http_get(d.port, "/leader")[0] == 503
    g = run(anybuild, ["get"] + daemon_args(redis.url, str(bad)))
    assert g.returncode != 0 and "WRONGPASS" in g.stderr
    assert "not-the-password" not in g.stderr + g.stdout


def test_bad_options_are_refused(anybuild, redis, tmp_path):
    cases = [
        (["--backend-opt", "nope=1"], "unknown option"),
        (["--backend-opt", "connect-timeout=5s"], "below the request timeout"),
        (["--backend-opt", "command-timeout=fast"], "command-timeout"),
        (["--redis-url", "rediss://127.0.0.1:1"], "not supported"),
        (["--redis-url", "redis-sentinel://127.0.0.1:1"], "master name"),
        (["--backend-opt", "password-file=%s" % (tmp_path / "none")],
         "password-file"),
    ]
    for extra, want in cases:
        args = ["get", "--election", "demo", "--backend", "redis",
                "--redis-url", redis.url] + extra
        if "--redis-url" in extra:
            args = ["get", "--election", "demo", "--backend", "redis"] + extra
        g = run(anybuild, args)
        assert g.returncode == 2, (extra, g.returncode, g.stderr)
        assert want in g.stderr, (extra, g.stderr)


def test_unix_socket_and_db(anybuild, procs, tmp_path):
    """unix:///path?db=N: keys land in that database."""
    import shutil
    import subprocess
    sock = str(tmp_path / "r.sock")
    conf = tmp_path / "r.conf"
    conf.write_text("port 0\nunixsocket %s\nunixsocketperm 700\nsave \"\"\n"
                    "dir %s\n" % (sock, tmp_path))
    srv = subprocess.Popen([shutil.which("redis-server"), str(conf)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(sock), 10, what="unix socket")
        url = "unix://%s?db=3" % sock
        d = procs.start(anybuild, ["--election", "u", "--id", "solo",
                                   "--backend", "redis", "--redis-url", url,
                                   "--lease-duration", "3s", "--renew-deadline",
                                   "2s", "--retry-period", "500ms"], name="solo")
        d.wait_http(15)
        wait_until(lambda: http_get(d.port, "/leader")[0] == 200, 10,
                   what="solo leader")
        rec_key, _, _ = keys_of("u")
        out = subprocess.run(["redis-cli", "-s", sock, "-n", "3", "GET",
                              rec_key], capture_output=True, text=True,
                             timeout=10)
        assert json.loads(out.stdout)["holderIdentity"] == "solo"
        out0 = subprocess.run(["redis-cli", "-s", sock, "-n", "0", "EXISTS",
                               rec_key], capture_output=True, text=True,
                              timeout=10)
        assert out0.stdout.strip() == "0"
    finally:
        for d in procs.daemons:  # release while the server still runs
            if d.alive():
                d.stop()
        srv.terminate()
        srv.wait(10)


def test_same_election_in_two_databases_does_not_mix(anybuild, redis, procs):
    """Pub/sub channels are shared by all databases; each db's followers
    must still only ever see their own db's leader."""
    groups = {}
    for db in (1, 2):
        url = "%s/%d" % (redis.url, db)
        ds = []
        for i in range(2):
            name = "db%d-%d" % (db, i)
            ds.append(procs.start(anybuild, daemon_args(
                url, redis.pw_file, election="same", ident=name), name=name))
        groups[db] = ds
    for ds in groups.values():
        for d in ds:
            d.wait_http(15)
    leads = {db: wait_until(lambda: one_leader(ds), 15, interval=0.05,
                            what="a leader in db %d" % db)
             for db, ds in groups.items()}
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        for db, ds in groups.items():
            for d in ds:
                st = d.status()
                assert st["leader"] == leads[db].name, (db, d.name, st)
        time.sleep(0.05)
