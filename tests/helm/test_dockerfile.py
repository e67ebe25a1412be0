"""The Dockerfile, checked by reading (no Docker engine here): its packages
exist in Debian 12, the runtime stage is slim with a numeric non-root USER,
no secret is baked in, and the runtime packages cover every library the built
daemon and plugins link directly."""
import glob
import os
import re
import subprocess

import pytest

from elector_harness import TOP

DOCKERFILE = os.path.join(TOP, "Dockerfile")
DOCKERIGNORE = os.path.join(TOP, ".dockerignore")
# In debian:12-slim already (essential packages).
BASE_PACKAGES = {"libc6", "libgcc-s1"}


def stages():
    """[(from-line, [instructions])] with line continuations joined."""
    with open(DOCKERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append((line, []))
        else:
            assert out, "instruction before FROM: " + line
            out[-1][1].append(line)
    return out


def apt_packages(instrs):
    pkgs = []
    for ins in instrs:
        for m in re.finditer(r"apt-get install ([^&;|]*)", ins):
            pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def test_stages():
    st = stages()
    assert len(st) == 2
    assert re.match(r"FROM debian:12 AS build$", st[0][0], re.I)
    assert st[1][0] == "FROM debian:12-slim"
    assert any("make install" in i and "PREFIX=/usr/local" in i for i in st[0][1])
    assert any(i.startswith("COPY --from=build ") for i in st[1][1])
    assert st[1][1][-1] == 'ENTRYPOINT ["/usr/local/bin/elector"]'


def test_user_numeric_non_root():
    users = [i.split()[1] for i in stages()[1][1] if i.upper().startswith("USER ")]
    assert len(users) == 1
    uid, _, gid = users[0].partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)
    # Must match the chart's runAsUser so runAsNonRoot can verify it.
    with open(os.path.join(TOP, "helm", "elector", "values.yaml")) as f:
        assert "runAsUser: %s" % uid in f.read()


def test_no_secrets():
    with open(DOCKERFILE) as f:
        text = f.read()
    for ins in (i for _, ii in stages() for i in ii):
        word = ins.split()[0].upper()
        if word in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"(?i)(token|passw|secret|credential|api_?key)", ins), ins
    assert not re.search(r"(?i)gh[pousr]_[A-Za-z0-9]{10,}", text)
    with open(DOCKERIGNORE) as f:
        ignored = f.read().split()
    for pat in (".git", ".tools", "build", "build-*", ".env", "*.pem", "*.key"):
        assert pat in ignored, pat


@pytest.mark.parametrize("stage", [0, 1], ids=["build", "runtime"])
def test_packages_exist_in_debian(stage):
    pkgs = apt_packages(stages()[stage][1])
    assert pkgs
    missing = [p for p in pkgs
               if subprocess.run(["apt-cache", "show", p], capture_output=True,
                                 timeout=60).returncode != 0]
    assert not missing, "not in Debian's package lists: %s" % missing


def test_runtime_packages_cover_linked_libraries(build):
    """Each library the daemon or a plugin links directly comes from a
    runtime package of the image."""
    runtime = set(apt_packages(stages()[1][1])) | BASE_PACKAGES
    objs = [build.bin] + sorted(glob.glob(os.path.join(build.plugin_dir, "*.so")))
    needed = set()
    for o in objs:
        r = subprocess.run(["readelf", "-d", o], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout))
    assert needed
    unowned = {}
    for lib in sorted(needed):
        if lib.startswith("libelector"):
            continue
        r = subprocess.run(["dpkg", "-S", "*/" + lib], capture_output=True, text=True,
                           timeout=30)
        owners = {line.split(":")[0] for line in r.stdout.splitlines() if ":" in line}
        if not owners & runtime:
            unowned[lib] = sorted(owners)
    assert not unowned, "linked libraries whose package is not in the runtime stage: %s" % unowned
