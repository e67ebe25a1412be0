"""End-to-end tests of the gist backend: elector daemons against the GitHub
emulator (REST + real git smart HTTP through lighttpd/git-http-backend)."""
import json
import os
import time

from gist_support import FAST, timing_args
from elector_harness import SplitBrainChecker, run, wait_until


def leaders(daemons):
    out = []
    for d in daemons:
        if d.alive():
            s = d.status()
            if s and s.get("is_leader"):
                out.append(d)
    return out


def one_leader(daemons):
    ls = leaders(daemons)
    return ls[0] if len(ls) == 1 else None


def stored(gist, election="demo"):
    return json.loads(gist.emu.read_file(gist.gid, gist.file_name(election)))


def test_gist_create_and_get(anybuild, gist):
    """`elector gist-create` makes a gist holding a released record that
    `elector get` reads back, with the head commit as the version."""
    r = run(anybuild, ["gist-create", "--token-file", gist.token_file,
                       "--election", "made", "--description", "lock",
                       "--backend-opt", "api-url=" + gist.emu.api_url])
    assert r.returncode == 0, r.stderr
    gid = r.stdout.strip()
    assert gist.emu.exists(gid), r.stdout
    assert gist.emu.token not in r.stdout + r.stderr
    rec = json.loads(gist.emu.read_file(gid, "elector-default-made.json"))
    assert rec["holderIdentity"] == "" and rec["leaseDurationSeconds"] == 1
    g = gist.get(anybuild, election="made", gid=gid)
    assert g.returncode == 0, g.stderr
    assert gist.emu.head(gid) in g.stdout
    assert '"holderIdentity"' in g.stdout
    # a bad token is refused with a clear message, and never printed
    bad = gist.write_token("ghp_not_a_real_token", "bad")
    r = run(anybuild, ["gist-create", "--token-file", bad,
                       "--backend-opt", "api-url=" + gist.emu.api_url,
                       "--election", "x"])
    assert r.returncode != 0
    assert "401" in r.stderr and "ghp_not_a_real_token" not in r.stderr


def test_fast_renew_refused_by_default(build, gist):
    """A retry period under 8 s would break GitHub's ~500 writes/hour: the
    backend refuses it at start unless allow-fast-renew=true."""
    r = run(build, ["--election", "demo", "--id", "a"] + FAST + gist.opts(fast=False))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "allow-fast-renew" in r.stderr and "500" in r.stderr, r.stderr
    # the same with the daemon's defaults (retry period 2s)
    r = run(build, ["--election", "demo", "--id", "a"] + gist.opts(fast=False))
    assert r.returncode == 2 and "allow-fast-renew" in r.stderr, r.stderr
    # timings inside the budget are accepted without the option
    r = run(build, ["get", "--election", "demo"] +
            timing_args("40s", "30s", "8s") + gist.opts(fast=False))
    assert r.returncode in (0, 1), r.stderr
    assert "allow-fast-renew" not in r.stderr
    # `elector get` only reads: the write budget does not apply to it, so it
    # works with the daemon's default timings and no override.
    r = run(build, ["get", "--election", "demo"] + gist.opts(fast=False))
    assert "allow-fast-renew" not in r.stderr, r.stderr
    assert r.returncode == 1 and "no record" in r.stderr.lower(), r.stderr


