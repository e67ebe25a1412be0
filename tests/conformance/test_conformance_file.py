"""The conformance suite against the file backend (plain and ASan builds)."""
import json
import os
import shlex
import stat
import subprocess

import pytest

from conformance_driver import run_conformance

FIXED = json.dumps({"version": 7, "record": {
    "holderIdentity": "fixed", "leaseDurationSeconds": 15,
    "renewTime": "2026-11-21T10:00:00.000000Z", "leaderTransitions": 2}})


def _write_cmd(path, content):
    """Shell command writing content to path (path quoted unless it is
    already)."""
    q = path if path.startswith("'") else shlex.quote(path)
    return "printf '%%s' %s > %s" % (shlex.quote(content), q)


def test_file_conformance(anybuild, tmp_path):
    """Every case: CRUD, conflict, release, watch/wake, 8 contenders, garbage."""
    path = str(tmp_path / "store" / "demo.json")
    res = run_conformance(
        anybuild, "file", opts=["path=" + path], rounds=200,
        corrupt_cmd=_write_cmd(path, "garbage"),
        fix_cmd=_write_cmd(path, FIXED))
    # The cases this backend must not skip.
    assert len(res.skips) == 2, res.output()  # down and slow: no server
    assert res.comment("watch latency:") is not None, res.output()
    # inotify + version compare: this backend never wakes spuriously.
    sp = [r for r in res.results if "spurious" in r]
    assert len(sp) >= 4 and all(", 0 spurious" in r for r in sp), sp
    # The lock file stays, the data file was replaced by the fix command.
    assert os.path.exists(path + ".lock")
    leftovers = [n for n in os.listdir(tmp_path / "store") if ".tmp." in n]
    assert leftovers == [], leftovers


def test_file_cas_race_8x1000(anybuild, tmp_path):
    """8 processes race compare-and-swap for 1000 rounds: one winner each."""
    path = str(tmp_path / "race.json")
    res = run_conformance(anybuild, "file", opts=["path=" + path],
                          cases=["contenders"], contenders=8, rounds=1000)
    assert any("1000 of 1000 rounds done, 0 bad" in r for r in res.results), \
        res.output()
    with open(path) as f:
        doc = json.load(f)
    # 1 (create) + 1000 winning updates
    assert doc["version"] == 1001, doc
    assert doc["record"]["leaderTransitions"] == 1000, doc


def _rec(**fields):
    r = {"holderIdentity": "x", "leaseDurationSeconds": 15}
    r.update(fields)
    return r


# (description, function: quoted PATH -> shell command that damages it)
GARBAGE = [
    ("empty file", lambda q: ": > %s" % q),
    ("truncated JSON", lambda q: "head -c 25 %s > %s.cut && mv %s.cut %s"
     % (q, q, q, q)),
    ("JSON array", lambda q: _write_cmd(q, "[1,2,3]")),
    ("version as a string", lambda q: _write_cmd(q, json.dumps(
        {"version": "3", "record": _rec()}))),
    ("version 0", lambda q: _write_cmd(q, json.dumps(
        {"version": 0, "record": _rec()}))),
    ("record missing", lambda q: _write_cmd(q, '{"version":3}')),
    ("duplicate key", lambda q: _write_cmd(
        q, '{"version":3,"version":4,"record":{}}')),
    ("invalid record", lambda q: _write_cmd(q, json.dumps(
        {"version": 3, "record": _rec(leaseDurationSeconds=-5)}))),
    ("bad time", lambda q: _write_cmd(q, json.dumps(
        {"version": 3, "record": _rec(renewTime="2026-02-30T00:00:00Z")}))),
    ("over 64 KiB", lambda q: _write_cmd(q, json.dumps(
        {"version": 3, "record": _rec(), "pad": "x" * 70000}))),
    ("binary", lambda q: "head -c 512 /dev/urandom > %s" % q),
    ("a directory", lambda q: "rm -f %s && mkdir %s" % (q, q)),
]


@pytest.mark.parametrize("what,damage", GARBAGE, ids=[g[0] for g in GARBAGE])
def test_file_garbage(build, tmp_path, what, damage):
    """Damaged content is CORRUPT with a message, never a leader claim."""
    p = str(tmp_path / "g.json")
    q = shlex.quote(p)
    fix = "rm -rf %s && %s" % (q, _write_cmd(p, FIXED))
    res = run_conformance(build, "file", opts=["path=" + p],
                          cases=["garbage"], corrupt_cmd=damage(q),
                          fix_cmd=fix)
    assert any("CORRUPT with a message" in r for r in res.results), res.output()


