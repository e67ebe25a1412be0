"""Fault tests of the gist backend: rate limits, bad credentials, deleted
gist, malformed content, a hanging git server."""
import os
import re
import time

import pytest

from gist_support import timing_args
from elector_harness import SplitBrainChecker, http_get, wait_until
from test_gist_daemon import leaders, one_leader, stored


def requests_by(emu, name, t0, t1):
    return [r for r in emu.requests
            if t0 <= r[0] <= t1 and r[4].endswith("(%s)" % name)]


def metric(d, name):
    code, body = http_get(d.port, "/metrics")
    assert code == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_rate_limit_backoff_and_safe_step_down(build, gist, procs):
    """REST budget spent (403, remaining 0) and the git side answering 429:
    followers stop polling until the reset instead of hammering the API; the
    leader cannot renew and steps down by its renew deadline; nobody leads
    meanwhile; after the reset a leader is elected again."""
    ds = [procs.start(build, gist.args(n), name=n) for n in ("a", "b", "c")]
    for d in ds:
        d.wait_http(20)
    chk = SplitBrainChecker(ds)
    leader = wait_until(lambda: one_leader(ds), 30, 0.1, "a leader")
    followers = [d for d in ds if d is not leader]
    time.sleep(1.5)  # followers have polled: their cache has an ETag
    window = 10
    t0 = time.monotonic()
    gist.emu.set_budget(0, reset_in=window, mode="403")
    gist.emu.throttle_git(window)
    wait_until(lambda: "stopped leading" in leader.log(), 10, 0.05,
               "the rate-limited leader to step down")
    step_down = time.monotonic() - t0
    # renew deadline 3 s, retry period 1 s
    assert step_down < 3 + 1 + 1.5, step_down
    assert "rate limit" in leader.log()
    # nobody leads while the limit lasts (the old lease is not expired for
    # long, and no one can write)
    while time.monotonic() < t0 + window - 1:
        assert not leaders(ds), "a leader during the rate limit"
        time.sleep(0.2)
    t1 = time.monotonic()
    for f in followers:
        n = len(requests_by(gist.emu, f.name, t0, t1))
        # polling every 1 s would be ~9; backing off until the reset: 1-2
        assert n <= 3, "%s sent %d requests while rate limited" % (f.name, n)
        assert metric(f, "elector_backend_github_ratelimit_remaining") == 0
    assert "backing off" in followers[0].log() or "rate limit" in followers[0].log()
    gist.emu.throttle_git(None)
    new = wait_until(lambda: one_leader(ds), 30, 0.1, "a leader after the reset")
    assert new is not leader  # the old leader still backs off the git 429
    assert stored(gist)["holderIdentity"] == new.name
    v = chk.stop()
    assert not v, v


def test_secondary_rate_limit_429_retry_after(build, gist, procs):
    """429 with Retry-After: a follower waits that long before asking
    again."""
    d = procs.start(build, gist.args("a", timings=timing_args("4s", "3s", "1s")),
                    name="a")
    d.wait_http(20)
    wait_until(lambda: one_leader([d]), 30, 0.1, "a leader")
    assert d.stop() == 0
    f = procs.start(build, gist.args("f"), name="f")
    f.wait_http(20)
    gist.emu.set_budget(0, reset_in=3600, mode="429", retry_after=6)
    t0 = time.monotonic()
    time.sleep(5)
    n = len(requests_by(gist.emu, "f", t0, time.monotonic()))
    assert n <= 2, "%d requests within Retry-After" % n
    gist.emu.set_budget(5000, reset_in=3600)
    wait_until(lambda: one_leader([f]), 20, 0.1, "a leader after Retry-After")


def _bad_token(gist):
    return {"token_file": gist.write_token("ghp_revoked0000000000000000", "bad")}, \
        ["401", "invalid, expired or revoked"]


def _no_scope(gist):
    tok = gist.emu.add_token(["repo"])
    return {"token_file": gist.write_token(tok, "noscope")}, \
        ["authentication failed", "gist' scope"]


def _deleted(gist):
    gist.emu.delete_gist(gist.gid)
    return {}, ["404", "gist not found"]


def _malformed(gist):
    gist.emu.commit_files(gist.gid, {gist.file_name(): '{"holderIdentity": 7,'})
    return {}, ["malformed record"]


