"""C unit tests of the etcd backend's parsers (TAP program)."""
import os
import subprocess


def test_parsers(anybuild):
    prog = anybuild.test_prog("etcd_parse_test")
    assert os.path.exists(prog), "%s missing: make tests" % prog
    p = subprocess.run([prog], env=anybuild.env(), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "not ok" not in p.stdout
    assert "\n1.." in p.stdout