def test_three_daemons_handover_failover(anybuild, gist, procs):
    """One leader among three; SIGTERM hands over; kill -9 fails over after
    the lease; never two leaders; terms grow; the gist holds the record a
    person can read."""
    ds = [procs.start(anybuild, gist.args(n), name=n) for n in ("a", "b", "c")]
    for d in ds:
        d.wait_http(20)
    chk = SplitBrainChecker(ds)
    first = wait_until(lambda: one_leader(ds), 30, 0.1, "a first leader")
    t1 = first.status()["term"]
    rec = stored(gist)
    assert rec["holderIdentity"] == first.name
    assert rec["leaderTransitions"] == t1

    # graceful handover
    t0 = time.monotonic()
    assert first.stop() == 0
    second = wait_until(lambda: one_leader(ds), 30, 0.05, "a leader after SIGTERM")
    handover = time.monotonic() - t0
    assert second is not first
    assert second.status()["term"] > t1
    assert handover < 10, handover

    # crash failover: no release, others wait out the lease (4 s)
    t0 = time.monotonic()
    second.kill()
    third = wait_until(lambda: one_leader(ds), 40, 0.05, "a leader after kill -9")
    failover = time.monotonic() - t0
    assert third is not second and third.alive()
    assert failover >= 3.0, "took over before the lease could expire: %.2fs" % failover
    assert failover < 20, failover
    assert stored(gist)["holderIdentity"] == third.name
    v = chk.stop()
    assert not v, v
    # every write is a commit on one linear branch, readable by people
    authors = gist.emu.commits_by_author(gist.gid)
    assert set(authors) >= {"a", "b", "c"} & {first.name, second.name, third.name}


def test_person_edit_detected_at_next_renew(build, gist, procs):
    """A REST PATCH of the gist mid-lease (a person editing it on
    github.com) moves the branch; the leader's next push is then based on a
    stale commit and is rejected: it steps down and nobody leads while the
    edited record's lease runs."""
    ds = [procs.start(build, gist.args(n), name=n) for n in ("a", "b")]
    for d in ds:
        d.wait_http(20)
    leader = wait_until(lambda: one_leader(ds), 30, 0.1, "a leader")
    rec = stored(gist)
    rec["holderIdentity"] = "mallory"
    rec["leaseDurationSeconds"] = 8
    t0 = time.monotonic()
    gist.emu.commit_files(gist.gid, {gist.file_name(): json.dumps(rec)})
    wait_until(lambda: "stopped leading" in leader.log(), 10, 0.05,
               "the leader to step down after the edit")
    dt = time.monotonic() - t0
    assert dt < 4, "stepped down %.2fs after the edit (retry period 1s)" % dt
    # mallory's lease (8 s from observation) is respected
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert not leaders(ds), "someone took over mallory's valid lease"
        time.sleep(0.2)
    assert stored(gist)["holderIdentity"] == "mallory"
    wait_until(lambda: one_leader(ds), 30, 0.1, "a leader after mallory's lease expired")


def test_truncated_content_read_through_git(build, gist, procs):
    """GitHub truncates big file content in the REST answer; the backend
    then reads the blob through git."""
    gist.emu.truncate_bytes = 10
    d = procs.start(build, gist.args("a"), name="a")
    d.wait_http(20)
    wait_until(lambda: one_leader([d]), 30, 0.1, "a leader")
    g = gist.get(build)
    assert g.returncode == 0, g.stderr
    assert '"a"' in g.stdout, g.stdout


def test_server_side_old_value_check(build, gist, procs):
    """The push carries the old value the server advertised; when another
    writer moves the branch between the advertisement and the push (here a
    REST edit while git-http-backend holds the push back), receive-pack
    rejects the ref although git_remote_push() returns 0: the backend reads
    the per-ref status and reports a conflict, and the leader steps down."""
    d = procs.start(build, ["-v", "1"] + gist.args("a", timings=timing_args("8s", "6s", "2s")),
                    name="a")
    d.wait_http(20)
    wait_until(lambda: one_leader([d]), 30, 0.1, "a leader")
    gist.emu.delay_receive_pack(0.8)  # the push part of the timeout is 1.5 s
    before = gist.emu.commits_by_author(gist.gid).get("a", 0)
    # wait until a push is held back (its advertisement already read)
    wait_until(lambda: os.path.exists(gist.emu.receive_delay_file + ".held"), 10, 0.01,
               "a push held back")
    rec = stored(gist)
    rec["holderIdentity"] = "mallory"
    gist.emu.commit_files(gist.gid, {gist.file_name(): json.dumps(rec)})
    wait_until(lambda: "stopped leading" in d.log(), 15, 0.05, "the leader to step down")
    gist.emu.delay_receive_pack(None)
    log = d.log()
    assert "rejected by the server" in log, log[-3000:]
    assert stored(gist)["holderIdentity"] == "mallory"
    # the edit was not overwritten: no commit of ours on top of it
    assert gist.emu.commits_by_author(gist.gid).get("a", 0) <= before + 1