@pytest.mark.parametrize("case", [_bad_token, _no_scope, _deleted, _malformed],
                         ids=["bad-token", "no-gist-scope", "deleted-gist",
                              "malformed-content"])
def test_errors_are_clear_and_claim_nothing(build, gist, procs, case):
    kw, expect = case(gist)
    head = gist.emu.head(gist.gid) if gist.emu.exists(gist.gid) else None
    # request timeout 2 s: lighttpd answers a refused login after ~1 s
    ds = [procs.start(build, gist.args(n, timings=timing_args("6s", "4s", "2s"), **kw),
                      name=n) for n in ("a", "b")]
    for d in ds:
        d.wait_http(20)
    # A write error shows only once a node tries to write: on an empty
    # gist that is after one lease (6 s) of absence. Bounded: 20 s.
    end = time.monotonic() + 20
    while time.monotonic() < end:
        assert not leaders(ds), "a leader despite the error"
        if all(e in d.log() for d in ds for e in expect):
            break
        time.sleep(0.2)
    for d in ds:
        log = d.log()
        for e in expect:
            assert e in log, "%r not in log:\n%s" % (e, log[-3000:])
        assert gist.emu.token not in log
        assert "ghp_revoked" not in log
        # logged once per change of state, not once per retry
        assert len(re.findall(re.escape(expect[0]), log)) <= 3, log[-3000:]
    if head is not None:
        assert gist.emu.head(gist.gid) == head, "the gist was written"


def test_hanging_git_server_bounded(build, gist, procs):
    """lighttpd stopped (SIGSTOP): connections are accepted by the kernel
    but never answered. libgit2 has no timeouts of its own; the backend's
    sockets end every push at the request timeout, so the leader steps down
    by its renew deadline instead of hanging, and leads again later."""
    timings = timing_args("6s", "4s", "2s")  # request timeout 2 s
    d = procs.start(build, gist.args("a", timings=timings), name="a")
    d.wait_http(20)
    wait_until(lambda: one_leader([d]), 30, 0.1, "a leader")
    gist.emu.pause_git()
    t0 = time.monotonic()
    try:
        wait_until(lambda: "stopped leading" in d.log(), 15, 0.05,
                   "the leader to step down while git hangs")
        dt = time.monotonic() - t0
        assert dt < 4 + 2 + 2, "stepped down after %.2fs" % dt
        assert "timed out (request timeout 2000 ms)" in d.log(), d.log()[-3000:]
        code, _ = http_get(d.port, "/healthz")
        assert code == 200  # not wedged: the engine thread is not stuck
    finally:
        gist.emu.resume_git()
    wait_until(lambda: one_leader([d]), 30, 0.1, "leading again after SIGCONT")


def test_push_outcome_unknown_resolved_by_reading(build, gist, procs):
    """The git side applies a push but answers only after the client gave
    up: the backend re-reads the gist, finds its own commit at the head and
    reports success, so the leader keeps leading."""
    d = procs.start(build, gist.args("a", timings=timing_args("8s", "6s", "2s")), name="a")
    d.wait_http(20)
    wait_until(lambda: one_leader([d]), 30, 0.1, "a leader")
    gist.emu.delay_push_answer(2.5)  # request timeout 2 s, push part 1.5 s
    try:
        wait_until(lambda: d.log().count("landed") >= 2, 20, 0.1,
                   "two renewals resolved by reading")
        assert one_leader([d]) is d
        assert "stopped leading" not in d.log()
        assert stored(gist)["holderIdentity"] == "a"
    finally:
        gist.emu.delay_push_answer(None)


def test_rotated_token_file_is_reloaded(build, gist, procs):
    """The token file is re-read when it changes (a rotated Kubernetes
    Secret): a daemon started with a revoked token recovers without a
    restart once the file holds a valid one."""
    bad = gist.write_token("ghp_revoked0000000000000000", "rotating")
    d = procs.start(build, gist.args("a", timings=timing_args("6s", "4s", "2s"),
                                     token_file=bad), name="a")
    d.wait_http(20)
    wait_until(lambda: "401" in d.log(), 10, 0.1, "the bad token refused")
    assert not leaders([d])
    tmp = bad + ".new"
    with open(tmp, "w") as f:
        f.write(gist.emu.token + "\n")
    os.replace(tmp, bad)
    wait_until(lambda: one_leader([d]), 20, 0.1, "a leader after the rotation")
    assert "token reloaded" in d.log()
    assert gist.emu.token not in d.log()
