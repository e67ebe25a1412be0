"""make install puts the daemon, library, plugins, headers and elector.pc
under a prefix; a program built with pkg-config against that prefix elects
itself, and the installed daemon finds its plugins relative to itself."""
import json
import os
import subprocess

from elector_harness import TOP


def _install(build, prefix):
    r = subprocess.run(["make", "-s", "install", "BUILD=" + build.path,
                        "PREFIX=" + prefix], cwd=TOP, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_install_tree_and_pkgconfig_program(build, tmp_path):
    prefix = str(tmp_path / "prefix")
    _install(build, prefix)
    for rel in ("bin/elector", "bin/elector-keeper", "lib/libelector.so",
                "lib/libelector.so.0",
                "lib/elector/file.so", "lib/elector/ext/podlabel.so",
                "include/elector/elector.h", "include/elector/backend.h",
                "lib/pkgconfig/elector.pc"):
        assert os.path.exists(os.path.join(prefix, rel)), rel

    env = dict(os.environ, PKG_CONFIG_PATH=prefix + "/lib/pkgconfig")
    env.pop("ELECTOR_PLUGIN_DIR", None)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "elector"],
                           env=env, capture_output=True, text=True, check=True)
    exe = str(tmp_path / "example")
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-o", exe,
                        os.path.join(TOP, "tests", "install", "example.c")]
                       + flags.stdout.split(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    env["LD_LIBRARY_PATH"] = prefix + "/lib"
    store = str(tmp_path / "lib.json")
    r = subprocess.run([exe, store, "lib-1"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "new leader: lib-1" in r.stdout
    assert "term 1 is_leader 1 leader lib-1 backend file:" + store in r.stdout
    assert "stopped 1" in r.stdout
    with open(store) as f:
        doc = json.load(f)
    assert doc["record"]["holderIdentity"] == "", doc   # released on stop

    # The installed daemon finds PREFIX/lib/elector without any setting.
    r = subprocess.run([prefix + "/bin/elector", "get", "--election", "lib-demo",
                        "--file-path", store], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["record"]["leaderTransitions"] == 1


def test_make_help_shows_values_aligned():
    r = subprocess.run(["make", "-s", "help", "PREFIX=/opt/el",
                        "DESTDIR=/tmp/stage"], cwd=TOP, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "$(" not in r.stdout, r.stdout
    assert any(ln.split()[:2] == ["make", "install"] and
               ln.endswith("install under /tmp/stage/opt/el") for ln in lines), r.stdout
    # every help text starts in the same column
    cols = {len(ln) - len(ln[7:].split(None, 1)[1]) for ln in lines}
    assert len(cols) == 1, r.stdout