def history_records(gist, election="demo"):
    """Every version of the record file, oldest first: (sha, record)."""
    emu = gist.emu
    out = []
    for sha in reversed(emu.git(gist.gid, "log", "--format=%H", emu.head(gist.gid)).split()):
        try:
            out.append((sha, json.loads(emu.read_file(gist.gid, gist.file_name(election), sha))))
        except (RuntimeError, ValueError):
            pass  # commits before the file existed
    return out


def test_five_daemons_race_one_winner_per_term(build, gist, procs):
    """Rounds of 5 daemons started together on a free lease: exactly one
    leads, and in the gist's history every term has exactly one holder."""
    rounds = 5
    for rnd in range(rounds):
        ds = [procs.start(build, gist.args("r%d-%d" % (rnd, i)), name="r%d-%d" % (rnd, i))
              for i in range(5)]
        for d in ds:
            d.wait_http(20)
        leader = wait_until(lambda: one_leader(ds), 30, 0.05, "one leader in round %d" % rnd)
        # Every follower learns the leader within a few polls (a loser
        # whose read failed backs off for a retry period first).
        wait_until(lambda: all((d.status() or {}).get("leader") == leader.name
                               for d in ds), 15, 0.1,
                   "every daemon names %s in round %d" % (leader.name, rnd))
        assert leaders(ds) == [leader]
        for d in ds:
            assert d.stop() == 0
    holders = {}
    for sha, rec in history_records(gist):
        if rec["holderIdentity"]:
            holders.setdefault(rec["leaderTransitions"], set()).add(rec["holderIdentity"])
    assert len(holders) >= rounds, holders
    for term, hs in holders.items():
        assert len(hs) == 1, "term %d held by %s" % (term, sorted(hs))


def test_branch_detected_from_remote_head(build, tmp_path, procs):
    """Older gists use `master`: the branch comes from the remote HEAD."""
    from gist_support import GistSetup
    from github_emulator import GitHubEmulator
    emu = GitHubEmulator(str(tmp_path / "emu"), branch="master").start()
    try:
        g = GistSetup(emu, tmp_path)
        d = procs.start(build, g.args("a"), name="a")
        d.wait_http(20)
        wait_until(lambda: one_leader([d]), 30, 0.1, "a leader on master")
        assert json.loads(emu.read_file(g.gid, g.file_name()))["holderIdentity"] == "a"
        assert emu.git(g.gid, "for-each-ref", "--format=%(refname)") == "refs/heads/master"
        assert d.stop() == 0
    finally:
        emu.stop()


def test_cache_dir_removed_on_exit_and_swept_after_crash(build, gist, procs):
    """Each process keeps a private git cache under state-dir: removed on a
    clean exit; one left by a killed process is removed by the next start."""
    d1 = procs.start(build, gist.args("a"), name="a")
    d1.wait_http(20)
    wait_until(lambda: one_leader([d1]), 30, 0.1, "a leader")
    assert len(os.listdir(gist.state_dir)) == 1
    d1.kill()
    left = os.listdir(gist.state_dir)
    assert len(left) == 1 and (".%d." % d1.proc.pid) in left[0], left
    d2 = procs.start(build, gist.args("b"), name="b")
    d2.wait_http(20)
    wait_until(lambda: left[0] not in os.listdir(gist.state_dir), 10, 0.1,
               "the dead process's cache to be swept")
    wait_until(lambda: one_leader([d2]), 30, 0.1, "b leads after a's lease")
    assert d2.stop() == 0
    assert os.listdir(gist.state_dir) == []
