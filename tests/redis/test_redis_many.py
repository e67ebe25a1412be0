"""100 follower daemons on one redis-server (plain build only: 100
processes on a small machine). Exactly one leader; a SIGTERM handover still
completes promptly (no thundering-herd stall); idle followers send nothing.
"""
import json
import signal
import time

from elector_harness import http_get, run, wait_until
from redis_servers import daemon_args, keys_of

N = 100
LEASE, RENEW, RETRY = "6s", "4s", "1s"


def leading(ds):
    return [d for d in ds if d.alive() and
            http_get(d.port, "/leader", 2.0)[0] == 200]


def holder(build, redis):
    g = run(build, ["get"] + daemon_args(redis.url, redis.pw_file,
                                         election="many"))
    if g.returncode != 0:
        return None
    return json.loads(g.stdout)["record"]["holderIdentity"] or None


def test_hundred_followers_one_leader_prompt_handover(build, redis, procs):
    ds = []
    for i in range(N):
        name = "m%03d" % i
        ds.append(procs.start(build, daemon_args(
            redis.url, redis.pw_file, election="many", ident=name,
            lease=LEASE, renew=RENEW, retry=RETRY), name=name))
    for d in ds:
        d.wait_http(30)
    name = wait_until(lambda: holder(build, redis), 20, interval=0.1,
                      what="a holder")
    # Let every follower settle into its watch, then check agreement.
    time.sleep(2.0)
    lead = leading(ds)
    assert [d.name for d in lead] == [name]
    # Idle followers: only the leader's renewals reach Redis.
    before = redis.commandstats()
    time.sleep(4.0)
    after = redis.commandstats()
    evals = sum(after.get(c, 0) - before.get(c, 0)
                for c in ("evalsha", "eval"))
    others = sum(v - before.get(c, 0) for c, v in after.items()
                 if c not in ("evalsha", "eval", "info", "get", "set", "incr",
                              "publish", "type", "strlen", "exists", "auth"))
    assert evals <= 6, "%d scripts in 4s (leader renews ~4)" % evals
    assert others == 0, after
    # SIGTERM handover, timed on the election's channel.
    _, _, channel = keys_of("many")
    sub = redis.client(timeout=10)
    sub.call("SUBSCRIBE", channel)
    old = lead[0]
    t0 = time.monotonic()
    old.signal(signal.SIGTERM)
    new_holder, dt = None, None
    deadline = t0 + 10
    while time.monotonic() < deadline:
        msg = sub.read()
        if msg[0] != b"message":
            continue
        rec = json.loads(msg[2].split(b"\n", 1)[1])
        h = rec["holderIdentity"]
        if h and h != old.name:
            new_holder, dt = h, time.monotonic() - t0
            break
    sub.close()
    assert new_holder is not None, "no new holder within 10s"
    assert old.proc.wait(15) == 0
    print("handover with %d followers: %.1f ms" % (N - 1, dt * 1000))
    assert dt < 2.0, "handover with %d followers took %.3fs" % (N - 1, dt)
    time.sleep(1.0)
    lead = leading(ds)
    assert [d.name for d in lead] == [new_holder]
