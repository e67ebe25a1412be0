"""C unit tests of the redis backend's parsers (TAP program)."""
import os
import subprocess


def test_url_duration_sha1(anybuild):
    prog = anybuild.test_prog("redis_url_test")
    assert os.path.exists(prog), "%s missing: make tests" % prog
    p = subprocess.run([prog], env=anybuild.env(), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "not ok" not in p.stdout
    assert "\n1.." in p.stdout
