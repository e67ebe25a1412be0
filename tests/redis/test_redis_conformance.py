"""The backend conformance suite ($(BUILD)/tests/conformance) on a real
redis-server: CRUD, conflicts, release, watch/wake, 8 contenders x 1000
rounds, garbage written by redis-cli, server down (kill -9 + restart with
its append-only file) and slow (SIGSTOP/SIGCONT)."""
import os
import shlex
import subprocess

import pytest

from redis_servers import ADMIN_PW, RedisServer, USER


@pytest.fixture
def pserver():
    s = RedisServer(persist=True, name="conf")
    try:
        s.start()
        yield s
    finally:
        s.close()


def test_conformance(anybuild, pserver):
    prog = anybuild.test_prog("conformance")
    assert os.path.exists(prog), "%s missing: make tests" % prog
    s = pserver
    election = "conf-%d" % os.getpid()
    key = shlex.quote("{elector:default:%s}:record" % election)
    cli = "REDISCLI_AUTH=%s redis-cli -p %d" % (ADMIN_PW, s.port)
    pid = "$(cat %s)" % shlex.quote(s.pidfile)
    up = "redis-server %s --daemonize yes" % shlex.quote(s.conf)
    up_wait = ("%s; for i in $(seq 100); do %s PING >/dev/null 2>&1 && "
               "exit 0; sleep 0.05; done; exit 1" % (up, cli))
    args = [prog, "--plugin-dir", anybuild.plugin_dir, "--backend", "redis",
            "--opt", "url=%s" % s.url, "--opt", "username=%s" % USER,
            "--opt", "password-file=%s" % s.pw_file,
            "--election", election, "--request-timeout", "1000",
            "--corrupt-cmd", "%s SET %s 'not json at all'" % (cli, key),
            "--fix-cmd", "%s DEL %s" % (cli, key),
            "--down-cmd", "kill -9 %s" % pid,
            "--up-cmd", up_wait,
            "--slow-cmd", "kill -STOP %s" % pid,
            "--unslow-cmd", "kill -CONT %s" % pid]
    p = subprocess.run(args, env=anybuild.env(), capture_output=True,
                       text=True, timeout=240)
    out = p.stdout
    print(out)
    assert "not ok" not in out, out + p.stderr[-3000:]
    assert p.returncode == 0, p.stderr[-3000:]
    # Every case ran; none was skipped.
    assert "# SKIP" not in out, out
    assert "contenders x 1000 rounds" in out
    for marker in ("AddressSanitizer", "runtime error:"):
        assert marker not in p.stderr
