"""Runs each C unit-test program (tests/unit/test_*.c), which print TAP."""
import glob
import os
import subprocess

import pytest

from elector_harness import TOP

UNITS = sorted(os.path.splitext(os.path.basename(p))[0]
               for p in glob.glob(os.path.join(TOP, "tests", "unit", "test_*.c")))


@pytest.mark.parametrize("unit", UNITS)
def test_unit(anybuild, unit):
    prog = anybuild.test_prog(unit)
    assert os.path.exists(prog), "%s not built" % prog
    r = subprocess.run([prog], env=anybuild.env(), capture_output=True, text=True,
                       timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-8000:]
    assert "not ok" not in r.stdout, out[-8000:]
    assert "ok " in r.stdout, "no TAP results:\n" + out[-4000:]
