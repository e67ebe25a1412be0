"""shellcheck on cicd.sh and every scripts/*.sh (all severities, style too)."""
import glob
import os
import shutil
import subprocess

import pytest

from elector_harness import TOP

SCRIPTS = [os.path.join(TOP, "cicd.sh")] + sorted(glob.glob(os.path.join(TOP, "scripts", "*.sh")))


def test_scripts_found():
    names = {os.path.relpath(p, TOP) for p in SCRIPTS}
    assert {"cicd.sh", "scripts/multicluster-demo.sh"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=[os.path.relpath(p, TOP) for p in SCRIPTS])
def test_shellcheck(path):
    sc = shutil.which("shellcheck")
    assert sc, "shellcheck missing: apt-get install shellcheck (scripts/install-deps.sh)"
    r = subprocess.run([sc, "--severity=style", "--external-sources", path],
                       capture_output=True, text=True, timeout=120, cwd=os.path.dirname(path))
    assert r.returncode == 0, r.stdout + r.stderr


MINE = [os.path.join(TOP, p) for p in ("cicd.sh", "scripts/multicluster-demo.sh")]


@pytest.mark.parametrize("path", MINE, ids=[os.path.relpath(p, TOP) for p in MINE])
def test_strict_mode_and_executable(path):
    with open(path) as f:
        head = f.read(4096)
    assert head.startswith("#!/usr/bin/env bash") or head.startswith("#!/bin/bash") \
        or head.startswith("#!/bin/sh")
    assert "set -euo pipefail" in head or "set -eu" in head, "no strict mode in " + path
    assert os.access(path, os.X_OK), path + " is not executable"