def test_file_default_path_xdg(anybuild, tmp_path):
    """Without path=, the store lives in $XDG_RUNTIME_DIR/elector/NS/E.json
    with 0700 directories."""
    xdg = tmp_path / "run"
    xdg.mkdir(mode=0o700)
    run_conformance(anybuild, "file", cases=["empty", "roundtrip"],
                    namespace="team-a", election="db.primary",
                    env={"XDG_RUNTIME_DIR": str(xdg)})
    f = xdg / "elector" / "team-a" / "db.primary.json"
    assert f.is_file()
    assert os.path.exists(str(f) + ".lock")
    for d in (xdg / "elector", xdg / "elector" / "team-a"):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    doc = json.loads(f.read_text())
    assert doc["version"] >= 1 and "holderIdentity" in doc["record"]


def test_conformance_usage(build):
    """Usage errors exit 2 with a message; a missing backend bails out."""
    prog = build.test_prog("conformance")
    r = subprocess.run([prog, "--backend", "file"], capture_output=True,
                       text=True, timeout=30, env=build.env())
    assert r.returncode == 2 and "--plugin-dir" in r.stderr, r.stderr
    r = subprocess.run([prog, "--plugin-dir", build.plugin_dir, "--backend",
                        "file", "--case", "nope"], capture_output=True,
                       text=True, timeout=30, env=build.env())
    assert r.returncode == 2 and "unknown case" in r.stderr, r.stderr
    r = subprocess.run([prog, "--plugin-dir", build.plugin_dir, "--backend",
                        "no-such-backend"], capture_output=True, text=True,
                       timeout=30, env=build.env())
    assert r.returncode == 1 and "Bail out!" in r.stdout, r.stdout
    assert "not ok" in r.stdout


def test_file_unknown_option(build, tmp_path):
    """An unknown backend option is refused, listing the known ones."""
    res = run_conformance(build, "file", opts=["path=%s/x.json" % tmp_path,
                                               "colour=blue"],
                          cases=["empty"], expect_ok=False)
    assert res.returncode == 1, res.output()
    assert "colour" in res.stdout and "path" in res.stdout, res.output()


def test_file_conformance_valgrind(build, tmp_path):
    """Every case once more under valgrind memcheck (plain build): no
    invalid access, no definite leak, in the harness, loader or plugin."""
    import shutil
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed (Debian package valgrind)")
    from conformance_driver import ConformanceResult, conformance_args
    path = str(tmp_path / "v.json")
    args = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite"] + conformance_args(
        build, "file", opts=["path=" + path], rounds=20, contenders=3,
        corrupt_cmd=_write_cmd(path, "x"), fix_cmd="rm -f " + shlex.quote(path))
    r = subprocess.run(args, env=build.env(), capture_output=True, text=True,
                       timeout=300)
    res = ConformanceResult(r)
    assert r.returncode == 0, res.output()
    assert not res.failures and res.planned == len(res.results) > 40, \
        res.output()


HOLDER = r'''
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
# struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
'''


def test_file_unreachable_and_stuck_writer(anybuild, tmp_path):
    """The harness's down/slow cases on the file backend: the directory
    replaced by a file (ops TRANSIENT within the bound, then recovery), and
    a writer stuck while holding the lock (updates TIMEOUT within the
    request timeout instead of hanging)."""
    d = tmp_path / "vol"
    d.mkdir()
    path = str(d / "x.json")
    q, qd = shlex.quote(path), shlex.quote(str(d))
    holder = tmp_path / "holder.py"
    holder.write_text(HOLDER)
    ready = shlex.quote(str(tmp_path / "ready"))
    pidf = shlex.quote(str(tmp_path / "holder.pid"))
    slow = ("rm -f {r}; /usr/bin/python3 {h} {q}.lock {r} 60 >/dev/null 2>&1 & "
            "echo $! > {p}; i=0; while [ ! -e {r} ] && [ $i -lt 200 ]; do "
            "sleep 0.05; i=$((i+1)); done; [ -e {r} ]").format(
                r=ready, h=shlex.quote(str(holder)), q=q, p=pidf)
    unslow = "kill $(cat {p})".format(p=pidf)
    res = run_conformance(
        anybuild, "file", opts=["path=" + path],
        cases=["down", "slow"], request_timeout=500, slack=1000,
        down_cmd="mv {d} {d}.away && touch {d}".format(d=qd),
        up_cmd="rm {d} && mv {d}.away {d}".format(d=qd),
        slow_cmd=slow, unslow_cmd=unslow)
    assert not res.skips, res.output()
    assert any("store down: update is TRANSIENT or TIMEOUT" in r
               for r in res.results), res.output()
    assert "store slow: update TIMEOUT" in res.stdout, res.output()
